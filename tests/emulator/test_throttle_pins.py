"""Pins: the 429 bodies and `Retry-After` stay exactly as they were before the routing changes.

Every header and body byte that a client's retry logic reads on a 429 (rate limit or injected
fault, data plane or control plane, with `--retry-after` on or off) is compared whole, so a
change in how routes are dispatched or errors rendered cannot alter them unnoticed.
"""

from __future__ import annotations

import httpx

from retention.emulator import ManualClock
from tests.emulator.conftest import StartEmulator, http, vec

SUPPORT = "https://app.pinecone.io/organizations/-/settings/support/ticket"
DELETE_QPS = (
    "Request failed. You've reached the delete QPS limit for namespace ns (100 QPS). Pace your "
    f"delete requests or contact Pinecone Support ({SUPPORT}) to request a higher limit."
)


def _headers(r: httpx.Response) -> dict[str, str]:
    """The response's headers, less the ones that change on every request."""
    skip = {"date", "x-pinecone-request-id", "server"}
    return {k: v for k, v in r.headers.items() if k not in skip}


def _hundred_and_one_deletes(c: httpx.Client) -> httpx.Response:
    answers = [
        c.post("/vectors/delete", json={"namespace": "ns", "ids": [f"r{i}"]}) for i in range(101)
    ]
    assert [a.status_code for a in answers] == [200] * 100 + [429]
    return answers[-1]


def test_a_rate_limited_delete_without_retry_after(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    emulator = start_emulator(indexes=(("idx", 4),), limits="pinecone", clock=clock)
    emulator.upsert("idx", "ns", [("keep", vec(1), {})])
    with http(emulator) as c:
        r = _hundred_and_one_deletes(c)
    assert r.content == (b'{"code":8,"message":"' + DELETE_QPS.encode() + b'","details":[]}')
    assert _headers(r) == {
        "content-length": str(len(r.content)),
        "content-type": "application/json",
    }
    assert r.headers["x-pinecone-request-id"]


def test_a_rate_limited_delete_with_retry_after(
    start_emulator: StartEmulator, clock: ManualClock
) -> None:
    emulator = start_emulator(
        indexes=(("idx", 4),), limits="pinecone", clock=clock, retry_after=True
    )
    emulator.upsert("idx", "ns", [("keep", vec(1), {})])
    with http(emulator) as c:
        r = _hundred_and_one_deletes(c)
    assert r.json() == {"code": 8, "message": DELETE_QPS, "details": []}
    assert _headers(r) == {
        "retry-after": "1",
        "content-length": str(len(r.content)),
        "content-type": "application/json",
    }


def test_injected_429s_on_both_planes(start_emulator: StartEmulator) -> None:
    emulator = start_emulator(indexes=(("idx", 4),), fault_rate=1.0, fault_statuses=(429,), seed=1)
    message = "Request failed. Too many requests; the emulator injected this fault."
    with http(emulator) as data:
        r = data.post("/vectors/delete", json={"namespace": "ns", "ids": ["a"]})
    assert (r.status_code, r.json()) == (429, {"code": 8, "message": message, "details": []})
    assert "retry-after" not in r.headers
    with http(emulator, name=None) as control:
        r = control.get("/indexes")
    assert (r.status_code, r.json()) == (
        429,
        {"error": {"code": "RESOURCE_EXHAUSTED", "message": message}, "status": 429},
    )
