"""The service's state files (the last plan and report of each policy) are written the way
every file of the tool is: whole or not at all, and never in place of a link or a device."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from structlog.testing import capture_logs

from retention.pinecone import PineconeClient
from retention.service.metrics import Metrics
from retention.service.reconciler import Reconciler


def reconciler(state: Path) -> Reconciler:
    import structlog

    return Reconciler(
        cast(PineconeClient, None), Metrics(), structlog.get_logger(), state_dir=state
    )


def test_a_state_file_is_replaced_whole(tmp_path: Path) -> None:
    (tmp_path / "p.report.json").write_text('{"old": tru')  # a torn write from elsewhere
    reconciler(tmp_path)._save("p.report.json", json.dumps({"applied": 3}))
    assert json.loads((tmp_path / "p.report.json").read_text()) == {"applied": 3}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.report.json"]  # no temporary left


def test_a_link_in_the_state_directory_is_not_written_through(tmp_path: Path) -> None:
    """Someone put a symbolic link where a plan file goes: its target is left alone, the
    file is not saved, and the service says so in one structured event."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me")
    (tmp_path / "p.plan.json").symlink_to(target)
    with capture_logs() as events:
        reconciler(tmp_path)._save("p.plan.json", "{}\n")
    assert target.read_text() == "keep me"
    assert (tmp_path / "p.plan.json").is_symlink()
    [event] = [e for e in events if e["event"] == "state_not_saved"]
    assert event["file"] == "p.plan.json"
    assert "symbolic link" in event["error"]
