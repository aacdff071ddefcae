"""Pinecone's published limits: the verbatim 400s and 429s, per namespace and per index."""

from __future__ import annotations

import pytest
from pinecone.errors import RateLimitError

from retention.emulator import ManualClock
from retention.emulator.enforcement import QuotaEnforcer
from retention.quotas import BY_NAME, PUBLISHED, override
from tests.emulator.conftest import StartEmulator, http, sdk_index, vec

SUPPORT = "https://app.pinecone.io/organizations/-/settings/support/ticket"


def _seed(emulator: object, ns: str = "ns", n: int = 50) -> None:
    emulator.upsert("idx", ns, ((f"r{i}", vec(i), {"n": i}) for i in range(n)))  # type: ignore[attr-defined]


def test_more_than_1000_ids_is_refused(start_emulator: StartEmulator) -> None:
    """A delete with 1,268 IDs gets Pinecone's 400 body, limits on or off."""
    for limits in ("pinecone", "off"):
        emulator = start_emulator(indexes=(("idx", 4),), limits=limits)
        with http(emulator) as client:
            r = client.post(
                "/vectors/delete", json={"ids": [f"x{i}" for i in range(1268)], "namespace": "ns"}
            )
        assert r.status_code == 400
        assert r.json() == {
            "code": 3,
            "message": "Number of provided IDs: 1268 exceeds the maximum amount per request: 1000",
            "details": [],
        }


def test_sixth_filtered_delete_in_a_second_gets_one_429(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Six filter deletes within one second on one namespace: five pass, one 429 as Pinecone."""
    emulator = start_emulator(indexes=(("idx", 4),), limits="pinecone", clock=clock)
    _seed(emulator)
    with http(emulator) as client:
        statuses = []
        for i in range(6):
            r = client.post(
                "/vectors/delete", json={"namespace": "ns", "filter": {"n": {"$eq": i}}}
            )
            statuses.append(r.status_code)
            clock.advance(0.1)
    assert statuses == [200] * 5 + [429]
    assert r.json() == {
        "code": 8,
        "message": "Request failed. You've reached the max delete by metadata requests per second "
        f"for namespace ns. Pace your delete by metadata requests or contact Pinecone Support ({SUPPORT}) "
        "to request a higher limit.",
        "details": [],
    }
    clock.advance(0.5)  # the first request has left the one-second window
    with http(emulator) as client:
        r = client.post("/vectors/delete", json={"namespace": "ns", "filter": {"n": {"$eq": 9}}})
    assert r.status_code == 200


def test_limits_off_never_429s(start_emulator: StartEmulator, clock: ManualClock) -> None:
    """With --limits off, the same burst and more all succeed."""
    emulator = start_emulator(indexes=(("idx", 4),), limits="off", clock=clock)
    _seed(emulator)
    with http(emulator) as client:
        for i in range(30):
            r = client.post(
                "/vectors/delete", json={"namespace": "ns", "filter": {"n": {"$eq": i}}}
            )
            assert r.status_code == 200


def test_sdk_sees_rate_limit_error(start_emulator: StartEmulator, clock: ManualClock) -> None:
    """The SDK maps the emulator's 429 to RateLimitError with Pinecone's message."""
    emulator = start_emulator(indexes=(("idx", 4),), limits="pinecone", clock=clock)
    _seed(emulator)
    index = sdk_index(emulator)
    for i in range(5):
        index.delete(filter={"n": {"$eq": i}}, namespace="ns")
    with pytest.raises(RateLimitError) as info:
        index.delete(filter={"n": {"$eq": 5}}, namespace="ns")
    assert info.value.status_code == 429
    assert "max delete by metadata requests per second for namespace ns" in str(info.value)


def test_delete_records_are_counted_per_id_and_per_index(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    """Five 1,000-ID deletes fill a second's 5,000 records, across namespaces of one index."""
    emulator = start_emulator(indexes=(("idx", 4),), limits="pinecone", clock=clock)
    with http(emulator) as client:
        for i in range(5):
            ids = [f"n{i}-{j}" for j in range(1000)]
            assert (
                client.post("/vectors/delete", json={"ids": ids, "namespace": f"ns{i}"}).status_code
                == 200
            )
        r = client.post("/vectors/delete", json={"ids": ["x"], "namespace": "other"})
        assert r.status_code == 429
        assert "max delete records per second for index idx" in r.json()["message"]
        clock.advance(1.0)  # the window has moved past all five
        r = client.post(
            "/vectors/delete", json={"ids": [f"y{j}" for j in range(1000)], "namespace": "z"}
        )
        assert r.status_code == 200


def test_override_raises_one_limit(start_emulator: StartEmulator, clock: ManualClock) -> None:
    """--limit delete_records_per_s=20000 lets 20 full deletes through in one second."""
    emulator = start_emulator(
        indexes=(("idx", 4),),
        limits="pinecone",
        limit_overrides={"delete_records_per_s": 20000, "delete_requests_per_s_namespace": 1000},
        clock=clock,
    )
    with http(emulator) as client:
        codes = [
            client.post(
                "/vectors/delete",
                json={"ids": [f"{i}-{j}" for j in range(1000)], "namespace": "ns"},
            ).status_code
            for i in range(21)
        ]
    assert codes == [200] * 20 + [429]


def test_retry_after_header_when_asked(start_emulator: StartEmulator, clock: ManualClock) -> None:
    """With retry_after on, a 429 carries Retry-After in whole seconds."""
    emulator = start_emulator(
        indexes=(("idx", 4),), limits="pinecone", clock=clock, retry_after=True
    )
    _seed(emulator)
    with http(emulator) as client:
        for i in range(6):
            r = client.post("/vectors/delete", json={"namespace": "ns", "filter": {"n": i}})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"


@pytest.mark.parametrize("limit", PUBLISHED, ids=lambda lim: lim.name)
def test_a_client_paced_exactly_at_the_limit_never_trips(limit: object) -> None:
    """Requests spaced at exactly 1/limit seconds for three seconds are all admitted."""
    clock = ManualClock()
    enforcer = QuotaEnforcer(PUBLISHED, clock)
    lim = BY_NAME[limit.name]  # type: ignore[attr-defined]
    cost = 1.0 if lim.unit == "requests" else lim.per_second / 10
    per_second = lim.per_second / cost
    for i in range(int(per_second * 3)):
        ns = f"ns{i}" if lim.scope == "index" else "ns"  # keep the namespace limits out of it
        assert enforcer.charge("idx", ns, [(lim.operation, lim.unit, cost)]) is None
        clock.advance(1 / per_second)


def test_a_second_of_burst_then_a_pause_never_trips() -> None:
    """One second's worth at once, then a second's wait, again and again, is admitted."""
    clock = ManualClock()
    enforcer = QuotaEnforcer(override(PUBLISHED, {}), clock)
    for _ in range(3):
        for _ in range(5):
            assert enforcer.charge("idx", "ns", [("delete_by_metadata", "requests", 1)]) is None
        assert enforcer.charge("idx", "ns", [("delete_by_metadata", "requests", 1)]) is not None
        clock.advance(1.0)


def test_a_refused_request_charges_nothing() -> None:
    """When one bucket refuses, the others keep their tokens."""
    clock = ManualClock()
    enforcer = QuotaEnforcer(PUBLISHED, clock)
    for _ in range(5):
        enforcer.charge(
            "idx", "ns", [("delete", "requests", 1), ("delete_by_metadata", "requests", 1)]
        )
    for _ in range(95):  # the delete-request bucket still holds 95 tokens
        assert enforcer.charge("idx", "ns", [("delete", "requests", 1)]) is None
    assert enforcer.charge("idx", "ns", [("delete", "requests", 1)]) is not None
