"""Answers to recent ingest requests, by route and the client's ``Idempotency-Key``.

A client that times out cannot know whether the sidecar applied its batch; it retries
with the same key, and the sidecar answers a key it has applied with the first answer
instead of applying the batch again. Exactly once means:

- a key is scoped by route: the same key on ``/track`` and ``/v1/events`` is two keys;
- the body's digest is kept with the answer: the same key with another body is a 422
  naming the key (a client bug: its retry is not a retry), never a silent replay;
- a key is claimed before its body is read: a second request with the key while the
  first is in flight gets a 409 "in progress" (with Retry-After), never a second apply;
- an answer is kept compressed when that is smaller (a batch's per-event costs compress
  well); keys are kept for ``window`` seconds, at most ``max_keys`` of them and
  ``max_bytes`` in all (the oldest go first), so memory is bounded; a retry later than
  that is applied again, which docs/sidecar.md documents.
"""

from __future__ import annotations

import hashlib
import sys
import time
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

MAX_KEY_LENGTH = 128
#: What an entry costs besides its key and answer (the tuple, the digest, the dict slot).
_OVERHEAD = 200
_COMPRESS_FROM = 256

Key = tuple[str, bytes]
"""(route, Idempotency-Key)."""


def key_error(key: bytes) -> str | None:
    """None for a usable key, else why not (a 400)."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() \
            or any(c < 0x21 or c > 0x7E for c in key):
        return f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} visible ASCII characters"
    return None


def digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


@dataclass(frozen=True)
class Kept:
    status: int
    body: bytes
    digest: bytes


class Replays:
    def __init__(self, max_keys: int = 10_000, window: float = 600.0,
                 max_bytes: int = 16 << 20,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self.window = window
        self.max_bytes = max_bytes
        self.bytes = 0
        # key -> (kept at, compressed?, status, stored body, digest, its cost in bytes)
        self._answers: OrderedDict[Key, tuple[float, bool, int, bytes, bytes, int]] = \
            OrderedDict()
        self._running: set[Key] = set()

    def claim(self, key: Key) -> Kept | str | None:
        """None: the key is this request's to apply (``put`` or ``release`` it). A Kept
        answer: it was applied (compare the digest before replaying). "in progress":
        another request with the key is being applied."""
        self._expire()
        found = self._answers.get(key)
        if found is not None:
            _, packed, status, stored, body_digest, _ = found
            return Kept(status, zlib.decompress(stored) if packed else stored, body_digest)
        if key in self._running:
            return "in progress"
        if self.max_keys > 0:
            self._running.add(key)
        return None

    async def keyed(self, scope: dict[str, Any], receive: Any, send: Any,
                    handler: Callable[..., Awaitable[None]]) -> None:
        """An ingest ``handler``, then the key it claimed (``scope["llm_exporter.key"]``)
        released unless answered: a refused request may be retried and applied."""
        try:
            await handler(scope, receive, send)
        finally:
            key = scope.get("llm_exporter.key")
            if key is not None:
                self.release(key)

    def release(self, key: Key) -> None:
        """The claimed request was refused (a 4xx): a retry may apply it."""
        self._running.discard(key)

    def put(self, key: Key, status: int, body: bytes, body_digest: bytes) -> None:
        self._running.discard(key)
        if self.max_keys <= 0:
            return
        packed = len(body) >= _COMPRESS_FROM
        if packed:
            stored = zlib.compress(body, 1)
            packed = len(stored) < len(body)
        if not packed:
            # A copy of exactly its length: orjson's output keeps its whole working
            # buffer (8 KB for a 1 KB answer), which 10,000 kept answers would multiply.
            stored = bytes(memoryview(body))
        cost = len(key[1]) + sys.getsizeof(stored) + _OVERHEAD
        old = self._answers.pop(key, None)
        if old is not None:
            self.bytes -= old[5]
        self._answers[key] = (self.clock(), packed, status, stored, body_digest, cost)
        self.bytes += cost
        while self._answers and (len(self._answers) > self.max_keys
                                 or self.bytes > self.max_bytes):
            self.bytes -= self._answers.popitem(last=False)[1][5]

    def _expire(self) -> None:
        cutoff = self.clock() - self.window
        answers = self._answers
        while answers:
            oldest = next(iter(answers.values()))
            if oldest[0] >= cutoff:
                return
            self.bytes -= answers.popitem(last=False)[1][5]
