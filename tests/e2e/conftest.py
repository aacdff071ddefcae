"""An emulator seeded through the official SDK with the dataset the example policies target."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pinecone import Pinecone, ServerlessSpec

from retention.emulator import Emulator, EmulatorConfig
from tests.e2e import dataset

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"


@dataclass
class Seeded:
    emulator: Emulator
    data: dict[str, Any]
    env: dict[str, str]


def seed_with_sdk(emulator: Emulator, data: dict[str, Any]) -> None:
    pc = Pinecone(api_key="test-key", host=emulator.controller_url)
    for index_name, namespaces in data.items():
        if index_name in dataset.DOCUMENT_INDEXES:
            seed_documents_with_sdk(pc, index_name, namespaces)
            continue
        model = pc.indexes.create(
            name=index_name,
            dimension=4,
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        index = pc.index(host=model.host)
        for ns, records in namespaces.items():
            vectors = [
                {"id": rid, "values": [0.1, 0.2, 0.3, 0.4], "metadata": meta}
                for rid, meta in records.items()
            ]
            index.upsert(vectors=vectors, namespace=ns, batch_size=500)


def seed_documents_with_sdk(pc: Pinecone, name: str, namespaces: dict[str, Any]) -> None:
    """A document index (API 2026-07) made and filled through the SDK's `index.documents`."""
    model = pc.indexes.create(name=name, schema={"fields": dataset.DOCUMENT_INDEXES[name]})
    index = pc.index(host=model.host)
    for ns, records in namespaces.items():
        documents = [
            {"_id": rid, "embedding": [0.1, 0.2, 0.3, 0.4], "text": f"conversation {rid}", **meta}
            for rid, meta in records.items()
        ]
        for start in range(0, len(documents), 1000):
            index.documents.upsert(namespace=ns, documents=documents[start : start + 1000])


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    """Both example indexes, seeded through the official SDK; the CLI pointed at them."""
    with Emulator.start(EmulatorConfig(limits="off")) as emulator:
        data = dataset.build(time.time())
        seed_with_sdk(emulator, data)
        env = {"PINECONE_API_KEY": "test-key", "PINECONE_CONTROLLER_HOST": emulator.controller_url}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield Seeded(emulator, data, env)


def remaining(emulator: Emulator, data: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """What the emulator holds now, per (index, namespace)."""
    return {
        (index, ns): set(emulator.records(index, ns))
        for index, namespaces in data.items()
        for ns in namespaces
    }
