"""The Action's steps (deploy/ci/action.sh) run as GitHub would run them, with the real
retention against the emulator and a stand-in for the `gh` CLI that keeps the pull request's
comments: one plan comment, updated in place by later pushes; a plan for the pushed commit;
its apply; and the refusal of a plan made for another commit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.builders import policy, seed, ttl_rule, write_policies
from tests.cli.helpers import API_KEY
from tests.deploy.kube import DEPLOY
from tests.deploy.test_pre_commit import git

SCRIPT = DEPLOY / "ci" / "action.sh"
MARKER = "<!-- retention-plan: policies/ -->"

FAKE_GH = """\
#!{python}
# `gh api` as the action uses it, on a JSON file of the pull request's comments.
import json, sys
state, args = {state!r}, sys.argv[1:]
comments = json.load(open(state))
with open(state + ".calls", "a") as log:
    log.write(json.dumps(args) + "\\n")
assert args[0] == "api", args
method = args[args.index("--method") + 1] if "--method" in args else "GET"
path = [a for a in args[1:] if a.startswith("repos/")][0]
body = None
if "-F" in args:
    field = args[args.index("-F") + 1]
    assert field.startswith("body=@"), field
    body = open(field[len("body=@"):]).read()
if method == "GET":
    assert "--paginate" in args
    for page in (comments[:2], comments[2:]):  # two pages, as gh --paginate prints them
        sys.stdout.write(json.dumps(page))
elif method == "POST":
    comments.append({{"id": 100 + len(comments), "user": {{"type": "Bot"}}, "body": body}})
elif method == "PATCH":
    (c,) = [c for c in comments if str(c["id"]) == path.rsplit("/", 1)[1]]
    c["body"] = body
json.dump(comments, open(state, "w"))
"""


@dataclass
class Runner:
    """One policy repository, its emulator, and the environment of the action's steps."""

    repo: Path
    emulator: Emulator
    env: dict[str, str]
    comments: Path

    def step(self, name: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(SCRIPT), name],
            cwd=self.repo,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def outputs(self) -> dict[str, str]:
        lines = Path(self.env["GITHUB_OUTPUT"]).read_text(encoding="utf-8").splitlines()
        return dict(line.split("=", 1) for line in lines)

    def left(self) -> int:
        return len(self.emulator.records("support", "tenant-a"))


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    now = time.time()
    with Emulator.start(EmulatorConfig(limits="off", indexes=(("support", 2),))) as emulator:
        seed(
            emulator,
            "support",
            {
                "tenant-a": {
                    f"t{i:03d}": {"created_at": now - (i + 0.5) * 86_400} for i in range(120)
                }
            },
        )
        repo = tmp_path / "policies-repo"
        write_policies(
            repo / "policies",
            [policy("tickets", "support", ["tenant-*"], [ttl_rule("old", "100d")])],
        )
        git(repo, "init", "-q", "-b", "main")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "policies")
        origin = tmp_path / "origin.git"  # what actions/checkout leaves: an origin to ask
        git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
        git(repo, "remote", "add", "origin", str(origin))
        git(repo, "push", "-q", "origin", "main")
        state = tmp_path / "comments.json"
        human = {"id": 7, "user": {"type": "User"}, "body": f"{MARKER}\nquoting the bot"}
        state.write_text(json.dumps([human]), encoding="utf-8")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        gh = bin_dir / "gh"
        gh.write_text(FAKE_GH.format(python=sys.executable, state=str(state)), encoding="utf-8")
        gh.chmod(0o755)
        outputs = tmp_path / "github-output"
        outputs.touch()
        env = {
            **os.environ,
            "PATH": os.pathsep.join(
                [str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]
            ),
            "POLICIES": "policies/",
            "OUT": str(tmp_path / "out"),
            "PINECONE_API_KEY": API_KEY,
            "PINECONE_CONTROLLER_HOST": emulator.controller_url,
            "RETENTION_STATE_DIR": str(tmp_path / "state"),
            "GITHUB_REPOSITORY": "acme/policies",
            "GITHUB_OUTPUT": str(outputs),
            "BRANCH": "main",
            "APPLY_BRANCH": "main",
            "GH_TOKEN": "not-a-real-token",
            "NO_COLOR": "1",
        }
        yield Runner(repo, emulator, env, state)


def test_pull_request_comment_is_posted_once_and_updated_in_place(runner: Runner) -> None:
    git(runner.repo, "checkout", "-q", "-b", "shorter-ttl")
    path = runner.repo / "policies" / "policies.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("100d", "60d"), encoding="utf-8")
    git(runner.repo, "commit", "-qam", "keep tickets 60 days")

    validated = runner.step("validate")
    assert validated.returncode == 0, validated.stderr
    planned = runner.step("plan-pr", BASE="main")
    assert planned.returncode == 0, planned.stderr
    plan_md = (Path(runner.env["OUT"]) / "plan.md").read_text(encoding="utf-8")
    assert "tickets/old 100d -> 60d" in plan_md and "| `tickets` | ready | 60 |" in plan_md
    assert (Path(runner.env["OUT"]) / "plan.json").is_file()
    assert runner.outputs()["plan"].endswith("plan.json")

    first = runner.step("comment", PR_NUMBER="12")
    assert first.returncode == 0, first.stderr
    assert "posted" in first.stdout
    path.write_text(path.read_text(encoding="utf-8").replace("60d", "30d"), encoding="utf-8")
    git(runner.repo, "commit", "-qam", "30 days after all")
    assert runner.step("plan-pr", BASE="main").returncode == 0
    second = runner.step("comment", PR_NUMBER="12")
    assert second.returncode == 0, second.stderr
    assert "updated the plan comment 101" in second.stdout

    comments = json.loads(runner.comments.read_text(encoding="utf-8"))
    bots = [c for c in comments if c["user"]["type"] == "Bot"]
    assert len(bots) == 1 and bots[0]["body"].startswith(MARKER)
    assert "tickets/old 100d -> 30d" in bots[0]["body"]  # the newest plan, not the first
    assert "100d -> 60d" not in bots[0]["body"]
    assert comments[0]["body"] == f"{MARKER}\nquoting the bot"  # a person's comment: untouched
    calls = [json.loads(line) for line in Path(f"{runner.comments}.calls").read_text().splitlines()]
    assert [c[c.index("--method") + 1] if "--method" in c else "GET" for c in calls] == [
        "GET",
        "POST",
        "GET",
        "PATCH",
    ]
    assert runner.left() == 120  # a pull request deletes nothing
    assert API_KEY not in first.stdout + first.stderr + second.stdout + second.stderr


def test_a_bad_policy_fails_validation_with_an_annotation(runner: Runner) -> None:
    (runner.repo / "policies" / "bad.yaml").write_text(
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {name: bad}\nspec: {}\n",
        encoding="utf-8",
    )
    done = runner.step("validate")
    assert done.returncode == 1
    assert "::error file=policies/bad.yaml,line=" in done.stdout


def test_main_plans_the_commit_applies_it_and_refuses_a_stale_plan(runner: Runner) -> None:
    head = git(runner.repo, "rev-parse", "HEAD")
    planned = runner.step("plan")
    assert planned.returncode == 0, planned.stderr
    assert runner.outputs()["deletions"] == "true"
    assert runner.left() == 120

    stale = runner.step("apply", GITHUB_SHA="0" * 40)
    assert stale.returncode == 1
    assert f"::error::the plan was made for commit {head}, not {'0' * 40}" in stale.stdout
    assert runner.left() == 120

    elsewhere = runner.step("apply", GITHUB_SHA=head, BRANCH="experiment")
    assert elsewhere.returncode == 1
    assert "::error::plans are applied from main only" in elsewhere.stdout
    assert runner.left() == 120

    applied = runner.step("apply", GITHUB_SHA=head)
    assert applied.returncode == 0, applied.stderr
    assert runner.left() == 100  # ages 0.5 .. 119.5 days: the 20 older than 100 days went
    report = json.loads((Path(runner.env["OUT"]) / "report.json").read_text(encoding="utf-8"))
    assert report["kind"] == "ApplyReport"

    Path(runner.env["GITHUB_OUTPUT"]).write_text("", encoding="utf-8")
    again = runner.step("plan")
    assert again.returncode == 0, again.stderr
    assert runner.outputs()["deletions"] == "false"


def test_apply_without_a_plan_is_one_error(runner: Runner) -> None:
    done = runner.step("apply", GITHUB_SHA="abc")
    assert done.returncode == 1
    assert done.stdout.strip().startswith("::error::no plan file")


def test_an_unknown_step_is_refused() -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), "deploy"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and "usage: action.sh" in done.stderr


def test_policy_tests_run_when_there_are_any(runner: Runner) -> None:
    """A PolicyTest beside the policies is judged: one that no longer holds fails the step."""
    (runner.repo / "policies" / "tests.yaml").write_text(
        "apiVersion: retention/v1\nkind: PolicyTest\nmetadata: {name: examples}\nspec:\n"
        '  at: "2026-12-01T00:00:00Z"\n  index: support\n  records:\n'
        "    - {id: old, namespace: tenant-a, metadata: {created_at: 1700000000}}\n"
        "  expect:\n    - {id: old, deleted: false}\n",
        encoding="utf-8",
    )
    done = runner.step("validate")
    assert done.returncode == 1
    assert "::error" in done.stdout and "old" in done.stdout
    assert "nothing to test" not in done.stdout


def test_a_pull_request_from_a_fork_is_validated_but_not_planned(runner: Runner) -> None:
    """No secrets for forks: a warning, no plan and no comment; without the fork, an error."""
    env = {"PINECONE_API_KEY": "", "BASE": "main"}
    fork = runner.step("plan-pr", FORK="true", **env)
    assert fork.returncode == 0 and "::warning::" in fork.stdout
    assert runner.step("comment", PR_NUMBER="3").stdout.strip() == "no plan to comment"
    own = runner.step("plan-pr", FORK="false", **env)
    assert own.returncode == 1 and "PINECONE_API_KEY" in own.stderr


def test_a_plan_is_not_applied_once_the_branch_has_moved_on(runner: Runner) -> None:
    """A commit merged while the plan waited for approval (it might add a legal hold) makes the
    plan stale: refused, nothing deleted; that commit's own run applies it."""
    head = git(runner.repo, "rev-parse", "HEAD")
    assert runner.step("plan").returncode == 0
    (runner.repo / "policies" / "hold.yaml").write_text(
        "apiVersion: retention/v1\nkind: LegalHold\nmetadata: {name: everything}\n"
        "spec:\n  index: support\n  namespaces: {include: [tenant-*]}\n"
        "  protect: [{created_at: {$gt: 0}}]\n",
        encoding="utf-8",
    )
    git(runner.repo, "add", "-A")
    git(runner.repo, "commit", "-q", "-m", "hold everything")
    git(runner.repo, "push", "-q", "origin", "main")
    newer = git(runner.repo, "rev-parse", "HEAD")
    git(runner.repo, "checkout", "-q", head)  # the waiting run's checkout
    done = runner.step("apply", GITHUB_SHA=head)
    assert done.returncode == 1
    assert f"::error::main has moved on to {newer} since {head} was planned" in done.stdout
    assert runner.left() == 120
