"""Client wiring: headers, settings from the environment, and the production httpx client."""

from __future__ import annotations

import httpx
import pytest

from retention import __version__
from retention.errors import PineconeError
from retention.pinecone import PineconeClient, PineconeSettings, connect

from .conftest import HOST, KEY, FakePinecone

pytestmark = pytest.mark.anyio


async def test_every_request_carries_key_version_and_agent(
    fake: FakePinecone, client: PineconeClient
) -> None:
    """Api-Key, X-Pinecone-Api-Version 2026-04 and User-Agent retention/<version> are sent."""
    await client.index_at("idx", HOST).describe_index_stats()
    headers = fake.seen[0].headers
    assert headers["Api-Key"] == KEY
    assert headers["X-Pinecone-Api-Version"] == "2026-04"
    assert headers["User-Agent"] == f"retention/{__version__}"


async def test_api_version_is_configurable(fake: FakePinecone) -> None:
    """A configured API version replaces the default on the wire."""
    settings = PineconeSettings(api_key=KEY, api_version="2025-10")
    http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    async with PineconeClient(http, settings) as client:
        await client.index_at("idx", HOST).describe_index_stats()
    assert fake.seen[0].headers["X-Pinecone-Api-Version"] == "2025-10"
    assert http.is_closed


def test_settings_from_env_like_the_sdk() -> None:
    """PINECONE_API_KEY and PINECONE_CONTROLLER_HOST are read; the default host is Pinecone's."""
    assert PineconeSettings.from_env({"PINECONE_API_KEY": KEY}) == PineconeSettings(
        api_key=KEY, controller_url="https://api.pinecone.io"
    )
    env = {"PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": "http://127.0.0.1:5080"}
    assert PineconeSettings.from_env(env).controller_url == "http://127.0.0.1:5080"
    env = {"PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": "ctl.example"}
    assert PineconeSettings.from_env(env).controller_url == "https://ctl.example"


def test_missing_key_says_how_to_fix_it() -> None:
    """Without PINECONE_API_KEY the error names the variable."""
    with pytest.raises(ValueError, match="PINECONE_API_KEY is not set"):
        PineconeSettings.from_env({})


def test_padded_key_is_refused() -> None:
    """A key with surrounding spaces would be an invalid header; it is refused up front."""
    with pytest.raises(ValueError, match="without surrounding spaces"):
        PineconeClient(httpx.AsyncClient(), PineconeSettings(api_key=f" {KEY}"))


async def test_connect_sets_pooling_timeouts_and_no_redirects(fake: FakePinecone) -> None:
    """connect() builds an httpx client with explicit timeouts, pool and no redirects."""
    client = connect(environ={"PINECONE_API_KEY": KEY}, transport=httpx.MockTransport(fake.handle))
    async with client:
        assert client.http.timeout == httpx.Timeout(30.0, connect=10.0)
        assert client.http.follow_redirects is False
        assert repr(client) == (
            "PineconeClient(PineconeSettings(controller_url='https://api.pinecone.io', "
            "api_version='2026-04'))"
        )
        await client.index_at("idx", HOST).describe_index_stats()
    assert len(fake.seen) == 1


async def test_redirect_is_not_followed(fake: FakePinecone, client: PineconeClient) -> None:
    """A 3xx is an error, so the key is never sent to another host."""
    fake.script.append(httpx.Response(307, headers={"Location": "https://evil.test/steal"}))
    with pytest.raises(PineconeError, match="HTTP 307"):
        await client.index_at("idx", HOST).describe_index_stats()
    assert [r.url.host for r in fake.seen] == ["idx-abc.svc.test"]
