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

import ssl
from http.cookiejar import Cookie, CookieJar
from types import TracebackType
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


LANE = "retention.lane"
"""The `request.extensions` key that names a request's lane (an int from 0)."""


class Lanes(httpx.AsyncBaseTransport):
    """An httpx transport with one single-connection pool per (lane, origin)."""

    def __init__(self, *, keepalive_expiry: float | None = 30.0) -> None:
        self._keepalive_expiry = keepalive_expiry
        self._tls: ssl.SSLContext | None = None
        self._pools: dict[tuple[int, bytes, bytes, int | None], httpx.AsyncHTTPTransport] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"Lanes(pools={len(self._pools)})"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        lane = request.extensions.get(LANE, 0)
        url = request.url
        key = (lane, url.raw_scheme, url.raw_host, url.port)
        pool = self._pools.get(key)
        if pool is None:
            if self._tls is None:
                # One context for every lane: building one loads the CA bundle (~40 ms).
                self._tls = httpx.create_ssl_context()
            pool = httpx.AsyncHTTPTransport(
                verify=self._tls,
                limits=httpx.Limits(
                    max_connections=1,
                    max_keepalive_connections=1,
                    keepalive_expiry=self._keepalive_expiry,
                ),
            )
            self._pools[key] = pool
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        self._closed = True
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    async def __aenter__(self) -> Lanes:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.aclose()
