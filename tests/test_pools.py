"""Self-hosted GPU pools: a pool's cost is its GPU hours, whatever the concurrency, idle
hours included; its requests are priced (by the pool), not unpriced."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, Pool, PriceBook, PriceOverride, Rates, Settings, multiprocess
from exporter.pricing import scrape as price_readout
from exporter.settings.load import ConfigError

from .conftest import value

R = {"tier": "unknown", "team": "unknown"}


class Clock:
    """The readout's clock, moved by hand: an hour passes in a test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: float) -> None:
        self.now = start
        monkeypatch.setattr(price_readout.time, "time", lambda: self.now)


def pool_cost(llm: LLMMetrics, pool: str) -> float:
    for line in llm.exposition().decode().splitlines():
        if line.startswith(f'llm_pool_cost_usd_total{{pool="{pool}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no llm_pool_cost_usd_total for pool {pool}")


def pooled(registry: CollectorRegistry, **pool: object) -> LLMMetrics:
    spec = {"name": "a100", "provider": "vllm", "models": ("llama-3.1-70b",), "gpus": 1,
            "gpu_hour_usd": 2.0, **pool}
    return LLMMetrics(registry, prices=PriceBook(pools=[Pool(**spec)]))  # type: ignore[arg-type]


def test_two_concurrent_requests_cost_one_gpu_hour_not_two(
        registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    llm = pooled(registry)
    clock = Clock(monkeypatch, llm._readout.started)
    # two requests share the GPU for the same hour (vLLM batches them)
    for _ in range(2):
        assert llm.record_request(provider="vllm", model="llama-3.1-70b", input_tokens=50_000,
                                  output_tokens=10_000, duration_seconds=3600.0) == 0.0
    clock.now += 3600
    assert pool_cost(llm, "a100") == pytest.approx(2.0)  # one GPU-hour at $2
    assert value(registry, "llm_cost_usd_total", provider="vllm", model="llama-3.1-70b",
                 token_type="output", **R) == 0
    assert value(registry, "llm_unpriced_requests_total", provider="vllm",
                 model="llama-3.1-70b") == 0
    assert value(registry, "llm_model_price_info", provider="vllm", model="llama-3.1-70b",
                 source="pool", pool="a100") == 1


def test_an_idle_hour_still_costs_the_pool(registry: CollectorRegistry,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    llm = pooled(registry, gpus=4, gpu_hour_usd=2.5)
    clock = Clock(monkeypatch, llm._readout.started)
    assert pool_cost(llm, "a100") == 0
    clock.now += 3600
    assert pool_cost(llm, "a100") == pytest.approx(10.0)  # 4 GPUs x $2.50, nobody served
    clock.now += 1800
    assert pool_cost(llm, "a100") == pytest.approx(15.0)


def test_a_pool_serves_its_models_only(registry: CollectorRegistry,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.pricing.book")
    llm = pooled(registry)
    llm.record_request(provider="vllm", model="qwen-2.5-7b", input_tokens=10)
    assert value(registry, "llm_unpriced_requests_total", provider="vllm",
                 model="qwen-2.5-7b") == 1
    assert value(registry, "llm_model_price_info", provider="vllm", model="qwen-2.5-7b",
                 source="none", pool="") == 1
    assert any("pricing.pools" in r.getMessage() for r in caplog.records)


def test_free_self_hosted_models_are_priced_at_zero_not_unpriced(
        registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry, prices=PriceBook(
        [PriceOverride(provider="ollama", model="*", free=True)]))
    llm.record_request(provider="ollama", model="llama3.2:3b", input_tokens=500,
                       output_tokens=50)
    assert value(registry, "llm_unpriced_requests_total", provider="ollama",
                 model="llama3.2:3b") == 0
    assert value(registry, "llm_model_price_info", provider="ollama", model="llama3.2:3b",
                 source="free", pool="") == 1


def test_price_sources_are_labelled(registry: CollectorRegistry, llm: LLMMetrics) -> None:
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=1)
    llm.record_request(provider="openai", model="ft:gpt-4o-mini:acme", input_tokens=1)
    llm.record_request(provider="ollama", model="llama3.1:70b", input_tokens=1, team="a")
    llm.record_request(provider="ollama", model="llama3.1:70b", input_tokens=1, team="b")
    text = llm.exposition().decode()
    info = sorted(ln for ln in text.splitlines() if ln.startswith("llm_model_price_info{"))
    assert info == [
        'llm_model_price_info{provider="ollama",model="llama3.1:70b",source="pool",'
        'pool="a100"} 1',
        'llm_model_price_info{provider="openai",model="ft:gpt-4o-mini:acme",'
        'source="override",pool=""} 1',
        'llm_model_price_info{provider="openai",model="gpt-4o",source="catalog",pool=""} 1',
    ]


def test_pools_and_free_from_settings(tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    path = tmp_path / "settings.yml"
    path.write_text("""
pricing:
  pools:
    - {name: h100-pool, provider: vllm, models: [llama-3.1-70b, qwen-2.5-72b], gpus: 8,
       gpu_hour_usd: 2.49}
  overrides:
    - {provider: ollama, model: "*", free: true}
    - {provider: tgi, model: "*", gpu_hour_usd: 1.2, gpus: 2}
""")
    s = Settings.load(path, env={})
    assert s.pools == (Pool("h100-pool", "vllm", ("llama-3.1-70b", "qwen-2.5-72b"), 8.0, 2.49),
                       Pool("tgi", "tgi", ("*",), 2.0, 1.2))
    assert any("read as pool 'tgi'" in r.getMessage() for r in caplog.records)
    book = s.price_book()
    assert book.rates("vllm", "qwen-2.5-72b").pool == "h100-pool"
    assert book.rates("tgi", "anything").pool == "tgi"
    assert book.rates("ollama", "x").source == "free"


@pytest.mark.parametrize("pools,error", [
    ("[{name: a, provider: vllm, gpus: -1, gpu_hour_usd: 1}]", r"pools\[0\]\.gpus: must be"),
    ("[{name: a, provider: vllm, gpus: 1}]", r"pools\[0\]\.gpu_hour_usd"),
    ("[{provider: vllm, gpus: 1, gpu_hour_usd: 1}]", r"pools\[0\]\.name"),
    ("[{name: a, provider: vllm, gpus: 1, gpu_hour_usd: 1, cost: 3}]", r"unknown field.*cost"),
    ("[{name: a, provider: vllm, gpus: 1, gpu_hour_usd: 1},"
     " {name: a, provider: tgi, gpus: 1, gpu_hour_usd: 1}]", "names must be unique"),
    ("{name: a}", "pricing.pools: must be a list"),
])
def test_bad_pools_are_refused_naming_the_field(tmp_path, pools: str, error: str) -> None:
    path = tmp_path / "settings.yml"
    path.write_text(f"pricing:\n  pools: {pools}\n")
    with pytest.raises(ConfigError, match=error):
        Settings.load(path, env={})


def test_free_takes_no_prices() -> None:
    with pytest.raises(ValueError, match="free: true takes no prices"):
        PriceOverride.from_mapping({"provider": "ollama", "model": "*", "free": True,
                                    "input_per_mtok": 1})


def test_multiprocess_workers_agree_on_the_pool(tmp_path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    directory = multiprocess.prepare(tmp_path / "mp")
    book = PriceBook(pools=[Pool("p", "vllm", gpus=1, gpu_hour_usd=3.6)])
    a = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory, prices=book)
    b = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory, prices=book)
    assert a._readout.started == b._readout.started  # the directory's, not each worker's
    clock = Clock(monkeypatch, a._readout.started + 100)
    assert pool_cost(a, "p") == pool_cost(b, "p") == pytest.approx(0.1)
    clock.now += 100
    assert pool_cost(b, "p") == pytest.approx(0.2)


def test_a_pool_listed_with_no_gpus_prices_its_requests_but_costs_nothing_here(
        registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's exporter records the pool's requests; the GPU host's counts the GPUs."""
    llm = pooled(registry, gpus=0)
    clock = Clock(monkeypatch, llm._readout.started)
    llm.record_request(provider="vllm", model="llama-3.1-70b", input_tokens=100)
    clock.now += 3600
    assert pool_cost(llm, "a100") == 0
    assert value(registry, "llm_model_price_info", provider="vllm", model="llama-3.1-70b",
                 source="pool", pool="a100") == 1
    assert value(registry, "llm_unpriced_requests_total", provider="vllm",
                 model="llama-3.1-70b") == 0


def test_a_price_source_is_one_of_a_bounded_set() -> None:
    """``source`` becomes a label of llm_model_price_info."""
    with pytest.raises(ValueError, match="source: one of catalog, override"):
        Rates(source="my-spreadsheet")
