"""A realistic, deterministic dataset for the example policies, and what they should delete.

The expectations are computed here in plain Python, independently of the planner and the
filter module, so that an end-to-end test compares two separate computations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

DAY = 86_400
SOURCES = ("zendesk", "chat", "messenger", "email", "phone")
ERASURE_IDS = {
    "tenant-acme": [
        "user-1001#msg-1",
        "user-1001#msg-2",
        "user-1017#profile",
        "user-42#msg-1",
        "user-42#msg-2",
    ],
    "tenant-globex": ["user-1024#msg-1", "user-1001#msg-3"],
}


def support_namespace(prefix: str, n: int, now: float) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for i in range(n):
        meta: dict[str, Any] = {"source": SOURCES[i % 5], "tags": ["support", f"p{i % 3}"]}
        if i % 50:
            meta["created_at"] = int(now - (i + 0.5) * 365 * DAY / n)
        if i % 17 == 0:
            meta["legal_hold"] = True
        if i % 23 == 0:
            meta["case_id"] = "C-1" if i % 2 else "C-9"
        records[f"{prefix}-{i:05d}"] = meta
    return records


DOCUMENT_INDEXES = {
    "assistant-docs": {
        "embedding": {"type": "dense_vector", "dimension": 4, "metric": "cosine"},
        "text": {"type": "string", "full_text_search": {}},
    }
}
"""The document indexes of the dataset (API 2026-07), by schema; the others are vector indexes."""


def transcripts(region: str, n: int, now: float) -> dict[str, dict[str, Any]]:
    """Conversations that ended over the last 60 days; some flagged for review, a few with no
    end time (still open)."""
    records: dict[str, dict[str, Any]] = {}
    for i in range(n):
        meta: dict[str, Any] = {"channel": "web" if i % 3 else "app"}
        if i % 40:
            meta["ended_at"] = int(now - (i + 0.5) * 60 * DAY / n)
        if i % 11 == 0:
            meta["review"] = True
        records[f"{region}-conv-{i:04d}"] = meta
    return records


def build(now: float) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """index -> namespace -> id -> metadata."""
    support = {
        "tenant-acme": support_namespace("acme", 1000, now),
        "tenant-globex": support_namespace("globex", 500, now),
        "tenant-legal-eu": support_namespace("legal", 100, now),
        "__default__": support_namespace("misc", 200, now),
    }
    for ns, ids in ERASURE_IDS.items():
        for j, rid in enumerate(ids):
            support[ns][rid] = {"source": "email", "created_at": int(now - j * DAY)}
    support["tenant-acme"]["user-1017#profile"]["case_id"] = "C-7"  # held: never erased
    kb: dict[str, dict[str, Any]] = {}
    for doc in range(20):
        for chunk in range(50):
            meta: dict[str, Any] = {"doc": f"doc-{doc:03d}"}
            if chunk % 10 == 0:
                meta["superseded_at"] = int((now - chunk * DAY / 2.5) * 1000)
            if chunk == 40:
                meta["pinned"] = True
            kb[f"doc-{doc:03d}#{chunk:02d}"] = meta
    for chunk in range(12):
        kb[f"doc-123#{chunk:02d}"] = {"doc": "doc-123", "pinned": chunk == 0}
    return {
        "support-prod": support,
        "assistant-docs": {
            "conv-eu": transcripts("eu", 300, now),
            "conv-us": transcripts("us", 200, now),
        },
        "kb-prod": {
            "__default__": kb,
            "scratch-1": {f"s1-{i}": {"run": i} for i in range(300)},
            "scratch-2": {f"s2-{i}": {"run": i} for i in range(100)},
            "archive": {f"a-{i}": {"old": True} for i in range(10)},
        },
    }


def expected(data: dict[str, Any], as_of: datetime) -> dict[tuple[str, str, str, str], set[str]]:
    """(policy, rule, index, namespace) -> the IDs the example policies must delete."""
    now = as_of.timestamp()
    out: dict[tuple[str, str, str, str], set[str]] = {}

    def held(ns: str, m: dict[str, Any]) -> bool:
        return ns == "tenant-acme" and m.get("case_id") in ("C-1", "C-7")

    support = data["support-prod"]
    for ns in ("tenant-acme", "tenant-globex", "__default__"):
        recs = support[ns]

        def older(m: dict[str, Any], days: int) -> bool:
            t = m.get("created_at")
            return isinstance(t, int) and t < now - days * DAY

        out[("support-tickets", "expire-tickets", "support-prod", ns)] = {
            i
            for i, m in recs.items()
            if older(m, 90)
            and m["source"] == "zendesk"
            and m.get("legal_hold") is not True
            and not held(ns, m)
        }
        out[("support-tickets", "expire-chat", "support-prod", ns)] = {
            i
            for i, m in recs.items()
            if older(m, 30)
            and m["source"] in ("chat", "messenger")
            and m.get("legal_hold") is not True
            and not held(ns, m)
        }
    file_ids = {
        "user-1001#msg-1",
        "user-1001#msg-2",
        "user-1001#msg-3",
        "user-1017#msg-1",
        "user-1017#profile",
        "user-1024#msg-1",
    }
    for ns in ("tenant-acme", "tenant-globex", "tenant-legal-eu"):
        recs = support[ns]
        out[("gdpr-erasure", "erasure-requests-2026-11", "support-prod", ns)] = {
            i for i in file_ids if i in recs and not held(ns, recs[i])
        }
        out[("gdpr-erasure", "erase-user-42", "support-prod", ns)] = {
            i for i in ("user-42#msg-1", "user-42#msg-2") if i in recs and not held(ns, recs[i])
        }
    kb = data["kb-prod"]["__default__"]
    out[("knowledge-base", "drop-retracted-doc-123", "kb-prod", "__default__")] = {
        i for i, m in kb.items() if i.startswith("doc-123#") and m.get("pinned") is not True
    }
    out[("knowledge-base", "expire-superseded-chunks", "kb-prod", "__default__")] = {
        i
        for i, m in kb.items()
        if isinstance(m.get("superseded_at"), int)
        and m["superseded_at"] < (now - 7 * DAY) * 1000
        and m.get("pinned") is not True
    }
    for ns, recs in data["assistant-docs"].items():
        out[("assistant-transcripts", "expire-transcripts", "assistant-docs", ns)] = {
            i
            for i, m in recs.items()
            if isinstance(m.get("ended_at"), int)
            and m["ended_at"] < now - 30 * DAY
            and m.get("review") is not True
        }
    for ns in ("scratch-1", "scratch-2"):
        out[("scratch-purge", "purge-scratch", "kb-prod", ns)] = set(data["kb-prod"][ns])
    return out
