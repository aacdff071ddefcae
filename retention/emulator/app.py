"""The ASGI application: both planes of Pinecone's REST API on one port.

The control plane answers at the root (`/indexes`, `/backups`) and each index's data plane
under `/index/{name}`, which is the `host` the control plane hands out, so the official SDK
needs nothing but the controller URL. Paths are listed once here, next to the plane whose
error shape they use. Each path is one route that dispatches by method, so that a wrong
method is a 405 whose `Allow` lists every method of the path; unknown paths and methods are
answered in the plane's JSON error shape (`routing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from retention.emulator import controlplane, documents, namespaces, reads, restores, writes
from retention.emulator.config import EmulatorConfig
from retention.emulator.controlplane import DATA_PREFIX
from retention.emulator.enforcement import QuotaEnforcer
from retention.emulator.faults import Faults
from retention.emulator.handling import Route as Handler
from retention.emulator.handling import Runtime, endpoint
from retention.emulator.refusals import Plane
from retention.emulator.routing import unrouted
from retention.emulator.store import Store
from retention.quotas import PUBLISHED, override

_CONTROL: list[tuple[str, str, Handler]] = [
    ("/indexes", "GET", controlplane.list_indexes),
    ("/indexes", "POST", controlplane.create_index),
    ("/indexes/{name}", "GET", controlplane.describe_index),
    ("/indexes/{name}", "PATCH", controlplane.configure_index),
    ("/indexes/{name}", "DELETE", controlplane.delete_index),
    ("/indexes/{index_name}/backups", "POST", controlplane.create_backup),
    ("/indexes/{index_name}/backups", "GET", controlplane.list_backups),
    ("/backups", "GET", controlplane.list_backups),
    ("/backups/{backup_id}", "GET", controlplane.describe_backup),
    ("/backups/{backup_id}", "DELETE", controlplane.delete_backup),
    ("/backups/{backup_id}/create-index", "POST", restores.create_index_from_backup),
    ("/restore-jobs", "GET", restores.list_restore_jobs),
    ("/restore-jobs/{job_id}", "GET", restores.describe_restore_job),
]

_DATA: list[tuple[str, str, Handler]] = [
    ("/vectors/upsert", "POST", writes.upsert),
    ("/vectors/update", "POST", writes.update),
    ("/vectors/delete", "POST", writes.delete),
    ("/vectors/fetch", "GET", reads.fetch),
    ("/vectors/fetch_by_metadata", "POST", reads.fetch_by_metadata),
    ("/vectors/list", "GET", reads.list_ids),
    ("/query", "POST", reads.query),
    ("/describe_index_stats", "POST", namespaces.describe_index_stats),
    ("/describe_index_stats", "GET", namespaces.describe_index_stats),
    ("/namespaces", "GET", namespaces.list_namespaces),
    ("/namespaces", "POST", namespaces.create_namespace),
    ("/namespaces/{namespace:path}", "GET", namespaces.describe_namespace),
    ("/namespaces/{namespace:path}", "DELETE", namespaces.delete_namespace),
]


_DOCUMENTS: list[tuple[str, str, Handler]] = [
    ("/namespaces/{namespace:path}/documents/upsert", "POST", documents.upsert),
    ("/namespaces/{namespace:path}/documents/list", "POST", documents.list_documents),
    ("/namespaces/{namespace:path}/documents/fetch", "POST", documents.fetch),
    ("/namespaces/{namespace:path}/documents/delete", "POST", documents.delete),
]
"""The documents API (2026-07) of a document index; its errors are `ErrorResponse`s."""


def build_runtime(config: EmulatorConfig, store: Store) -> Runtime:
    limits = override(PUBLISHED, config.limit_overrides) if config.limits == "pinecone" else ()
    return Runtime(
        config=config,
        store=store,
        enforcer=QuotaEnforcer(limits, config.clock),
        faults=Faults(config.fault_rate, config.fault_statuses, config.seed),
    )


Endpoint = Callable[[Request], Awaitable[Response]]


def build_app(runtime: Runtime) -> Starlette:
    routes = _routes(runtime, "control", "", _CONTROL)
    routes += _routes(runtime, "documents", f"{DATA_PREFIX}/{{index}}", _DOCUMENTS)
    routes += _routes(runtime, "data", f"{DATA_PREFIX}/{{index}}", _DATA)
    app = Starlette(routes=routes, exception_handlers={404: unrouted, 405: unrouted})
    # Pinecone answers a path with a trailing slash as an unknown path, not with a redirect
    # to the path without it (which clients would follow, hiding the mistake).
    app.router.redirect_slashes = False
    return app


def _routes(
    runtime: Runtime, plane: Plane, prefix: str, table: list[tuple[str, str, Handler]]
) -> list[Route]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for path, method, handler in table:
        by_path.setdefault(path, {})[method] = endpoint(runtime, plane, handler)
    return [
        Route(f"{prefix}{path}", _by_method(methods), methods=list(methods))
        for path, methods in by_path.items()
    ]


def _by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    """One path's endpoints by method; HEAD is GET's (Starlette allows it wherever GET is)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return dispatch
