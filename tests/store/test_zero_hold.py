"""Zero-first exposition: a new counter or histogram series reads 0 on the scrapes within
``zero_hold_seconds`` of its first scrape, then its value, so Prometheus' increase()
and rate() count a series' first increment (see exporter._store.memory.ZeroHold). The real
Prometheus side of this is proven in tests/e2e/test_counting.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_parse
from prometheus_client.parser import text_string_to_metric_families

from exporter import LLMMetrics, Settings, multiprocess
from exporter.settings.load import ConfigError

from ..conftest import Clock

HOLD = 0.4


def samples(text: str) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def pick(found: dict[tuple, float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def record(llm: LLMMetrics, team: str = "search") -> float:
    return llm.record_request(provider="openai", model="gpt-4o", team=team, tier="q2",
                              input_tokens=1200, cache_read_tokens=1000, output_tokens=350,
                              duration_seconds=2.4, ttft_seconds=0.3, cache_hit=False)


R = {"provider": "openai", "model": "gpt-4o", "tier": "q2", "team": "search"}


def test_a_new_series_reads_zero_from_its_first_scrape_until_the_hold_ends() -> None:
    clock = Clock()
    llm = LLMMetrics(None, zero_hold_seconds=HOLD, clock=clock)
    cost = record(llm)
    clock.advance(HOLD * 1.5)  # the hold counts from the first scrape, not from recording
    for _ in range(2):
        first = samples(llm.exposition().decode())
        assert pick(first, "llm_requests_total", status="success", **R) == 0
        assert pick(first, "llm_cost_usd_total", token_type="output", **R) == 0
        assert pick(first, "llm_tokens_total", token_type="cache_read", **R) == 0
        dur = {"provider": "openai", "model": "gpt-4o", "tier": "q2", "status": "success"}
        assert pick(first, "llm_request_duration_seconds_bucket", le="+Inf", **dur) == 0
        assert pick(first, "llm_request_duration_seconds_count", **dur) == 0
        assert pick(first, "llm_request_duration_seconds_sum", **dur) == 0
        assert pick(first, "llm_cache_lookups_total", cache="response", result="miss",
                    team="search") == 0
        # gauges are not counters: no hold
        assert any(k[0] == "llm_exporter_build_info" and v == 1 for k, v in first.items())
    clock.advance(HOLD * 0.99)
    assert pick(samples(llm.exposition().decode()), "llm_requests_total", status="success",
                **R) == 0  # still within the hold
    clock.advance(HOLD * 0.02)
    later = samples(llm.exposition().decode())
    assert pick(later, "llm_requests_total", status="success", **R) == 1
    assert sum(v for k, v in later.items() if k[0] == "llm_cost_usd_total") == \
        pytest.approx(cost, rel=1e-12)
    assert pick(later, "llm_tokens_total", token_type="cache_read", **R) == 1000
    assert pick(later, "llm_request_duration_seconds_sum", provider="openai", model="gpt-4o",
                tier="q2", status="success") == 2.4

    # a label set born after the others were shown is held on its own
    record(llm, team="ads")
    mixed = samples(llm.exposition().decode())
    assert pick(mixed, "llm_requests_total", status="success", **{**R, "team": "ads"}) == 0
    assert pick(mixed, "llm_requests_total", status="success", **R) == 1
    record(llm)  # an old series goes on counting
    assert pick(samples(llm.exposition().decode()), "llm_requests_total", status="success",
                **R) == 2


def test_collector_protocol_and_openmetrics_hold_the_same_way() -> None:
    registry = CollectorRegistry()
    clock = Clock()
    llm = LLMMetrics(registry, zero_hold_seconds=HOLD, clock=clock)
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=10,
                       duration_seconds=1.0, trace_id="0af7651916cd43dd8448eb211c80319c")
    labels = {"provider": "openai", "model": "gpt-4o", "tier": "unknown", "team": "unknown",
              "status": "success"}
    assert registry.get_sample_value("llm_requests_total", labels) == 0
    om = llm.exposition(openmetrics=True).decode()
    assert "trace_id" not in om  # no exemplar on a series that still reads 0
    om_values = {(s.name, tuple(sorted(s.labels.items()))): s.value
                 for fam in om_parse(om) for s in fam.samples}
    assert om_values[("llm_requests_total", tuple(sorted(labels.items())))] == 0
    clock.advance(HOLD * 1.2)
    assert registry.get_sample_value("llm_requests_total", labels) == 1
    assert 'trace_id="0af7651916cd43dd8448eb211c80319c"' in \
        llm.exposition(openmetrics=True).decode()


def test_hold_zero_turns_it_off() -> None:
    llm = LLMMetrics(None, zero_hold_seconds=0)
    record(llm)
    assert pick(samples(llm.exposition().decode()), "llm_requests_total", status="success",
                **R) == 1


def test_every_worker_answers_the_same_during_and_after_the_hold(tmp_path: Path) -> None:
    """Two recorders on one multiprocess directory stand for two gunicorn workers: the
    first scrape of a series by either one starts its hold for both, and both switch to
    the value together (one showing 0 after the other showed the value would read as a
    counter reset and count the value twice)."""
    directory = multiprocess.prepare(tmp_path / "mp")
    clock = Clock()  # one system-wide monotonic clock, as every worker reads
    a = LLMMetrics(None, multiprocess_dir=directory, zero_hold_seconds=HOLD, clock=clock)
    b = LLMMetrics(None, multiprocess_dir=directory, zero_hold_seconds=HOLD, clock=clock)
    record(a)
    record(b)
    assert pick(samples(b.exposition().decode()), "llm_requests_total", status="success",
                **R) == 0
    clock.advance(HOLD * 0.5)
    assert pick(samples(a.exposition().decode()), "llm_requests_total", status="success",
                **R) == 0
    clock.advance(HOLD * 0.7)  # past the hold counted from b's scrape, not from a's
    for worker in (a, b):
        assert pick(samples(worker.exposition().decode()), "llm_requests_total",
                    status="success", **R) == 2
    # a worker that only now records an existing series does not hide it again
    c = LLMMetrics(None, multiprocess_dir=directory, zero_hold_seconds=HOLD, clock=clock)
    record(c)
    assert pick(samples(c.exposition().decode()), "llm_requests_total", status="success",
                **R) == 3


def test_zero_hold_setting_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"zero_hold_seconds": 30}))
    assert Settings.load(path, env={}).zero_hold_seconds == 30
    assert Settings.load(path, env={"LLM_EXPORTER_ZERO_HOLD_SECONDS": "15"}) \
        .zero_hold_seconds == 15
    assert Settings.load(None, env={}).zero_hold_seconds == 60  # the default
    path.write_text(json.dumps({"zero_hold_seconds": -1}))
    with pytest.raises(ConfigError, match="zero_hold_seconds"):
        Settings.load(path, env={})
    with pytest.raises(ConfigError, match="LLM_EXPORTER_ZERO_HOLD_SECONDS"):
        Settings.load(None, env={"LLM_EXPORTER_ZERO_HOLD_SECONDS": "soon"})
    with pytest.raises(ValueError, match="zero_hold_seconds"):
        LLMMetrics(None, zero_hold_seconds=float("nan"))
