"""The recording API: token partition, track(), validation, threads, and a property test
that exposed counters equal the sums of the inputs."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, PriceBook, catalog

from .conftest import value

GPT = {"provider": "openai", "model": "gpt-4o", "tier": "unknown", "team": "unknown"}


def tokens(registry: CollectorRegistry, token_type: str, **labels: str) -> float | None:
    return value(registry, "llm_tokens_total", token_type=token_type, **{**GPT, **labels})


def test_token_types_partition_the_total(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="o3", input_tokens=1000, cache_read_tokens=300,
                       cache_write_tokens=200, output_tokens=800, reasoning_tokens=600)
    got = {t: value(registry, "llm_tokens_total", provider="openai", model="o3",
                    tier="unknown", team="unknown", token_type=t) for t in catalog.TOKEN_TYPES}
    assert got == {"input": 500, "cache_read": 300, "cache_write": 200, "output": 200,
                   "reasoning": 600}
    assert sum(got.values()) == 1000 + 800
    per_type_cost = sum(value(registry, "llm_cost_usd_total", provider="openai", model="o3",
                              tier="unknown", team="unknown", token_type=t) or 0
                        for t in catalog.TOKEN_TYPES)
    assert per_type_cost == pytest.approx(500 * 2e-6 + 300 * 0.5e-6 + 200 * 2e-6 + 800 * 8e-6)


def test_request_histograms_and_cache_hit(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="gpt-4o", tier="q2", team="search",
                       input_tokens=1200, output_tokens=351, duration_seconds=2.4,
                       ttft_seconds=0.4, cache_hit=True)
    llm.record_request(provider="openai", model="gpt-4o", tier="q2", team="ads",
                       input_tokens=10, output_tokens=1, duration_seconds=0.015, cache_hit=False)
    dur = {"provider": "openai", "model": "gpt-4o", "tier": "q2", "status": "success"}
    assert value(registry, "llm_request_duration_seconds_count", **dur) == 2  # teams merged
    assert value(registry, "llm_request_duration_seconds_bucket", le="0.01", **dur) == 0
    assert value(registry, "llm_request_duration_seconds_bucket", le="0.02", **dur) == 1
    assert value(registry, "llm_request_duration_seconds_bucket", le="2.56", **dur) == 2
    assert value(registry, "llm_request_duration_seconds_sum", **dur) == pytest.approx(2.415)
    pmt = {"provider": "openai", "model": "gpt-4o", "tier": "q2"}
    assert value(registry, "llm_time_to_first_token_seconds_count", **pmt) == 1
    assert value(registry, "llm_time_to_first_token_seconds_bucket", le="0.25", **pmt) == 0
    assert value(registry, "llm_time_to_first_token_seconds_bucket", le="0.5", **pmt) == 1
    # (2.4 - 0.4) / 350 tokens after the first
    assert value(registry, "llm_time_per_output_token_seconds_sum", **pmt) == \
        pytest.approx(2.0 / 350)
    rt = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llm_request_tokens_bucket", token_type="input", le="1024.0",
                 **rt) == 1  # 10 tokens
    assert value(registry, "llm_request_tokens_bucket", token_type="input", le="4096.0",
                 **rt) == 2
    assert value(registry, "llm_request_tokens_sum", token_type="output", **rt) == 352
    assert value(registry, "llm_cache_lookups_total", cache="response", result="hit",
                 team="search") == 1
    assert value(registry, "llm_cache_lookups_total", cache="response", result="miss",
                 team="ads") == 1


def test_token_bucket_edges_are_inclusive(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    for n in (0, 1, 4, 5, 4**13, 4**13 + 1, 4**15):
        llm.record_request(provider="openai", model="gpt-4o", input_tokens=n)
    rt = {"provider": "openai", "model": "gpt-4o", "token_type": "input"}
    assert value(registry, "llm_request_tokens_bucket", le="1.0", **rt) == 2
    assert value(registry, "llm_request_tokens_bucket", le="4.0", **rt) == 3
    assert value(registry, "llm_request_tokens_bucket", le="16.0", **rt) == 4
    assert value(registry, "llm_request_tokens_bucket", le="6.7108864e+07", **rt) == 5
    assert value(registry, "llm_request_tokens_bucket", le="+Inf", **rt) == 7
    assert value(registry, "llm_request_tokens_sum", **rt) == 10 + 2 * 4**13 + 1 + 4**15


@pytest.mark.parametrize("kwargs,message", [
    ({"input_tokens": -1}, "input_tokens must be an integer in 0"),
    ({"input_tokens": True}, "input_tokens must be an integer in 0.*, got True"),
    ({"output_tokens": 5, "reasoning_tokens": False}, "reasoning_tokens must be an integer"),
    ({"duration_seconds": True}, "duration_seconds must be a finite number"),
    ({"ttft_seconds": False}, "ttft_seconds must be a finite number"),
    ({"cache_hit": "no"}, "cache_hit must be true or false, got 'no'"),
    ({"cache_hit": 1}, "cache_hit must be true or false"),
    ({"input_tokens": 1.5}, "input_tokens must be an integer"),
    ({"input_tokens": "12"}, "input_tokens must be an integer"),
    ({"input_tokens": 10, "cache_read_tokens": 11}, "must not exceed input_tokens"),
    ({"output_tokens": 1, "reasoning_tokens": 2}, "reasoning_tokens must not exceed"),
    ({"duration_seconds": -0.1}, "duration_seconds must be a finite number"),
    ({"duration_seconds": float("nan")}, "duration_seconds"),
    ({"duration_seconds": "fast"}, "duration_seconds"),
    ({"ttft_seconds": float("inf")}, "ttft_seconds"),
    ({"status": "ok"}, "status must be one of success, error"),
    ({"status": "error", "error_type": "oops"}, "error_type must be one of"),
    ({"error_type": "timeout"}, "only valid with status \"error\""),
])
def test_programmer_errors_raise_valueerror_and_record_nothing(
        registry: CollectorRegistry, llm: LLMMetrics, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        llm.record_request(provider="openai", model="gpt-4o", **kwargs)
    for status in catalog.STATUSES:
        assert not value(registry, "llm_requests_total", status=status, **GPT)


def test_errors_are_counted_by_type(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="gpt-4o", status="error",
                       error_type="rate_limit")
    llm.record_request(provider="openai", model="gpt-4o", status="error")
    pm = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llm_request_errors_total", error_type="rate_limit", **pm) == 1
    assert value(registry, "llm_request_errors_total", error_type="other", **pm) == 1
    assert value(registry, "llm_requests_total", status="error", **GPT) == 2


def test_track_success_streaming(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    pm = {"provider": "anthropic", "model": "claude-sonnet-4-5"}
    with llm.track(team="search", **pm) as call:
        assert value(registry, "llm_requests_in_flight", **pm) == 1
        time.sleep(0.02)
        call.first_token()
        call.first_token()  # ignored: the first one counts
        time.sleep(0.02)
        call.usage(input_tokens=900, output_tokens=120)
    assert value(registry, "llm_requests_in_flight", **pm) == 0
    assert call.cost == pytest.approx(900 * 3e-6 + 120 * 15e-6)
    labels = {**pm, "tier": "unknown"}
    assert value(registry, "llm_requests_total", team="search", status="success", **labels) == 1
    ttft = value(registry, "llm_time_to_first_token_seconds_sum", **labels)
    dur = value(registry, "llm_request_duration_seconds_sum", status="success", **labels)
    assert 0.02 <= ttft < dur and dur >= 0.04
    assert value(registry, "llm_tokens_total", team="search", token_type="output",
                 **labels) == 120


class RateLimitError(Exception):
    status_code = 429


def test_track_error_is_reraised_untouched(registry: CollectorRegistry,
                                           llm: LLMMetrics) -> None:
    original = RateLimitError("slow down")
    with pytest.raises(RateLimitError) as caught, llm.track(provider="openai", model="gpt-4o"):
        time.sleep(0.01)
        raise original
    assert caught.value is original
    assert value(registry, "llm_request_errors_total", provider="openai", model="gpt-4o",
                 error_type="rate_limit") == 1
    assert value(registry, "llm_requests_total", status="error", **GPT) == 1
    assert value(registry, "llm_request_duration_seconds_sum", provider="openai",
                 model="gpt-4o", tier="unknown", status="error") >= 0.01
    assert value(registry, "llm_requests_in_flight", provider="openai", model="gpt-4o") == 0


def test_track_async_and_fail(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    async def call_model() -> None:
        async with llm.track(provider="openai", model="gpt-4o") as call:
            await asyncio.sleep(0.01)
            call.fail("content_filter")

    asyncio.run(call_model())
    assert value(registry, "llm_request_errors_total", provider="openai", model="gpt-4o",
                 error_type="content_filter") == 1
    assert value(registry, "llm_requests_in_flight", provider="openai", model="gpt-4o") == 0


def test_track_never_masks_the_callers_exception(llm: LLMMetrics) -> None:
    with pytest.raises(KeyError), llm.track(provider="openai", model="gpt-4o") as call:
        call._usage = {"input_tokens": -5}  # corrupt state: recording will fail
        raise KeyError("app bug")


def test_other_recording_methods(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    llm.record_cache_lookup(cache="semantic", hit=True, duration_seconds=0.002, similarity=0.93)
    llm.record_cache_lookup(cache="semantic", hit=False, duration_seconds=0.004)
    assert value(registry, "llm_cache_lookups_total", cache="semantic", result="hit",
                 team="unknown") == 1
    assert value(registry, "llm_cache_lookup_duration_seconds_count", cache="semantic") == 2
    assert value(registry, "llm_cache_similarity_bucket", cache="semantic", le="0.925") == 0
    assert value(registry, "llm_cache_similarity_bucket", cache="semantic", le="0.95") == 1
    llm.record_routing(complexity="simple", tier="q2", score=1.8, duration_seconds=0.012)
    llm.record_routing(complexity="simple", tier="q3", fallback=True)
    assert value(registry, "llm_routing_decisions_total", complexity="simple", tier="q2",
                 fallback="false") == 1
    assert value(registry, "llm_routing_decisions_total", complexity="simple", tier="q3",
                 fallback="true") == 1
    assert value(registry, "llm_routing_complexity_score_sum", complexity="simple",
                 tier="q2") == 1.8
    llm.set_tier_models(tier="q2", available=2, total=3)
    llm.set_tier_models(tier="q2", available=1, total=3)
    assert value(registry, "llm_tier_models_available", tier="q2") == 1
    assert value(registry, "llm_tier_models", tier="q2") == 3
    llm.set_provider_state(provider="ollama", up=True, circuit="closed")
    llm.set_provider_state(provider="ollama", up=False, circuit="open")
    assert value(registry, "llm_provider_up", provider="ollama") == 0
    states = {s: value(registry, "llm_provider_circuit_state", provider="ollama", state=s)
              for s in catalog.CIRCUIT_STATES}
    assert states == {"closed": 0, "half_open": 0, "open": 1}
    # a provider with only a health state shows no circuit series until one is set
    llm.set_provider_state(provider="openai", up=True)
    assert value(registry, "llm_provider_circuit_state", provider="openai", state="open") is None
    llm.set_cache_size(cache="semantic", size_bytes=5e6)
    llm.set_vector_index_size(index="docs", size_bytes=1.5e9)
    llm.set_worker_pool(pool="embed", active=3, queued=9)
    assert value(registry, "llm_cache_size_bytes", cache="semantic") == 5e6
    assert value(registry, "llm_vector_index_size_bytes", index="docs") == 1.5e9
    assert value(registry, "llm_worker_pool_queued", pool="embed") == 9
    llm.record_events(accepted=3, rejected=1)
    assert value(registry, "llm_exporter_events_total", result="accepted") == 3


@pytest.mark.parametrize("call,message", [
    (lambda m: m.record_cache_lookup(cache="c", hit=True, similarity=1.5), "similarity"),
    (lambda m: m.record_cache_lookup(cache="c", hit="yes"), "hit must be true or false"),
    (lambda m: m.record_routing(complexity="a", tier="b", score=float("nan")), "score"),
    (lambda m: m.set_tier_models(tier="q1", available=4, total=3), "must not exceed"),
    (lambda m: m.set_provider_state(provider="p", circuit="ajar"), "circuit must be one of"),
    (lambda m: m.set_cache_size(cache="c", size_bytes=-1), "size_bytes"),
    (lambda m: m.record_batch(provider="p", model="m", size=-2), "size"),
])
def test_other_methods_validate(llm: LLMMetrics, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(llm)


def test_four_threads_lose_nothing(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry)
    n = 5000
    barrier = threading.Barrier(4)

    def work(team: str) -> None:
        barrier.wait()
        for i in range(n):
            llm.record_request(provider="openai", model="gpt-4o", team="shared",
                               input_tokens=i % 7 + 1, output_tokens=3, duration_seconds=0.5,
                               cache_hit=bool(i % 2))
            llm.record_cache_lookup(cache="semantic", hit=True)

    threads = [threading.Thread(target=work, args=(str(t),)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    shared = {**GPT, "team": "shared"}
    assert value(registry, "llm_requests_total", status="success", **shared) == 4 * n
    assert tokens(registry, "input", team="shared") == 4 * sum(i % 7 + 1 for i in range(n))
    assert value(registry, "llm_request_duration_seconds_count", provider="openai",
                 model="gpt-4o", tier="unknown", status="success") == 4 * n
    assert value(registry, "llm_cache_lookups_total", cache="response", result="hit",
                 team="shared") == 2 * n
    assert value(registry, "llm_cache_lookups_total", cache="semantic", result="hit",
                 team="unknown") == 4 * n
    assert value(registry, "llm_cost_usd_total", token_type="input", **shared) == \
        pytest.approx(4 * sum(i % 7 + 1 for i in range(n)) * 2.5e-6, rel=1e-9)


request_strategy = st.fixed_dictionaries({
    "provider": st.sampled_from(["openai", "anthropic", "acme"]),
    "model": st.sampled_from(["gpt-4o", "claude-sonnet-4-5", "unknown-1"]),
    "team": st.sampled_from([None, "a", "b"]),
    "tier": st.sampled_from([None, "q1"]),
    "status": st.sampled_from(["success", "error"]),
    "input": st.integers(0, 300_000),
    "cached": st.floats(0, 1),
    "output": st.integers(0, 50_000),
    "reasoning": st.floats(0, 1),
    "duration": st.one_of(st.none(), st.floats(0, 400)),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(request_strategy, max_size=40))
def test_counters_equal_sums_of_inputs(calls: list[dict]) -> None:
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, prices=PriceBook())
    expected_tokens: dict[tuple, int] = {}
    expected_cost: dict[tuple, float] = {}
    expected_requests: dict[tuple, int] = {}
    durations: dict[tuple, list[float]] = {}
    for c in calls:
        cache_read = int(c["input"] * c["cached"])
        reasoning = int(c["output"] * c["reasoning"])
        usd = llm.record_request(provider=c["provider"], model=c["model"], team=c["team"],
                                 tier=c["tier"], status=c["status"], input_tokens=c["input"],
                                 cache_read_tokens=cache_read, output_tokens=c["output"],
                                 reasoning_tokens=reasoning, duration_seconds=c["duration"])
        r = (c["provider"], c["model"], c["tier"] or "unknown", c["team"] or "unknown")
        for token_type, n in (("input", c["input"] - cache_read), ("cache_read", cache_read),
                              ("output", c["output"] - reasoning), ("reasoning", reasoning)):
            expected_tokens[r + (token_type,)] = expected_tokens.get(r + (token_type,), 0) + n
        expected_cost[r] = expected_cost.get(r, 0.0) + usd
        key = r + (c["status"],)
        expected_requests[key] = expected_requests.get(key, 0) + 1
        if c["duration"] is not None:
            durations.setdefault((r[0], r[1], r[2], c["status"]), []).append(c["duration"])
    names = ("provider", "model", "tier", "team")
    for key, n in expected_tokens.items():
        labels = dict(zip(names + ("token_type",), key))
        assert registry.get_sample_value("llm_tokens_total", labels) == n
    for key, usd in expected_cost.items():
        got = sum(registry.get_sample_value("llm_cost_usd_total", {
            **dict(zip(names, key)), "token_type": t}) for t in catalog.TOKEN_TYPES)
        assert got == pytest.approx(usd, rel=1e-9, abs=1e-12)
    for key, n in expected_requests.items():
        labels = dict(zip(names + ("status",), key))
        assert registry.get_sample_value("llm_requests_total", labels) == n
    for key, ds in durations.items():
        labels = dict(zip(("provider", "model", "tier", "status"), key))
        assert registry.get_sample_value("llm_request_duration_seconds_count", labels) == len(ds)
        assert registry.get_sample_value("llm_request_duration_seconds_sum", labels) == \
            pytest.approx(sum(ds))
        for bound in catalog.DURATION_BUCKETS:
            assert registry.get_sample_value("llm_request_duration_seconds_bucket", {
                **labels, "le": repr(bound)}) == sum(1 for d in ds if d <= bound)
