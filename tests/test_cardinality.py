"""Bounded labels: caps with an ``other`` bucket, exact overflow counts, normalisation."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, PriceBook
from exporter.cardinality import LabelCaps, normalise_model, normalise_provider

from .conftest import value


def series_count(llm: LLMMetrics, name: str) -> int:
    return sum(1 for line in llm.exposition().decode().splitlines() if line.startswith(name + "{"))


def test_ten_thousand_models_stay_under_the_cap(registry: CollectorRegistry) -> None:
    cap = 100
    llm = LLMMetrics(registry, prices=PriceBook(use_catalog=False))
    for i in range(10_000):
        llm.record_request(provider="openai", model=f"model-{i}", team="a", input_tokens=1,
                           output_tokens=1, duration_seconds=0.5)
    # once more for a capped name: still folded, still counted
    llm.record_request(provider="openai", model="model-9999", team="a", input_tokens=1)
    models = {line.split('model="')[1].split('"')[0]
              for line in llm.exposition().decode().splitlines()
              if line.startswith("llm_requests_total{")}
    assert len(models) == cap + 1 and "other" in models
    assert series_count(llm, "llm_requests_total") == cap + 1
    assert series_count(llm, "llm_tokens_total") == (cap + 1) * 5
    assert series_count(llm, "llm_request_duration_seconds_count") == cap + 1
    assert value(registry, "llm_exporter_label_overflow_total", label="model") == 10_001 - cap
    assert value(registry, "llm_requests_total", provider="openai", model="other",
                 tier="unknown", team="a", status="success") == 10_001 - cap
    assert value(registry, "llm_tokens_total", provider="openai", model="other",
                 tier="unknown", team="a", token_type="input") == 10_001 - cap
    # unpriced requests of folded models are still counted, under model="other"
    assert value(registry, "llm_unpriced_requests_total", provider="openai",
                 model="other") == 10_001 - cap


def test_caps_are_configurable_per_label(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry, label_caps={"team": 3})
    for team in ["a", "b", "c", "d", "e", "a"]:
        llm.record_request(provider="openai", model="gpt-4o", team=team, input_tokens=1)
    assert value(registry, "llm_exporter_label_overflow_total", label="team") == 2
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o",
                 tier="unknown", team="other", status="success") == 2
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o",
                 tier="unknown", team="a", status="success") == 2


def test_other_recorders_respect_caps(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry, label_caps={"cache": 2, "complexity": 1})
    for cache in ["x", "y", "z", "z"]:
        llm.record_cache_lookup(cache=cache, hit=True)
    llm.record_routing(complexity="simple", tier="q1")
    llm.record_routing(complexity="HARD", tier="q1", fallback=True)
    assert value(registry, "llm_cache_lookups_total", cache="other", result="hit",
                 team="unknown") == 2
    assert value(registry, "llm_exporter_label_overflow_total", label="cache") == 2
    assert value(registry, "llm_routing_decisions_total", complexity="other", tier="q1",
                 fallback="true") == 1
    assert value(registry, "llm_exporter_label_overflow_total", label="complexity") == 1


def test_placeholders_for_missing_team_and_tier(registry: CollectorRegistry,
                                                llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="gpt-4o", team="", tier="  ")
    llm.record_request(provider="openai", model="gpt-4o")
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o",
                 tier="unknown", team="unknown", status="success") == 2
    assert 'team=""' not in llm.exposition().decode()


@pytest.mark.parametrize("provider,model,expected", [
    ("google", "models/gemini-2.5-flash", ("google", "gemini-2.5-flash")),
    ("Gemini", "gemini-2.5-flash", ("google", "gemini-2.5-flash")),
    ("openai", "openai/GPT-4o ", ("openai", "gpt-4o")),
    ("openrouter", "openai/gpt-4o", ("openrouter", "openai/gpt-4o")),
    ("ollama", "llama3.1:8b", ("ollama", "llama3.1:8b")),
])
def test_model_normalisation(provider: str, model: str, expected: tuple[str, str]) -> None:
    p = normalise_provider(provider)
    assert (p, normalise_model(p, model)) == expected


def test_label_values_are_escaped_and_truncated(registry: CollectorRegistry,
                                                llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="gpt-4o", team='we"ird\\team\nx' + "y" * 500)
    text = llm.exposition().decode()
    assert 'team="we\\"ird\\\\team\\nx' in text
    assert max(len(line) for line in text.splitlines()) < 600


def test_bad_label_values_are_errors(llm: LLMMetrics) -> None:
    with pytest.raises(ValueError, match="model"):
        llm.record_request(provider="openai", model="")
    with pytest.raises(ValueError, match="provider"):
        llm.record_request(provider=None, model="gpt-4o")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="team must be a string"):
        llm.record_request(provider="openai", model="gpt-4o", team=42)  # type: ignore[arg-type]


def test_label_caps_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="model"):
        LabelCaps({"model": 0})


def test_tier_and_complexity_are_case_insensitive(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry=registry)
    llm.record_routing(complexity="SIMPLE", tier="Local", score=1.0)
    llm.record_routing(complexity="simple", tier="LOCAL", score=3.0)
    llm.record_request(provider="openai", model="gpt-4o", tier="Premium", team="Search")
    llm.record_request(provider="openai", model="gpt-4o", tier="premium", team="Search")
    assert value(registry, "llm_routing_decisions_total", complexity="simple", tier="local",
                 fallback="false") == 2
    assert value(registry, "llm_routing_complexity_score_sum", complexity="simple",
                 tier="local") == 4.0
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o",
                 tier="premium", team="Search", status="success") == 2
    # teams keep their spelling: only vocabularies (tier, complexity) are folded
    assert value(registry, "llm_requests_total", provider="openai", model="gpt-4o",
                 tier="premium", team="search", status="success") is None


def test_an_ingested_label_value_is_normalised_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sidecar checks a batch's labels before applying any event, then the recorder
    admits them: each raw spelling is cleaned once, not once per place."""
    from exporter import cardinality
    from exporter.ingest.events import validate

    cleaned: list[tuple[str, object]] = []
    real = cardinality._clean

    def counting(label: str, value: object, required: bool) -> str:
        cleaned.append((label, value))
        return real(label, value, required)

    monkeypatch.setattr(cardinality, "_clean", counting)
    cardinality.CANONICAL.clear()  # a memo: every value is normalised again once
    llm = LLMMetrics(None)
    event = {"type": "request", "provider": "Gemini", "model": "models/Gemini-2.5-Flash",
             "team": " search ", "tier": "SIMPLE", "input_tokens": 10}
    method, kwargs = validate(dict(event), "events[0]")
    getattr(llm, method)(**kwargs)
    llm.record_request(provider="Gemini", model="models/Gemini-2.5-Flash", team=" search ",
                       tier="SIMPLE", input_tokens=5)
    assert sorted(cleaned) == sorted([("provider", "Gemini"),
                                      ("model", "models/Gemini-2.5-Flash"),
                                      ("team", " search "), ("tier", "SIMPLE")])
    text = llm.exposition().decode()
    assert 'provider="google",model="gemini-2.5-flash",tier="simple",team="search"' in text
