"""Log events as data, by `structlog.testing.LogCapture`, kept through a command's own set-up.

`structlog.testing.capture_logs` swaps the processors for a capture; a command that calls
`retention.logs.configure` would swap them back. `captured_events` lets the command configure
as it does in production (level filter, secret scrubbing) and replaces only the renderer at the
end with the same capture, so a test sees each event as a dict, after the scrubber, instead of
parsing stderr.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

import structlog
from structlog.testing import LogCapture

from retention import logs

Event = MutableMapping[str, Any]


@contextmanager
def captured_events() -> Iterator[list[Event]]:
    """The events logged inside the block, in order, each as structlog's event dict."""
    capture = LogCapture()
    configure = logs.configure

    def configure_then_capture(**options: Any) -> None:
        configure(**options)
        processors = structlog.get_config()["processors"]
        structlog.configure(processors=[*processors[:-1], capture])

    saved = structlog.get_config()["processors"]
    structlog.configure(processors=[capture])
    try:
        with mock.patch.object(logs, "configure", configure_then_capture):
            yield capture.entries
    finally:
        structlog.configure(processors=saved)
