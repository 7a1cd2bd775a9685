"""The sidecar's own answers without a Prometheus: the delta-encoded history, windows
and trends from it, rates over the real span, and histogram quantiles computed the way
Prometheus computes them."""

from __future__ import annotations

import pytest

from exporter.read.history import History
from exporter.read.queries import quantile
from exporter.read.sources import LocalSource, Window

REQ = ("llm_requests_total", (("model", "a"), ("status", "success")))
ERR = ("llm_requests_total", (("model", "a"), ("status", "error")))
OTHER = ("llm_requests_total", (("model", "b"), ("status", "success")))


def test_history_keeps_only_changes_and_folds_the_oldest_into_its_base() -> None:
    h = History(interval=60, points=3)
    h.record(100.0, {REQ: 0.0, OTHER: 0.0})
    h.record(160.0, {REQ: 5.0, OTHER: 0.0})
    h.record(220.0, {REQ: 5.0, OTHER: 2.0})
    assert [len(changes) for _, changes, _ in h._points] == [2, 1, 1]
    h.record(280.0, {REQ: 9.0, OTHER: 2.0})  # the 100 s point folds into the base
    assert h.start == 100.0
    at = h.states_at([99.0, 100.0, 190.0, 300.0])
    assert at[0] is None
    assert at[1] == {REQ: 0.0, OTHER: 0.0}
    assert at[2] == {REQ: 5.0, OTHER: 0.0}
    assert at[3] == {REQ: 9.0, OTHER: 2.0}


def test_windows_and_steps_subtract_the_state_at_their_start(monkeypatch) -> None:
    now = {"state": {REQ: 0.0, ERR: 0.0, OTHER: 0.0}}
    h = History(interval=60, points=100)
    src = LocalSource(lambda: dict(now["state"]), h, started=0.0)
    h.record(3600.0, {REQ: 0.0, ERR: 0.0, OTHER: 0.0})
    h.record(7200.0, {REQ: 10.0, ERR: 1.0, OTHER: 4.0})
    now["state"] = {REQ: 15.0, ERR: 1.0, OTHER: 6.0}
    monkeypatch.setattr("exporter.read.sources.time.time", lambda: 9000.0)
    # the last 30 minutes: what changed since the 7200 s point
    last = src.increase("llm_requests_total", ("model",), Window(7200.0, 9000.0), {})
    assert last == {("a",): 5.0, ("b",): 2.0}
    assert src.increase("llm_requests_total", ("status",), Window(0.0, 9000.0),
                        {"model": "a"}) == {("success",): 15.0, ("error",): 1.0}
    steps = src.steps("llm_requests_total", (), Window(3600.0, 9000.0), 3600, {})
    assert steps == [(3600.0, {(): 15.0}), (7200.0, {(): 7.0})]
    # a window ending in the past ends at the history's point, not now
    assert src.increase("llm_requests_total", (), Window(3600.0, 7300.0), {}) == {(): 15.0}
    # per second over the span really covered (9000 - 7200), not the span asked for
    assert src.rate("llm_requests_total", (), 60, {}) == {(): pytest.approx(7.0 / 1800)}


def test_quantile_interpolates_like_histogram_quantile() -> None:
    buckets = [(0.1, 2.0), (0.5, 6.0), (1.0, 10.0), (float("inf"), 10.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.1 + 0.4 * (5 - 2) / 4)
    assert quantile(0.2, buckets) == pytest.approx(0.1)
    assert quantile(0.99, [(1.0, 1.0), (float("inf"), 2.0)]) == 1.0  # in +Inf: the last bound
    assert quantile(0.5, []) is None and quantile(0.5, [(1.0, 0.0)]) is None


def test_gauges_from_several_replicas_take_sum_max_or_min() -> None:
    tiers = {("llm_tier_models", (("instance", "a"), ("tier", "local"))): 3.0,
             ("llm_tier_models", (("instance", "b"), ("tier", "local"))): 3.0,
             ("llm_provider_up", (("instance", "a"), ("provider", "openai"))): 1.0,
             ("llm_provider_up", (("instance", "b"), ("provider", "openai"))): 0.0}
    src = LocalSource(lambda: tiers)
    assert src.current("llm_tier_models", ("tier",), {}) == {("local",): 6.0}
    assert src.current("llm_tier_models", ("tier",), {}, "max") == {("local",): 3.0}
    assert src.current("llm_provider_up", ("provider",), {}, "min") == {("openai",): 0.0}


def test_a_window_ending_just_past_a_boundary_keeps_its_newest_bucket() -> None:
    """A window ending 0.3 s into a bucket has that bucket: its counts are not dropped."""
    from exporter.read.sources import bucket_starts

    assert bucket_starts(Window(830.0, 1000.3), 10)[-1] == 1000.0
    assert len(bucket_starts(Window(830.0, 1000.3), 10)) == 18
    assert bucket_starts(Window(830.0, 1000.0), 10)[-1] == 990.0  # an empty one is not
