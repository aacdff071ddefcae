"""retention on a sparse index, and under each reading of a namespace that does not exist."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig
from tests.builders import policy, where_rule, write_policies
from tests.cli.conftest import point_cli_at
from tests.cli.helpers import run_cli


def sparse_record(i: int) -> dict[str, object]:
    return {
        "id": f"s{i:03d}",
        "values": [],
        "sparse_values": {"indices": [i, i + 1], "values": [0.5, 0.25]},
        "metadata": {"kind": "draft" if i % 3 == 0 else "final", "hold": i % 9 == 0},
    }


def test_a_sparse_index_is_planned_applied_and_verified_like_a_dense_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with Emulator.start(EmulatorConfig(limits="off")) as emulator:
        emulator.create_index("words", None, sparse=True)
        emulator.upsert("words", "ns", [sparse_record(i) for i in range(30)])
        point_cli_at(monkeypatch, emulator)
        docs = [
            policy(
                "drafts",
                "words",
                ["ns"],
                [where_rule("drafts", kind="draft"), {"name": "one", "ids": ["s001", "s009"]}],
                protect=[{"hold": True}],
            )
        ]
        folder = write_policies(tmp_path / "policies", docs)
        run = run_cli(capsys, "apply", str(folder), "--auto-approve")
        assert run.code == 0, run.err
        left = set(emulator.records("words", "ns"))
    drafts = {f"s{i:03d}" for i in range(30) if i % 3 == 0 and i % 9}
    assert left == {f"s{i:03d}" for i in range(30)} - drafts - {"s001"}  # s009 is held
    assert "verified, 0 pending" in run.out


@pytest.mark.parametrize("reading", ["empty", "never_created", "not_found"])
def test_a_namespace_deleted_before_its_apply_is_gone_under_every_reading(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    reading: str,
) -> None:
    """Planned, then dropped by someone else: the apply says `namespace gone` and deletes
    nothing anywhere else, whether Pinecone answers a missing namespace empty or 404."""
    config = EmulatorConfig(limits="off", missing_namespace=reading)  # type: ignore[arg-type]
    with Emulator.start(config) as emulator:
        emulator.create_index("idx", 2)
        for ns in ("a", "b"):
            emulator.upsert(
                "idx", ns, [(f"{ns}{i}", [0.1, 0.2], {"kind": "draft"}) for i in range(4)]
            )
        point_cli_at(monkeypatch, emulator)
        docs = [
            policy("drafts", "idx", ["*"], [where_rule("drafts", kind="draft")]),
            policy("ids", "idx", ["a"], [{"name": "two", "ids": ["a0", "a1"]}]),
        ]
        folder = write_policies(tmp_path / "policies", docs)
        plan = tmp_path / "plan.json"
        assert run_cli(capsys, "plan", str(folder), "--out", str(plan)).code == 0
        gone = httpx.delete(
            f"{emulator.index_host('idx')}/namespaces/a",
            headers={"Api-Key": "k", "X-Pinecone-Api-Version": "2025-10"},
        )
        assert gone.status_code in (200, 202), gone.text
        run = run_cli(capsys, "apply", str(plan), str(folder))
        assert run.code == 0, run.err
        assert "namespace gone since planning (idx/a)" in run.out, run.out
        assert set(emulator.records("idx", "b")) == set()
