"""The HTTP stack under the session, against a real socket: one connection per lane and host,
kept alive and reused; none shared by two lanes; a connection the server closed is replaced;
no cookie is ever kept or sent back."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from retention.pinecone.transport import LANE, Lanes, NoCookies

pytestmark = pytest.mark.anyio


@dataclass
class Server:
    """A keep-alive HTTP/1.1 server on loopback that notes which connection each request came
    on (the client's port) and the headers it carried."""

    port: int = 0
    by_connection: Counter[int] = field(default_factory=Counter)
    headers: list[dict[str, str]] = field(default_factory=list)
    close_after: int | None = None
    """Close each connection after this many answers (None: keep it open)."""
    delay: float = 0.002

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")[1]
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")[1:]
                headers = {
                    k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines if x)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.by_connection[peer] += 1
                self.headers.append(headers)
                await asyncio.sleep(self.delay)
                payload = b'{"ok": true, "body": %d}' % len(body)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"set-cookie: session=abc; Path=/\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(payload), payload)
                )
                await writer.drain()
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listening.sockets[0].getsockname()[1]
    async with listening:
        yield state


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=Lanes(), cookies=NoCookies(), follow_redirects=False)


async def test_each_lane_keeps_one_connection_and_reuses_it(server: Server) -> None:
    """Eight lanes, each sending five requests one after another while the others do the
    same: eight connections, five requests on each."""
    async with client() as http:

        async def lane(n: int) -> None:
            for _ in range(5):
                r = await http.post(
                    f"http://127.0.0.1:{server.port}/q", json={"n": n}, extensions={LANE: n}
                )
                assert r.json()["ok"] is True

        await asyncio.gather(*(lane(n) for n in range(8)))
    assert sorted(server.by_connection.values()) == [5] * 8


async def test_lanes_do_not_share_a_connection_even_when_idle(server: Server) -> None:
    """One request at a time, round robin over three lanes: a shared pool would answer them all
    on one connection; here each lane keeps its own."""
    async with client() as http:
        for _ in range(3):
            for n in range(3):
                await http.get(f"http://127.0.0.1:{server.port}/", extensions={LANE: n})
    assert sorted(server.by_connection.values()) == [3, 3, 3]


async def test_a_request_without_a_lane_takes_lane_zero(server: Server) -> None:
    async with client() as http:
        for _ in range(3):
            assert (await http.get(f"http://127.0.0.1:{server.port}/")).status_code == 200
        assert (await http.get(f"http://127.0.0.1:{server.port}/", extensions={LANE: 0})).is_success
    assert list(server.by_connection.values()) == [4]


async def test_a_connection_the_server_closed_is_replaced(server: Server) -> None:
    """The server closes each connection after one answer: every request still succeeds,
    each on a fresh connection of the same lane."""
    server.close_after = 1
    async with client() as http:
        for _ in range(4):
            r = await http.get(f"http://127.0.0.1:{server.port}/", extensions={LANE: 3})
            assert r.status_code == 200
            await asyncio.sleep(0.01)  # let the close reach the client
    assert sorted(server.by_connection.values()) == [1] * 4


async def test_a_request_cancelled_in_flight_does_not_hold_its_lane(server: Server) -> None:
    """A caller gives up on a slow answer (a deadline, Ctrl-C): the lane's one connection must
    be free for the next request at once, not after a pool timeout."""
    server.delay = 0.5
    http = httpx.AsyncClient(
        transport=Lanes(), cookies=NoCookies(), timeout=httpx.Timeout(5.0, pool=0.2)
    )
    async with http:
        slow = asyncio.ensure_future(
            http.get(f"http://127.0.0.1:{server.port}/", extensions={LANE: 2})
        )
        await asyncio.sleep(0.05)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        server.delay = 0.0
        for _ in range(3):
            r = await http.get(f"http://127.0.0.1:{server.port}/", extensions={LANE: 2})
            assert r.status_code == 200


async def test_no_cookie_is_kept_or_sent_back(server: Server) -> None:
    async with client() as http:
        for _ in range(2):
            r = await http.get(f"http://127.0.0.1:{server.port}/")
            assert r.headers["set-cookie"].startswith("session=")
        assert len(http.cookies.jar) == 0
    assert all("cookie" not in h for h in server.headers)


async def test_a_closed_transport_refuses_requests(server: Server) -> None:
    lanes = Lanes()
    http = httpx.AsyncClient(transport=lanes)
    assert (await http.get(f"http://127.0.0.1:{server.port}/")).status_code == 200
    await lanes.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await http.get(f"http://127.0.0.1:{server.port}/")


class Sticky(httpx.AsyncBaseTransport):
    """A pool that, like httpcore's after a badly timed cancellation, never serves again once
    an exchange was cut short: every later request would wait out the pool timeout."""

    def __init__(self) -> None:
        self.stuck = False
        self.served = 0
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.stuck:
            await asyncio.sleep(3600)
        try:
            if request.url.path == "/slow":
                await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.stuck = True
            raise
        self.served += 1
        return httpx.Response(200, stream=httpx.ByteStream(b"{}"))

    async def aclose(self) -> None:
        self.closed = True


def sticky_lanes() -> tuple[Lanes, list[Sticky]]:
    made: list[Sticky] = []

    def factory() -> Sticky:
        made.append(Sticky())
        return made[-1]

    return Lanes(pool_factory=factory), made


async def test_a_lane_cut_short_gets_a_new_pool() -> None:
    """A request cancelled in flight spoils its lane's pool: the next request of that lane
    goes to a new one (the old one closed), and other lanes keep theirs."""
    lanes, made = sticky_lanes()
    async with httpx.AsyncClient(transport=lanes) as http:
        await http.get("http://h/", extensions={LANE: 1})
        slow = asyncio.ensure_future(http.get("http://h/slow", extensions={LANE: 0}))
        await asyncio.sleep(0.01)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        r = await asyncio.wait_for(http.get("http://h/", extensions={LANE: 0}), 5)
        assert r.status_code == 200
        await http.get("http://h/", extensions={LANE: 1})
    assert [p.served for p in made] == [2, 0, 1]  # lane 1, lane 0 (spoiled), lane 0 anew
    assert made[1].closed and lanes.replaced == 1


async def test_a_response_left_open_gets_its_lane_a_new_pool() -> None:
    lanes, made = sticky_lanes()
    async with httpx.AsyncClient(transport=lanes) as http:
        request = http.build_request("GET", "http://h/", extensions={LANE: 0})
        await http.send(request, stream=True)  # never read, never closed
        assert (await http.get("http://h/", extensions={LANE: 0})).status_code == 200
    assert lanes.replaced == 1 and len(made) == 2


async def test_clean_exchanges_keep_their_pool() -> None:
    lanes, made = sticky_lanes()
    async with httpx.AsyncClient(transport=lanes) as http:
        for _ in range(3):
            assert (await http.get("http://h/", extensions={LANE: 0})).status_code == 200
    assert lanes.replaced == 0 and [p.served for p in made] == [3]
