"""The event loop a command runs on: uvloop where it is installed, asyncio's own elsewhere.

A plan over thousands of namespaces sends hundreds of requests a second from one Python
thread, and much of each request's CPU time is the event loop's: waking the task whose turn
came, reading the socket, scheduling the next step. uvloop does that work in C; with it a plan
over 10,000 namespaces spends about a tenth less CPU per request, which is what keeps it at
Pinecone's per-index limit rather than at what one core can send. It is installed on Linux and
macOS (the package's dependency is marked so); on Windows the standard loop runs everything
the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to completion on a new event loop, as `asyncio.run` does."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
