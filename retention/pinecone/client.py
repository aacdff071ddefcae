"""`PineconeClient`: the entry point, wiring one httpx client to both planes.

The httpx client is passed in (tests give it an `httpx.MockTransport`); `connect` builds the
production one with deliberate pooling and timeouts:

- timeouts: 10 s to connect, 30 s to read, write and wait for a pooled connection; a delete
  batch of 1,000 ids returns in well under a second, so 30 s means something is wrong;
- connections: 16 lanes (`transport.Lanes`), each with one connection per host, kept alive
  for 30 s; the limiter, not the pool, sets the pace, and keep-alive connections spare a TCP
  and TLS handshake per request at hundreds of requests a second; the session sends each
  request on a free lane, so no more are in flight than there are connections and none
  queues in httpx's pool;
- no cookies (`transport.NoCookies`): Pinecone sets none that a client needs;
- no redirects: the API key must reach only the configured hosts.

Credentials and endpoints come from the same variables as the official SDK:
`PINECONE_API_KEY` and `PINECONE_CONTROLLER_HOST` (default https://api.pinecone.io). Unlike
the SDK, a controller host without a scheme is refused rather than taken to mean https.
"""

from __future__ import annotations

import asyncio
import os
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
from structlog.typing import FilteringBoundLogger

from retention.errors import RetentionError
from retention.pinecone.control import DEFAULT_CONTROLLER_URL, ControlPlane
from retention.pinecone.dataplane import IndexClient
from retention.pinecone.documents import DocumentIndexClient
from retention.pinecone.models import controller_url, with_scheme
from retention.pinecone.pacing import Key, Pacer
from retention.pinecone.projects import project_controller, project_key, split_index
from retention.pinecone.retrying import Retrying, RetryPolicy
from retention.pinecone.session import DEFAULT_API_VERSION, Session, check_api_key
from retention.pinecone.transport import Lanes, NoCookies
from retention.quotas import Quota

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
POOL = httpx.Limits(max_connections=16, max_keepalive_connections=16, keepalive_expiry=30.0)


@dataclass(frozen=True)
class PineconeSettings:
    """Where Pinecone is and how to talk to it; the key is kept out of `repr`."""

    api_key: str = field(repr=False)
    controller_url: str = DEFAULT_CONTROLLER_URL
    api_version: str = DEFAULT_API_VERSION

    def __post_init__(self) -> None:
        check_api_key(self.api_key)
        controller_url(self.controller_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: str) -> PineconeSettings:
        """Read `PINECONE_API_KEY` and `PINECONE_CONTROLLER_HOST`; `overrides` win.

        Both are checked here, before any request, and a problem is a `ValueError` that names
        the variable: the key is never quoted, the controller URL always is (it is no secret).
        """
        values = {
            "api_key": environ.get("PINECONE_API_KEY", ""),
            "controller_url": environ.get("PINECONE_CONTROLLER_HOST") or DEFAULT_CONTROLLER_URL,
        }
        values.update(overrides)
        if not values["api_key"]:
            raise ValueError("PINECONE_API_KEY is not set; export it or pass api_key")
        key_name = "api_key" if "api_key" in overrides else "PINECONE_API_KEY"
        check_api_key(values["api_key"], name=key_name)
        url_name = "controller_url" if "controller_url" in overrides else "PINECONE_CONTROLLER_HOST"
        values["controller_url"] = controller_url(values["controller_url"], name=url_name)
        return cls(**values)


class PineconeClient:
    """Pinecone's control plane plus data-plane clients per index, sharing pacing and retries."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        settings: PineconeSettings,
        *,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        max_in_flight: int = POOL.max_connections or 32,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        log: FilteringBoundLogger | None = None,
    ) -> None:
        self.http = http
        self.settings = settings
        self.concurrency = concurrency
        self.pacer = pacer or Pacer(monotonic=monotonic, sleep=sleep)
        self.retrying = Retrying(retry, sleep=sleep, monotonic=monotonic, random=random, log=log)
        self.session = Session(
            http,
            api_key=settings.api_key,
            api_version=settings.api_version,
            pacer=self.pacer,
            retrying=self.retrying,
            max_in_flight=max_in_flight,
            monotonic=monotonic,
        )
        self.control = ControlPlane(self.session, url=settings.controller_url)
        self.project_client: Callable[[str], PineconeClient] | None = None
        """Makes the client of a named project (`connect` sets it from the environment)."""
        self._projects: dict[str, PineconeClient] = {}

    def __repr__(self) -> str:
        return f"PineconeClient({self.settings!r})"

    def quota(self, key: Key) -> Quota | None:
        """The published quota a request weight `key` counts against, as this client paces it
        (`IndexClient.delete_weights` names the keys), or None when nothing paces it."""
        return self.pacer.quota(key)

    @property
    def quotas(self) -> Mapping[str, Quota]:
        """Every quota this client paces by, by name."""
        return self.pacer.quotas

    async def index(self, name: str) -> IndexClient:
        """The data-plane client of index `name`, its host and kind resolved through the
        control plane: a `DocumentIndexClient` for a document index.

        A pod index is refused here, for every command alike: it counts a filter only through
        `describe_index_stats`, has no namespaces API and no LSN headers, and deletes by filter
        differently, so the plans and proofs this tool makes do not hold there."""
        owner, real = self.owner(name)
        if owner is not self:
            return await owner.index(real)
        description = await self.control.describe_index(name)
        if description.serverless is False:
            raise UnsupportedIndex(
                f"index {name} is a pod index; retention works on serverless indexes only "
                "(the counts, the namespaces API and the freshness proofs it relies on differ on "
                "pods): move the data to a serverless index, or leave this index out"
            )
        if description.documents:
            return DocumentIndexClient(
                self.session,
                name=name,
                host=description.host,
                schema=description.schema,
                concurrency=self.concurrency,
            )
        return self.index_at(name, description.host)

    def owner(self, name: str) -> tuple[PineconeClient, str]:
        """The client of the project an index name (INDEX or PROJECT:INDEX) belongs to, and
        the index's name in that project."""
        project, index = split_index(name)
        if project is None:
            return self, index
        if project not in self._projects:
            if self.project_client is None:
                raise RetentionError(
                    f"index {name}: this client was made without the environment that names "
                    f"project {project}'s key"
                )
            self._projects[project] = self.project_client(project)
        return self._projects[project], index

    def control_of(self, name: str) -> tuple[ControlPlane, str]:
        """The control plane of the project `name` (INDEX or PROJECT:INDEX) is in, and the
        index's own name there."""
        owner, index = self.owner(name)
        return owner.control, index

    def clients(self) -> list[PineconeClient]:
        """This client and those of the named projects it has reached."""
        return [self, *self._projects.values()]

    def indexes(self) -> Indexes:
        """A fresh cache of data-plane clients, each index resolved once while it lives: one
        plan or one apply (a long-lived process must see an index that moved)."""
        return Indexes(self)

    def index_at(self, name: str, host: str) -> IndexClient:
        """The data-plane client of index `name` at a known `host` (no scheme means HTTPS)."""
        return IndexClient(
            self.session, name=name, host=with_scheme(host), concurrency=self.concurrency
        )

    async def aclose(self) -> None:
        """Close the underlying httpx client and its pooled connections, and the clients of
        the projects it reached."""
        for other in self._projects.values():
            await other.aclose()
        await self.http.aclose()

    async def __aenter__(self) -> PineconeClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class UnsupportedIndex(RetentionError):
    """An index of a kind this tool does not plan or apply against."""


class Indexes:
    """The data-plane clients of one plan or apply: each index's host is asked for once, even
    by requests that want it at the same moment."""

    def __init__(self, client: PineconeClient) -> None:
        self._client = client
        self._resolved: dict[str, IndexClient] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, name: str) -> IndexClient:
        if (found := self._resolved.get(name)) is not None:
            return found
        async with self._locks.setdefault(name, asyncio.Lock()):
            if name not in self._resolved:
                self._resolved[name] = await self._client.index(name)
            return self._resolved[name]


def connect(
    settings: PineconeSettings | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    **options: Any,
) -> PineconeClient:
    """Build a production `PineconeClient` (settings from `environ` when not given).

    `options` go to `PineconeClient` (limiter, retry, concurrency, ...); `transport` replaces
    the network, as tests and the emulator's in-process mode do.
    """
    env = os.environ if environ is None else environ
    if settings is None:
        settings = PineconeSettings.from_env(env)
    http = httpx.AsyncClient(
        timeout=TIMEOUT,
        follow_redirects=False,
        cookies=NoCookies(),
        transport=transport or Lanes(keepalive_expiry=POOL.keepalive_expiry),
    )
    client = PineconeClient(http, settings, **options)
    default = settings

    def project_client(project: str) -> PineconeClient:
        named = PineconeSettings(
            api_key=project_key(project, env),
            controller_url=project_controller(project, env, default.controller_url),
            api_version=default.api_version,
        )
        shared = _Borrowed(transport) if transport is not None else None
        return connect(named, environ={}, transport=shared, **options)

    client.project_client = project_client
    return client


class _Borrowed(httpx.AsyncBaseTransport):
    """A transport the default project's client owns, lent to another project's client (a
    test's in-process emulator, the service's counting transport): closed once, by its owner."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        pass
