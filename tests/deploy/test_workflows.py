"""The GitHub Actions examples: they parse, and every retention command and flag they use exists."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.kube import DEPLOY, REPO

WORKFLOWS = sorted((DEPLOY / "ci").glob("*.yaml"))
COMMAND = re.compile(r"(?<![\w./-])retention\s+([a-z][a-z-]*)(.*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def workflow(path: Path) -> dict[str, Any]:
    """A workflow file parsed; PyYAML reads the `on` key as True (YAML 1.1), so it is renamed."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True)
    return doc


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every job."""
    return [step for job in doc["jobs"].values() for step in job["steps"]]


def retention_calls(doc: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(command, flags) for every `retention COMMAND ...` line in the workflow's run scripts."""
    calls = []
    for step in steps(doc):
        script = step.get("run", "").replace("\\\n", " ")
        for line in script.splitlines():
            line = line.split(" #", 1)[0]
            for match in COMMAND.finditer(line):
                calls.append((match.group(1), FLAG.findall(match.group(2))))
    return calls


@functools.cache
def help_text(command: str) -> str:
    """`retention COMMAND --help`, asserting that the command exists."""
    done = subprocess.run(
        [sys.executable, "-m", "retention", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, f"retention {command} --help: {done.stderr}"
    return done.stdout


def test_both_examples_exist() -> None:
    """The pull-request and main workflow examples are both shipped."""
    assert [p.name for p in WORKFLOWS] == ["main.yaml", "pull-request.yaml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_uses_only_existing_commands_and_flags(path: Path) -> None:
    """Each retention command a workflow runs exists and accepts every flag it is given."""
    calls = retention_calls(workflow(path))
    assert calls
    for command, flags in calls:
        text = help_text(command)
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), (
                f"{path.name}: retention {command} has no {flag}"
            )


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_by_major_version(path: Path) -> None:
    """Every `uses:` names an action at a major version tag such as @v4."""
    for step in steps(workflow(path)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_pull_request_workflow_validates_and_comments_the_plan() -> None:
    """The PR workflow checks out full history, annotates, plans against the base and comments."""
    doc = workflow(DEPLOY / "ci" / "pull-request.yaml")
    assert "pull_request" in doc["on"]
    assert doc["permissions"]["pull-requests"] == "write"
    by_action = {s["uses"].split("@")[0]: s for s in steps(doc) if "uses" in s}
    assert by_action["actions/checkout"]["with"]["fetch-depth"] == 0
    assert by_action["marocchino/sticky-pull-request-comment"]["with"]["path"] == "plan.md"
    calls = dict(retention_calls(doc))
    assert calls["validate"] == ["--format"]
    assert set(calls["plan"]) == {"--format", "--base"}
    (plan,) = [s for s in steps(doc) if "retention plan" in s.get("run", "")]
    assert "--format markdown" in plan["run"] and plan["run"].endswith("> plan.md")
    assert plan["env"]["PINECONE_API_KEY"] == "${{ secrets.PINECONE_API_KEY }}"
    assert plan["env"]["BASE_REF"] == "${{ github.base_ref }}"


def test_main_workflow_applies_the_uploaded_plan_behind_an_environment() -> None:
    """On main: plan to a file, upload it, and apply that file only in a gated job."""
    doc = workflow(DEPLOY / "ci" / "main.yaml")
    assert doc["on"]["push"]["branches"] == ["main"]
    plan_job, apply_job = doc["jobs"]["plan"], doc["jobs"]["apply"]
    assert apply_job["needs"] == "plan"
    assert apply_job["environment"]
    plan_calls = dict(retention_calls({"jobs": {"plan": plan_job}}))
    assert {"--out", "--detailed-exitcode"} <= set(plan_calls["plan"])
    apply_calls = retention_calls({"jobs": {"apply": apply_job}})
    assert [c for c, _ in apply_calls] == ["apply"]
    (apply_step,) = [s for s in apply_job["steps"] if "retention apply" in s.get("run", "")]
    assert "plan.json" in apply_step["run"] and "--auto-approve" not in apply_step["run"]
    uploaded = [s for s in plan_job["steps"] if s.get("uses", "").startswith("actions/upload")]
    downloaded = [s for s in apply_job["steps"] if s.get("uses", "").startswith("actions/down")]
    assert uploaded[0]["with"]["name"] == downloaded[0]["with"]["name"]
    assert "plan.json" in uploaded[0]["with"]["path"]
