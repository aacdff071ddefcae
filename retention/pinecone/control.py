"""The control plane: find an index's data-plane host, list indexes, make backups.

Index descriptions come in two shapes and both are read: API 2026-07 (`schema` +
`deployment`, what SDK 10 asks for) and 2026-04 and older (`dimension`, `metric`, `spec`).
Only `name`, `host` and `status` matter for routing, and they are common to both. `host`
comes without a scheme, which means HTTPS.

Backups (serverless indexes only): `create_backup` answers at once with the backup
`Initializing`; `describe_backup` tells when it is `Ready` (`retention.pinecone.backups.back_up`
waits for that). Control-plane calls have no published per-second limits, so they are not paced.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from retention.pinecone.models import BackupInfo, IndexDescription
from retention.pinecone.session import DOCUMENTS_API_VERSION, Session

DEFAULT_CONTROLLER_URL = "https://api.pinecone.io"


class ControlPlane:
    """Control-plane operations against `url` (the controller host, with scheme)."""

    def __init__(self, session: Session, *, url: str = DEFAULT_CONTROLLER_URL) -> None:
        self.session = session
        self.url = url.rstrip("/")

    def __repr__(self) -> str:
        return f"ControlPlane(url={self.url!r})"

    async def describe_index(self, name: str) -> IndexDescription:
        """The index `name`, including its data-plane host; `NotFound` if there is none.

        Asked in API 2026-07, whatever the session's version: its `schema` is what tells a
        document index from a vector index, and older versions may describe a document index
        as a vector index of its dense field, or not at all."""
        data, _ = await self.session.send_json(
            "GET",
            f"{self.url}/indexes/{quote(name, safe='')}",
            operation="describe_index",
            api_version=DOCUMENTS_API_VERSION,
        )
        return IndexDescription.from_json(data)

    async def list_indexes(self) -> tuple[IndexDescription, ...]:
        """Every index in the project."""
        data, _ = await self.session.send_json(
            "GET", f"{self.url}/indexes", operation="list_indexes"
        )
        return tuple(IndexDescription.from_json(item) for item in data.get("indexes") or ())

    async def create_backup(
        self, index_name: str, *, name: str | None = None, description: str | None = None
    ) -> BackupInfo:
        """Start a backup of `index_name` (`POST /indexes/{name}/backups`); it is usually
        still `Initializing`. A 403 means the project's backup quota is spent (or its plan
        has none)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if description is not None:
            body["description"] = description
        data, _ = await self.session.send_json(
            "POST",
            f"{self.url}/indexes/{quote(index_name, safe='')}/backups",
            operation="create_backup",
            json=body,
        )
        return BackupInfo.from_json(data)

    async def describe_backup(self, backup_id: str) -> BackupInfo:
        """The backup `backup_id` (`GET /backups/{id}`); `NotFound` if there is none."""
        data, _ = await self.session.send_json(
            "GET", f"{self.url}/backups/{quote(backup_id, safe='')}", operation="describe_backup"
        )
        return BackupInfo.from_json(data)
