"""The idempotency answers: bounded in count, in time and in bytes."""

from __future__ import annotations

import random
import tracemalloc

import orjson

from exporter.server.replay import Kept, Replays, digest, key_error

from ..conftest import Clock

ROUTE = "/v1/events"


def _batch_answer(i: int, n: int = 1000) -> bytes:
    rng = random.Random(i)  # costs as priced: every one different
    costs = [rng.randrange(1, 50_000) * 1.25e-7 for _ in range(n)]
    return orjson.dumps({"accepted": n, "cost_usd": costs, "total_cost_usd": sum(costs)})


def test_kept_answers_are_bounded_in_count_and_memory() -> None:
    replays = Replays(max_keys=2000, window=600)
    answer = orjson.dumps({"cost_usd": [0.00123] * 40})
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(10_000):
        replays.put((ROUTE, f"key-{i}".encode()), 200,
                    orjson.dumps({"cost_usd": [0.00123] * 40}), digest(b"x"))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert replays.claim((ROUTE, b"key-0")) is None  # the oldest went first
    assert replays.claim((ROUTE, b"key-9999")) == Kept(200, answer, digest(b"x"))
    assert used < 2000 * 1000, used  # well under 1 KB per kept answer
    assert abs(replays.bytes - used) < 0.5 * used  # what it counts is what it holds


def test_kept_answers_are_bounded_in_bytes() -> None:
    """7,222 keys of 1,000-event batches once took 167 MB: the byte budget holds them to
    it, oldest first, whatever the count."""
    budget = 4 << 20
    replays = Replays(max_keys=1_000_000, window=600, max_bytes=budget)
    answers = [_batch_answer(i) for i in range(40)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(1200):
        replays.put((ROUTE, f"batch-{i}".encode()), 200, answers[i % 40], digest(b"%d" % i))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert replays.bytes <= budget
    assert used < budget * 1.25, used
    newest = replays.claim((ROUTE, b"batch-1199"))
    assert isinstance(newest, Kept) and newest.body == answers[1199 % 40]  # exact replay
    assert replays.claim((ROUTE, b"batch-0")) is None


def test_a_claimed_key_is_in_progress_until_answered_or_released() -> None:
    replays = Replays()
    key = (ROUTE, b"k")
    assert replays.claim(key) is None
    assert replays.claim(key) == "in progress"
    assert replays.claim(("/api/v1/metrics/track", b"k")) is None  # another route
    replays.release(key)
    assert replays.claim(key) is None
    replays.put(key, 200, b"{}", digest(b"body"))
    assert replays.claim(key) == Kept(200, b"{}", digest(b"body"))


def test_answers_expire_after_the_window() -> None:
    clock = Clock()
    replays = Replays(max_keys=10, window=600, clock=clock)
    replays.put((ROUTE, b"k"), 200, b"{}", digest(b""))
    clock.advance(599.9)
    assert isinstance(replays.claim((ROUTE, b"k")), Kept)
    clock.advance(0.2)
    assert replays.claim((ROUTE, b"k")) is None
    assert replays.bytes == 0


def test_keys_are_short_visible_ascii() -> None:
    assert key_error(b"3f2a-uuid") is None
    for bad in (b"", b"has space", b"x" * 129, "é".encode()):
        assert key_error(bad) is not None, bad
