"""The control plane: find an index's data-plane host, list indexes.

Index descriptions come in two shapes and both are read: API 2026-07 (`schema` +
`deployment`, what SDK 10 asks for) and 2026-04 and older (`dimension`, `metric`, `spec`).
Only `name`, `host` and `status` matter for routing, and they are common to both. `host`
comes without a scheme, which means HTTPS.
"""

from __future__ import annotations

from urllib.parse import quote

from retention.pinecone.models import IndexDescription
from retention.pinecone.session import Session

DEFAULT_CONTROLLER_URL = "https://api.pinecone.io"


class ControlPlane:
    """Control-plane operations against `url` (the controller host, with scheme)."""

    def __init__(self, session: Session, *, url: str = DEFAULT_CONTROLLER_URL) -> None:
        self.session = session
        self.url = url.rstrip("/")

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
