"""Cost: hand-computed prices, agreement with genai-prices' calc_price, overrides."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta, timezone

import pytest
from genai_prices import Usage, calc_price
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, PriceBook, PriceOverride, Rates, Settings

from .conftest import Clock, value

R = {"tier": "unknown", "team": "unknown"}


def cost(registry: CollectorRegistry, provider: str, model: str, token_type: str,
         **labels: str) -> float | None:
    return value(registry, "llm_cost_usd_total", provider=provider, model=model,
                 token_type=token_type, **{**R, **labels})


def test_gpt4o_with_cache_reads(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    # $2.50 input, $1.25 cached input, $10 output per million tokens
    usd = llm.record_request(provider="openai", model="gpt-4o", input_tokens=1200,
                             cache_read_tokens=1000, output_tokens=350)
    assert usd == pytest.approx(200 * 2.5e-6 + 1000 * 1.25e-6 + 350 * 10e-6, rel=1e-12)
    assert cost(registry, "openai", "gpt-4o", "input") == pytest.approx(200 * 2.5e-6)
    assert cost(registry, "openai", "gpt-4o", "cache_read") == pytest.approx(1000 * 1.25e-6)
    assert cost(registry, "openai", "gpt-4o", "output") == pytest.approx(350 * 10e-6)
    assert cost(registry, "openai", "gpt-4o", "cache_write") == 0


def test_claude_with_cache_writes_and_long_context(registry: CollectorRegistry,
                                                   llm: LLMMetrics) -> None:
    # claude-sonnet-4-5: $3 in, $3.75 cache write, $0.30 cache read, $15 out; past 200k
    # input tokens every token costs the long-context price: $6, $7.50, $0.60, $22.50.
    usd = llm.record_request(provider="anthropic", model="claude-sonnet-4-5",
                             input_tokens=3500, cache_write_tokens=2000, cache_read_tokens=500,
                             output_tokens=400)
    assert usd == pytest.approx(1000 * 3e-6 + 2000 * 3.75e-6 + 500 * 0.3e-6 + 400 * 15e-6)
    assert cost(registry, "anthropic", "claude-sonnet-4-5", "cache_write") == \
        pytest.approx(2000 * 3.75e-6)
    long = llm.record_request(provider="anthropic", model="claude-sonnet-4-5",
                              input_tokens=250_000, cache_write_tokens=50_000,
                              output_tokens=1000, team="long")
    assert long == pytest.approx(200_000 * 6e-6 + 50_000 * 7.5e-6 + 1000 * 22.5e-6)


def test_gemini_model_name_spellings_are_one_model(registry: CollectorRegistry,
                                                    llm: LLMMetrics) -> None:
    # gemini-2.5-flash: $0.30 in, $0.03 cached, $2.50 out
    a = llm.record_request(provider="google", model="models/gemini-2.5-flash",
                           input_tokens=10_000, cache_read_tokens=4000, output_tokens=500)
    b = llm.record_request(provider="gemini", model="gemini-2.5-flash",
                           input_tokens=10_000, cache_read_tokens=4000, output_tokens=500)
    assert a == b == pytest.approx(6000 * 0.3e-6 + 4000 * 0.03e-6 + 500 * 2.5e-6)
    assert value(registry, "llm_requests_total", provider="google", model="gemini-2.5-flash",
                 status="success", **R) == 2


def test_reasoning_tokens_cost_output_price(registry: CollectorRegistry,
                                            llm: LLMMetrics) -> None:
    # o3 since 2025-06-10: $2 in, $8 out; reasoning is billed as output
    usd = llm.record_request(provider="openai", model="o3", input_tokens=1000,
                             output_tokens=3000, reasoning_tokens=2500)
    assert usd == pytest.approx(1000 * 2e-6 + 3000 * 8e-6)
    assert cost(registry, "openai", "o3", "reasoning") == pytest.approx(2500 * 8e-6)
    assert cost(registry, "openai", "o3", "output") == pytest.approx(500 * 8e-6)


def test_user_override_per_token(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    usd = llm.record_request(provider="openai", model="ft:gpt-4o-mini:acme", input_tokens=2000,
                             cache_read_tokens=1000, output_tokens=100)
    assert usd == pytest.approx(1000 * 0.3e-6 + 1000 * 0.15e-6 + 100 * 1.2e-6)


def test_unknown_model_costs_zero_counts_unpriced_and_warns_once(
        registry: CollectorRegistry, llm: LLMMetrics, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.pricing.book")
    for _ in range(3):
        assert llm.record_request(provider="vllm", model="my-finetune", input_tokens=100,
                                  output_tokens=10) == 0.0
    assert value(registry, "llm_unpriced_requests_total", provider="vllm",
                 model="my-finetune") == 3
    assert cost(registry, "vllm", "my-finetune", "input") == 0
    warnings = [r for r in caplog.records if "my-finetune" in r.getMessage()]
    assert len(warnings) == 1


def test_self_hosted_provider_is_not_priced_from_another_provider() -> None:
    book = PriceBook()
    assert not book.rates("ollama", "gpt-4o").priced
    # an unknown gateway name falls back to matching the model alone
    assert book.rates("my-gateway", "gpt-4o") == book.rates("openai", "gpt-4o")


MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "o3"),
          ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-3-5-haiku"),
          ("google", "gemini-2.5-pro"), ("google", "gemini-2.5-flash"),
          ("deepseek", "deepseek-chat"), ("perplexity", "sonar"), ("mistral", "mistral-large")]
INSTANTS = [datetime(2025, 3, 1, 12, tzinfo=timezone.utc),   # o3 before its price cut
            datetime(2026, 11, 20, 3, tzinfo=timezone.utc),  # deepseek peak hours
            datetime(2026, 11, 20, 18, tzinfo=timezone.utc)]  # deepseek off-peak


@pytest.mark.parametrize("provider,model", MODELS)
def test_rates_agree_with_calc_price_on_random_usage(provider: str, model: str) -> None:
    """Our pre-resolved arithmetic gives genai-prices' answer: tiers past long-context
    thresholds, cache writes, reasoning, per-request fees, dated and time-of-day prices,
    batch prices."""
    book = PriceBook()
    rng = random.Random(f"{provider}/{model}")
    for at in INSTANTS:
        for batch in (False, True):
            rates = book.rates(provider, model, at=at, batch=batch)
            assert rates.priced
            context = {"processing": "batch"} if batch else None
            for _ in range(150):
                inp = rng.choice([rng.randint(0, 5000), rng.randint(150_000, 400_000)])
                cr = rng.randint(0, inp)
                cw = rng.randint(0, inp - cr)
                w1h = rng.choice([0, rng.randint(0, cw)])
                out = rng.randint(0, 30_000)
                rs = rng.randint(0, out)
                ref = calc_price(Usage(input_tokens=inp, cache_read_tokens=cr,
                                       cache_write_tokens=cw, cache_write_1h_tokens=w1h,
                                       output_tokens=out, output_reasoning_tokens=rs),
                                 model, provider_id=provider, genai_request_timestamp=at,
                                 price_context=context).total_price
                ours = sum(rates.costs(inp - cr - cw, cr, cw, w1h, out - rs, rs, inp))
                assert ours == pytest.approx(float(ref), rel=1e-9, abs=1e-15), \
                    (at, batch, inp, cr, cw, w1h, out, rs)


def test_record_request_cost_equals_calc_price_now(llm: LLMMetrics) -> None:
    rng = random.Random(3)
    for provider, model in MODELS:
        for _ in range(50):
            inp = rng.randint(0, 300_000)
            cr = rng.randint(0, inp // 2)
            out = rng.randint(0, 5000)
            ours = llm.record_request(provider=provider, model=model, input_tokens=inp,
                                      cache_read_tokens=cr, output_tokens=out)
            ref = calc_price(Usage(input_tokens=inp, cache_read_tokens=cr, output_tokens=out),
                             model, provider_id=provider).total_price
            assert ours == pytest.approx(float(ref), rel=1e-9, abs=1e-15)


def test_dated_price_change_sets_expiry_and_changes_price() -> None:
    book = PriceBook()
    before = book.rates("openai", "o3", at=datetime(2025, 6, 1, tzinfo=timezone.utc))
    after = book.rates("openai", "o3", at=datetime(2025, 6, 11, tzinfo=timezone.utc))
    assert before.base[0] == pytest.approx(10e-6) and after.base[0] == pytest.approx(2e-6)
    assert before.expires == datetime(2025, 6, 10, tzinfo=timezone.utc).timestamp()
    assert after.expires is None


def test_time_of_day_tariff_expires_at_the_window_edge() -> None:
    book = PriceBook()
    peak = book.rates("deepseek", "deepseek-chat",
                      at=datetime(2026, 11, 20, 3, tzinfo=timezone.utc))
    assert peak.expires is not None
    edge = datetime.fromtimestamp(peak.expires, timezone.utc)
    assert timedelta(0) < edge - datetime(2026, 11, 20, 3, tzinfo=timezone.utc) < timedelta(1)
    after_edge = book.rates("deepseek", "deepseek-chat", at=edge + timedelta(minutes=1))
    assert after_edge.base != peak.base


class _SwitchingBook(PriceBook):
    """A price book whose price for one model changes at a given instant of its clock:
    stands in for the catalog's dated changes."""

    def __init__(self, switch_at: float, clock: Clock) -> None:
        super().__init__(use_catalog=False, clock=clock)
        self.switch_at = switch_at

    def rates(self, provider: str, model: str, *, batch: bool = False,
              at: datetime | None = None) -> Rates:
        if self.clock() < self.switch_at:
            return Rates(base=(1e-6,) * 5, expires=self.switch_at, source="override")
        return Rates(base=(2e-6,) * 5, source="override")


def test_recorder_reresolves_rates_when_they_expire(registry: CollectorRegistry) -> None:
    clock = Clock()
    llm = LLMMetrics(registry, prices=_SwitchingBook(clock() + 3600, clock))
    assert llm.record_request(provider="x", model="y", input_tokens=1000) == pytest.approx(1e-3)
    assert llm.record_batch(provider="x", model="y", size=1, input_tokens=1000) == \
        pytest.approx(1e-3)
    clock.advance(3599.9)
    assert llm.record_request(provider="x", model="y", input_tokens=1000) == pytest.approx(1e-3)
    clock.advance(0.1)  # the instant of the change: the new price
    assert llm.record_request(provider="x", model="y", input_tokens=1000) == pytest.approx(2e-3)
    assert llm.record_batch(provider="x", model="y", size=1, input_tokens=1000) == \
        pytest.approx(2e-3)


def test_batch_uses_batch_prices(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    # gpt-4o-mini batch API: $0.075 in, $0.30 out (half the standard price)
    usd = llm.record_batch(provider="openai", model="gpt-4o-mini", team="etl", size=50,
                           input_tokens=40_000, output_tokens=9000, duration_seconds=35.0)
    assert usd == pytest.approx(40_000 * 0.075e-6 + 9000 * 0.3e-6)
    assert cost(registry, "openai", "gpt-4o-mini", "input", team="etl") == \
        pytest.approx(40_000 * 0.075e-6)
    assert value(registry, "llm_batches_total", provider="openai", model="gpt-4o-mini",
                 team="etl", status="success") == 1
    assert value(registry, "llm_batch_size_sum", provider="openai", model="gpt-4o-mini") == 50
    assert value(registry, "llm_tokens_total", provider="openai", model="gpt-4o-mini",
                 token_type="output", tier="unknown", team="etl") == 9000
    # a batch is not a request
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o-mini",
                 status="success", tier="unknown", team="etl") is None


def test_savings_against_baseline(registry: CollectorRegistry) -> None:
    settings = Settings(baseline=("openai", "gpt-4o"), price_overrides=(
        PriceOverride(provider="ollama", model="*", input_per_mtok=0.1, output_per_mtok=0.5),))
    llm = LLMMetrics(registry, config=settings)
    local = llm.record_request(provider="ollama", model="llama3.1:8b", input_tokens=10_000,
                               output_tokens=2000, duration_seconds=4.0)
    assert local == pytest.approx(10_000 * 0.1e-6 + 2000 * 0.5e-6)
    baseline = 10_000 * 2.5e-6 + 2000 * 10e-6
    assert value(registry, "llm_cost_savings_usd_total", provider="ollama",
                 model="llama3.1:8b", **R) == pytest.approx(baseline - local)
    # the baseline itself saves nothing, and a dearer model never counts negative savings
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=10_000)
    llm.record_request(provider="anthropic", model="claude-opus-4-1", input_tokens=1000,
                       output_tokens=10**6)
    assert value(registry, "llm_cost_savings_usd_total", provider="openai", model="gpt-4o",
                 **R) == 0
    assert value(registry, "llm_cost_savings_usd_total", provider="anthropic",
                 model="claude-opus-4-1",
                 **R) == 0


def test_unpriced_baseline_warns(registry: CollectorRegistry,
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.record.recorder")
    LLMMetrics(registry, config=Settings(baseline=("ollama", "nothing-9b")))
    assert any("savings baseline ollama/nothing-9b has no price" in r.getMessage()
               for r in caplog.records)


def test_override_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match=r"prices\[0\]\.input_per_mtok"):
        PriceOverride.from_mapping({"provider": "a", "model": "b", "input_per_mtok": -1},
                                   "prices[0]")
    with pytest.raises(ValueError, match="unknown field"):
        PriceOverride.from_mapping({"provider": "a", "model": "b", "input_mtok": 1})
    with pytest.raises(ValueError, match="at least one price"):
        PriceOverride.from_mapping({"provider": "a", "model": "b"})
