"""The storage layout: slots named from the catalog, label tuples built by label name,
multiprocess merging by each family's merge mode."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, catalog
from exporter._store import layout


def test_usage_slots_cover_every_token_type_once() -> None:
    slots = [*layout.TOKEN_SLOT.values(), *layout.COST_SLOT.values(),
             *layout.USAGE_SCALARS.values()]
    assert sorted(slots) == list(range(layout.USAGE_SIZE))
    assert list(layout.TOKEN_SLOT) == list(layout.COST_SLOT) == list(catalog.TOKEN_TYPES)
    assert len(layout.new_usage()) == layout.USAGE_SIZE


@pytest.mark.parametrize("fam", catalog.RECORDED, ids=lambda f: f.key)
def test_every_recorded_family_has_a_layout(fam: catalog.Family) -> None:
    values = layout.new_values(fam)
    assert len(values) == layout.size(fam)
    if fam.kind == "histogram":
        assert layout.sum_slot(fam) == len(values) - 1 == layout.inf_slot(fam) + 1


def test_families_say_who_emits_them_and_how_workers_merge() -> None:
    assert catalog.BY_KEY["in_flight"].merge == "live_sum"
    assert catalog.BY_KEY["provider_up"].merge == "latest"
    assert catalog.BY_KEY["requests"].merge == "sum"
    assert catalog.BY_KEY["cpu_time"].emitter == "collector"
    # computed from the clock at scrape time (exporter.pricing.scrape), not stored
    assert {f.key for f in catalog.LLM_FAMILIES if f.emitter != "recorder"} == \
        {"pool_cost", "price_catalog_info", "price_catalog_age"}
    for fam in catalog.ALL_FAMILIES:
        assert (fam.merge == "sum") is (fam.kind != "gauge"), fam.key


def test_label_values_follow_the_family_not_the_argument_order() -> None:
    fam = catalog.BY_KEY["request_duration"]
    assert fam.label_values(status="error", tier="q1", model="m", provider="p") == \
        ("p", "m", "q1", "error")
    with pytest.raises(KeyError, match="missing labels"):
        fam.label_values(provider="p")
    with pytest.raises(KeyError, match="not"):
        fam.label_values(provider="p", model="m", tier="t", colour="red")


def test_reordering_a_familys_labels_cannot_mislabel_its_series(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Swap the declared label order of two families: every sample keeps the right value
    under the right label name."""
    swapped = {
        "request_duration": ("status", "tier", "model", "provider"),
        "routing_decisions": ("fallback", "tier", "complexity"),
    }
    by_key = dict(catalog.BY_KEY)
    for key, labels in swapped.items():
        by_key[key] = dataclasses.replace(by_key[key], labels=labels)
    monkeypatch.setattr(catalog, "BY_KEY", by_key)
    monkeypatch.setattr(catalog, "RECORDED", tuple(by_key[f.key] for f in catalog.RECORDED))
    registry = CollectorRegistry()
    llm = LLMMetrics(registry)
    llm.record_request(provider="openai", model="gpt-4o", tier="q1", status="error",
                       duration_seconds=1.0)
    llm.record_routing(complexity="hard", tier="q3", fallback=True)
    assert registry.get_sample_value("llm_request_duration_seconds_count", {
        "provider": "openai", "model": "gpt-4o", "tier": "q1", "status": "error"}) == 1
    assert registry.get_sample_value("llm_routing_decisions_total", {
        "complexity": "hard", "tier": "q3", "fallback": "true"}) == 1
