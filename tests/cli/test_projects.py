"""Policies of two Pinecone projects applied by one command, each with its own key and host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.builders import hold, policy, seed, where_rule, write_policies
from tests.cli.helpers import run_cli

MAIN_KEY = "main-key-0123456789abcdef"
ANALYTICS_KEY = "analytics-key-0123456789abcdef"
"""Each emulator refuses every key but its own: a request sent with the wrong project's key
would be a 401, not a silent success."""


@pytest.fixture
def projects(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, Emulator]]:
    with (
        Emulator.start(EmulatorConfig(limits="off", api_key=MAIN_KEY)) as main,
        Emulator.start(EmulatorConfig(limits="off", api_key=ANALYTICS_KEY)) as analytics,
    ):
        for emulator in (main, analytics):
            emulator.create_index("idx", 2)  # the same index name in both projects
            seed(emulator, "idx", {"ns": {f"r{i}": {"kind": "draft" if i % 2 else "final",
                                                     "held": i % 4 == 1} for i in range(20)}})  # fmt: skip
        monkeypatch.setenv("PINECONE_API_KEY", MAIN_KEY)
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST", main.controller_url)
        monkeypatch.setenv("PINECONE_CONTROLLER_HOST_ANALYTICS", analytics.controller_url)
        yield main, analytics


def folder(tmp_path: Path) -> Path:
    return write_policies(
        tmp_path / "policies",
        [
            policy("main-drafts", "idx", ["ns"], [where_rule("drafts", kind="draft")]),
            policy(
                "analytics-finals",
                "idx",
                ["ns"],
                [where_rule("finals", kind="final")],
                project="analytics",
            ),
            # A hold in the analytics project protects nothing in the main project's idx.
            hold("analytics-held", "idx", ["ns"], [{"held": True}], project="analytics"),
        ],
    )


def test_each_policy_deletes_in_its_own_project(
    projects: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main, analytics = projects
    key_file = tmp_path / "analytics.key"
    key_file.write_text(ANALYTICS_KEY + "\n")  # as a mounted Secret holds it
    monkeypatch.setenv("PINECONE_API_KEY_ANALYTICS_FILE", str(key_file))
    report = tmp_path / "report.json"
    run = run_cli(capsys, "apply", str(folder(tmp_path)), "--auto-approve", "--report", str(report))
    assert run.code == 0, run.err
    assert "index analytics:idx" in run.out and "index idx" in run.out
    main_left = set(main.records("idx", "ns"))
    analytics_left = set(analytics.records("idx", "ns"))
    assert main_left == {f"r{i}" for i in range(20) if i % 2 == 0}  # the drafts went
    # The finals went, the held draft-or-final records stayed (held ones are odd: drafts).
    assert analytics_left == {f"r{i}" for i in range(20) if i % 2}
    actions = {a["id"]: a for a in json.loads(report.read_text())["actions"]}
    assert set(actions) == {"main-drafts/drafts/idx/ns", "analytics-finals/finals/analytics:idx/ns"}
    for key in (MAIN_KEY, ANALYTICS_KEY):
        assert key not in run.out + run.err + json.dumps(list(run.logged), default=str)


def test_a_project_without_its_own_key_is_refused_and_nothing_is_deleted(
    projects: tuple[Emulator, Emulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main, analytics = projects
    run = run_cli(capsys, "apply", str(folder(tmp_path)), "--auto-approve")
    assert run.code == 1
    assert run.messages == [
        "retention: error: project analytics: PINECONE_API_KEY_ANALYTICS is not set (nor "
        "PINECONE_API_KEY_ANALYTICS_FILE, a file holding the key); each named project needs its "
        "own key: the default one would reach another project's indexes"
    ]
    assert len(main.records("idx", "ns")) == len(analytics.records("idx", "ns")) == 20


def test_the_wrong_key_for_a_project_is_refused_by_it(
    projects: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    main, analytics = projects
    monkeypatch.setenv("PINECONE_API_KEY_ANALYTICS", MAIN_KEY)
    run = run_cli(capsys, "apply", str(folder(tmp_path)), "--auto-approve")
    assert run.code == 1 and "401" in run.err, run.err
    assert len(analytics.records("idx", "ns")) == 20
    assert len(main.records("idx", "ns")) == 20  # planning failed before any delete


def test_validate_refuses_a_bad_project_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policies = write_policies(
        tmp_path / "p",
        [policy("p", "idx", ["ns"], [where_rule("r", kind="x")], project="Analytics_EU")],
    )
    run = run_cli(capsys, "validate", str(policies))
    assert run.code == 1
    assert "project names are 1-40 characters" in run.out


def test_the_default_key_may_come_from_a_file(
    projects: tuple[Emulator, Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "main.key"
    key_file.write_text(MAIN_KEY + "\n")
    monkeypatch.delenv("PINECONE_API_KEY")
    monkeypatch.setenv("PINECONE_API_KEY_FILE", str(key_file))
    policies = write_policies(
        tmp_path / "one",
        [policy("main-drafts", "idx", ["ns"], [where_rule("drafts", kind="draft")])],
    )
    run = run_cli(capsys, "plan", str(policies))
    assert run.code == 0, run.err
    assert "main-drafts/drafts  deleteByFilter  10 records" in run.out
