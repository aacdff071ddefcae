"""Pinecone's published serverless rate limits, as data.

The client paces itself by this table and the emulator enforces it, so both speak of the same
limits by the same names. A name is `<operation>_<unit>_per_s_<scope>`; a setting given without
its scope (`delete_records_per_s=20000`) sets every scope of that name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Scope = Literal["namespace", "index"]

SUPPORT_URL = "https://app.pinecone.io/organizations/-/settings/support/ticket"


@dataclass(frozen=True)
class Quota:
    """One published limit: at most `per_second` units of `unit` per namespace or per index."""

    operation: str
    unit: Literal["requests", "records", "bytes", "read_units"]
    scope: Scope
    per_second: float
    what: str  # the words Pinecone's 429 message uses for it
    pace: str  # "Pace your <pace> or contact Pinecone Support ..."

    @property
    def name(self) -> str:
        return f"{self.operation}_{self.unit}_per_s_{self.scope}"

    @property
    def family(self) -> str:
        return f"{self.operation}_{self.unit}_per_s"

    def message(self, subject: str) -> str:
        """Pinecone's 429 message for this limit; `subject` is the namespace or index name."""
        if self.operation == "delete" and self.unit == "requests":
            return (
                f"Request failed. You've reached the delete QPS limit for namespace {subject} "
                f"({self.per_second:g} QPS). Pace your delete requests or contact Pinecone "
                f"Support ({SUPPORT_URL}) to request a higher limit."
            )
        return (
            f"Request failed. You've reached the {self.what} for {self.scope} {subject}. "
            f"Pace your {self.pace} or contact Pinecone Support ({SUPPORT_URL}) to request a "
            f"higher limit."
        )


PUBLISHED: tuple[Quota, ...] = (
    Quota("delete", "requests", "namespace", 100, "delete QPS limit", "delete requests"),
    Quota(
        "delete", "records", "namespace", 5000, "max delete records per second", "delete requests"
    ),
    Quota("delete", "records", "index", 5000, "max delete records per second", "delete requests"),
    Quota(
        "delete_by_metadata",
        "requests",
        "namespace",
        5,
        "max delete by metadata requests per second",
        "delete by metadata requests",
    ),
    Quota(
        "delete_by_metadata",
        "requests",
        "index",
        500,
        "max delete by metadata requests per second",
        "delete by metadata requests",
    ),
    Quota(
        "update", "requests", "namespace", 100, "max update requests per second", "update requests"
    ),
    Quota(
        "update", "records", "namespace", 100, "max update records per second", "update requests"
    ),
    Quota(
        "update_by_metadata",
        "requests",
        "namespace",
        5,
        "max update by metadata requests per second",
        "update by metadata requests",
    ),
    Quota(
        "update_by_metadata",
        "requests",
        "index",
        500,
        "max update by metadata requests per second",
        "update by metadata requests",
    ),
    Quota(
        "upsert", "requests", "namespace", 100, "max upsert requests per second", "upsert requests"
    ),
    Quota(
        "upsert", "bytes", "namespace", 50_000_000, "max upsert size per second", "upsert requests"
    ),
    Quota("query", "requests", "namespace", 100, "max query requests per second", "query requests"),
    Quota(
        "query", "read_units", "index", 2000, "max query read units per second", "query requests"
    ),
    Quota("fetch", "requests", "index", 100, "max fetch requests per second", "fetch requests"),
    Quota(
        "fetch_by_metadata",
        "requests",
        "namespace",
        5,
        "max fetch by metadata requests per second",
        "fetch by metadata requests",
    ),
    Quota("list", "requests", "index", 200, "max list requests per second", "list requests"),
    Quota(
        "describe_index_stats",
        "requests",
        "index",
        100,
        "max describe_index_stats requests per second",
        "describe_index_stats requests",
    ),
)

BY_NAME: Mapping[str, Quota] = {limit.name: limit for limit in PUBLISHED}


def override(limits: tuple[Quota, ...], settings: Mapping[str, float]) -> tuple[Quota, ...]:
    """Apply `name=value` settings; a name without scope sets every scope of that family.

    Raises `ValueError` naming the known limits when a name matches none.
    """
    result = list(limits)
    for key, value in settings.items():
        if not value > 0 or value == float("inf"):  # also NaN
            raise ValueError(f"limit {key} must be a finite positive number, got: {value:g}")
        hits = [i for i, lim in enumerate(result) if key in (lim.name, lim.family)]
        if not hits:
            known = ", ".join(sorted({lim.family for lim in limits} | {lim.name for lim in limits}))
            raise ValueError(f"unknown limit {key!r}; known limits: {known}")
        for i in hits:
            lim = result[i]
            result[i] = Quota(lim.operation, lim.unit, lim.scope, float(value), lim.what, lim.pace)
    return tuple(result)
