#!/usr/bin/env bash
# The steps of the retention GitHub Action (action.yml at the repository root), one subcommand
# each. Every input arrives in the environment, never interpolated into this script:
#
#   POLICIES            the policy directory (policies/)
#   OUT                 where plans, comments and reports are written
#   BASE                pull-request: the git ref to compare with (origin/main)
#   MAX_AGE             apply: refuse a plan older than this (24h)
#   BRANCH, APPLY_BRANCH  apply: this run's branch, and the only one plans are applied from
#   PINECONE_API_KEY    plan and apply; never printed
#   GH_TOKEN            pull-request comment (gh api), with pull-requests: write
#   FORK                pull-request: true when the pull request comes from a fork
#   GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_OUTPUT, PR_NUMBER   as GitHub Actions sets them
#
#   action.sh validate        retention validate and retention test (PolicyTests optional)
#   action.sh plan-pr         the markdown plan against BASE, and the plan file
#   action.sh comment         post the plan as one PR comment, updated in place later
#   action.sh plan            plan the pushed commit; outputs deletions=true|false
#   action.sh apply           apply the plan made for this very commit, if it is still the
#                             newest of the apply branch; refuse any other
set -euo pipefail

POLICIES=${POLICIES:-policies/}
OUT=${OUT:-${RUNNER_TEMP:-/tmp}/retention}
MARKER="<!-- retention-plan: ${POLICIES} -->"
# GitHub refuses comments over 65,536 characters; the plan file stays whole in the artifact.
COMMENT_LIMIT=60000

output() {
    if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

validate() {
    retention validate --format github "$POLICIES"
    # PolicyTests are optional in a policy repository (without --allow-none, `retention test`
    # refuses a directory that has none, as a pre-commit hook that was asked for must).
    retention test --format github --allow-none "$POLICIES"
}

plan_pr() {
    mkdir -p "$OUT"
    if [ -z "${PINECONE_API_KEY:-}" ] && [ "${FORK:-false}" = "true" ]; then
        # GitHub gives no secrets to pull requests from forks; elsewhere a missing key is
        # retention's own error.
        echo "::warning::a pull request from a fork gets no Pinecone API key: validated only, not planned"
        return 0
    fi
    retention plan "$POLICIES" --format markdown --base "${BASE:?BASE: the ref to compare with}" \
        --out "$OUT/plan.json" >"$OUT/plan.md"
    output plan "$OUT/plan.json"
}

comment() {
    : "${GITHUB_REPOSITORY:?}" "${PR_NUMBER:?PR_NUMBER: the pull request}"
    local body="$OUT/comment.md" existing
    if [ ! -f "$OUT/plan.md" ]; then
        echo "no plan to comment"
        return 0
    fi
    {
        echo "$MARKER"
        if [ "$(wc -c <"$OUT/plan.md")" -gt "$COMMENT_LIMIT" ]; then
            head -c "$COMMENT_LIMIT" "$OUT/plan.md"
            printf '\n\n_The plan is longer than a comment holds: the whole of it is in the '
            printf 'workflow run'"'"'s artifact._\n'
        else
            cat "$OUT/plan.md"
        fi
    } >"$body"
    # The bot's earlier comment for this policy directory, if there is one (every page).
    existing=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments?per_page=100" |
        python3 -c '
import json, sys
marker, text, decoder, at = sys.argv[1], sys.stdin.read(), json.JSONDecoder(), 0
while at < len(text):
    if text[at].isspace():
        at += 1
        continue
    page, at = decoder.raw_decode(text, at)
    for c in page:
        if c.get("user", {}).get("type") == "Bot" and c.get("body", "").startswith(marker):
            print(c["id"])
            raise SystemExit
' "$MARKER")
    if [ -n "$existing" ]; then
        gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$existing" \
            -F "body=@$body" >/dev/null
        echo "updated the plan comment $existing"
    else
        gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
            -F "body=@$body" >/dev/null
        echo "posted the plan comment"
    fi
}

plan() {
    mkdir -p "$OUT"
    local code=0
    retention plan "$POLICIES" --out "$OUT/plan.json" --detailed-exitcode >"$OUT/plan.txt" || code=$?
    cat "$OUT/plan.txt"
    case "$code" in
    0) output deletions false ;;
    2) output deletions true ;;
    *) exit "$code" ;;
    esac
    output plan "$OUT/plan.json"
}

apply() {
    : "${GITHUB_SHA:?GITHUB_SHA: the commit to apply}"
    local plan_file="$OUT/plan.json" revision
    if [ ! -f "$plan_file" ]; then
        echo "::error::no plan file at $plan_file: the plan step of this run must run first"
        exit 1
    fi
    revision=$(python3 -c '
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    print(json.load(f)["sources"]["gitRevision"] or "")
' "$plan_file")
    if [ "$revision" != "$GITHUB_SHA" ]; then
        echo "::error::the plan was made for commit ${revision:-unknown}, not $GITHUB_SHA: a stale plan is never applied; plan this commit again"
        exit 1
    fi
    # Only the apply branch's newest commit is applied: a commit merged while this run waited
    # for approval may add a legal hold this plan knows nothing of. Its own run applies it.
    local branch=${BRANCH:?BRANCH: the branch of this run} allowed=${APPLY_BRANCH:-main} tip
    if [ "$branch" != "$allowed" ]; then
        echo "::error::plans are applied from $allowed only, and this run is on $branch"
        exit 1
    fi
    tip=$(git ls-remote origin "refs/heads/$branch" | cut -f1) || tip=
    if [ -z "$tip" ]; then
        echo "::error::cannot read the newest commit of $branch from origin, so cannot tell whether this plan is still current"
        exit 1
    fi
    if [ "$tip" != "$GITHUB_SHA" ]; then
        echo "::error::$branch has moved on to $tip since $GITHUB_SHA was planned: its own run plans and applies it; this plan is not applied"
        exit 1
    fi
    retention apply "$plan_file" "$POLICIES" --max-age "${MAX_AGE:-24h}" --report "$OUT/report.json"
}

case "${1:-}" in
validate) validate ;;
plan-pr) plan_pr ;;
comment) comment ;;
plan) plan ;;
apply) apply ;;
*)
    echo "usage: action.sh validate|plan-pr|comment|plan|apply" >&2
    exit 1
    ;;
esac
