"""The live page at ``/`` and its assets (shipped in the package: no CDN, no build
step), and the routing backend's WebSocket, ``/api/metrics/ws``, pushing a
``metrics_update`` every second."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

UPLOT_VERSION = "1.6.32"
_TYPES = {".html": b"text/html; charset=utf-8", ".js": b"text/javascript; charset=utf-8",
          ".css": b"text/css; charset=utf-8", ".md": b"text/plain; charset=utf-8",
          "LICENSE": b"text/plain; charset=utf-8"}
#: Every asset by URL path; nothing else under /static is served (no path traversal).
ASSETS = ("page.js", "page.css", "vendor/uplot/uPlot.iife.min.js",
          "vendor/uplot/uPlot.min.css", "vendor/uplot/LICENSE", "vendor/uplot/VENDORED.md")
WS_PATH = "/api/metrics/ws"
#: WebSocket clients served at once; more are refused (each costs queries per second).
MAX_SOCKETS = 16


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

    async def websocket(self, receive: Callable[[], Awaitable[dict[str, Any]]],
                        send: Callable[[dict[str, Any]], Awaitable[None]],
                        update: Callable[[], dict[str, Any]], interval: float = 1.0) -> None:
        """Accept, then send ``update()`` every ``interval`` until the client leaves."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if self.sockets >= MAX_SOCKETS:
            await send({"type": "websocket.close", "code": 1013})
            return
        self.sockets += 1
        closed: asyncio.Future[dict[str, Any]] | None = None
        try:
            await send({"type": "websocket.accept"})
            loop = asyncio.get_running_loop()
            closed = asyncio.ensure_future(receive())
            while True:
                try:
                    payload = await loop.run_in_executor(None, update)
                except Exception as exc:  # noqa: BLE001 - the client hears why
                    payload = {"type": "error", "error": str(exc)}
                await send({"type": "websocket.send", "text": json.dumps(payload)})
                done, _ = await asyncio.wait({closed}, timeout=interval)
                if done:
                    if closed.result()["type"] == "websocket.disconnect":
                        return
                    closed = asyncio.ensure_future(receive())  # a client message: ignored
        except (OSError, RuntimeError):  # the client went away mid-send
            return
        finally:
            self.sockets -= 1
            if closed is not None and not closed.done():
                closed.cancel()
