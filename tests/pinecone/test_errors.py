"""The error tree: status to class, both body dialects, truncation, and no API key anywhere."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import httpx
import pytest
from structlog.testing import capture_logs

from retention.emulator import Emulator
from retention.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PineconeClientError,
    PineconeError,
    PineconeServerError,
    PineconeTransportError,
    RateLimited,
    Unauthorized,
)
from retention.pinecone import PineconeClient, RetryPolicy
from retention.pinecone.dataplane import IndexClient
from retention.pinecone.outcomes import (
    error_for_response,
    error_for_transport,
    parse_retry_after,
)
from retention.secrets import scrub

from .conftest import KEY, FakeClock, Recorder, fresh_index, make_client

pytestmark = pytest.mark.anyio

DATA_BODY = {"code": 3, "message": "illegal condition for field genre", "details": []}


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (412, PineconeClientError),
        (422, PineconeClientError),
        (429, RateLimited),
        (500, PineconeServerError),
        (503, PineconeServerError),
    ],
)
def test_status_selects_the_error_class(status: int, cls: type[PineconeError]) -> None:
    """Each status maps onto exactly the documented class, carrying the status."""
    error = error_for_response(httpx.Response(status, json=DATA_BODY), operation="delete")
    assert type(error) is cls
    assert error.status == status
    assert error.operation == "delete"


async def test_data_plane_body_is_parsed(wire: Recorder, index: IndexClient) -> None:
    """The rpcStatus body of a refused filter gives an integer code, the message and the
    request id."""
    with pytest.raises(BadRequest) as info:
        await index.count({"genre": {"$regex": "dr.*"}}, "ns")
    error = info.value
    assert (
        str(error) == "count: HTTP 400 3: illegal condition for field genre: unsupported operator"
    )
    assert error.code == 3
    assert error.request_id == wire.answers[0].headers["x-pinecone-request-id"]
    assert error.request_id


async def test_control_plane_body_is_parsed(client: PineconeClient) -> None:
    """The ErrorResponse body gives a string code and the nested message."""
    with pytest.raises(NotFound) as info:
        await client.control.describe_index("idx")
    assert str(info.value) == "describe_index: HTTP 404 NOT_FOUND: Index idx not found."
    assert info.value.code == "NOT_FOUND"


def test_plain_text_body_is_kept_and_long_bodies_truncated() -> None:
    """A non-JSON body is quoted as text, cut to 300 characters with the rest counted."""
    error = error_for_response(httpx.Response(502, text="x" * 1000), operation="fetch")
    assert str(error) == f"fetch: HTTP 502: {'x' * 300}... (700 more characters)"


def test_api_key_echoed_by_the_server_is_scrubbed() -> None:
    """A body that repeats the API key never puts it into the message."""
    body = {"code": 16, "message": f"API key {KEY} is invalid", "details": []}
    error = error_for_response(httpx.Response(401, json=body), operation="list", secrets=[KEY])
    assert KEY not in str(error)
    assert "API key *** is invalid" in str(error)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        (
            {
                "retry-after": "Wed, 21 Oct 2026 07:28:10 GMT",
                "date": "Wed, 21 Oct 2026 07:28:00 GMT",
            },
            10.0,
        ),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After is read as seconds or as an HTTP date relative to the response's Date."""
    assert parse_retry_after(httpx.Response(429, headers=headers)) == expected


async def test_errors_are_raised_from_the_httpx_cause(
    wire: Recorder, clock: FakeClock, emu: Emulator
) -> None:
    """A status error chains the httpx.HTTPStatusError; a transport error chains httpx's."""
    name = fresh_index(emu)
    async with make_client(wire, clock, emu, retry=RetryPolicy(attempts=1)) as client:
        index = client.index_at(name, emu.index_host(name))
        with pytest.raises(BadRequest) as info:
            await index.delete_by_filter({"genre": {"$regex": "dr.*"}}, "ns")
        assert isinstance(info.value.__cause__, httpx.HTTPStatusError)
        wire.script.append(httpx.ConnectError("connection refused"))
        with pytest.raises(PineconeTransportError, match="ConnectError: connection refused") as e:
            await index.delete_ids(["a"], "ns")
        assert isinstance(e.value.__cause__, httpx.ConnectError)
    assert len(wire.seen) == 2 and len(wire.answers) == 1


async def test_api_key_is_in_no_error_and_no_log(
    wire: Recorder, client: PineconeClient, index: IndexClient
) -> None:
    """Through retries and a final failure, the key shows up only in the Api-Key header."""
    echo = {"code": 8, "message": f"slow down {KEY}", "details": []}
    wire.script += [httpx.Response(429, json=echo), httpx.Response(401, json=echo)]
    with capture_logs() as logs, pytest.raises(Unauthorized) as info:
        await index.delete_ids(["a"], "ns")
    assert logs and logs[0]["event"] == "pinecone_retry"
    assert KEY not in repr(logs)
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)
    assert KEY not in repr(client) and KEY not in repr(client.settings)
    assert len(wire.seen) == 2
    assert all(r.headers["Api-Key"] == KEY for r in wire.seen)


async def test_success_that_is_not_json_is_an_error(wire: Recorder, index: IndexClient) -> None:
    """A 200 whose body is not JSON raises PineconeError quoting the (scrubbed) body."""
    wire.script.append(httpx.Response(200, text=f"<html>{KEY}</html>"))
    with pytest.raises(PineconeError, match=r"answer is not JSON: <html>\*\*\*</html>"):
        await index.count({"a": 1}, "ns")


def test_escaped_spellings_of_the_key_are_scrubbed() -> None:
    """A key quoted as Python bytes, a JSON string or a URL value is masked like the plain one."""
    key = 'pcsk_"odd\\key%1'
    texts = [
        f"Illegal header value {key.encode()!r}",
        json.dumps({"key": key}),
        f"GET /x?k={quote(key, safe='')}",
        f"GET /x?k={quote_plus(key, safe='')}",
        repr(key),
    ]
    for text in texts:
        scrubbed = scrub(text, [key])
        assert "***" in scrubbed
        assert "odd" not in scrubbed and "pcsk_" not in scrubbed, scrubbed


def test_scrubbing_comes_before_the_cut() -> None:
    """A key straddling the 300-character cut is masked whole: no prefix of it survives."""
    body = "x" * 295 + KEY + "y" * 100
    error = error_for_response(httpx.Response(502, text=body), operation="fetch", secrets=[KEY])
    assert str(error) == f"fetch: HTTP 502: {'x' * 295}***{'y' * 2}... (98 more characters)"
    assert KEY[:5] not in str(error)


def test_code_and_request_id_echoing_the_key_are_scrubbed() -> None:
    """A server that puts the key in the error code or the request id does not leak it."""
    body = {"error": {"code": f"BAD_{KEY}", "message": "no"}, "status": 400}
    response = httpx.Response(400, json=body, headers={"x-pinecone-request-id": f"r-{KEY}"})
    error = error_for_response(response, operation="list", secrets=[KEY])
    assert str(error) == "list: HTTP 400 BAD_***: no"
    assert (error.code, error.request_id) == ("BAD_***", "r-***")


def test_a_key_that_is_an_ordinary_word_masks_that_word() -> None:
    """Masking errs on the side of hiding: a key that is also a word hides the word too."""
    body = {"code": 5, "message": "Index kb-prod not found", "details": []}
    error = error_for_response(httpx.Response(404, json=body), operation="describe", secrets=["k"])
    assert str(error) == "describe: HTTP 404 5: Index ***b-prod not found"


def test_transport_error_text_is_scrubbed() -> None:
    """An httpx error whose text quotes the key (escaped as bytes) is masked."""
    request = httpx.Request("GET", "https://idx.test/x")
    exc = httpx.LocalProtocolError(f"Illegal header value {KEY.encode()!r}", request=request)
    error = error_for_transport(exc, operation="list", secrets=[KEY])
    assert str(error) == (
        "list: LocalProtocolError: Illegal header value b'***' (https://idx.test)"
    )
