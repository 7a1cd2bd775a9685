"""A small client for the sidecar, for apps that run it beside them.

Events are queued and sent in batches from the background (a thread for
:class:`SidecarClient`, a task for :class:`AsyncSidecarClient`), retried with
exponential backoff on network errors, 409 (the same batch still being applied after a
timed-out attempt), 429 and 5xx. A network failure never raises
into app code: it is logged (rate-limited) and counted in ``client.stats``. A
programmer error (an event the sidecar would refuse) raises ValueError at the call.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .ingest.events import EventError, validate

#: Answers worth a retry below 500: in progress (409) and too many requests (429).
_RETRIED = (409, 429)
log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"
TRACK_PATH = "/api/v1/metrics/track"


@dataclass
class ClientStats:
    """What happened to the events handed to a client."""

    sent: int = 0
    """Events the sidecar accepted."""
    dropped: int = 0
    """Events given up on: retries exhausted, refused by the sidecar, or queue full."""
    retries: int = 0
    unsent: int = 0
    """Events still queued, or sent without an answer, when ``close()`` ran out of time:
    they may or may not have been recorded. sent + dropped + unsent = events handed over."""
    last_error: str | None = None


@dataclass
class _Config:
    url: str
    token: str | None
    batch_size: int
    flush_interval: float
    max_queue: int
    retries: int
    backoff: float
    timeout: float
    host: str = field(init=False)
    port: int = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"url must be http://host:port, got {self.url!r}")
        self.host, self.port = parts.hostname, parts.port or 80

    def headers(self, body: bytes, key: str) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Content-Length": str(len(body)),
             "Idempotency-Key": key}
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        return h


def _checked(event: dict[str, Any]) -> dict[str, Any]:
    try:
        validate(dict(event), "event")  # validate() may take the dict over: a copy
    except EventError as exc:
        raise ValueError(str(exc)) from None
    return event


def _track_payload(model: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    allowed = {"provider", "prompt_tokens", "output_tokens", "total_tokens", "latency_ms",
               "user_id", "team_alias", "cache_hit", "query_type", "request_id", "status"}
    unknown = set(kwargs) - allowed
    if unknown:
        raise ValueError(f"unknown argument(s) for track_request: {', '.join(sorted(unknown))}")
    return {"model": model, **{k: v for k, v in kwargs.items() if v is not None}}


class _Base:
    def __init__(self, url: str = "http://127.0.0.1:9473", *, token: str | None = None,
                 batch_size: int = 100, flush_interval: float = 1.0, max_queue: int = 10_000,
                 retries: int = 4, backoff: float = 0.2, timeout: float = 5.0) -> None:
        self._cfg = _Config(url.rstrip("/"), token, batch_size, flush_interval, max_queue,
                            retries, backoff, timeout)
        self.stats = ClientStats()
        self._queue: deque[tuple[str, Any]] = deque()
        self._busy = False
        self._in_flight = 0
        self._abandoned = False
        """Set by close() when it gives up waiting: later outcomes are not counted."""
        self._last_log = 0.0

    @property
    def _drained(self) -> bool:
        return not self._queue and not self._busy

    def _enqueue(self, path: str, payload: Any) -> None:
        if len(self._queue) >= self._cfg.max_queue:
            self.stats.dropped += 1
            self._warn("queue full (%d events): dropping", self._cfg.max_queue)
            return
        self._queue.append((path, payload))

    def _take(self) -> tuple[str, bytes, int, str] | None:
        """The next POST: a batch of queued events, or one compatible-route payload, and
        the Idempotency-Key its retries share (the sidecar applies it once)."""
        if not self._queue:
            return None
        path, payload = self._queue.popleft()
        if path != EVENTS_PATH:
            self._in_flight = 1
            return path, json.dumps(payload).encode(), 1, uuid.uuid4().hex
        events = [payload]
        while self._queue and len(events) < self._cfg.batch_size \
                and self._queue[0][0] == EVENTS_PATH:
            events.append(self._queue.popleft()[1])
        body = events[0] if len(events) == 1 else {"events": events}
        self._in_flight = len(events)
        return EVENTS_PATH, json.dumps(body).encode(), len(events), uuid.uuid4().hex

    def _abandon(self) -> None:
        """close() ran out of time: what is queued or in flight is counted as unsent."""
        self._abandoned = True
        self.stats.unsent += len(self._queue) + self._in_flight
        self._queue.clear()
        if self.stats.unsent:
            log.warning("llm-exporter client closed with %d event(s) unsent (the sidecar "
                        "may have recorded the last batch)", self.stats.unsent)

    def _outcome(self, status: int | None, reply: bytes, n: int, error: str | None) -> bool:
        """Account for one attempt; True if it should be retried."""
        if self._abandoned:
            return False
        final = status is not None and status not in _RETRIED and status < 500
        if final:
            self._in_flight = 0  # answered for good: sent or refused
        if status == 200:
            self.stats.sent += n
            return False
        if final:
            self.stats.dropped += n
            self.stats.last_error = f"HTTP {status}: {reply[:300].decode(errors='replace')}"
            log.error("sidecar refused %d event(s): %s", n, self.stats.last_error)
            return False
        self.stats.last_error = error or f"HTTP {status}"
        return True

    def _give_up(self, n: int) -> None:
        if self._abandoned:
            return
        self._in_flight = 0
        self.stats.dropped += n
        self._warn("sidecar unreachable after %d retries (%s): dropped %d event(s)",
                   self._cfg.retries, self.stats.last_error, n)

    def _warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_log >= 10.0:  # at most one line per 10 s
            self._last_log = now
            log.warning(message, *args)

    def _delay(self, attempt: int) -> float:
        return min(self._cfg.backoff * (2 ** attempt), 10.0)


class SidecarClient(_Base):
    """Thread-based client; ``close()`` (or ``with``) flushes what is queued."""

    def __init__(self, url: str = "http://127.0.0.1:9473", **options: Any) -> None:
        super().__init__(url, **options)
        self._wake = threading.Event()
        self._stop = False
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="llm-exporter-client",
                                        daemon=True)
        self._thread.start()

    def send(self, event: dict[str, Any]) -> None:
        """Queue one event (the same JSON as ``POST /v1/events``)."""
        self._enqueue(EVENTS_PATH, _checked(event))
        if len(self._queue) >= self._cfg.batch_size:
            self._wake.set()

    def record_request(self, **fields: Any) -> None:
        """Same arguments as :meth:`LLMMetrics.record_request`."""
        self.send({"type": "request", **fields})

    def track_request(self, model: str, **fields: Any) -> None:
        """Same keyword arguments as ``POST /api/v1/metrics/track`` (prompt_tokens,
        output_tokens, total_tokens, latency_ms, user_id, team_alias, cache_hit,
        query_type, request_id, status); the sidecar infers the provider."""
        self._enqueue(TRACK_PATH, _track_payload(model, fields))
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued has been sent or given up on."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while not self._drained:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Send what can be sent within ``timeout`` seconds; the rest is counted in
        ``stats.unsent``."""
        deadline = time.monotonic() + timeout
        flushed = self.flush(timeout)
        self._stop = True
        self._wake.set()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if not flushed or self._thread.is_alive():
            self._abandon()

    def __enter__(self) -> SidecarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self._cfg.flush_interval)
            self._wake.clear()
            self._busy = True
            while (item := self._take()) is not None:
                self._deliver(*item)
            self._busy = False

    def _deliver(self, path: str, body: bytes, n: int, key: str) -> None:
        for attempt in range(self._cfg.retries + 1):
            status, reply, error = self._post(path, body, key)
            if not self._outcome(status, reply, n, error):
                return
            if attempt < self._cfg.retries:
                self.stats.retries += 1
                time.sleep(self._delay(attempt))
        self._give_up(n)

    def _post(self, path: str, body: bytes, key: str) -> tuple[int | None, bytes, str | None]:
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._cfg.host, self._cfg.port,
                                                        timeout=self._cfg.timeout)
            self._conn.request("POST", path, body=body, headers=self._cfg.headers(body, key))
            resp = self._conn.getresponse()
            return resp.status, resp.read(), None
        except (OSError, http.client.HTTPException) as exc:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return None, b"", f"{type(exc).__name__}: {exc}"


class AsyncSidecarClient(_Base):
    """asyncio client: events are sent by a task on the running loop."""

    def __init__(self, url: str = "http://127.0.0.1:9473", **options: Any) -> None:
        super().__init__(url, **options)
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def send(self, event: dict[str, Any]) -> None:
        self._enqueue(EVENTS_PATH, _checked(event))
        self._ensure_task()
        if len(self._queue) >= self._cfg.batch_size:
            self._wake.set()  # type: ignore[union-attr]

    def record_request(self, **fields: Any) -> None:
        self.send({"type": "request", **fields})

    def track_request(self, model: str, **fields: Any) -> None:
        self._enqueue(TRACK_PATH, _track_payload(model, fields))
        self._ensure_task()
        self._wake.set()  # type: ignore[union-attr]

    async def flush(self, timeout: float = 10.0) -> bool:
        if self._task is None:
            return True
        deadline = time.monotonic() + timeout
        self._wake.set()  # type: ignore[union-attr]
        while not self._drained:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Send what can be sent within ``timeout`` seconds; the rest is counted in
        ``stats.unsent``."""
        if not await self.flush(timeout):
            self._abandon()
        if self._task is not None:
            self._task.cancel()
        if self._stream is not None:
            self._stream[1].close()
            self._stream = None

    async def __aenter__(self) -> AsyncSidecarClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self._cfg.flush_interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            self._busy = True
            while (item := self._take()) is not None:
                await self._deliver(*item)
            self._busy = False

    async def _deliver(self, path: str, body: bytes, n: int, key: str) -> None:
        for attempt in range(self._cfg.retries + 1):
            status, reply, error = await self._post(path, body, key)
            if not self._outcome(status, reply, n, error):
                return
            if attempt < self._cfg.retries:
                self.stats.retries += 1
                await asyncio.sleep(self._delay(attempt))
        self._give_up(n)

    async def _post(self, path: str, body: bytes, key: str
                    ) -> tuple[int | None, bytes, str | None]:
        head = f"POST {path} HTTP/1.1\r\nHost: {self._cfg.host}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in self._cfg.headers(body, key).items()) + "\r\n"
        try:
            if self._stream is None:
                self._stream = await asyncio.wait_for(
                    asyncio.open_connection(self._cfg.host, self._cfg.port), self._cfg.timeout)
            reader, writer = self._stream
            writer.write(head.encode() + body)
            await writer.drain()
            return await asyncio.wait_for(_read_response(reader), self._cfg.timeout) + (None,)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            if self._stream is not None:
                self._stream[1].close()
            self._stream = None
            return None, b"", f"{type(exc).__name__}: {exc}"


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed by the sidecar")
    status = int(status_line.split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)
