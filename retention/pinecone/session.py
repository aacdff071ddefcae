"""One request to Pinecone: pace, send, translate, retry.

    Session.send(method, url, operation, weights)
        Retrying.call ─┬─ Pacer.acquire(weights)         wait for our turn
                       ├─ a free lane: its own connection      never more in flight than lanes
                       ├─ httpx.AsyncClient.request            headers added here only
                       ├─ 2xx → response
                       └─ else → retention.errors (429 also slows the limiter's keys)

A retry goes through the limiter again, so a repeated request is paid for like a new one.
A request takes a connection slot only once the limiter has let it go: thousands of waiting
requests wait in the limiter, never in httpx's pool, whose bookkeeping grows with its queue
(every queued request is matched against every connection each time one frees up). When every
connection is busy (slow answers, a busy event loop) a request may get one long after its turn;
requests held up together would then go out together, above the limit, so one that is late by
more than `LATE` gives its turn back and takes a new one.
The API key lives in this object's headers and in the `secrets` scrubbed from every error
text; it is never logged. The injected `httpx.AsyncClient` must not follow redirects, so the
key only ever reaches the hosts this client was configured with or resolved.

A key that cannot be a header value (a line break from a copied file, a non-ASCII character) is
refused here, before any request: sent anyway, httpx and h11 would put its escaped bytes into
their own error texts, where scrubbing the key's plain form no longer finds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from retention import __version__
from retention.errors import PineconeError, RateLimited
from retention.pinecone.outcomes import (
    REQUEST_ID_HEADER,
    error_for_response,
    error_for_transport,
    truncate,
)
from retention.pinecone.pacing import Key, Pacer, Reservation
from retention.pinecone.retrying import Retrying
from retention.pinecone.transport import LANE
from retention.secrets import scrub

DEFAULT_API_VERSION = "2026-04"
DOCUMENTS_API_VERSION = "2026-07"
"""The version that serves document indexes (`/namespaces/{ns}/documents/*`) and describes
every kind of index; sent for those calls whatever the client's default."""
LATE = 0.05
"""Seconds after its turn beyond which a request that waited for a connection queues again."""
USER_AGENT = f"retention/{__version__}"


def api_key_problem(key: str) -> str | None:
    """Why `key` cannot be sent as an `Api-Key` header, in words that never quote it; else None.

    A header value is printable ASCII, with spaces allowed only inside it (RFC 9110 field-value;
    obs-text is left out because h11 and Pinecone's front end read it differently).
    """
    if not key:
        return "is empty"
    if key != key.strip():
        return "starts or ends with whitespace (a trailing newline from a file?)"
    if "\r" in key or "\n" in key:
        return "contains a line break"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in key):
        return "contains a control character"
    if not key.isascii():
        return "contains a non-ASCII character"
    return None


def check_api_key(key: str, *, name: str = "the API key") -> None:
    """Raise `ValueError` naming `name` (never the key) when `key` is not a usable header."""
    problem = api_key_problem(key)
    if problem is not None:
        raise ValueError(
            f"{name} {problem}; an API key is one line of printable ASCII: set it to the key alone"
        )


class Session:
    """Shared by the control and data planes: the httpx client, key, limiter and retries."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        api_version: str = DEFAULT_API_VERSION,
        pacer: Pacer,
        retrying: Retrying,
        max_in_flight: int = 32,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        check_api_key(api_key)
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be positive, got: {max_in_flight}")
        self.http = http
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        """Requests sent and not answered yet; never above `max_in_flight`."""
        self.peak_in_flight = 0
        self._lanes: asyncio.LifoQueue[int] = asyncio.LifoQueue()
        """Free lanes (connection slots), the most recently used first out: its connection is
        the likeliest still open."""
        for lane in range(max_in_flight - 1, -1, -1):
            self._lanes.put_nowait(lane)
        self._monotonic = monotonic
        self.late_turns = 0
        """Requests whose connection came too long after their turn, and that queued again."""
        self.pacer = pacer
        self.retrying = retrying
        self._secrets = (api_key,)
        self._headers = {
            "Api-Key": api_key,
            "X-Pinecone-Api-Version": api_version,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"Session(api_version={self._headers['X-Pinecone-Api-Version']!r})"

    async def send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        weights: Mapping[Key, float] | None = None,
        params: Any = None,
        json: Any = None,
        api_version: str | None = None,
    ) -> httpx.Response:
        """Send one request (retried per policy) and return its 2xx response; `api_version`
        replaces the session's `X-Pinecone-Api-Version` for this request."""
        headers = (
            self._headers
            if api_version is None
            else {**self._headers, "X-Pinecone-Api-Version": api_version}
        )

        async def attempt() -> httpx.Response:
            reservation, lane = await self._turn(weights)
            try:
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                try:
                    response = await self.http.request(
                        method,
                        url,
                        params=params,
                        json=json,
                        headers=headers,
                        extensions={LANE: lane},
                    )
                except httpx.TransportError as exc:
                    raise error_for_transport(
                        exc, operation=operation, secrets=self._secrets
                    ) from exc
            finally:
                self.in_flight -= 1
                self._lanes.put_nowait(lane)
            try:
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                error = error_for_response(response, operation=operation, secrets=self._secrets)
                if isinstance(error, RateLimited) and reservation is not None:
                    self.pacer.throttled(reservation, error.message)
                raise error from exc
            return response

        return await self.retrying.call(operation, attempt)

    async def _turn(self, weights: Mapping[Key, float] | None) -> tuple[Reservation | None, int]:
        """Wait for our turn in the limiter, then for a free lane (held on return).

        The connection may come long after the turn; requests held up together would then go
        out together, faster than the limit. So a request late by more than `LATE` gives back
        both and queues again, once: holding the slot while it waits for a new turn would keep
        it from the requests whose turn has come.
        """
        for again in (True, False):
            reservation = await self.pacer.acquire(weights) if weights else None
            lane = await self._lanes.get()
            if reservation is None or not again:
                return reservation, lane
            if self._monotonic() - reservation.start <= LATE:
                return reservation, lane
            self._lanes.put_nowait(lane)
            self.pacer.release(reservation)
            self.late_turns += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_json(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        weights: Mapping[Key, float] | None = None,
        params: Any = None,
        json: Any = None,
        api_version: str | None = None,
    ) -> tuple[dict[str, Any], httpx.Response]:
        """Like `send`, and also decode the body as a JSON object (`{}` when empty)."""
        response = await self.send(
            method,
            url,
            operation=operation,
            weights=weights,
            params=params,
            json=json,
            api_version=api_version,
        )
        if not response.content:
            return {}, response
        try:
            data = response.json()
        except ValueError as exc:
            shown = truncate(scrub(response.text, self._secrets))
            raise PineconeError(
                f"{operation}: HTTP {response.status_code} answer is not JSON: {shown}",
                status=response.status_code,
                request_id=response.headers.get(REQUEST_ID_HEADER),
                operation=operation,
            ) from exc
        return (data if isinstance(data, dict) else {}), response
