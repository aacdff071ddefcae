"""Pinecone's published names and per-request sizes, as data (shared/pinecone/FACTS.md §2).

Defined once here and imported wherever a request is built or a policy is checked, so that
the client, the planner and the linter cannot disagree about them.
"""

from __future__ import annotations

DEFAULT_NAMESPACE = "__default__"
"""The default namespace as API 2025-04 and later name it; older ones say `""`."""

MAX_ID_LENGTH = 512
"""Characters in a record ID, at most."""

MAX_IDS_PER_REQUEST = 1000
"""IDs in one delete or one fetch, at most."""

LIST_PAGE = 100
"""IDs or namespaces per page of a listing: Pinecone's default page."""

MAX_IN_VALUES = 10_000
"""Values of one `$in` or `$nin`, at most."""


def canonical_namespace(name: str) -> str:
    """`__default__` for the default namespace however it is spelled (`""` or `__default__`),
    else the name itself."""
    return DEFAULT_NAMESPACE if name in ("", DEFAULT_NAMESPACE) else name
