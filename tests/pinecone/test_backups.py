"""Backups: create one and wait for Ready, against the emulator over loopback.

The emulator's clock is a `ManualClock` that the client's fake sleep moves too, so a backup
that is Initializing for a second (or an hour) turns Ready (or not) without real waiting.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from retention.emulator import Emulator, EmulatorConfig, ManualClock
from retention.errors import BackupFailed, NotFound
from retention.pinecone import PineconeClient
from retention.pinecone.backups import back_up
from retention.pinecone.models import BackupInfo, IndexDescription

from .conftest import FakeClock, Recorder, fresh_index, make_client, seed

pytestmark = pytest.mark.anyio

MINUTE = 60.0


@dataclass
class LinkedClock(FakeClock):
    """The client's fake time, and the emulator's: a sleep moves both."""

    server: ManualClock = field(default_factory=ManualClock)

    async def sleep(self, seconds: float) -> None:
        await super().sleep(seconds)
        self.server.advance(seconds)


@pytest.fixture
def linked() -> LinkedClock:
    return LinkedClock()


@pytest.fixture
def start(linked: LinkedClock) -> Iterator[Any]:
    """Start emulators on the linked clock with `EmulatorConfig` fields; stopped afterwards."""
    started: list[Emulator] = []

    def run(**fields: Any) -> Emulator:
        emulator = Emulator.start(EmulatorConfig(limits="off", clock=linked.server, **fields))
        started.append(emulator)
        return emulator

    yield run
    for emulator in started:
        emulator.stop()


async def _back_up(
    client: PineconeClient, clock: FakeClock, index: str, *, timeout: float = 600, **kw: Any
) -> BackupInfo:
    return await back_up(
        client.control,
        index,
        name="nightly",
        description="before retention",
        timeout=timeout,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        **kw,
    )


async def test_a_backup_is_awaited_until_ready(
    wire: Recorder, linked: LinkedClock, start: Any
) -> None:
    """The create is polled at 0.2 s, 0.4 s, 0.8 s...; Ready is returned with the counts of
    the records at least 15 minutes old."""
    emulator = start(backup_ready_ms=1000)
    name = fresh_index(emulator)
    emulator.upsert(name, "old", [("a", (0.1, 0.2), {}), ("b", (0.1, 0.2), {})], age_s=16 * MINUTE)
    seed(emulator, name, "young", 3)
    async with make_client(wire, linked, emulator) as client:
        backup = await _back_up(client, linked, name)
    assert backup.status == "Ready" and backup.source_index_name == name
    assert (backup.record_count, backup.namespace_count, backup.name) == (2, 1, "nightly")
    assert backup.created_at
    assert linked.sleeps == [0.2, 0.4, 0.8]
    assert [(r.method, r.url.path) for r in wire.seen] == [
        ("POST", f"/indexes/{name}/backups"),
        *[("GET", f"/backups/{backup.backup_id}")] * 3,
    ]
    assert wire.body(0) == {"name": "nightly", "description": "before retention"}
    assert [a.json()["status"] for a in wire.answers] == ["Initializing"] * 3 + ["Ready"]


async def test_a_failed_backup_raises_backup_failed(
    wire: Recorder, linked: LinkedClock, start: Any
) -> None:
    """A backup that ends InitializationFailed is one line naming backup, index and status."""
    emulator = start(backup_ready_ms=500, backup_outcome="InitializationFailed")
    name = fresh_index(emulator)
    async with make_client(wire, linked, emulator) as client:
        with pytest.raises(BackupFailed) as info:
            await _back_up(client, linked, name)
    backup_id = wire.answer(0)["backup_id"]
    assert str(info.value) == f"backup {backup_id} of index {name} ended InitializationFailed"
    assert (info.value.index_name, info.value.backup_id, info.value.backup_status) == (
        name,
        backup_id,
        "InitializationFailed",
    )


async def test_a_backup_not_ready_in_time_raises_backup_failed(
    wire: Recorder, linked: LinkedClock, start: Any
) -> None:
    """Still Initializing at the deadline: the wait grows to `poll` and stops at `timeout`."""
    emulator = start(backup_ready_ms=3_600_000)
    name = fresh_index(emulator)
    async with make_client(wire, linked, emulator) as client:
        with pytest.raises(BackupFailed) as info:
            await _back_up(client, linked, name, timeout=30)
    backup_id = wire.answer(0)["backup_id"]
    assert str(info.value) == (
        f"backup {backup_id} of index {name} not Ready after 30s (still Initializing)"
    )
    assert info.value.backup_status == "Initializing"
    assert linked.sleeps[:6] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
    assert max(linked.sleeps) == 5.0
    assert sum(linked.sleeps) == pytest.approx(30.0)
    assert wire.seen[-1].url.path == f"/backups/{backup_id}"  # a last look at the deadline


async def test_a_backup_that_is_ready_at_once_is_not_polled(
    wire: Recorder, clock: FakeClock
) -> None:
    """An answer that is already Ready costs no wait and no describe."""
    wire.script.append(
        httpx.Response(
            201,
            json={
                "backup_id": "b-1",
                "source_index_name": "support-prod",
                "source_index_id": "i-1",
                "status": "Ready",
                "cloud": "aws",
                "region": "us-east-1",
                "record_count": "20000",
                "namespace_count": 3,
            },
        )
    )
    async with make_client(wire, clock, _NOWHERE) as client:
        backup = await _back_up(client, clock, "support-prod", timeout=0)
    assert (backup.backup_id, backup.record_count, backup.namespace_count) == ("b-1", 20000, 3)
    assert clock.sleeps == [] and len(wire.seen) == 1


@dataclass
class _Nowhere:
    """Stands in for an emulator when every answer is scripted."""

    controller_url: str = "http://127.0.0.1:9"


_NOWHERE: Any = _Nowhere()

FORBIDDEN = {
    "error": {
        "code": "FORBIDDEN",
        "message": "Increase your quota or upgrade to create more backups.",
    },
    "status": 403,
}
"""The 403 of SPEC-2025-10 `create_backup`."""
QUOTA_EXCEEDED = {
    "error": {
        "code": "QUOTA_EXCEEDED",
        "message": "Backup failed to create. Quota for number of backups per index exceeded.",
    },
    "status": 403,
}
"""The 403 the backup docs show."""


@pytest.mark.parametrize("body", [FORBIDDEN, QUOTA_EXCEEDED], ids=["spec", "docs"])
async def test_a_quota_refusal_is_one_clear_line(
    wire: Recorder, clock: FakeClock, body: dict[str, Any]
) -> None:
    """A 403 on create is BackupFailed with Pinecone's words and what to do; it is not
    retried and nothing is polled."""
    wire.script.append(httpx.Response(403, json=body))
    async with make_client(wire, clock, _NOWHERE) as client:
        with pytest.raises(BackupFailed) as info:
            await _back_up(client, clock, "support-prod")
    error = body["error"]
    assert str(info.value) == (
        f"backup of index support-prod refused: HTTP 403 {error['code']}: {error['message']} "
        "(the project's backup quota is spent, or its plan allows none: delete old backups or "
        "raise the quota)"
    )
    assert (info.value.status, info.value.code, info.value.backup_id) == (403, error["code"], None)
    assert len(wire.seen) == 1 and clock.sleeps == []


async def test_another_forbidden_keeps_pinecone_s_words(wire: Recorder, clock: FakeClock) -> None:
    """A 403 that says nothing of quotas gets no quota advice."""
    body = {"error": {"code": "FORBIDDEN", "message": "Key lacks permission."}, "status": 403}
    wire.script.append(httpx.Response(403, json=body))
    async with make_client(wire, clock, _NOWHERE) as client:
        with pytest.raises(BackupFailed) as info:
            await _back_up(client, clock, "support-prod")
    assert str(info.value) == (
        "backup of index support-prod refused: HTTP 403 FORBIDDEN: Key lacks permission."
    )


async def test_a_missing_index_or_backup_is_not_found(client: PineconeClient) -> None:
    """Backing up an index that does not exist, or describing an unknown backup: NotFound."""
    with pytest.raises(NotFound, match="create_backup: HTTP 404 NOT_FOUND: Index nope not found"):
        await client.control.create_backup("nope")
    with pytest.raises(NotFound, match="describe_backup: HTTP 404"):
        await client.control.describe_backup("b-none")


async def test_create_backup_sends_only_what_is_given(
    wire: Recorder, client: PineconeClient, emu: Emulator
) -> None:
    """No name or description: an empty body, as the spec's example; describe reads it back."""
    name = fresh_index(emu)
    created = await client.control.create_backup(name)
    assert wire.body() == {}
    described = await client.control.describe_backup(created.backup_id)
    assert (described.backup_id, described.source_index_name, described.name) == (
        created.backup_id,
        name,
        None,
    )


@pytest.mark.parametrize("version", ["2025-10", "2026-07"])
async def test_both_description_shapes_say_serverless(
    wire: Recorder, clock: FakeClock, emu: Emulator, version: str
) -> None:
    """`spec.serverless` (2025-10) and `deployment.deployment_type: managed` (2026-07) both
    read as serverless (the listing speaks the client's version; describe always 2026-07)."""
    name = fresh_index(emu)
    async with make_client(wire, clock, emu, api_version=version) as client:
        listed = {i.name: i for i in await client.control.list_indexes()}
    assert all(("spec" in i) == (version == "2025-10") for i in wire.answer()["indexes"])
    assert listed[name].serverless is True


@pytest.mark.parametrize(
    ("shape", "serverless"),
    [
        ({"spec": {"pod": {"environment": "us-east-1-aws", "pod_type": "p1.x1"}}}, False),
        ({"deployment": {"deployment_type": "pod", "environment": "us-east-1-aws"}}, False),
        ({"deployment": {"deployment_type": "byoc", "environment": "aws-us-east-1-b921"}}, None),
        ({"deployment": {"cloud": "aws"}}, None),
        ({}, None),
    ],
    ids=["spec-pod", "deployment-pod", "byoc", "no-type", "neither"],
)
def test_what_is_not_serverless_or_does_not_say(
    shape: dict[str, Any], serverless: bool | None
) -> None:
    """Pods are not serverless; a description that names neither is None."""
    data = {"name": "i", "host": "i.svc.pinecone.io", "status": {"ready": True}, **shape}
    assert IndexDescription.from_json(data).serverless is serverless


@pytest.mark.parametrize(
    ("raw", "count"), [("20000", 20000), (0, 0), ("0", 0), (None, None), ("many", None)]
)
def test_a_backup_count_may_be_a_string(raw: object, count: int | None) -> None:
    """record_count comes as a protojson string or a number; what is neither is None."""
    data = {"backup_id": "b", "status": "Ready", "source_index_name": "i", "record_count": raw}
    assert BackupInfo.from_json(data).record_count == count
