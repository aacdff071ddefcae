"""The ASGI application: both planes of Pinecone's REST API on one port.

The control plane answers at the root (`/indexes`, `/backups`) and each index's data plane
under `/index/{name}`, which is the `host` the control plane hands out, so the official SDK
needs nothing but the controller URL. Paths are listed once here, next to the plane whose
error shape they use.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from retention.emulator import controlplane, namespaces, reads, writes
from retention.emulator.config import EmulatorConfig
from retention.emulator.controlplane import DATA_PREFIX
from retention.emulator.enforcement import QuotaEnforcer
from retention.emulator.faults import Faults
from retention.emulator.handling import Route as Handler
from retention.emulator.handling import Runtime, endpoint
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


def build_runtime(config: EmulatorConfig, store: Store) -> Runtime:
    limits = override(PUBLISHED, config.limit_overrides) if config.limits == "pinecone" else ()
    return Runtime(
        config=config,
        store=store,
        enforcer=QuotaEnforcer(limits, config.clock),
        faults=Faults(config.fault_rate, config.fault_statuses, config.seed),
    )


def build_app(runtime: Runtime) -> Starlette:
    routes = [
        Route(path, endpoint(runtime, "control", handler), methods=[method])
        for path, method, handler in _CONTROL
    ]
    routes += [
        Route(
            f"{DATA_PREFIX}/{{index}}{path}", endpoint(runtime, "data", handler), methods=[method]
        )
        for path, method, handler in _DATA
    ]
    app = Starlette(routes=routes)
    # Pinecone answers a path with a trailing slash as an unknown path, not with a redirect
    # to the path without it (which clients would follow, hiding the mistake).
    app.router.redirect_slashes = False
    return app
