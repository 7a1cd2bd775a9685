"""The sidecar's read routes over HTTP: the live page and its assets, the backends' GET
routes and the WebSocket: private whenever a credential is configured, paced, and
answered once per identical read."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from .._auth import Auth
from ..read.params import ParamError, parse
from ..read.side import ANSWER_SECONDS, ReadSide
from ..read.sources import SourceError
from ..record.recorder import LLMMetrics
from .guard import Guard
from .page import WS_PATH, Page
from .wire import JSON, Receive, Send, dumps, same_origin, send_bytes, send_json

Handler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]
#: Answers kept (each for read.ANSWER_SECONDS, given to every identical read meanwhile).
MAX_ANSWERS = 256
#: Distinct reads computing or queued at once; past it a read gets 503 and Retry-After.
MAX_WAITING_READS = 32
#: Reads are paced to this many a second, all readers together: a reader in a tight
#: loop waits its turn instead of taking the event loop from ingest. A read that would
#: wait more than MAX_READ_DELAY seconds gets 503 and Retry-After.
READS_PER_SECOND = 200.0
MAX_READ_DELAY = 2.0
#: While computing answers takes more than this share of the interpreter (its one
#: core, shared with ingest and scrapes), answers up to MAX_STALE_SECONDS old are given
#: instead of computed again: under load, reads get older, ingest keeps its pace.
READ_SHARE = 0.1
MAX_STALE_SECONDS = 10.0
#: The page runs its own scripts and styles only (no inline code, no eval), talks to its
#: own origin only, and is never framed (clickjacking) nor leaks its URL as a referrer.
PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
     b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY")]


Answer = tuple[int, bytes]


class Answers:
    """Answers by (path, query) for ``seconds``, computed once however many readers ask
    at the same time (they await one future), at most ``size`` kept."""

    def __init__(self, seconds: float, size: int) -> None:
        self.seconds, self.size = seconds, size
        self._kept: OrderedDict[tuple[str, bytes], tuple[float, Answer]] = OrderedDict()
        self._running: dict[tuple[str, bytes], asyncio.Future[Answer]] = {}

    @property
    def waiting(self) -> int:
        return len(self._running)

    def get(self, key: tuple[str, bytes], stale: float = 0.0) -> Answer | None:
        """A kept answer younger than ``seconds``, or than ``stale`` when larger (the
        read side is over its share of the interpreter)."""
        kept = self._kept.get(key)
        if kept is None or time.monotonic() - kept[0] >= max(self.seconds, stale):
            return None
        return kept[1]

    async def compute(self, key: tuple[str, bytes],
                      make: Callable[[], Awaitable[Answer]]) -> Answer:
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        try:
            answer = await make()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            del self._running[key]
        future.set_result(answer)
        self._kept[key] = (time.monotonic(), answer)
        self._kept.move_to_end(key)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return answer


#: Where the cost backend's users open its dashboard: the live page, there too.
DASHBOARD_PATH = "/static/dashboard.html"


def read_error(kind: str, message: str, **details: str) -> dict[str, Any]:
    """A read route's error body, in the format the tier routing backend documents
    (``{error, message, details}``), the same for every read route."""
    return {"error": kind, "message": message, "details": details}


class ReadRoutes:
    """Handlers of every GET route that shows recorded data."""

    def __init__(self, llm: LLMMetrics, read: ReadSide, page: Page, auth: Auth,
                 guard: Guard) -> None:
        self.llm, self.read, self.page, self.auth, self.guard = llm, read, page, auth, guard
        self.answers = Answers(ANSWER_SECONDS, MAX_ANSWERS)
        self._next_read = -math.inf

    def routes(self) -> dict[str, dict[str, Handler]]:
        return {"/": {"GET": self._landing}, DASHBOARD_PATH: {"GET": self._landing},
                WS_PATH: {"GET": self._upgrade},
                **{path: {"GET": self._get} for path in self.read.routes},
                **{path: {"GET": self._asset} for path in self.page.assets}}

    async def _landing(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if await self._denied(scope, send):
            return
        await send_bytes(send, 200, self.page.index, b"text/html; charset=utf-8",
                         [(b"cache-control", b"no-store"), *PAGE_HEADERS])

    async def _upgrade(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 426, read_error("UpgradeRequired", f"{WS_PATH} is a WebSocket: "
                                              "connect with Upgrade: websocket"),
                        [(b"upgrade", b"websocket")])

    async def _asset(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body, kind = self.page.assets[scope["path"]]
        await send_bytes(send, 200, body, kind, [(b"cache-control", b"max-age=3600"),
                                                 (b"x-content-type-options", b"nosniff")])

    async def _denied(self, scope: dict[str, Any], send: Send) -> bool:
        """Reads show team spend and user ids: private whenever a credential is
        configured (see Auth.read); True once refused."""
        denied = self.auth.read(scope["llm_exporter.headers"].get(b"authorization"))
        if denied is None:
            return False
        self.llm.record_auth_failure(endpoint="read")
        await send_json(send, 401, read_error("Unauthorized", denied),
                        [(b"www-authenticate", b'Basic realm="llm-exporter"')])
        return True

    async def _get(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """A read route: 400 naming a bad parameter, 502 when Prometheus fails, 503 when
        too many distinct reads wait. The same read within a second is answered once."""
        if await self._denied(scope, send):
            return
        now = time.monotonic()
        turn = max(now, self._next_read)
        if turn - now > MAX_READ_DELAY:
            await send_json(send, 503, read_error("Busy", f"reads are paced to "
                                                  f"{READS_PER_SECOND:g} a second; retry in "
                                                  "a second"),
                            [(b"retry-after", b"1")])
            return
        self._next_read = turn + 1.0 / READS_PER_SECOND
        if turn > now:
            await asyncio.sleep(turn - now)
        query = scope.get("query_string", b"")
        key = (scope["path"], query)
        busy = self.read.load() > READ_SHARE
        kept = self.answers.get(key, MAX_STALE_SECONDS if busy else 0.0)
        if kept is None:
            if self.answers.waiting >= MAX_WAITING_READS:
                await send_json(send, 503, read_error("Busy", f"{MAX_WAITING_READS} reads are "
                                                      "waiting; retry in a second"),
                                [(b"retry-after", b"1")])
                return
            kept = await self.answers.compute(
                key, lambda: self._answer(scope["path"], query.decode("latin-1")))
        status, body = kept
        await send_bytes(send, status, body, JSON, [(b"cache-control", b"no-store")])

    async def _answer(self, path: str, query: str) -> tuple[int, bytes]:
        try:
            payload = await self.read.answer(path, parse(query))
        except ParamError as exc:
            return 400, dumps(read_error("InvalidParameter", str(exc), field=exc.field))
        except SourceError as exc:
            return 502, dumps(read_error("SourceUnavailable", str(exc)))
        return 200, dumps(payload)

    async def websocket(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """The routing backend's live feed; same-origin (or an allowed origin) only, so
        another site cannot read it with the user's credentials."""
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        refused = scope["path"] != WS_PATH or self.guard.host(headers.get(b"host")) is not None \
            or self.auth.read(headers.get(b"authorization")) is not None \
            or (origin is not None and self.guard.origin(origin) is not None
                and not same_origin(origin, headers.get(b"host")))
        if refused:
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.page.websocket(receive, send, self.read.feed)
