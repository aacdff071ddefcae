"""Pod indexes are refused in one line, whatever command asks for them; serverless ones pass."""

from __future__ import annotations

import httpx
import pytest

from retention.emulator import Emulator
from retention.errors import RetentionError
from retention.pinecone import PineconeClient
from tests.pinecone.conftest import Recorder, fresh_index

POD_2025_10 = {
    "name": "legacy",
    "dimension": 2,
    "metric": "cosine",
    "host": "legacy-abc.svc.us-east-1-aws.pinecone.io",
    "spec": {"pod": {"environment": "us-east-1-aws", "pod_type": "p1.x1", "pods": 1}},
    "status": {"ready": True, "state": "Ready"},
    "vector_type": "dense",
}


@pytest.mark.anyio
async def test_a_pod_index_is_refused_before_any_data_request(
    client: PineconeClient, wire: Recorder
) -> None:
    wire.script.append(httpx.Response(200, json=POD_2025_10))
    with pytest.raises(RetentionError) as refused:
        await client.index("legacy")
    message = str(refused.value)
    assert message.startswith("index legacy is a pod index; retention works on serverless")
    assert "\n" not in message
    assert [r.url.path for r in wire.seen] == ["/indexes/legacy"]


@pytest.mark.anyio
async def test_a_serverless_index_is_served(
    client: PineconeClient, wire: Recorder, emu: Emulator
) -> None:
    name = fresh_index(emu)
    index = await client.index(name)
    assert index.host == emu.index_host(name)
