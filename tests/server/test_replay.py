"""The idempotency answers: bounded in count, in time and in memory."""

from __future__ import annotations

import time
import tracemalloc

import orjson

from exporter.server.replay import Replays, key_error


def test_kept_answers_are_bounded_in_count_and_memory() -> None:
    replays = Replays(max_keys=2000, window=600)
    answer = orjson.dumps({"cost_usd": [0.00123] * 40})
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(10_000):
        replays.put(f"key-{i}".encode(), 200, orjson.dumps({"cost_usd": [0.00123] * 40}))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert replays.get(b"key-0") is None  # the oldest went first
    assert replays.get(b"key-9999") == (200, answer)
    assert used < 2000 * 1500, used  # about 0.7 KB per kept answer, not orjson's 8 KB buffer


def test_answers_expire_after_the_window() -> None:
    replays = Replays(max_keys=10, window=0.2)
    replays.put(b"k", 200, b"{}")
    assert replays.get(b"k") == (200, b"{}")
    time.sleep(0.3)
    assert replays.get(b"k") is None


def test_keys_are_short_visible_ascii() -> None:
    assert key_error(b"3f2a-uuid") is None
    for bad in (b"", b"has space", b"x" * 129, "é".encode()):
        assert key_error(bad) is not None, bad
