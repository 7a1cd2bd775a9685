"""Prompt-cache savings and write premiums, against hand-computed catalog prices, through
every recording path: the library, the sidecar, multiprocess files and OpenTelemetry."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, OTelMetrics, PriceBook, PriceOverride, from_anthropic, multiprocess

from .conftest import value

R = {"tier": "unknown", "team": "unknown"}


def saved(registry: CollectorRegistry, provider: str, model: str, **labels: str) -> float | None:
    return value(registry, "llm_prompt_cache_savings_usd_total", provider=provider,
                 model=model, **{**R, **labels})


def premium(registry: CollectorRegistry, provider: str, model: str,
            **labels: str) -> float | None:
    return value(registry, "llm_prompt_cache_write_premium_usd_total", provider=provider,
                 model=model, **{**R, **labels})


def test_openai_cached_input_saves_the_discount_and_has_no_write_premium(
        registry: CollectorRegistry, llm: LLMMetrics) -> None:
    # gpt-4o: $2.50 input, $1.25 cached input per million tokens; no cache-write price
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=5000,
                       cache_read_tokens=4000, output_tokens=100)
    assert saved(registry, "openai", "gpt-4o") == pytest.approx(4000 * (2.5 - 1.25) * 1e-6)
    assert premium(registry, "openai", "gpt-4o") == 0


def test_anthropic_reads_at_a_tenth_and_5m_and_1h_write_premiums(
        registry: CollectorRegistry, llm: LLMMetrics) -> None:
    # claude-sonnet-4-5: $3 input, $0.30 cache read (0.1x), $3.75 5-minute write (1.25x),
    # $6 1-hour write (2x) per million tokens
    usd = llm.record_request(provider="anthropic", model="claude-sonnet-4-5",
                             input_tokens=10_000, cache_read_tokens=3000,
                             cache_write_tokens=3000, cache_write_1h_tokens=1000,
                             output_tokens=200, team="search")
    assert usd == pytest.approx((4000 * 3 + 3000 * 0.3 + 2000 * 3.75 + 1000 * 6
                                 + 200 * 15) * 1e-6)
    assert saved(registry, "anthropic", "claude-sonnet-4-5", team="search") == \
        pytest.approx(3000 * (3 - 0.3) * 1e-6)
    assert premium(registry, "anthropic", "claude-sonnet-4-5", team="search") == \
        pytest.approx((2000 * (3.75 - 3) + 1000 * (6 - 3)) * 1e-6)
    # past 200k input tokens the long-context prices apply: $6 input, $0.60 read, $7.50
    # 5-minute write, $12 1-hour write
    llm.record_request(provider="anthropic", model="claude-sonnet-4-5",
                       input_tokens=250_000, cache_read_tokens=100_000,
                       cache_write_tokens=20_000, cache_write_1h_tokens=20_000, team="long")
    assert saved(registry, "anthropic", "claude-sonnet-4-5", team="long") == \
        pytest.approx(100_000 * (6 - 0.6) * 1e-6)
    assert premium(registry, "anthropic", "claude-sonnet-4-5", team="long") == \
        pytest.approx(20_000 * (12 - 6) * 1e-6)


def test_gemini_cached_input(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    # gemini-2.5-flash: $0.30 input, $0.03 cached
    llm.record_request(provider="google", model="gemini-2.5-flash", input_tokens=10_000,
                       cache_read_tokens=8000, output_tokens=10)
    assert saved(registry, "google", "gemini-2.5-flash") == \
        pytest.approx(8000 * (0.3 - 0.03) * 1e-6)


def test_no_cache_prices_no_savings_and_no_error(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry, prices=PriceBook(
        [PriceOverride(provider="acme", model="m1", input_per_mtok=1.0, output_per_mtok=2.0)],
        use_catalog=False))
    # cached tokens of a model with no cache price cost the input price: nothing saved
    assert llm.record_request(provider="acme", model="m1", input_tokens=1000,
                              cache_read_tokens=600, cache_write_tokens=400) == \
        pytest.approx(1000e-6)
    assert saved(registry, "acme", "m1") == 0 and premium(registry, "acme", "m1") == 0
    # and an unpriced model's cache tokens are counted, never priced
    llm.record_request(provider="nobody", model="knows", input_tokens=100,
                       cache_read_tokens=100)
    assert saved(registry, "nobody", "knows") == 0
    assert value(registry, "llm_tokens_total", provider="nobody", model="knows",
                 token_type="cache_read", **R) == 100


def test_1h_writes_must_be_part_of_the_writes(llm: LLMMetrics) -> None:
    with pytest.raises(ValueError, match="cache_write_1h_tokens"):
        llm.record_request(provider="anthropic", model="claude-sonnet-4-5", input_tokens=10,
                           cache_write_tokens=2, cache_write_1h_tokens=3)
    with pytest.raises(ValueError, match="cache_write_1h_tokens"):
        llm.record_request(provider="anthropic", model="claude-sonnet-4-5", input_tokens=10,
                           cache_write_tokens=2, cache_write_1h_tokens=True)


def test_anthropic_usage_carries_the_1h_split() -> None:
    usage = {"input_tokens": 50, "cache_read_input_tokens": 100,
             "cache_creation_input_tokens": 300, "output_tokens": 7,
             "cache_creation": {"ephemeral_5m_input_tokens": 200,
                                "ephemeral_1h_input_tokens": 100}}
    assert from_anthropic(usage) == {"input_tokens": 450, "output_tokens": 7,
                                     "cache_read_tokens": 100, "cache_write_tokens": 300,
                                     "cache_write_1h_tokens": 100}


def test_batches_count_cache_savings_at_batch_prices(registry: CollectorRegistry,
                                                     llm: LLMMetrics) -> None:
    # claude-sonnet-4-5 batch: half price, $1.50 input and $0.15 cache read
    llm.record_batch(provider="anthropic", model="claude-sonnet-4-5", size=10,
                     input_tokens=20_000, cache_read_tokens=10_000, team="etl")
    assert saved(registry, "anthropic", "claude-sonnet-4-5", team="etl") == \
        pytest.approx(10_000 * (1.5 - 0.15) * 1e-6)


def test_the_sidecar_counts_the_same(sidecar_factory) -> None:
    from .server.test_app import settings

    sc = sidecar_factory(settings())
    event = {"type": "request", "provider": "anthropic", "model": "claude-sonnet-4-5",
             "input_tokens": 10_000, "cache_read_tokens": 3000, "cache_write_tokens": 3000,
             "cache_write_1h_tokens": 1000}
    assert sc.post("/v1/events", event)[0] == 200
    lines = {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1])
             for ln in sc.metrics().splitlines() if ln.startswith("llm_prompt_cache")}
    labels = '{provider="anthropic",model="claude-sonnet-4-5",tier="unknown",team="unknown"}'
    assert lines["llm_prompt_cache_savings_usd_total" + labels] == pytest.approx(3000 * 2.7e-6)
    assert lines["llm_prompt_cache_write_premium_usd_total" + labels] == \
        pytest.approx((2000 * 0.75 + 1000 * 3) * 1e-6)
    status, body = sc.post("/v1/events", {**event, "cache_write_1h_tokens": 3001})
    assert status == 422 and "cache_write_1h_tokens" in str(body)


def test_multiprocess_workers_add_up(tmp_path) -> None:
    directory = multiprocess.prepare(tmp_path / "mp")
    a = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    b = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    for llm in (a, b):
        llm.record_request(provider="openai", model="gpt-4o", input_tokens=2000,
                           cache_read_tokens=2000)
    text = a.exposition().decode()
    line = next(ln for ln in text.splitlines()
                if ln.startswith("llm_prompt_cache_savings_usd_total{") and "gpt-4o" in ln)
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(2 * 2000 * 1.25e-6)


def test_the_otel_path_counts_the_same() -> None:
    reader = InMemoryMetricReader()
    otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook())
    otel.record_request(provider="anthropic", model="claude-sonnet-4-5", input_tokens=10_000,
                        cache_read_tokens=3000, cache_write_tokens=3000,
                        cache_write_1h_tokens=1000)
    got = {m.name: sum(getattr(p, "value", 0) for p in m.data.data_points)
           for rm in reader.get_metrics_data().resource_metrics
           for sm in rm.scope_metrics for m in sm.metrics}
    assert got["llm.client.prompt_cache.savings"] == pytest.approx(3000 * 2.7e-6)
    assert got["llm.client.prompt_cache.write_premium"] == \
        pytest.approx((2000 * 0.75 + 1000 * 3) * 1e-6)
