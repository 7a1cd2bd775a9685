"""Answers to recent ingest requests, by the client's ``Idempotency-Key``.

A client that times out cannot know whether the sidecar applied its batch; it retries
with the same key, and the sidecar answers a key it has applied with the first answer
instead of applying the batch again. Keys are kept for ``window`` seconds and at most
``max_keys`` of them (the oldest go first), so memory is bounded; a retry later than
that is applied again, which the README documents.
"""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_KEY_LENGTH = 128


def key_error(key: bytes) -> str | None:
    """None for a usable key, else why not (a 400)."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() \
            or any(c < 0x21 or c > 0x7E for c in key):
        return f"Idempotency-Key must be 1..{MAX_KEY_LENGTH} visible ASCII characters"
    return None


class Replays:
    def __init__(self, max_keys: int = 10_000, window: float = 600.0) -> None:
        self.max_keys = max_keys
        self.window = window
        self._answers: OrderedDict[bytes, tuple[float, int, bytes]] = OrderedDict()

    def get(self, key: bytes) -> tuple[int, bytes] | None:
        """The first answer (status, body) to ``key``, if still kept."""
        self._expire()
        found = self._answers.get(key)
        return None if found is None else (found[1], found[2])

    def put(self, key: bytes, status: int, body: bytes) -> None:
        # A copy of exactly its length: orjson's output keeps its whole working buffer
        # (8 KB for a 1 KB answer), which 10,000 kept answers would multiply.
        self._answers[key] = (time.monotonic(), status, bytes(memoryview(body)))
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_keys:
            self._answers.popitem(last=False)

    def _expire(self) -> None:
        cutoff = time.monotonic() - self.window
        answers = self._answers
        while answers:
            oldest = next(iter(answers.values()))
            if oldest[0] >= cutoff:
                return
            answers.popitem(last=False)
