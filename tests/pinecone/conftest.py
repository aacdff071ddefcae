"""A small in-memory fake of Pinecone, served through `httpx.MockTransport`.

Routes are plain functions chosen by (method, path); the fake records every request so tests
assert on what was sent. `script` queues canned responses (errors, 429s) served first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from retention.pinecone import Pacer, PineconeClient, PineconeSettings

KEY = "pcsk_SECRET_test_key_123"
CONTROLLER = "https://api.test"
HOST = "https://idx-abc.svc.test"


@dataclass
class FakeClock:
    """Monotonic time that only moves when someone sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class FakePinecone:
    """In-memory namespaces of one index, plus a control plane with two index shapes."""

    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)
    script: list[httpx.Response | Exception] = field(default_factory=list)
    page_size: int = 2

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.script:
            item = self.script.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        parts = [
            unquote(p) for p in request.url.raw_path.decode().split("?")[0].strip("/").split("/")
        ]
        route = ROUTES.get((request.method, "/".join(parts))) or ROUTES.get(
            (request.method, "/".join([*parts[:-1], "*"]))
        )
        if route is None:
            return httpx.Response(404, json={"code": 5, "message": "no route", "details": []})
        return route(self, request, parts[-1])

    def body(self, i: int = -1) -> Any:
        return json.loads(self.seen[i].content)

    def ns(self, name: str) -> dict[str, dict[str, Any]]:
        return self.records.setdefault("__default__" if name == "" else name, {})


def _matches(metadata: dict[str, Any], flt: dict[str, Any]) -> bool:
    for key, cond in flt.items():
        want = cond.get("$eq") if isinstance(cond, dict) else cond
        if metadata.get(key) != want:
            return False
    return True


def _page(items: list[Any], token: str | None, size: int) -> tuple[list[Any], str | None]:
    start = int(token or 0)
    nxt = str(start + size) if start + size < len(items) else None
    return items[start : start + size], nxt


def _delete(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    body = json.loads(request.content)
    if len(body.get("ids", ())) > 1000:
        n = len(body["ids"])
        msg = f"Number of provided IDs: {n} exceeds the maximum amount per request: 1000"
        return httpx.Response(400, json={"code": 3, "message": msg, "details": []})
    ns = fake.ns(body.get("namespace", ""))
    if body.get("deleteAll"):
        ns.clear()
    for id_ in body.get("ids", ()):
        ns.pop(id_, None)
    if "filter" in body:
        for id_ in [i for i, m in ns.items() if _matches(m, body["filter"])]:
            del ns[id_]
    return httpx.Response(200, json={}, headers={"x-pinecone-request-lsn": "7"})


def _list(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    q = request.url.params
    prefix = q.get("prefix") or ""
    ids = sorted(i for i in fake.ns(q.get("namespace", "")) if i.startswith(prefix))
    page, nxt = _page(ids, q.get("paginationToken"), int(q.get("limit") or fake.page_size))
    data: dict[str, Any] = {"vectors": [{"id": i} for i in page], "usage": {"readUnits": 1}}
    if nxt:
        data["pagination"] = {"next": nxt}
    return httpx.Response(200, json=data)


def _fetch(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    ns = fake.ns(request.url.params.get("namespace", ""))
    ids = request.url.params.get_list("ids")
    vectors = {i: {"id": i, "values": [0.1], "metadata": ns[i]} for i in ids if i in ns}
    headers = {"x-pinecone-max-indexed-lsn": "9"}
    return httpx.Response(200, json={"vectors": vectors, "namespace": ""}, headers=headers)


def _fetch_by_metadata(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    body = json.loads(request.content)
    ns = fake.ns(body["namespace"])
    hits = [{"id": i, "metadata": m} for i, m in sorted(ns.items()) if _matches(m, body["filter"])]
    page, nxt = _page(hits, body.get("paginationToken"), int(body.get("limit", fake.page_size)))
    data: dict[str, Any] = {"vectors": {v["id"]: v for v in page}}
    if nxt:
        data["pagination"] = {"next": nxt}
    return httpx.Response(200, json=data)


def _update(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    body = json.loads(request.content)
    hits = [m for m in fake.ns(body["namespace"]).values() if _matches(m, body["filter"])]
    return httpx.Response(200, json={"matchedRecords": len(hits)})


def _namespaces(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    q = request.url.params
    names = sorted(n for n in fake.records if n.startswith(q.get("prefix", "")))
    page, nxt = _page(names, q.get("paginationToken"), int(q.get("limit") or fake.page_size))
    data: dict[str, Any] = {
        "namespaces": [{"name": n, "record_count": str(len(fake.records[n]))} for n in page],
        "total_count": len(names),
    }
    if nxt:
        data["pagination"] = {"next": nxt}
    return httpx.Response(200, json=data)


def _namespace(fake: FakePinecone, request: httpx.Request, name: str) -> httpx.Response:
    if name not in fake.records:
        return httpx.Response(
            404, json={"code": 5, "message": "Namespace not found", "details": []}
        )
    if request.method == "DELETE":
        del fake.records[name]
        return httpx.Response(202, json={})
    return httpx.Response(200, json={"name": name, "record_count": len(fake.records[name])})


def _index(fake: FakePinecone, request: httpx.Request, name: str) -> httpx.Response:
    if name not in fake.indexes:
        err = {"code": "NOT_FOUND", "message": f"Index {name} not found."}
        return httpx.Response(404, json={"error": err, "status": 404})
    return httpx.Response(200, json=fake.indexes[name])


def _indexes(fake: FakePinecone, request: httpx.Request, _: str) -> httpx.Response:
    return httpx.Response(200, json={"indexes": list(fake.indexes.values())})


Route = Callable[[FakePinecone, httpx.Request, str], httpx.Response]
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "vectors/delete"): _delete,
    ("GET", "vectors/list"): _list,
    ("GET", "vectors/fetch"): _fetch,
    ("POST", "vectors/fetch_by_metadata"): _fetch_by_metadata,
    ("POST", "vectors/update"): _update,
    ("GET", "namespaces"): _namespaces,
    ("GET", "namespaces/*"): _namespace,
    ("DELETE", "namespaces/*"): _namespace,
    ("GET", "indexes"): _indexes,
    ("GET", "indexes/*"): _index,
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakePinecone:
    return FakePinecone()


def make_client(fake: FakePinecone, clock: FakeClock, **options: Any) -> PineconeClient:
    """A client on the fake transport and the fake clock, with random() fixed at 0.5."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    options.setdefault("pacer", Pacer(monotonic=clock.monotonic, sleep=clock.sleep))
    return PineconeClient(
        http,
        PineconeSettings(api_key=KEY, controller_url=CONTROLLER),
        sleep=clock.sleep,
        monotonic=clock.monotonic,
        random=lambda: 0.5,
        **options,
    )


@pytest.fixture
def client(fake: FakePinecone, clock: FakeClock) -> PineconeClient:
    return make_client(fake, clock)
