"""The live page at ``/`` and its assets (shipped in the package: no CDN, no build
step), and the routing backend's WebSocket, ``/api/metrics/ws``, pushing a
``metrics_update`` every second."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..read.feed import Feed

log = logging.getLogger(__name__)

_TYPES = {".html": b"text/html; charset=utf-8", ".js": b"text/javascript; charset=utf-8",
          ".css": b"text/css; charset=utf-8", ".md": b"text/plain; charset=utf-8",
          "LICENSE": b"text/plain; charset=utf-8"}
#: Every asset by URL path; nothing else under /static is served (no path traversal).
ASSETS = ("page.js", "page.css", "vendor/uplot/uPlot.iife.min.js",
          "vendor/uplot/uPlot.min.css", "vendor/uplot/LICENSE", "vendor/uplot/VENDORED.md")
WS_PATH = "/api/metrics/ws"
#: WebSocket clients served at once; more are refused with 1013 (try again later). A
#: client costs one send of a message computed once for all of them.
MAX_SOCKETS = 128
#: A client whose message has not gone out within this many seconds is not reading: it
#: is closed and its slot freed. One that never answers the server's pings (every
#: ``WS_PING_SECONDS``) is closed by the server after as long again.
SEND_TIMEOUT = 2.0
WS_PING_SECONDS = 5.0


def _read(name: str) -> bytes:
    return resources.files("exporter.server").joinpath("static").joinpath(name).read_bytes()


class Page:
    """The page and assets, read once; the WebSocket sessions."""

    def __init__(self) -> None:
        self.index = _read("index.html")
        self.assets: dict[str, tuple[bytes, bytes]] = {}
        for name in ASSETS:
            kind = next(t for suffix, t in _TYPES.items() if name.endswith(suffix))
            self.assets[f"/static/{name}"] = (_read(name), kind)
        self.sockets = 0
        self.evicted = 0

    async def websocket(self, receive: Callable[[], Awaitable[dict[str, Any]]],
                        send: Callable[[dict[str, Any]], Awaitable[None]], feed: Feed) -> None:
        """Accept, then send each of the feed's messages until the client leaves, or
        stops reading."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if self.sockets >= MAX_SOCKETS:
            await send({"type": "websocket.close", "code": 1013})
            return
        self.sockets += 1
        feed.join()
        closed: asyncio.Future[dict[str, Any]] | None = None
        waiting: asyncio.Future[tuple[int, str]] | None = None
        try:
            await send({"type": "websocket.accept"})
            closed = asyncio.ensure_future(receive())
            seen = 0
            while True:
                waiting = asyncio.ensure_future(feed.after(seen))
                done, _ = await asyncio.wait({closed, waiting},
                                             return_when=asyncio.FIRST_COMPLETED)
                if closed in done:
                    if closed.result()["type"] == "websocket.disconnect":
                        return
                    closed = asyncio.ensure_future(receive())  # a client message: ignored
                    continue
                seen, text = waiting.result()
                try:
                    await asyncio.wait_for(send({"type": "websocket.send", "text": text}),
                                           SEND_TIMEOUT)
                except TimeoutError:
                    self.evicted += 1
                    log.info("closed a WebSocket client that stopped reading (%d so far)",
                             self.evicted)
                    return
        except (OSError, RuntimeError):  # the client went away mid-send
            return
        finally:
            self.sockets -= 1
            feed.leave()
            for pending in (closed, waiting):
                if pending is not None and not pending.done():
                    pending.cancel()
