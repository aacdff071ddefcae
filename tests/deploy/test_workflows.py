"""The GitHub Action (action.yml) and the example workflows in deploy/ci: valid against GitHub's
schemas, shell that parses and never interpolates inputs, and every retention command and flag
they use exists. The action's steps themselves are run in test_action.py."""

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

ACTION = REPO / "action.yml"
SCRIPT = DEPLOY / "ci" / "action.sh"
WORKFLOWS = sorted((DEPLOY / "ci").glob("*.yaml"))
COMMAND = re.compile(r"(?<![\w./-])retention\s+([a-z][a-z-]*)(.*)")
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def load(path: Path) -> dict[str, Any]:
    """A workflow or action file; PyYAML reads the `on` key as True (YAML 1.1), so it is renamed."""
    doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of every job of a workflow, or of a composite action."""
    if "runs" in doc:
        return list(doc["runs"]["steps"])
    return [step for job in doc["jobs"].values() for step in job["steps"]]


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


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_action_and_both_examples_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["main.yaml", "pull-request.yaml"]
    assert load(ACTION)["runs"]["using"] == "composite"


def test_workflows_and_action_validate_against_githubs_schemas(tmp_path: Path) -> None:
    """check-jsonschema's vendored GitHub schemas accept them, and do refuse a broken one."""
    workflows = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    action = check_jsonschema("vendor.github-actions", ACTION)
    assert action.returncode == 0, action.stdout + action.stderr
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text(encoding="utf-8").replace("using: composite", "using: c0"))
    assert check_jsonschema("vendor.github-actions", broken).returncode == 1


def shell_scripts() -> list[tuple[str, str]]:
    scripts = [
        (f"{path.name}: {step.get('name', step.get('id', '?'))}", step["run"])
        for path in (ACTION, *WORKFLOWS)
        for step in steps(load(path))
        if "run" in step
    ]
    scripts.append((SCRIPT.name, SCRIPT.read_text(encoding="utf-8")))
    return scripts


def test_every_shell_step_parses_and_takes_inputs_only_from_the_environment() -> None:
    """`bash -n` accepts each script; none has a ${{ }} expression inside it (an input written
    into a script is a script injection; the environment is not)."""
    scripts = shell_scripts()
    assert len(scripts) >= 8
    for where, script in scripts:
        assert "${{" not in script, where
        done = subprocess.run(
            ["bash", "-n"], input=script, capture_output=True, text=True, timeout=30, check=False
        )
        assert done.returncode == 0, (where, done.stderr)
    for step in steps(load(ACTION)):
        if "run" in step:
            assert step["shell"] == "bash", step["name"]


def test_the_script_uses_only_existing_commands_and_flags() -> None:
    calls = []
    for line in SCRIPT.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        for match in COMMAND.finditer(line.split(" #", 1)[0]):
            calls.append((match.group(1), FLAG.findall(match.group(2))))
    assert {c for c, _ in calls} == {"validate", "test", "plan", "apply"}
    for command, flags in calls:
        text = help_text(command)
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), (command, flag)


def test_every_step_of_the_action_calls_a_subcommand_the_script_has() -> None:
    script = SCRIPT.read_text(encoding="utf-8")
    called = [
        m.group(1)
        for step in steps(load(ACTION))
        for m in re.finditer(r"action\.sh\"? ([a-z-]+)", step.get("run", ""))
    ]
    assert set(called) == {"validate", "plan-pr", "comment", "plan", "apply"}
    for name in called:
        assert re.search(rf"^{re.escape(name)}\) ", script, re.M), name


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: p.name)
def test_actions_are_pinned_by_major_version(path: Path) -> None:
    """Every `uses:` names an action at a major version tag such as @v4."""
    for step in steps(load(path)):
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step["uses"]


def test_the_action_passes_secrets_through_the_environment_only() -> None:
    for step in steps(load(ACTION)):
        for value in step.get("with", {}).values():
            assert "pinecone-api-key" not in str(value)
        if "PINECONE_API_KEY" in step.get("env", {}):
            assert step["env"]["PINECONE_API_KEY"] == "${{ inputs.pinecone-api-key }}"


def test_pull_request_workflow_runs_the_action_with_full_history() -> None:
    doc = load(DEPLOY / "ci" / "pull-request.yaml")
    assert "pull_request" in doc["on"]
    assert doc["permissions"]["pull-requests"] == "write"
    (checkout, action) = steps(doc)
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["fetch-depth"] == 0
    assert action["uses"].split("@")[0].endswith("/retention")
    assert action["with"]["mode"] == "pull-request"
    assert action["with"]["pinecone-api-key"] == "${{ secrets.PINECONE_API_KEY }}"


def test_main_workflow_plans_then_applies_behind_an_environment() -> None:
    doc = load(DEPLOY / "ci" / "main.yaml")
    assert doc["on"]["push"]["branches"] == ["main"]
    plan_job, apply_job = doc["jobs"]["plan"], doc["jobs"]["apply"]
    assert apply_job["needs"] == "plan" and apply_job["environment"]
    assert apply_job["if"] == "needs.plan.outputs.deletions == 'true'"
    assert plan_job["outputs"]["deletions"] == "${{ steps.retention.outputs.deletions }}"
    modes = [
        s["with"]["mode"]
        for job in (plan_job, apply_job)
        for s in job["steps"]
        if "with" in s and "mode" in s["with"]
    ]
    assert modes == ["plan", "apply"]
    assert doc["concurrency"]["cancel-in-progress"] is False
