"""What every request goes through before and after its route: the same order as Pinecone's edge.

latency → API key → injected fault → JSON body → route (under the store lock) → JSON answer,
with errors rendered in the body shape of the plane that served the request. Routes are plain
functions of a `Call` so that they stay synchronous and short; the store lock makes each one
atomic against a test thread seeding data.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from retention.emulator.config import EmulatorConfig
from retention.emulator.enforcement import QuotaEnforcer
from retention.emulator.faults import Faults, fault_message
from retention.emulator.refusals import ApiError, Plane, bad_request, error_response
from retention.emulator.store import IndexState, Store

OLDEST_VERSION = "2024-04"
WRONG_PLANE_WRITE = (
    "This index has a document schema, so writes must go through the documents API. Use POST "
    "/namespaces/{namespace}/documents/upsert, /update or /delete with the "
    "X-Pinecone-API-Version header set to 2026-07 or later. The vectors and records write "
    "endpoints do not support document schemas."
)
"""Pinecone's words (server `pc-validation/src/error.rs`, quoted by SDK 10's migration guide)."""
WRONG_PLANE_READ = (
    "This index has a document schema, so reads must go through the documents API. Use POST "
    "/namespaces/{namespace}/documents/fetch, /list or /search with the "
    "X-Pinecone-API-Version header set to 2026-07 or later. The vectors and records read "
    "endpoints do not support document schemas."
)
"""Modelled on the write message: the read refusal's wording is unpublished."""


@dataclass
class Runtime:
    """Everything a route may touch, shared by all requests of one emulator."""

    config: EmulatorConfig
    store: Store
    enforcer: QuotaEnforcer
    faults: Faults


@dataclass
class Reply:
    body: object
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Call:
    """One request as a route sees it: parsed body, query, version, and the runtime."""

    def __init__(
        self, request: Request, runtime: Runtime, body: Mapping[str, Any], size: int
    ) -> None:
        self.request = request
        self.runtime = runtime
        self.body = body
        self.size = size
        self.version = request.headers.get("x-pinecone-api-version", OLDEST_VERSION)
        self.arrived: float | None = None
        """When the request reached the edge, on the emulator's clock: its rate-limit stamp."""

    @property
    def store(self) -> Store:
        return self.runtime.store

    def path(self, name: str) -> str:
        return str(self.request.path_params[name])

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def query_list(self, name: str) -> list[str]:
        return self.request.query_params.getlist(name)

    def pick(self, camel: str, snake: str | None = None, default: Any = None) -> Any:
        """A body field by its JSON (camelCase) or proto (snake_case) name."""
        if camel in self.body:
            return self.body[camel]
        if snake is not None and snake in self.body:
            return self.body[snake]
        return default

    def at_least(self, version: str) -> bool:
        """Is the request's API version `version` or newer? Previews count as newest."""
        if self.version.startswith("2026-01.alpha") or self.version == "unstable":
            return True
        return self.version >= version

    def index(self) -> IndexState:
        name = self.path("index")
        state = self.store.indexes.get(name)
        if state is None:
            raise ApiError(404, f"Index {name} not found.")
        return state

    def vector_index(self, *, write: bool) -> IndexState:
        """The index of a vectors-API call; 400 on a document index, which refuses that API."""
        state = self.index()
        if state.info.document_schema is None:
            return state
        plane: Plane = "documents" if self.runtime.config.wrong_plane_body == "error" else "data"
        raise ApiError(400, WRONG_PLANE_WRITE if write else WRONG_PLANE_READ, plane=plane)

    def charge(self, index: str, namespace: str, costs: Sequence[tuple[str, str, float]]) -> None:
        """Count the request against the published limits; raise 429 if one is reached."""
        denial = self.runtime.enforcer.charge(index, namespace, costs, at=self.arrived)
        if denial is None:
            return
        headers = {}
        if self.runtime.config.retry_after:
            headers["Retry-After"] = denial.retry_after_header
        raise ApiError(429, denial.message, headers=headers)


Route = Callable[[Call], Reply]


def endpoint(
    runtime: Runtime, plane: Plane, route: Route
) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a route in the edge behaviour every Pinecone endpoint shares."""

    async def handle(request: Request) -> Response:
        config = runtime.config
        request_id = uuid.uuid4().hex
        try:
            if config.latency_ms > 0:
                await asyncio.sleep(config.latency_ms / 1000)
            arrived = runtime.store.clock()
            if config.api_key is not None and request.headers.get("api-key") != config.api_key:
                raise ApiError(401, "Invalid API key.")
            status = runtime.faults.draw()
            if status is not None:
                raise ApiError(status, fault_message(status))
            raw = await request.body() if request.method not in ("GET", "DELETE") else b""
            call = Call(request, runtime, _json_body(raw, plane), len(raw))
            call.arrived = arrived
            # Off the event loop: a 10,000-document page takes tens of milliseconds to build,
            # and requests arriving meanwhile must be stamped when they arrive, as Pinecone's
            # edge would, not when the page is done (which would bunch them into a 429).
            reply = await run_in_threadpool(_locked, runtime, route, call)
        except ApiError as error:
            response: Response = _refusal(config, plane, error)
        else:
            response = (
                Response(status_code=reply.status, headers=reply.headers)
                if reply.body is None
                else JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
            )
        if plane != "documents" or config.documents_request_id:
            response.headers["x-pinecone-request-id"] = request_id
        return response

    return handle


def _locked(runtime: Runtime, route: Route, call: Call) -> Reply:
    with runtime.store.lock:
        return route(call)


def _refusal(config: EmulatorConfig, plane: Plane, error: ApiError) -> Response:
    """The error's body; on documents routes 401 and 429 come from the edge, in plain text."""
    edge = plane == "documents" and config.documents_edge_errors == "text"
    if edge and error.status in (401, 429):
        text = "Unauthorized" if error.status == 401 else error.message
        return PlainTextResponse(text, status_code=error.status, headers=error.headers)
    return error_response(plane, error)


def _json_body(raw: bytes, plane: Plane) -> Mapping[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        if plane == "control":
            raise ApiError(422, f"Failed to deserialize the JSON body: {exc}") from exc
        raise bad_request(f"Invalid JSON in request body: {exc}") from exc
    if isinstance(body, list):
        raise bad_request("Proto field is not repeating, cannot start list")
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object")
    return body
