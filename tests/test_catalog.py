"""The catalog is the contract: every llm_* family is exposed as DESIGN.md states."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporter import LLMMetrics, catalog

from .conftest import require_binary


def exercise(llm: LLMMetrics) -> None:
    """One call of every recording method, so that every family has a series."""
    llm.record_request(provider="openai", model="gpt-4o", team="search", tier="q2",
                       input_tokens=1200, output_tokens=350, cache_read_tokens=1000,
                       cache_write_tokens=100, reasoning_tokens=50, duration_seconds=2.4,
                       ttft_seconds=0.31, cache_hit=False)
    llm.record_request(provider="openai", model="gpt-4o", status="error",
                       error_type="rate_limit", duration_seconds=0.1)
    llm.record_request(provider="acme", model="mystery-1", input_tokens=10)
    llm.record_cache_lookup(cache="semantic", hit=True, duration_seconds=0.002, similarity=0.93)
    llm.record_routing(complexity="simple", tier="q2", score=1.8, duration_seconds=0.012)
    llm.set_tier_models(tier="q2", available=2, total=3)
    llm.set_provider_state(provider="ollama", up=True, circuit="closed")
    llm.record_batch(provider="openai", model="gpt-4o-mini", team="etl", size=50,
                     input_tokens=40000, output_tokens=9000, duration_seconds=35.0)
    llm.set_cache_size(cache="semantic", size_bytes=1024)
    llm.set_vector_index_size(index="faiss-docs", size_bytes=2048)
    llm.set_worker_pool(pool="embedders", active=3, queued=7)
    llm.record_events(accepted=2, rejected=1)
    llm.record_retries(provider="openai", model="gpt-4o", count=2)


def test_catalog_matches_design() -> None:
    names = {f.name for f in catalog.LLM_FAMILIES}
    assert names == {
        "llm_requests_total", "llm_request_errors_total", "llm_tokens_total",
        "llm_cost_usd_total", "llm_cost_savings_usd_total", "llm_unpriced_requests_total",
        "llm_reference_cost_usd_total",
        "llm_request_duration_seconds", "llm_time_to_first_token_seconds",
        "llm_time_per_output_token_seconds", "llm_request_tokens", "llm_requests_in_flight",
        "llm_cache_lookups_total", "llm_cache_lookup_duration_seconds", "llm_cache_similarity",
        "llm_cache_size_bytes", "llm_vector_index_size_bytes", "llm_routing_decisions_total",
        "llm_routing_decision_duration_seconds", "llm_routing_complexity_score",
        "llm_tier_models_available", "llm_tier_models", "llm_provider_up",
        "llm_provider_circuit_state", "llm_batches_total", "llm_batch_size",
        "llm_worker_pool_active", "llm_worker_pool_queued",
        "llm_prompt_cache_savings_usd_total", "llm_prompt_cache_write_premium_usd_total",
        "llm_team_request_duration_seconds_total", "llm_timed_requests_total",
        "llm_request_retries_total",
        "llm_model_price_info", "llm_pool_cost_usd_total", "llm_price_catalog_info",
        "llm_price_catalog_age_seconds"}
    f = catalog.family
    assert f("request_duration").buckets == (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96,
        81.92, 163.84, 327.68)
    assert f("ttft").buckets[:16] == (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                      0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
    assert f("ttft").buckets[16:] == (20.0, 40.0, 80.0)
    assert f("request_tokens").buckets == tuple(float(4**k) for k in range(14))
    assert f("tokens").labels == ("provider", "model", "tier", "team", "token_type")
    assert "team" not in f("request_duration").labels
    for fam in catalog.ALL_FAMILIES:
        assert (fam.kind == "counter") == fam.name.endswith("_total"), fam.name
        if fam.unit:
            assert fam.base_name().endswith("_" + fam.unit), fam.name


def _families(text: bytes, openmetrics: bool) -> dict:
    if openmetrics:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return {m.name: m for m in text_string_to_metric_families(text.decode())}


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_family_exposed_with_type_labels_and_buckets(llm: LLMMetrics,
                                                           openmetrics: bool) -> None:
    exercise(llm)
    llm._store.budget = 1  # one more vector index folds: llm_exporter_series_overflow_total
    llm.set_vector_index_size(index="faiss-more", size_bytes=1)
    parsed = _families(llm.exposition(openmetrics=openmetrics), openmetrics)
    for fam in catalog.LLM_FAMILIES + catalog.EXPORTER_FAMILIES:
        if fam in catalog.EXPORTER_FAMILIES and fam.emitter != "recorder":
            continue  # reported by the sidecar (its collectors, its history), not the library
        key = fam.base_name() if openmetrics else fam.name
        if not openmetrics and fam.kind == "counter":
            key = fam.name[: -len("_total")]  # the text parser also strips _total
        assert key in parsed, f"{fam.name} missing"
        metric = parsed[key]
        assert metric.type == fam.kind, fam.name
        assert metric.samples, fam.name
        for sample in metric.samples:
            expected = set(fam.labels) | ({"le"} if sample.name.endswith("_bucket") else set())
            assert set(sample.labels) == expected, (fam.name, sample)
        if fam.kind == "histogram":
            les = [s.labels["le"] for s in metric.samples if s.name.endswith("_bucket")]
            n = len(fam.buckets) + 1
            assert [float(x) for x in les[:n]] == [*fam.buckets, float("inf")], fam.name


def test_namespace_renames_llm_families(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry, namespace="acme")
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=5)
    text = llm.exposition().decode()
    assert "acme_requests_total{" in text and "acme_exporter_build_info{" in text
    assert not [ln for ln in text.splitlines() if ln.startswith("llm_")]
    assert registry.get_sample_value("acme_tokens_total", {
        "provider": "openai", "model": "gpt-4o", "tier": "unknown", "team": "unknown",
        "token_type": "input"}) == 5


def test_no_created_lines_unless_asked(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry)
    exercise(llm)
    assert b"_created" not in llm.exposition(openmetrics=True)
    llm.close()
    llm = LLMMetrics(registry, created_series=True)
    exercise(llm)
    om = llm.exposition(openmetrics=True)
    assert b"llm_requests_created{" in om and b"llm_request_duration_seconds_created{" in om
    _families(om, True)  # still valid OpenMetrics


def test_promtool_check_metrics_passes_on_full_exposition(llm: LLMMetrics) -> None:
    promtool = require_binary("promtool")
    exercise(llm)
    # promtool reads the text format only (OpenMetrics is checked by the parser tests)
    result = subprocess.run([promtool, "check", "metrics"], input=llm.exposition(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert result.stdout.decode().strip() == "", result.stdout.decode()


def test_registry_paths_render_same_samples(registry: CollectorRegistry,
                                            llm: LLMMetrics) -> None:
    """exposition(), generate_latest(registry) and the OpenMetrics variants agree."""
    exercise(llm)

    def samples(text: bytes, openmetrics: bool) -> set:
        out = set()
        for m in _families(text, openmetrics).values():
            for s in m.samples:
                if s.name.endswith("_created") or s.name in (
                        "llm_price_catalog_age_seconds", "llm_pool_cost_usd_total"):
                    continue  # they move with the clock between renders
                out.add((s.name, tuple(sorted(s.labels.items())), float(s.value)))
        return out

    ours = samples(llm.exposition(), False)
    assert ours == samples(generate_latest(registry), False)
    assert ours == samples(llm.exposition(openmetrics=True), True)
    assert ours == samples(generate_openmetrics(registry), True)
    assert len(ours) >= 400  # every family, not an empty parse


def test_two_recorders_on_one_registry_clash(registry: CollectorRegistry) -> None:
    LLMMetrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        LLMMetrics(registry)
