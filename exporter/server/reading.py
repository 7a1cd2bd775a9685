"""The sidecar's read routes over HTTP: the live page and its assets, the backends' GET
routes (guarded by the metrics credentials) and the WebSocket."""

from __future__ import annotations

import asyncio
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from .._auth import Auth
from ..compat.params import ParamError
from ..readout.sources import SourceError
from ..recorder import LLMMetrics
from .guard import Guard
from .page import WS_PATH, Page
from .read import ReadSide
from .wire import Receive, Send, same_origin, send_bytes, send_json

Handler = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]
#: The page runs its own scripts and styles only (no inline code, no eval), talks to its
#: own origin only, and is never framed (clickjacking) nor leaks its URL as a referrer.
PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; "
     b"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY")]


class ReadRoutes:
    """Handlers of every GET route that shows recorded data."""

    def __init__(self, llm: LLMMetrics, read: ReadSide, page: Page, auth: Auth,
                 guard: Guard) -> None:
        self.llm, self.read, self.page, self.auth, self.guard = llm, read, page, auth, guard

    def routes(self) -> dict[str, dict[str, Handler]]:
        return {"/": {"GET": self._landing}, WS_PATH: {"GET": self._upgrade},
                **{path: {"GET": self._get} for path in self.read.routes},
                **{path: {"GET": self._asset} for path in self.page.assets}}

    async def _landing(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if await self._denied(scope, send):
            return
        await send_bytes(send, 200, self.page.index, b"text/html; charset=utf-8",
                         [(b"cache-control", b"no-store"), *PAGE_HEADERS])

    async def _upgrade(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 426, {"error": f"{WS_PATH} is a WebSocket: connect with "
                                             "Upgrade: websocket"},
                        [(b"upgrade", b"websocket")])

    async def _asset(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body, kind = self.page.assets[scope["path"]]
        await send_bytes(send, 200, body, kind, [(b"cache-control", b"max-age=3600"),
                                                 (b"x-content-type-options", b"nosniff")])

    async def _denied(self, scope: dict[str, Any], send: Send) -> bool:
        """The metrics credentials guard what shows recorded data; True once refused."""
        denied = self.auth.metrics(scope["llm_exporter.headers"].get(b"authorization"))
        if denied is None:
            return False
        self.llm.record_auth_failure(endpoint="metrics")
        await send_json(send, 401, {"error": denied},
                    [(b"www-authenticate", b'Basic realm="llm-exporter"')])
        return True

    async def _get(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """A read route: 400 naming a bad parameter, 502 when Prometheus fails."""
        if await self._denied(scope, send):
            return
        query = scope.get("query_string", b"").decode("latin-1")
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        answer = self.read.routes[scope["path"]]
        loop = asyncio.get_running_loop()
        try:
            payload = await loop.run_in_executor(None, answer, params)
        except ParamError as exc:
            await send_json(send, 400, {"error": str(exc), "field": exc.field})
            return
        except SourceError as exc:
            await send_json(send, 502, {"error": str(exc)})
            return
        await send_json(send, 200, payload, [(b"cache-control", b"no-store")])

    async def websocket(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """The routing backend's live feed; same-origin (or an allowed origin) only, so
        another site cannot read it with the user's credentials."""
        headers = dict(scope["headers"])
        origin = headers.get(b"origin")
        refused = scope["path"] != WS_PATH or self.guard.host(headers.get(b"host")) is not None \
            or self.auth.metrics(headers.get(b"authorization")) is not None \
            or (origin is not None and self.guard.origin(origin) is not None
                and not same_origin(origin, headers.get(b"host")))
        if refused:
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        await self.page.websocket(receive, send, self.read.update)
