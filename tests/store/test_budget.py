"""Series budgets: label sets within every cap still multiply, so each family holds at
most ``series_budget`` series; later label sets fold into its overflow set, are counted,
and memory stays bounded whatever the input."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter import LLMMetrics, Settings, multiprocess


def series(text: str) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(fam.name, set()).add(tuple(sorted(s.labels.items())))
    return out


def flood(llm: LLMMetrics, n: int) -> float:
    """``n`` requests, each with a new (provider, model, tier, team) within every cap."""
    total = 0.0
    for i in range(n):
        total += llm.record_request(provider=f"p{i % 7}", model=f"m{i % 11}", tier=f"t{i % 5}",
                                    team=f"team{i % 13}", input_tokens=100, output_tokens=10,
                                    duration_seconds=1.0, status="error" if i % 3 else "success")
    return total


def test_past_the_budget_a_whole_request_folds_into_the_overflow_set() -> None:
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, series_budget=20)
    flood(llm, 7 * 11 * 5 * 13)  # 5005 distinct request label sets
    got = series(llm.exposition().decode())
    sets = {s for s in got["llm_tokens"] if ("token_type", "input") in s}
    assert len(sets) == 21  # 20 admitted + the overflow set
    other = {("model", "other"), ("provider", "other"), ("team", "other"), ("tier", "other")}
    assert any(other <= set(s) for s in sets)
    capped = {"provider", "model", "tier", "team", "cache", "complexity", "index", "pool"}
    for name, label_sets in got.items():
        if name.startswith("llm_exporter"):
            continue
        combos = {tuple(kv for kv in s if kv[0] in capped) for s in label_sets}
        assert len(combos) <= 21, name  # the budget's 20, and the overflow set
    folded = registry.get_sample_value("llm_exporter_series_overflow_total",
                                       {"family": "llm_tokens_total"})
    assert folded == 5005 - 20
    # nothing is lost: every token is counted, admitted or folded
    tokens = sum(registry.get_sample_value("llm_tokens_total", dict(s)) or 0
                 for s in sets)
    assert tokens == 5005 * 100
    # one recording's families agree: the folded requests are in the same overflow set
    assert registry.get_sample_value("llm_requests_total", {
        "provider": "other", "model": "other", "tier": "other", "team": "other",
        "status": "error"}) > 0


def test_other_families_fold_consistently_and_count_per_family() -> None:
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, series_budget=6)
    for i in range(40):
        llm.record_cache_lookup(cache=f"c{i}", hit=True, duration_seconds=0.01)
    assert registry.get_sample_value("llm_cache_lookups_total",
                                     {"cache": "other", "result": "hit", "team": "other"}) == 34
    assert registry.get_sample_value("llm_cache_lookup_duration_seconds_count",
                                     {"cache": "other"}) == 34
    assert registry.get_sample_value("llm_cache_lookups_total",
                                     {"cache": "c5", "result": "hit", "team": "unknown"}) == 1
    assert registry.get_sample_value("llm_exporter_series_overflow_total",
                                     {"family": "llm_cache_lookups_total"}) == 34


def test_a_folded_request_is_counted_every_time_from_its_cached_row() -> None:
    """Past the budget a request cost 247 us instead of 5: its row was rebuilt each
    time. It is cached now, and still bumps the overflow counters on every use."""
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, series_budget=2)
    for team in ("a", "b", "c"):
        llm.record_request(provider="openai", model="gpt-4o", team=team, input_tokens=1)
    book = llm._book
    built = []
    build = book._build
    book._build = lambda make: built.append(1) or build(make)  # type: ignore[method-assign]
    for _ in range(5):
        llm.record_request(provider="openai", model="gpt-4o", team="c", input_tokens=1)
        llm.record_cache_lookup(cache="semantic-9", hit=True, team="c")
    assert len(built) <= 1, "a folded request rebuilt its row on every use"
    assert registry.get_sample_value("llm_exporter_series_overflow_total",
                                     {"family": "llm_tokens_total"}) == 6
    assert registry.get_sample_value("llm_tokens_total", {
        "provider": "other", "model": "other", "tier": "other", "team": "other",
        "token_type": "input"}) == 6


_GROW = """
import sys, tracemalloc
from prometheus_client import CollectorRegistry
from exporter import LLMMetrics
llm = LLMMetrics(CollectorRegistry(), series_budget=50)
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for i in range(int(sys.argv[1])):
    llm.record_request(provider="openai", model="gpt-4o", team=f"team-{i % 150}",
                       tier=f"t{i % 19}", input_tokens=10)
print(tracemalloc.get_traced_memory()[0] - before)
"""


@pytest.mark.seconds(8)
def test_memory_is_bounded_by_the_budget_not_the_input() -> None:
    """Measured in a process of its own: no other test's threads allocate meanwhile."""
    def grow(n: int) -> int:
        out = subprocess.run([sys.executable, "-c", _GROW, str(n)], capture_output=True,
                             text=True, timeout=120, check=True)
        return int(out.stdout.split()[-1])
    small, large = grow(2_000), grow(20_000)
    assert large < small * 1.5, (small, large)


def test_the_budget_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().series_budget == 1000
    (tmp_path / "s.yml").write_text("labels:\n  series_budget: 300\n")
    assert Settings.load(tmp_path / "s.yml").series_budget == 300
    monkeypatch.setenv("LLM_EXPORTER_SERIES_BUDGET", "40")
    assert Settings.load(tmp_path / "s.yml").series_budget == 40
    monkeypatch.setenv("LLM_EXPORTER_SERIES_BUDGET", "0")
    with pytest.raises(ValueError, match="labels.series_budget: must be a positive integer"):
        Settings.load(tmp_path / "s.yml")
    with pytest.raises(ValueError, match="series_budget"):
        LLMMetrics(CollectorRegistry(), series_budget=0)


def test_multiprocess_workers_each_keep_their_budget(tmp_path: Path) -> None:
    directory = multiprocess.prepare(tmp_path / "mp")
    llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory, series_budget=15)
    total = flood(llm, 500)
    got = series(llm.exposition().decode())
    sets = {s for s in got["llm_tokens"] if ("token_type", "input") in s}
    assert len(sets) == 16
    values = {s: v for s, v in (
        (tuple(sorted(x.labels.items())), x.value)
        for f in text_string_to_metric_families(llm.exposition().decode())
        for x in f.samples if x.name == "llm_cost_usd_total")}
    assert sum(values.values()) == pytest.approx(total)


def test_a_flooded_sidecar_stays_bounded(sidecar_factory) -> None:
    settings = Settings()
    settings = replace(settings, series_budget=100,
                       server=replace(settings.server, collectors=(), max_batch_events=1000))
    sc = sidecar_factory(settings)
    sizes = []
    for batch in range(4):
        events = [{"type": "request", "provider": f"p{i % 50}", "model": f"m{i % 97}",
                   "team": f"team{(batch * 1000 + i) % 199}", "tier": f"t{i % 19}",
                   "input_tokens": 10} for i in range(1000)]
        status, body = sc.post("/v1/events", {"events": events})
        assert status == 200 and body["accepted"] == 1000
        sizes.append(len(sc.metrics()))
    assert sizes[-1] < sizes[1] * 1.1, sizes  # no growth once the budget is full
    assert sc.value("llm_exporter_series_overflow_total", family="llm_tokens_total") == 3900
    text = sc.metrics()
    assert json.dumps(text).count('team=\\"other\\"') > 0
