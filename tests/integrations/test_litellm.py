"""The LiteLLM callback with the real ``litellm`` package against the local fake API:
sync and async, streaming, failures, fallbacks, the team from metadata, our cost against
LiteLLM's own, and exact totals from several workers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, multiprocess

from ..conftest import value
from ..e2e.conftest import wait_for
from ..fake_llm_api import FakeLLMAPI

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of its price map
litellm = pytest.importorskip("litellm", reason="pip install -e '.[dev]' (litellm extra)")
from litellm.integrations.custom_logger import CustomLogger  # noqa: E402

from exporter.integrations.litellm import LiteLLMCallback  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "hi"}]


class LiteLLMCosts(CustomLogger):  # type: ignore[misc]
    """What LiteLLM itself says each successful call cost."""

    def __init__(self) -> None:
        super().__init__()
        self.costs: list[float] = []

    def log_success_event(self, kwargs, response_obj, start_time, end_time) -> None:
        self.costs.append(kwargs["standard_logging_object"]["response_cost"])

    async def async_log_success_event(self, kwargs, response_obj, start_time,
                                      end_time) -> None:
        self.costs.append(kwargs["standard_logging_object"]["response_cost"])


@pytest.fixture(scope="module")
def api() -> Iterator[FakeLLMAPI]:
    server = FakeLLMAPI()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def callbacks() -> Iterator[tuple[LiteLLMCallback, LiteLLMCosts]]:
    """One pair for the module: LiteLLM sorts its callbacks into its own lists on first
    use, so a later assignment of litellm.callbacks would not reach it."""
    ours, theirs = LiteLLMCallback(LLMMetrics(CollectorRegistry())), LiteLLMCosts()
    before = list(litellm.callbacks)
    litellm.callbacks = [ours, theirs]
    yield ours, theirs
    litellm.callbacks = before


@pytest.fixture
def setup(api: FakeLLMAPI, callbacks: tuple[LiteLLMCallback, LiteLLMCosts]
          ) -> tuple[CollectorRegistry, LiteLLMCosts]:
    """A fresh recorder (and registry) behind the module's callback, per test."""
    ours, theirs = callbacks
    registry = CollectorRegistry()
    ours.metrics = LLMMetrics(registry)
    theirs.costs.clear()
    return registry, theirs


def openai_kw(api: FakeLLMAPI) -> dict:
    return {"api_base": api.url + "/v1", "api_key": "k", "messages": MESSAGES}


def count(registry: CollectorRegistry, **labels: str) -> float:
    return value(registry, "llm_requests_total", **{"tier": "unknown", "team": "unknown",
                                                    "status": "success", **labels}) or 0


def cost(registry: CollectorRegistry) -> float:
    return sum(s.value for m in registry.collect() if m.name == "llm_cost_usd"
               for s in m.samples)


def wait_until(check) -> None:
    """LiteLLM runs its sync callbacks on a thread of its own: they land soon after."""
    wait_for(check, 10, "the callback to record", interval=0.02)


def test_sync_calls_record_tokens_team_and_our_cost_equals_litellms(api, setup) -> None:
    registry, theirs = setup
    litellm.completion(model="openai/gpt-4o", **openai_kw(api),
                       metadata={"team": "search", "tier": "Q2"})
    gpt = {"provider": "openai", "model": "gpt-4o", "tier": "q2", "team": "search"}
    wait_until(lambda: count(registry, **gpt) == 1)
    tokens = {t: value(registry, "llm_tokens_total", **gpt, token_type=t)
              for t in ("input", "cache_read", "output")}
    assert tokens == {"input": 200, "cache_read": 1000, "output": 350}
    # Anthropic through LiteLLM: cache reads, 5-minute and 1-hour writes
    litellm.completion(model="anthropic/claude-sonnet-4-5", api_base=api.url, api_key="k",
                       messages=MESSAGES, max_tokens=10)
    claude = {"provider": "anthropic", "model": "claude-sonnet-4-5"}
    wait_until(lambda: count(registry, **claude) == 1 and len(theirs.costs) == 2)
    assert value(registry, "llm_cost_usd_total", **claude, tier="unknown", team="unknown",
                 token_type="cache_write") == pytest.approx(100 * 3.75e-6 + 200 * 6e-6)
    assert len(theirs.costs) == 2
    assert cost(registry) == pytest.approx(sum(theirs.costs), rel=1e-9)


def test_streams_and_async_calls_are_counted_once_with_ttft(api, setup) -> None:
    registry, _ = setup
    for _chunk in litellm.completion(model="openai/gpt-4o", stream=True,
                                    stream_options={"include_usage": True},
                                    **openai_kw(api)):
        pass
    wait_until(lambda: count(registry, provider="openai", model="gpt-4o") == 1)

    async def main() -> None:
        await litellm.acompletion(model="openai/gpt-4o", **openai_kw(api))
        stream = await litellm.acompletion(model="openai/gpt-4o", stream=True,
                                           stream_options={"include_usage": True},
                                           **openai_kw(api))
        async for _ in stream:
            pass
        deadline = time.monotonic() + 10
        while count(registry, provider="openai", model="gpt-4o") < 3 \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the async callbacks run on this loop

    asyncio.run(main())
    time.sleep(0.3)  # a second recording of the same call would land by now
    assert count(registry, provider="openai", model="gpt-4o") == 3
    ttft = value(registry, "llm_time_to_first_token_seconds_count", provider="openai",
                 model="gpt-4o", tier="unknown")
    assert ttft == 2  # the two streams
    assert value(registry, "llm_tokens_total", provider="openai", model="gpt-4o",
                 tier="unknown", team="unknown", token_type="output") == 3 * 350


def test_a_failure_and_a_fallback(api, setup) -> None:
    registry, _ = setup
    def errors() -> float:
        return value(registry, "llm_request_errors_total", provider="openai",
                     model="rate-limited", error_type="rate_limit") or 0

    with pytest.raises(litellm.RateLimitError):
        litellm.completion(model="openai/rate-limited", **openai_kw(api), num_retries=0)
    wait_until(lambda: errors() == 1)

    async def with_fallback() -> None:
        """As the proxy calls it (LiteLLM runs fallbacks on its async path, and logs
        them on the running loop)."""
        await litellm.acompletion(model="openai/rate-limited", fallbacks=["openai/gpt-4o"],
                                  **openai_kw(api), num_retries=0)
        deadline = time.monotonic() + 10
        while (errors() < 2 or count(registry, provider="openai", model="gpt-4o") < 1) \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    asyncio.run(with_fallback())
    assert errors() == 2
    assert count(registry, provider="openai", model="gpt-4o") == 1
    assert value(registry, "llm_routing_decisions_total", complexity="gpt-4o",
                 tier="gpt-4o", fallback="true") == 1


WORKER = r'''
import os, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
import litellm
from prometheus_client import CollectorRegistry
from exporter import LLMMetrics
from exporter.integrations.litellm import LiteLLMCallback
url, directory, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
litellm.callbacks = [LiteLLMCallback(LLMMetrics(CollectorRegistry(),
                                                multiprocess_dir=directory))]
for i in range(n):
    litellm.completion(model="openai/gpt-4o", api_base=url + "/v1", api_key="k",
                       messages=[{"role": "user", "content": "hi"}],
                       metadata={"team": f"team-{i % 3}"})
'''


@pytest.mark.seconds(15)
def test_several_workers_add_up_exactly(api, tmp_path: Path) -> None:
    """Proxy workers are processes: with one multiprocess directory their totals merge
    exactly (LiteLLM's own Prometheus integration does not, its issue #10595)."""
    directory = multiprocess.prepare(tmp_path / "mp")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLM_EXPORTER_ZERO_HOLD_SECONDS": "0"}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, api.url, str(directory),
                                 str(n)], env=env) for n in (7, 11)]
    for w in workers:
        assert w.wait(timeout=120) == 0
    merged = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    text = merged.exposition().decode()
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith('llm_requests_total{provider="openai",model="gpt-4o"'))
    assert total == 18
    output = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                 if line.startswith("llm_tokens_total") and 'token_type="output"' in line)
    assert output == 18 * 350
