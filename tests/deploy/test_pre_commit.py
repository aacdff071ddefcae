"""The pre-commit hooks, run by pre-commit itself: a temporary policy repository uses this
repository (as its working tree stands) as a hook source, and `pre-commit run --all-files`
passes on good policies and fails, with FILE:LINE:COL, on a bad one or a failing PolicyTest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.kube import REPO

HOOKS = REPO / ".pre-commit-hooks.yaml"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    )
    return done.stdout.strip()


def snapshot(target: Path) -> str:
    """This repository's tracked and new (not ignored) files as one commit in `target`: the hook
    source pre-commit clones, so uncommitted changes to the hooks are what is tested."""
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not os.path.lexists(source):
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "snapshot")
    return git(target, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def policy_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A policy repository with the example policies, configured to use both hooks."""
    root = tmp_path_factory.mktemp("pre-commit")
    source = root / "retention"
    rev = snapshot(source)
    repo = root / "policies-repo"
    shutil.copytree(REPO / "policies", repo / "policies")
    config = {
        "repos": [
            {
                "repo": str(source),
                "rev": rev,
                "hooks": [{"id": "retention-validate"}, {"id": "retention-test"}],
            }
        ]
    }
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    env = {**os.environ, "PRE_COMMIT_HOME": str(root / "cache"), "PRE_COMMIT_COLOR": "never"}
    yield repo, env


def pre_commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_hooks_are_declared_for_the_policy_files() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert set(hooks) == {"retention-validate", "retention-test"}
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False  # the whole directory: names span files
        assert hook["entry"].split()[0] == "retention"


@pytest.mark.slow
def test_pre_commit_passes_good_policies_and_fails_bad_ones(
    policy_repo: tuple[Path, dict[str, str]],
) -> None:
    repo, env = policy_repo
    good = pre_commit(repo, env)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count("Passed") == 2, good.stdout

    bad = repo / "policies" / "typo.yaml"
    bad.write_text(
        "apiVersion: retention/v1\nkind: RetentionPolicy\nmetadata: {name: typo}\n"
        "spec:\n  index: support-prod\n  namespaces: {include: [tenant-x]}\n"
        "  rules:\n    - {name: r, olderThan: 90 days, field: created_at}\n",
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    failed = pre_commit(repo, env)
    assert failed.returncode == 1
    assert "retention validate" in failed.stdout and "Failed" in failed.stdout
    assert "policies/typo.yaml:8:" in failed.stdout, failed.stdout
    bad.unlink()

    tests = repo / "policies" / "policy-tests.yaml"
    tests.write_text(
        tests.read_text(encoding="utf-8").replace(
            "{id: t-old, deleted: true, by: support-tickets/expire-tickets}",
            "{id: t-old, deleted: false}",
        ),
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    failing_test = pre_commit(repo, env)
    assert failing_test.returncode == 1
    lines = failing_test.stdout.splitlines()
    (validate,) = [line for line in lines if line.startswith("retention validate")]
    (policy_test,) = [line for line in lines if line.startswith("retention test")]
    assert validate.endswith("Passed") and policy_test.endswith("Failed"), failing_test.stdout
    assert "t-old" in failing_test.stdout
