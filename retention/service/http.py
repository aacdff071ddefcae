"""Health, readiness and metrics over HTTP (starlette on uvicorn, in the service's loop).

- `/healthz`: the process and its event loop answer; never depends on Pinecone, so an outage
  of Pinecone does not get the pod restarted.
- `/readyz`: policies are loaded and Pinecone's control plane answered recently.
- `/metrics`: Prometheus text format.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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
