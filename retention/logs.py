"""The one structlog configuration: console lines in a terminal, JSON lines otherwise (or as
`--log-format json|console` says).

Events are stable snake_case names with their facts as fields (`plan_computed`, `delete_batch`,
`rate_limited`, `apply_finished`), the same from the CLI and from the service, on stderr so that
stdout stays the command's output (a plan, a report).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import FilteringBoundLogger

from retention.secrets import secret_forms

SECRET_KEYS = frozenset({"api_key", "apikey", "Api-Key", "authorization"})

_hidden: set[str] = set()


def hide(secret: str) -> None:
    """Mask `secret` wherever it appears in a string field of any event logged from now on.

    The CLI calls this with the API key as soon as it reads it: the errors of the Pinecone
    client are already scrubbed, and this is the second lock for any text that was not.
    """
    if secret:
        _hidden.add(secret)


def _drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Never log a credential, whatever a caller passes."""
    for key in list(event):
        if key in SECRET_KEYS or key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif _hidden:
            event[key] = _masked(event[key])
    return event


def _masked(value: Any) -> Any:
    """`value` with every hidden secret replaced in its strings, lists and dicts."""
    if isinstance(value, str):
        for secret in _hidden:
            for form in secret_forms(secret):
                value = value.replace(form, "[redacted]")
        return value
    if isinstance(value, list):
        return [_masked(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_masked(v) for v in value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, BaseException):
        return _masked(str(value))
    return value


FORMATS = ("auto", "json", "console")
"""`--log-format`: auto is console lines when stderr is a terminal, JSON lines otherwise."""

_format = "auto"


def choose_format(name: str) -> None:
    """Set the format every later `configure` uses (the CLI's `--log-format`)."""
    global _format
    if name not in FORMATS:
        raise ValueError(f"unknown log format {name!r}")
    _format = name


def interactive(stream: TextIO | None = None) -> bool:
    """True when a person reads the events as they come: the format was left to `auto` and the
    stream is a terminal. Commands then log only warnings around their own human output."""
    return _format == "auto" and (stream or sys.stderr).isatty()


def configure(
    *, json: bool | None = None, level: str = "info", stream: TextIO | None = None
) -> None:
    """Configure structlog; `json=None` follows `--log-format` (auto: JSON unless the stream is a
    terminal). Console lines are short (time of day, level, event, fields); JSON lines carry the
    full ISO 8601 timestamp."""
    out = stream or sys.stderr
    if json is None:
        json = _format == "json" or (_format == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=out.isatty(), pad_event=24)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso" if json else "%H:%M:%S", utc=True),
            _drop_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> FilteringBoundLogger:
    logger: FilteringBoundLogger = structlog.get_logger("retention").bind(**bound)
    return logger
