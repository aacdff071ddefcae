"""The HTTP stack under `Session`: connections as lanes, and no cookies.

Lanes: each in-flight slot of a `Session` owns one connection per host.

httpx's pool (httpcore's `AsyncConnectionPool`) matches requests to connections by walking
every connection, several times per request, and asks each idle one whether its socket became
readable (the server closed it), which costs a system call and a dictionary build in anyio per
connection. With sixteen connections in one pool that walk was a quarter of a plan's CPU time.
The `Session` already decides which requests are in flight (a slot each, taken after the
limiter's turn), so nothing is left for a shared pool to arbitrate: here every slot has its own
pool of one connection per origin, and a request names its slot in `request.extensions`.

The per-lane pools are httpx's own `AsyncHTTPTransport`: TLS, timeouts, keep-alive expiry and
the detection of a connection closed by the server are unchanged. A request without a lane (or
sent by code that does not know about lanes) takes lane 0, so this transport is also correct,
only slower, for callers that do not pick one.

No cookies: Pinecone authenticates every request by its `Api-Key` header and sets no cookie a
client needs. httpx parses every response's headers into its cookie jar through urllib's
cookie machinery all the same, a fifteenth of a plan's CPU time; `NoCookies` keeps nothing,
so nothing a server sets is ever sent back either.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable
from http.cookiejar import Cookie, CookieJar
from typing import Any

import httpx


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing: nothing is parsed from responses, nothing is sent."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Cookie) -> None:
        return None

    def add_cookie_header(self, request: Any) -> None:
        return None


CLOSE_TIMEOUT = 1.0
"""Seconds given to closing a lane's spoiled pool before it is left to the garbage collector."""

LANE = "retention.lane"
"""The `request.extensions` key that names a request's lane (an int from 0)."""


PoolKey = tuple[int, bytes, bytes, int | None]
"""(lane, scheme, host, port)."""


class _Lane:
    """One lane's pool, and whether its last exchange ended cleanly."""

    __slots__ = ("open", "pool", "spoiled")

    def __init__(self, pool: httpx.AsyncBaseTransport) -> None:
        self.pool = pool
        self.open = False  # a response of this lane not closed yet
        self.spoiled = False  # an exchange of this lane ended in an exception


class _Tracked(httpx.AsyncByteStream):
    """A response body that tells its lane whether it was read and closed cleanly."""

    def __init__(self, inner: httpx.AsyncByteStream, lane: _Lane) -> None:
        self._inner = inner
        self._lane = lane

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except BaseException:
            self._lane.spoiled = True
            raise

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        except BaseException:
            self._lane.spoiled = True
            raise
        finally:
            self._lane.open = False


class Lanes(httpx.AsyncBaseTransport):
    """An httpx transport with one single-connection pool per (lane, origin).

    A pool of one connection has no spare: if an exchange ends badly (cancelled while
    connecting or reading, a timeout, a response never closed) and httpcore keeps its only
    connection marked busy, every later request of that lane would wait out the pool timeout.
    So a lane whose last exchange did not end cleanly gets a new pool before its next request;
    the old one is closed in passing.
    """

    def __init__(
        self,
        *,
        keepalive_expiry: float | None = 30.0,
        pool_factory: Callable[[], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self._keepalive_expiry = keepalive_expiry
        self._tls: ssl.SSLContext | None = None
        self._factory = pool_factory or self._pool
        self._lanes: dict[PoolKey, _Lane] = {}
        self._closed = False
        self.replaced = 0
        """Pools replaced after an exchange that did not end cleanly."""

    def __repr__(self) -> str:
        return f"Lanes(pools={len(self._lanes)})"

    def _pool(self) -> httpx.AsyncBaseTransport:
        if self._tls is None:
            # One context for every lane: building one loads the CA bundle (~40 ms).
            self._tls = httpx.create_ssl_context()
        return httpx.AsyncHTTPTransport(
            verify=self._tls,
            limits=httpx.Limits(
                max_connections=1,
                max_keepalive_connections=1,
                keepalive_expiry=self._keepalive_expiry,
            ),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        key = (request.extensions.get(LANE, 0), url.raw_scheme, url.raw_host, url.port)
        lane = self._lanes.get(key)
        if lane is not None and (lane.open or lane.spoiled):
            self.replaced += 1
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lane.pool.aclose(), CLOSE_TIMEOUT)
            lane = None
        if lane is None:
            lane = self._lanes[key] = _Lane(self._factory())
        lane.open = True
        try:
            response = await lane.pool.handle_async_request(request)
        except BaseException:
            lane.open, lane.spoiled = False, True
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _Tracked(response.stream, lane)
        return response

    async def aclose(self) -> None:
        self._closed = True
        lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            await lane.pool.aclose()
