"""Health, readiness and metrics over HTTP (starlette on uvicorn, in the service's loop).

- `/healthz`: the process and its event loop answer; never depends on Pinecone, so an outage
  of Pinecone does not get the pod restarted.
- `/readyz`: policies are loaded and Pinecone's control plane answered recently.
- `/metrics`: Prometheus text format.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from retention.errors import RetentionError
from retention.service.metrics import Metrics


def make_app(
    metrics: Metrics,
    *,
    ready: Callable[[], Awaitable[tuple[bool, dict[str, object]]]],
    health: Callable[[], dict[str, object]],
) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", **health()})

    async def readyz(_: Request) -> Response:
        ok, detail = await ready()
        return JSONResponse({"ready": ok, **detail}, status_code=200 if ok else 503)

    async def metrics_endpoint(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
        ]
    )


class Server(uvicorn.Server):
    """uvicorn, minus its signal handlers: the service owns SIGTERM and shuts down in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: Starlette, host: str, port: int) -> Server:
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
    )
    return Server(config)


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound on every address of `host` at `port`, for `Server.serve(sockets=...)`.

    Bound here, before anything is scheduled, so that a port in use or a host this machine does
    not have is one line at start: left to uvicorn, the failure happens inside a task, and the
    service would run on without its probes. Addresses are those asyncio would bind (IPv6
    sockets IPv6-only, SO_REUSEADDR as uvicorn sets it).
    """
    where = f"{host}:{port}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a host name"
        raise RetentionError(
            f"cannot serve health and metrics on {where}: the host is unknown here ({reason})"
        ) from None
    sockets: list[socket.socket] = []
    bound: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in bound:
                continue
            bound.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise RetentionError(
            f"cannot serve health and metrics on {where}: {listen_problem(exc)}"
        ) from None
    return sockets


def listen_problem(exc: OSError) -> str:
    """Why a bind failed, in words that suggest the fix."""
    if exc.errno == errno.EADDRINUSE:
        return "the port is in use"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no interface of this machine has that address"
    return (exc.strerror or str(exc)).lower()
