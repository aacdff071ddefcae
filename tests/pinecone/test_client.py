"""Client wiring: headers, settings from the environment, and the production httpx client."""

from __future__ import annotations

import httpx
import pytest

from retention import __version__
from retention.emulator import Emulator
from retention.errors import PineconeError, PineconeTransportError
from retention.pinecone import PineconeClient, PineconeSettings, RetryPolicy, connect
from retention.pinecone.dataplane import IndexClient

from .conftest import KEY, FakeClock, Recorder, fresh_index, make_client

pytestmark = pytest.mark.anyio


async def test_every_request_carries_key_version_and_agent(
    wire: Recorder, index: IndexClient
) -> None:
    """Api-Key, X-Pinecone-Api-Version 2026-04 and User-Agent retention/<version> are sent."""
    assert (await index.count({"a": 1}, "ns")).matched == 0
    headers = wire.seen[0].headers
    assert headers["Api-Key"] == KEY
    assert headers["X-Pinecone-Api-Version"] == "2026-04"
    assert headers["User-Agent"] == f"retention/{__version__}"


async def test_api_version_is_configurable(wire: Recorder, emu: Emulator) -> None:
    """A configured API version replaces the default on the wire, but for describe: an index's
    kind shows only in API 2026-07's shape, so describe always asks in that version."""
    settings = PineconeSettings(
        api_key=KEY, controller_url=emu.controller_url, api_version="2025-10"
    )
    http = httpx.AsyncClient(transport=wire)
    async with PineconeClient(http, settings) as client:
        index = await client.index(fresh_index(emu))
        await index.count({"a": 1}, "ns")
    assert [r.headers["X-Pinecone-Api-Version"] for r in wire.seen] == ["2026-07", "2025-10"]
    assert [a.status_code for a in wire.answers] == [200, 200]
    assert http.is_closed


def test_settings_from_env_like_the_sdk() -> None:
    """PINECONE_API_KEY and PINECONE_CONTROLLER_HOST are read; the default host is Pinecone's."""
    assert PineconeSettings.from_env({"PINECONE_API_KEY": KEY}) == PineconeSettings(
        api_key=KEY, controller_url="https://api.pinecone.io"
    )
    env = {"PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": "http://127.0.0.1:5080"}
    assert PineconeSettings.from_env(env).controller_url == "http://127.0.0.1:5080"
    env = {"PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": "https://ctl.example/"}
    assert PineconeSettings.from_env(env).controller_url == "https://ctl.example"


def test_missing_key_says_how_to_fix_it() -> None:
    """Without PINECONE_API_KEY the error names the variable."""
    with pytest.raises(ValueError, match="PINECONE_API_KEY is not set"):
        PineconeSettings.from_env({})


def test_padded_key_is_refused() -> None:
    """A key with surrounding spaces would be an invalid header; it is refused up front."""
    with pytest.raises(ValueError) as info:
        PineconeClient(httpx.AsyncClient(), PineconeSettings(api_key=f" {KEY}"))
    assert str(info.value).startswith("the API key starts or ends with whitespace")


async def test_connect_sets_pooling_timeouts_and_no_redirects(
    wire: Recorder, emu: Emulator
) -> None:
    """connect() builds an httpx client with explicit timeouts, pool and no redirects."""
    client = connect(environ={"PINECONE_API_KEY": KEY}, transport=wire)
    name = fresh_index(emu)
    async with client:
        assert client.http.timeout == httpx.Timeout(30.0, connect=10.0)
        assert client.http.follow_redirects is False
        assert repr(client) == (
            "PineconeClient(PineconeSettings(controller_url='https://api.pinecone.io', "
            "api_version='2026-04'))"
        )
        assert (
            await client.index_at(name, emu.index_host(name)).count({"a": 1}, "ns")
        ).matched == 0
    assert len(wire.seen) == len(wire.answers) == 1


async def test_redirect_is_not_followed(wire: Recorder, index: IndexClient) -> None:
    """A 3xx is an error, so the key is never sent to another host."""
    wire.script.append(httpx.Response(307, headers={"Location": "https://evil.test/steal"}))
    with pytest.raises(PineconeError, match="HTTP 307"):
        await index.count({"a": 1}, "ns")
    assert [str(r.url) for r in wire.seen] == [f"{index.host}/vectors/update"]


BAD_KEYS = [
    ("", "is empty"),
    (f"{KEY}\n", "starts or ends with whitespace (a trailing newline from a file?)"),
    (f"\t{KEY}", "starts or ends with whitespace (a trailing newline from a file?)"),
    (f"{KEY[:6]}\r\n{KEY[6:]}", "contains a line break"),
    (f"{KEY[:6]}\n{KEY[6:]}", "contains a line break"),
    (f"{KEY[:6]}\x00{KEY[6:]}", "contains a control character"),
    (f"{KEY[:6]}\t{KEY[6:]}", "contains a control character"),
    (f"{KEY[:6]}\x7f{KEY[6:]}", "contains a control character"),
    (f"{KEY[:6]}é{KEY[6:]}", "contains a non-ASCII character"),
    (f"{KEY[:6]}\u2028{KEY[6:]}", "contains a non-ASCII character"),
]


@pytest.mark.parametrize(("key", "problem"), BAD_KEYS)
def test_a_key_that_is_no_header_value_is_refused_without_quoting_it(
    key: str, problem: str
) -> None:
    """Each way a key can fail to be a header is named, and no piece of the key is shown."""
    env = {"PINECONE_API_KEY": key} if key else {}
    expected = (
        f"PINECONE_API_KEY {problem}; an API key is one line of printable ASCII: "
        "set it to the key alone"
    )
    if not key:
        expected = "PINECONE_API_KEY is not set; export it or pass api_key"
    with pytest.raises(ValueError) as info:
        PineconeSettings.from_env(env)
    assert str(info.value) == expected
    assert KEY[:4] not in str(info.value) and KEY[-4:] not in str(info.value)
    with pytest.raises(ValueError) as direct:
        PineconeSettings(api_key=key)
    assert str(direct.value).startswith(f"the API key {problem}; ")


def test_a_key_with_inner_spaces_is_a_valid_header() -> None:
    """Printable ASCII with inner spaces is a valid header value and is sent as it is."""
    assert PineconeSettings(api_key="a b~!").api_key == "a b~!"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1:5080", "'127.0.0.1:5080' has no scheme; add http:// or https://"),
        ("localhost:5080", "'localhost:5080' has no scheme; add http:// or https://"),
        ("api.pinecone.io", "'api.pinecone.io' has no scheme; add http:// or https://"),
        ("ftp://127.0.0.1", "'ftp://127.0.0.1' must start with http:// or https://"),
        ("http://", "'http://' names no host"),
        (
            "http://127.0.0.1:99999",
            "'http://127.0.0.1:99999': the port must be between 1 and 65535",
        ),
        ("http://127.0.0.1:x", "'http://127.0.0.1:x' is not a URL: Invalid port: 'x'"),
        (" http://127.0.0.1", "' http://127.0.0.1' contains whitespace; give the URL alone"),
        (
            "https://user:hunter2@api.pinecone.io",
            "must not carry credentials; give the key in PINECONE_API_KEY only",
        ),
    ],
)
def test_a_controller_host_must_be_a_full_url(host: str, message: str) -> None:
    """PINECONE_CONTROLLER_HOST is refused before any request unless it is an http(s) URL."""
    env = {"PINECONE_API_KEY": KEY, "PINECONE_CONTROLLER_HOST": host}
    with pytest.raises(ValueError) as info:
        PineconeSettings.from_env(env)
    assert str(info.value) == f"PINECONE_CONTROLLER_HOST {message}"
    assert "hunter2" not in str(info.value)


def test_a_controller_url_given_in_code_is_checked_too() -> None:
    """Settings built directly refuse a scheme-less controller, naming the field."""
    with pytest.raises(ValueError) as info:
        PineconeSettings(api_key=KEY, controller_url="127.0.0.1:5080")
    assert (
        str(info.value) == "controller_url '127.0.0.1:5080' has no scheme; add http:// or https://"
    )


async def test_index_hosts_from_pinecone_without_a_scheme_mean_https(
    wire: Recorder, clock: FakeClock, emu: Emulator
) -> None:
    """A bare data-plane host, as Pinecone returns it, is reached over HTTPS: given the
    emulator's host without its scheme, the client opens TLS, which the plain-HTTP emulator
    cannot answer."""
    name = fresh_index(emu)
    bare = emu.index_host(name).removeprefix("http://")
    async with make_client(wire, clock, emu, retry=RetryPolicy(attempts=1)) as client:
        with pytest.raises(PineconeTransportError, match=r"ConnectError: \[SSL") as info:
            await client.index_at(name, bare).count({"a": 1}, "ns")
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert [str(r.url) for r in wire.seen] == [f"https://{bare}/vectors/update"]
    assert wire.answers == []
