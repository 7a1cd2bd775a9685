"""Benchmark: the active series (and bytes per scrape) each tool exposes for one reference
LLM workload. A metrics backend bills per active series, so this is the running cost.

Run: python tests/benchmarks/bench_series.py [--teams 20 200] [--seed 1]

The workload: 3 providers, 12 models (4 each), N teams, 3 tiers; every (model, team, tier)
is called, 2% of calls fail (a 429), every answer reads part of its prompt from the
provider's cache (the fake API's usage has cached tokens), half stream (with a time to
first token). The calls go through the real
``litellm`` package to the local fake API (no network), and three callbacks see each:

- **us**: :class:`exporter.integrations.litellm.LiteLLMCallback` on an ``LLMMetrics`` with
  default settings (and, with many teams, with ``labels.series_budget`` raised so that no
  label set folds into the overflow series);
- **LiteLLM's Prometheus integration**: its ``PrometheusLogger``, default settings;
- **naive prometheus_client**: the counters and histograms a team would write by hand for
  the same questions (tokens, cost, latency and TTFT percentiles, errors per team and
  model), every metric labelled by provider, model, team and tier.

Series are the sample lines of one text-format scrape (each histogram bucket is one);
``_created`` lines count, as Prometheus stores them. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

PROVIDERS = {
    "openai": ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3"],
    "anthropic": ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1",
                  "claude-3-5-haiku-20241022"],
    "deepseek": ["deepseek-chat", "deepseek-reasoner", "deepseek-v3", "deepseek-coder"],
}
TIERS = ("Q1", "Q2", "Q3")

CHILD = r'''
import asyncio, json, os, random, sys
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["LLM_EXPORTER_ZERO_HOLD_SECONDS"] = "0"
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests", sys.argv[1] + "/tests/benchmarks"]
teams, seed, budget = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
import litellm
from litellm.integrations.custom_logger import CustomLogger
from litellm.integrations.prometheus import PrometheusLogger
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from exporter import LLMMetrics, Settings
from exporter.integrations.litellm import LiteLLMCallback, usage_of
from fake_llm_api import FakeLLMAPI
from bench_series import PROVIDERS, TIERS

def series(text):
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))

baseline = series(generate_latest(REGISTRY).decode())  # the process and GC collectors

class Naive(CustomLogger):
    """What a team writes by hand for the same questions, every metric fully labelled."""
    def __init__(self):
        super().__init__()
        self.registry = r = CollectorRegistry()
        L = ["provider", "model", "team", "tier"]
        self.requests = Counter("app_llm_requests", "", L + ["status"], registry=r)
        self.tokens = Counter("app_llm_tokens", "", L + ["token_type"], registry=r)
        self.cost = Counter("app_llm_cost_usd", "", L + ["token_type"], registry=r)
        self.errors = Counter("app_llm_errors", "", L + ["error_type"], registry=r)
        self.latency = Histogram("app_llm_latency_seconds", "", L, registry=r)
        self.ttft = Histogram("app_llm_ttft_seconds", "", L, registry=r)
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        response = response_obj
        p = kwargs["standard_logging_object"]
        md = p["metadata"]
        lab = (p["custom_llm_provider"], p["model"], md.get("user_api_key_team_alias"),
               (kwargs.get("litellm_params") or {}).get("metadata", {}).get("tier"))
        self.requests.labels(*lab, "success").inc()
        u = usage_of(response, p)
        for t in ("input_tokens", "output_tokens", "cache_read_tokens"):
            self.tokens.labels(*lab, t).inc(u.get(t, 0))
            self.cost.labels(*lab, t).inc(0)
        self.latency.labels(*lab).observe(p["endTime"] - p["startTime"])
        if p.get("stream"):
            self.ttft.labels(*lab).observe(p["completionStartTime"] - p["startTime"])
    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        p = kwargs["standard_logging_object"]
        md = p["metadata"]
        lab = (p["custom_llm_provider"], p["model"], md.get("user_api_key_team_alias"),
               (kwargs.get("litellm_params") or {}).get("metadata", {}).get("tier"))
        self.requests.labels(*lab, "error").inc()
        self.errors.labels(*lab, type(kwargs.get("exception")).__name__).inc()
        self.latency.labels(*lab).observe(p["endTime"] - p["startTime"])

api = FakeLLMAPI()
settings = Settings.load(env={})
if budget:
    from dataclasses import replace
    settings = replace(settings, series_budget=budget)
ours = LLMMetrics(CollectorRegistry(), config=settings)
naive = Naive()
litellm.callbacks = [LiteLLMCallback(ours), PrometheusLogger(), naive]
rng = random.Random(seed)
combos = [(p, m, f"team-{t:03d}", tier) for p, ms in PROVIDERS.items() for m in ms
          for t in range(teams) for tier in TIERS]
rng.shuffle(combos)

async def one(p, m, team, tier):
    kw = {"model": f"{p}/{m}", "messages": [{"role": "user", "content": "hi"}],
          "api_key": "k", "num_retries": 0, "max_tokens": 50,
          "api_base": api.url if p == "anthropic" else api.url + "/v1",
          "metadata": {"user_api_key_team_alias": team, "user_api_key_team_id": team,
                       "tier": tier}}
    if rng.random() < 0.02:
        kw["extra_headers"] = {"x-fake-status": "429"}
    stream = rng.random() < 0.5
    try:
        if stream:
            async for _ in await litellm.acompletion(**kw, stream=True):
                pass
        else:
            await litellm.acompletion(**kw)
    except Exception:
        pass

async def main():
    for i in range(0, len(combos), 16):
        await asyncio.gather(*(one(*c) for c in combos[i:i + 16]))
    await asyncio.sleep(2)  # LiteLLM's logging task drains

asyncio.run(main())
out = {}
text = ours.exposition().decode()
out["us"] = (series(text), len(text.encode()))
text = generate_latest(REGISTRY).decode()
out["LiteLLM PrometheusLogger"] = (series(text) - baseline, len(text.encode()))
text = generate_latest(naive.registry).decode()
out["naive prometheus_client"] = (series(text), len(text.encode()))
out["calls"] = len(combos)
print(json.dumps(out))
'''


def measure(teams: int, seed: int, budget: int) -> dict:
    """One workload in a fresh process (LiteLLM's logger registers on the default
    registry, so each run starts from an empty one)."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(teams), str(seed),
                          str(budget)], capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teams", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; 3 providers, 12 models, 3 tiers; every "
          "(model, team, tier) called once; 2% errors, half streamed")
    print("| teams | tool | series | bytes per scrape | LiteLLM / tool |")
    print("|---|---|---|---|---|")
    for teams in args.teams:
        runs = [("default settings", measure(teams, args.seed, 0))]
        if teams * 12 * 3 > 1000:  # past the default series budget per family
            runs.append(("series_budget 10000", measure(teams, args.seed, 10_000)))
        theirs = runs[0][1]["LiteLLM PrometheusLogger"][0]
        for label, r in runs:
            for tool in ("us", "LiteLLM PrometheusLogger", "naive prometheus_client"):
                if label != "default settings" and tool != "us":
                    continue
                n, size = r[tool]
                name = f"{tool} ({label})" if tool == "us" else tool
                ratio = f"{theirs / n:.1f}x" if n else "-"
                print(f"| {teams} | {name} | {n:,} | {size:,} | {ratio} |")


if __name__ == "__main__":
    main()
