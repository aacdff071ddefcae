"""Every error `retention` raises on purpose, in one tree.

    RetentionError                  anything the CLI reports as one line and exit code 1
    ├── PolicyError                 one problem in a policy file, with FILE:LINE:COL
    ├── PolicyErrors                all problems found while loading (validate reports each)
    ├── PlanError                   a plan cannot be made, read or trusted (stale, corrupt, partial)
    ├── GuardError                  a blast-radius guard refused the deletion
    ├── ApplyError                  an apply could not finish what the plan asked for
    └── PineconeError               Pinecone (or the emulator) said no, or could not be reached
        ├── BackupFailed            a backup was refused, failed, or was not Ready in time
        ├── PineconeTransportError  connection refused, reset, timed out: no HTTP status
        ├── PineconeClientError     a 4xx: the request itself is wrong; never retried...
        │   ├── BadRequest          400
        │   ├── Unauthorized        401
        │   ├── Forbidden           403
        │   ├── NotFound            404
        │   ├── Conflict            409
        │   └── RateLimited         429 ...except this one, retried after `retry_after`
        └── PineconeServerError     a 5xx: retried

Errors carry what a person needs to act and never the API key. `retention.cli` is the one
place that maps this tree onto exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """A position in a source file; line and column count from 1."""

    path: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class RetentionError(Exception):
    """Base of every error the CLI reports as a one-line message."""

    exit_code = 1


class PolicyError(RetentionError):
    """One problem in a policy document, pinned to the position that causes it."""

    def __init__(self, location: Location, message: str) -> None:
        super().__init__(f"{location}: error: {message}")
        self.location = location
        self.message = message


class PolicyErrors(RetentionError):
    """Every problem found in a set of policy files, in file order."""

    def __init__(self, errors: Sequence[PolicyError]) -> None:
        self.errors = sorted(errors, key=lambda e: e.location)
        n = len(self.errors)
        first = self.errors[0] if self.errors else None
        summary = f"{n} error{'s' if n != 1 else ''} in the policies"
        super().__init__(f"{summary}; first: {first}" if first else summary)


class PlanError(RetentionError):
    """A plan cannot be computed, read, or trusted any more."""


class GuardError(RetentionError):
    """A blast-radius guard refused the deletion; nothing was deleted."""


class ApplyError(RetentionError):
    """An apply stopped before it finished the plan."""


class PineconeError(RetentionError):
    """Pinecone (or the emulator) refused a request or could not be reached."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.code = code
        self.request_id = request_id
        self.operation = operation


class BackupFailed(PineconeError):
    """A backup that a deletion waits for was refused, ended other than Ready, or was not
    Ready in time. `backup_id` is None when none was created; `backup_status` is the last
    status seen (None when refused)."""

    def __init__(
        self,
        message: str,
        *,
        index_name: str,
        backup_id: str | None = None,
        backup_status: str | None = None,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, request_id=request_id, operation=operation
        )
        self.index_name = index_name
        self.backup_id = backup_id
        self.backup_status = backup_status


class PineconeTransportError(PineconeError):
    """No HTTP answer at all: DNS, connect, read timeout, reset. Retried."""


class PineconeClientError(PineconeError):
    """A 4xx answer: the request is wrong and repeating it will not help."""


class BadRequest(PineconeClientError):
    status = 400


class Unauthorized(PineconeClientError):
    status = 401


class Forbidden(PineconeClientError):
    status = 403


class NotFound(PineconeClientError):
    status = 404


class Conflict(PineconeClientError):
    status = 409


class RateLimited(PineconeClientError):
    """429: a limit was reached; the request may be repeated after `retry_after` seconds."""

    status = 429

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        code: str | int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, code=code, request_id=request_id, operation=operation
        )
        self.retry_after = retry_after


class PineconeServerError(PineconeError):
    """A 5xx answer: Pinecone failed; the request may be repeated."""
