"""The routing backend's WebSocket message, computed once per interval while anyone
listens and shared by every client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable


class Feed:
    """The WebSocket's message, computed once per interval while anyone listens and sent
    to every client: a hundred clients cost one computation, not a hundred."""

    def __init__(self, compute: Callable[[], Awaitable[str]], interval: float = 1.0) -> None:
        self._compute = compute
        self.interval = interval
        self._text: str | None = None
        self._seq = 0
        self._published = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listeners = 0

    def join(self) -> None:
        self.listeners += 1
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    def leave(self) -> None:
        self.listeners -= 1
        if self.listeners == 0 and self._task is not None:
            self._task.cancel()
            self._task, self._text = None, None

    async def after(self, seen: int) -> tuple[int, str]:
        """The newest message once it is newer than ``seen``."""
        while self._seq == seen or self._text is None:
            await self._published.wait()
        return self._seq, self._text

    async def _run(self) -> None:
        while True:
            try:
                text = await self._compute()
            except Exception as exc:  # noqa: BLE001 - the clients hear why
                text = json.dumps({"type": "error", "error": str(exc)})
            self._text, self._seq = text, self._seq + 1
            published, self._published = self._published, asyncio.Event()
            published.set()
            await asyncio.sleep(self.interval)
