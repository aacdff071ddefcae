"""Work over many items as a bounded stream: a fixed number of workers take items in order.

`asyncio.gather` over every namespace starts them all at once: ten thousand namespaces mean ten
thousand coroutines holding their state and queueing requests together, and the time each
request spends waiting grows with the queue. A stream keeps `width` items in progress, so
memory and scheduling cost per item stay flat however many items there are, and items start in
order (the first namespaces finish first). The first failure stops the stream and is raised as
itself, not wrapped in an `ExceptionGroup`, so callers keep their one-line errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def bounded(items: Iterable[T], work: Callable[[T], Awaitable[object]], width: int) -> None:
    """Run `work(item)` for every item, at most `width` at a time, in the items' order."""
    if width < 1:
        raise ValueError(f"width must be positive, got: {width}")
    source = iter(items)

    async def worker() -> None:
        for item in source:
            await work(item)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(width):
                group.create_task(worker())
    except ExceptionGroup as failed:
        raise _first(failed) from None


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error = group.exceptions[0]
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error
