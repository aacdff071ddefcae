"""Unknown paths and methods, and routes an API version lacks, answered in each plane's JSON.

Pinecone answers in JSON everywhere (FACTS §3): the data plane in gRPC-gateway's `rpcStatus`
and the control plane in `ErrorResponse`, never Starlette's plain-text `Not Found`. For an
unknown path the data plane says what gRPC-gateway's routing errors say, the HTTP reason
phrase under the matching gRPC code: 404 `{"code": 5, "message": "Not Found", "details":
[]}`; a known path with a wrong method is 405 `Method Not Allowed`, code 12 (UNIMPLEMENTED),
with an `Allow` header. The control plane uses the same words in its shape (`NOT_FOUND`,
`UNIMPLEMENTED`, both in its code enum). The wording is inferred, not observed: no source
records Pinecone's body for an unknown route.

A route that the request's `X-Pinecone-Api-Version` predates (`fetch_by_metadata` before
2025-10, say) is answered as an unknown path of that version would be (`require`), unless
`EmulatorConfig.version_gates` is off. Dates, with their sources:

- `/vectors/fetch_by_metadata`: not in 2025-04 (FACTS §2, operation-limits), in SPEC-2025-10.
- Update by `filter` with `dryRun`: the 2025-04 `UpdateRequest` has neither (FACTS §4), so
  an older request's `filter`/`dryRun` are unknown fields, ignored (`writes.update`).
- `POST /namespaces` (create, with a schema): 2025-10 (FACTS §1, SPEC-2025-10).
- `GET`/`DELETE /namespaces[/{ns}]` are not gated: FACTS records no date for them.
- `$not`: 2026-07 (FACTS §1); the 2026-07 index shapes and sparse indexes: `indexshapes`.
"""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from retention.emulator.controlplane import DATA_PREFIX
from retention.emulator.handling import Call
from retention.emulator.refusals import ApiError, Plane, error_response

NOT_FOUND = "Not Found"
METHOD_NOT_ALLOWED = "Method Not Allowed"
FETCH_BY_METADATA_FROM = "2025-10"
UPDATE_BY_FILTER_FROM = "2025-10"
CREATE_NAMESPACE_FROM = "2025-10"


def gated(call: Call, version: str) -> bool:
    """Does the request's API version predate `version`, with gating on?"""
    return call.runtime.config.version_gates and not call.at_least(version)


def require(call: Call, version: str) -> None:
    """Answer 404 as for an unknown path when the request's version predates the route."""
    if gated(call, version):
        raise ApiError(404, NOT_FOUND)


def plane_of(request: Request) -> Plane:
    return "data" if request.url.path.startswith(f"{DATA_PREFIX}/") else "control"


async def unrouted(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (`HTTPException`) as the plane's JSON error, `Allow` kept."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    message = METHOD_NOT_ALLOWED if status == 405 else NOT_FOUND
    response = error_response(plane_of(request), ApiError(status, message, headers=headers))
    response.headers["x-pinecone-request-id"] = uuid.uuid4().hex
    return response
