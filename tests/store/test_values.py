"""The read side's snapshot (``LLMMetrics.values``) holds exactly the samples of
``collect(scrape=False)`` without building prometheus_client objects: one process or
several workers' files, histograms, counters, gauges, folded rows and the price readout."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, multiprocess
from exporter.read.sources import state_of


def _traffic(llm: LLMMetrics) -> None:
    for i in range(40):
        model = ("gpt-4o-mini", "claude-sonnet-4-5", f"m{i % 7}")[i % 3]
        llm.record_request(provider=("openai", "anthropic")[i % 2], model=model,
                           input_tokens=100 + i, output_tokens=10, cache_read_tokens=i % 3,
                           cache_write_tokens=2, cache_write_1h_tokens=i % 2,
                           duration_seconds=0.05 * i,
                           ttft_seconds=0.01 * i if i % 2 else None,
                           status="error" if i % 5 == 0 else "success",
                           error_type="rate_limit" if i % 5 == 0 else None,
                           cache_hit=bool(i % 2), team=f"t{i % 4}", tier=f"Q{i % 3}")


@pytest.mark.parametrize("mode", ["memory", "files"])
def test_values_are_the_collected_samples(mode: str, tmp_path: Path) -> None:
    kwargs = {"multiprocess_dir": multiprocess.prepare(tmp_path / "mp")} \
        if mode == "files" else {}
    llm = LLMMetrics(CollectorRegistry(), series_budget=12, **kwargs)
    _traffic(llm)  # 7 models x 4 teams x 3 tiers: past the budget, rows fold
    expected = state_of(llm.collect(scrape=False))
    got = llm.values()
    assert any(k[0].endswith("_bucket") for k in got)
    assert any(dict(k[1]).get("model") == "other" for k in got)  # folded rows are there
    assert got.keys() == expected.keys()
    ages = {k for k in got if k[0].endswith("_age_seconds")}  # clocks read twice
    assert {k: v for k, v in got.items() if k not in ages} == \
        {k: v for k, v in expected.items() if k not in ages}
    assert all(abs(got[k] - expected[k]) < 5 for k in ages)
    assert all(type(v) is float for v in got.values())
