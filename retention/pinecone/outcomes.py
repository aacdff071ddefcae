"""Translate httpx outcomes into `retention.errors`, at the boundary and nowhere else.

Pinecone speaks two error dialects, and the client must read both:

    data plane     {"code": 3, "message": "...", "details": []}           (gRPC rpcStatus, int code)
    control plane  {"error": {"code": "NOT_FOUND", "message": "..."}, "status": 404}

Whatever comes back is scrubbed of the API key (in any of its escaped spellings) and then cut to
`MAX_BODY` characters, in that order so that a cut can never leave half a key, before it
becomes part of a message: an error ends up in logs, CI output and bug reports, and a server
that echoes a header back must not leak the key through us. Each error is raised `from` the
httpx error or response that caused it, so tracebacks keep the cause without us copying it.

    status  error class                 retried by `retrying`
    400     BadRequest                  no
    401     Unauthorized                no
    403     Forbidden                   no
    404     NotFound                    no
    409     Conflict                    no
    429     RateLimited(retry_after)    yes
    4xx     PineconeClientError         no
    5xx     PineconeServerError         yes
    none    PineconeTransportError      yes
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.utils import parsedate_to_datetime

import httpx

from retention.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PineconeClientError,
    PineconeError,
    PineconeServerError,
    PineconeTransportError,
    RateLimited,
    Unauthorized,
)
from retention.secrets import scrub

MAX_BODY = 300
"""Characters of a response body kept in an error message."""

REQUEST_ID_HEADER = "x-pinecone-request-id"

_BY_STATUS: dict[int, type[PineconeClientError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def truncate(text: str, limit: int = MAX_BODY) -> str:
    """Cut `text` to `limit` characters, saying how much was dropped."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def parse_body(text: str) -> tuple[str | int | None, str]:
    """Return (code, message) from either Pinecone error body, or (None, text) if neither."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, text.strip()
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and "message" in error:
            code = error.get("code")
            return (code if isinstance(code, str | int) else None), str(error["message"])
        if "message" in data:
            code = data.get("code")
            return (code if isinstance(code, str | int) else None), str(data["message"])
    return None, text.strip()


def parse_retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), if usable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
            date = response.headers.get("date")
            now = parsedate_to_datetime(date) if date else None
        except (TypeError, ValueError):
            return None
        if now is None:
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def error_for_response(
    response: httpx.Response, *, operation: str, secrets: Iterable[str] = ()
) -> PineconeError:
    """The `retention.errors` instance for a non-2xx `response` to `operation`."""
    secrets = tuple(secrets)
    status = response.status_code
    code, detail = parse_body(response.text)
    if isinstance(code, str):
        code = scrub(code, secrets)
    detail = truncate(scrub(detail, secrets)) or response.reason_phrase
    shown_code = f" {code}" if code is not None else ""
    message = scrub(f"{operation}: HTTP {status}{shown_code}: {detail}", secrets)
    request_id = response.headers.get(REQUEST_ID_HEADER)
    if request_id is not None:
        request_id = scrub(request_id, secrets)
    if status == 429:
        return RateLimited(
            message,
            retry_after=parse_retry_after(response),
            status=status,
            code=code,
            request_id=request_id,
            operation=operation,
        )
    if status in _BY_STATUS:
        cls = _BY_STATUS[status]
        return cls(message, status=status, code=code, request_id=request_id, operation=operation)
    if 400 <= status < 500:
        return PineconeClientError(
            message, status=status, code=code, request_id=request_id, operation=operation
        )
    if status >= 500:
        return PineconeServerError(
            message, status=status, code=code, request_id=request_id, operation=operation
        )
    return PineconeError(
        message, status=status, code=code, request_id=request_id, operation=operation
    )


def error_for_transport(
    exc: httpx.TransportError, *, operation: str, secrets: Iterable[str] = ()
) -> PineconeTransportError:
    """The `PineconeTransportError` for a request to `operation` that got no HTTP answer."""
    secrets = tuple(secrets)
    detail = truncate(scrub(str(exc) or type(exc).__name__, secrets))
    message = scrub(f"{operation}: {type(exc).__name__}: {detail}{_origin(exc)}", secrets)
    return PineconeTransportError(message, operation=operation)


def _origin(exc: httpx.TransportError) -> str:
    """` (scheme://host:port)` of the request that got no answer, so the message says where."""
    try:
        url = exc.request.url
    except RuntimeError:  # raised by httpx when the error carries no request
        return ""
    return f" ({url.scheme}://{url.netloc.decode('ascii', errors='replace')})"
