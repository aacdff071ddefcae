"""Verification holds whichever reads carry `x-pinecone-max-indexed-lsn`.

Pinecone documents the freshness header on queries only; the emulator can put it on every
read, on queries only, or nowhere (`--lsn-headers`). Where a read carries it, one read past a
delete's LSN shows the delete done; where none does, the apply waits until the selection reads
empty, and says "pending" when it does not in time. Either way it deletes exactly the selection
and reports it honestly, with a visibility lag that keeps deleted records listed for a while.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from retention.emulator import Emulator, EmulatorConfig
from retention.pinecone import IndexClient
from tests.applying.world import cli, fresh_index, pointed_at
from tests.builders import policy, seed, write_policies

OLD = time.time() - 90 * 86_400
RULES = [
    {"name": "ttl", "olderThan": "30d", "field": "created_at"},
    {"name": "erase", "idPrefix": "gdpr#"},
]


def _apply(
    tmp_path: Path, headers: str, *, write_after_delete: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, dict[str, Any], set[str]]:
    config = EmulatorConfig(lsn_headers=headers, lag_ms=200)  # type: ignore[arg-type]
    with Emulator.start(config) as emulator, pointed_at(emulator):
        index = fresh_index(emulator, "lsn")
        data = {f"old-{i}": {"created_at": OLD} for i in range(20)}
        data |= {f"gdpr#{i}": {"created_at": time.time()} for i in range(30)}
        data |= {f"keep-{i}": {"created_at": time.time()} for i in range(50)}
        seed(emulator, index, {"ns": data})
        policies = write_policies(tmp_path / "policies", [policy("p", index, ["ns"], RULES)])
        planfile = tmp_path / "plan.json"
        code, _, err = cli("plan", str(policies), "--out", str(planfile))
        assert code == 0, err
        if write_after_delete:
            real = IndexClient.delete_by_filter

            async def delete_by_filter(self: IndexClient, flt: Any, namespace: str) -> Any:
                done = await real(self, flt, namespace)
                seed(emulator, index, {"ns": {"newcomer": {"created_at": OLD}}})
                return done

            monkeypatch.setattr(IndexClient, "delete_by_filter", delete_by_filter)
        report = tmp_path / "report.json"
        code, out, err = cli(
            "apply", str(planfile), str(policies), "--verify-timeout", "3", "--report", str(report)
        )
        with emulator.store.lock:  # what the index holds once every accepted write is applied
            emulator.store.indexes[index].namespace("ns").catch_up(everything=True)
        left = set(emulator.records(index, "ns"))
        return code, out, json.loads(report.read_text()), left


@pytest.mark.parametrize("headers", ["reads", "query", "none"])
def test_deletes_are_verified_with_or_without_freshness_headers(
    tmp_path: Path, headers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, report, left = _apply(
        tmp_path, headers, write_after_delete=False, monkeypatch=monkeypatch
    )
    assert code == 0, out
    assert "Applied: 50 records deleted by 2 of 2 actions" in out
    assert [a["verification"] for a in report["actions"]] == ["verified", "verified"]
    assert left == {f"keep-{i}" for i in range(50)}


@pytest.mark.parametrize(("headers", "verified"), [("reads", True), ("none", False)])
def test_a_match_written_after_the_delete_holds_verification_only_without_headers(
    tmp_path: Path, headers: str, verified: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the header, the read past the delete's LSN shows it done at once; without one,
    the newcomer looks like a survivor, and the action is reported pending, never failed."""
    code, out, report, left = _apply(
        tmp_path, headers, write_after_delete=True, monkeypatch=monkeypatch
    )
    assert code == 0, out
    ttl = next(a for a in report["actions"] if a["id"].startswith("p/ttl/"))
    assert ttl["verification"] == ("verified" if verified else "pending")
    assert "newcomer" in left
    assert not any(i.startswith(("old-", "gdpr#")) for i in left)
