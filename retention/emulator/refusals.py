"""Errors as Pinecone spells them on each plane.

The data plane answers in gRPC-gateway's `rpcStatus` (`{"code": 3, "message": ..., "details":
[]}`, an integer gRPC code) and the control plane in `ErrorResponse` (`{"error": {"code":
"NOT_FOUND", ...}, "status": 404}`, a string code). Routes raise `ApiError` with the HTTP status
and the message; the plane that serves the request decides the body.
"""

from __future__ import annotations

from typing import Literal

from starlette.responses import JSONResponse

Plane = Literal["data", "control", "documents"]
"""`documents` (the 2026-07 documents routes) answers in the control plane's `ErrorResponse`
shape: "returned by the records and documents operations" (the 2026-07 OAS, via the Go SDK)."""

# HTTP status -> (gRPC code for the data plane, string code for the control plane)
_CODES: dict[int, tuple[int, str]] = {
    400: (3, "INVALID_ARGUMENT"),
    401: (16, "UNAUTHENTICATED"),
    403: (7, "FORBIDDEN"),
    404: (5, "NOT_FOUND"),
    405: (12, "UNIMPLEMENTED"),
    409: (6, "ALREADY_EXISTS"),
    412: (9, "FAILED_PRECONDITION"),
    413: (3, "PAYLOAD_TOO_LARGE"),
    422: (3, "UNPROCESSABLE_ENTITY"),
    429: (8, "RESOURCE_EXHAUSTED"),
    500: (13, "INTERNAL"),
    502: (14, "UNAVAILABLE"),
    503: (14, "UNAVAILABLE"),
    504: (4, "DEADLINE_EXCEEDED"),
}


class ApiError(Exception):
    """A request Pinecone would refuse; `code` overrides the control plane's string code."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        plane: Plane | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}
        self.plane = plane
        """The plane whose body shape this error takes, when not the serving route's."""


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def error_body(plane: Plane, status: int, message: str, code: str | None = None) -> object:
    grpc_code, name = _CODES.get(status, (2, "UNKNOWN"))
    if plane == "data":
        return {"code": grpc_code, "message": message, "details": []}
    return {"error": {"code": code or name, "message": message}, "status": status}


def error_response(plane: Plane, error: ApiError) -> JSONResponse:
    body = error_body(error.plane or plane, error.status, error.message, error.code)
    return JSONResponse(body, status_code=error.status, headers=error.headers)
