"""The control plane: find an index's data-plane host, list indexes, take a backup.

Index descriptions come in two shapes and both are read: API 2026-07 (`schema` +
`deployment`, what SDK 10 asks for) and 2026-04 and older (`dimension`, `metric`, `spec`).
Only `name`, `host` and `status` matter for routing, and they are common to both. `host`
comes without a scheme, which means HTTPS.

A backup is the safety net before a large deletion: `create_backup`, then `wait_for_backup`
polls until the status leaves `Initializing` and insists on `Ready`. Backups only hold
records older than ~15 minutes; callers should say so.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from retention.errors import PineconeError
from retention.pinecone.models import Backup, IndexDescription
from retention.pinecone.session import Session

DEFAULT_CONTROLLER_URL = "https://api.pinecone.io"


class ControlPlane:
    """Control-plane operations against `url` (the controller host, with scheme)."""

    def __init__(
        self,
        session: Session,
        *,
        url: str = DEFAULT_CONTROLLER_URL,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.url = url.rstrip("/")
        self._sleep = sleep
        self._monotonic = monotonic

    def __repr__(self) -> str:
        return f"ControlPlane(url={self.url!r})"

    async def describe_index(self, name: str) -> IndexDescription:
        """The index `name`, including its data-plane host; `NotFound` if there is none."""
        data, _ = await self.session.send_json(
            "GET", f"{self.url}/indexes/{quote(name, safe='')}", operation="describe_index"
        )
        return IndexDescription.from_json(data)

    async def list_indexes(self) -> tuple[IndexDescription, ...]:
        """Every index in the project."""
        data, _ = await self.session.send_json(
            "GET", f"{self.url}/indexes", operation="list_indexes"
        )
        return tuple(IndexDescription.from_json(item) for item in data.get("indexes") or ())

    async def create_backup(
        self, index: str, *, name: str | None = None, description: str | None = None
    ) -> Backup:
        """Start a backup of `index`; it begins as `Initializing`.

        Retried like everything else: a repeated create can at worst leave a second backup,
        which costs storage but never loses data.
        """
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        data, _ = await self.session.send_json(
            "POST",
            f"{self.url}/indexes/{quote(index, safe='')}/backups",
            operation="create_backup",
            json=body,
        )
        return Backup.from_json(data)

    async def describe_backup(self, backup_id: str) -> Backup:
        """The backup `backup_id` as it is now."""
        data, _ = await self.session.send_json(
            "GET", f"{self.url}/backups/{quote(backup_id, safe='')}", operation="describe_backup"
        )
        return Backup.from_json(data)

    async def wait_for_backup(
        self, backup_id: str, *, poll_interval: float = 10.0, timeout: float = 6 * 3600.0
    ) -> Backup:
        """Poll until the backup is `Ready`; raise `PineconeError` if it fails or times out."""
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got: {poll_interval:g}")
        deadline = self._monotonic() + timeout
        while True:
            backup = await self.describe_backup(backup_id)
            if backup.status == "Ready":
                return backup
            if backup.status != "Initializing":
                raise PineconeError(
                    f"wait_for_backup: backup {backup_id} ended as {backup.status}, not Ready",
                    operation="wait_for_backup",
                )
            if self._monotonic() + poll_interval > deadline:
                raise PineconeError(
                    f"wait_for_backup: backup {backup_id} still Initializing after "
                    f"{timeout:g} s; raise the timeout or check it in the console",
                    operation="wait_for_backup",
                )
            await self._sleep(poll_interval)
