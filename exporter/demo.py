"""A realistic synthetic workload: several providers and models (one self-hosted),
three routing tiers, teams, response-cache hits, routing decisions, streaming TTFT,
errors and rate limits. For the quick start and for tests that need traffic."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from .pricing.pools import Pool
from .record.recorder import LLMMetrics
from .settings.load import Settings

#: The demo's embedded settings: the self-hosted model is served by a one-GPU pool
#: whose hours are its cost, and savings are measured against gpt-4o.
DEMO_SETTINGS = Settings(
    baseline=("openai", "gpt-4o"),
    pools=(Pool("demo-gpu", "ollama", gpus=1, gpu_hour_usd=1.2),),
    source="demo defaults")


@dataclass(frozen=True)
class _Model:
    provider: str
    model: str
    tier: str
    ms_per_token: float
    ttft: float


MODELS = (
    _Model("ollama", "llama3.1:8b", "Q1", 9.0, 0.08),
    _Model("openai", "gpt-4o-mini", "Q1", 7.0, 0.25),
    _Model("google", "gemini-2.5-flash", "Q2", 5.0, 0.30),
    _Model("openai", "gpt-4o", "Q2", 12.0, 0.40),
    _Model("anthropic", "claude-sonnet-4-5", "Q3", 15.0, 0.60),
    _Model("openai", "o3", "Q3", 20.0, 2.50),
)
TEAMS = ("search", "support", "ads", "research")
COMPLEXITY = {"Q1": "SIMPLE", "Q2": "MEDIUM", "Q3": "COMPLEX"}


class Workload:
    """Generates one simulated request per :meth:`step`; deterministic for a seed."""

    def __init__(self, llm: LLMMetrics, seed: int = 1) -> None:
        self.llm = llm
        self.rng = random.Random(seed)
        self.requests = 0
        self.cost = 0.0
        self.tokens = 0

    def step(self) -> None:
        rng, llm = self.rng, self.llm
        tier = rng.choices(("Q1", "Q2", "Q3"), weights=(5, 3, 2))[0]
        complexity = COMPLEXITY[tier]
        fallback = rng.random() < 0.05
        llm.record_routing(complexity=complexity, tier=tier, score=rng.uniform(0.3, 9.5),
                           duration_seconds=rng.uniform(0.001, 0.03), fallback=fallback)
        choices = [m for m in MODELS if m.tier == tier]
        m = rng.choice(choices)
        team = rng.choice(TEAMS)
        hit = rng.random() < 0.25
        llm.record_cache_lookup(cache="semantic", hit=hit,
                                duration_seconds=rng.uniform(0.0005, 0.02),
                                similarity=rng.uniform(0.9, 1.0) if hit else None)
        if hit:  # answered from the cache: no LLM call
            llm.record_request(provider=m.provider, model=m.model, tier=tier, team=team,
                               duration_seconds=rng.uniform(0.002, 0.02), cache_hit=True)
            self.requests += 1
            return
        roll = rng.random()
        if roll < 0.02:
            error = "rate_limit"
        elif roll < 0.03:
            error = "timeout"
        elif roll < 0.035:
            error = "server_error"
        else:
            error = None
        inp = int(rng.lognormvariate(7.0, 1.0))
        cached = int(inp * rng.choice((0.0, 0.0, 0.5, 0.9))) if m.provider != "ollama" else 0
        # Anthropic fills its prompt cache explicitly (at a premium), some of it for 1 hour
        written = int((inp - cached) * 0.6) if m.provider == "anthropic" and not cached else 0
        written_1h = written // 3 if rng.random() < 0.3 else 0
        out = max(1, int(rng.lognormvariate(5.5, 0.8)))
        reasoning = int(out * rng.uniform(0.5, 0.9)) if m.model == "o3" else 0
        out += reasoning
        ttft = m.ttft * rng.uniform(0.6, 1.8)
        duration = ttft + out * m.ms_per_token / 1000 * rng.uniform(0.8, 1.3)
        if error is not None or roll < 0.06:  # the SDK retried a 429 or a 5xx first
            llm.record_retries(provider=m.provider, model=m.model,
                               count=2 if error in ("rate_limit", "server_error") else 1)
        if error is not None:
            cost = llm.record_request(provider=m.provider, model=m.model, tier=tier, team=team,
                                      status="error", error_type=error,
                                      duration_seconds=rng.uniform(0.05, 30.0 if error ==
                                                                   "timeout" else 1.0),
                                      cache_hit=False)
        else:
            cost = llm.record_request(provider=m.provider, model=m.model, tier=tier, team=team,
                                      input_tokens=inp, cache_read_tokens=cached,
                                      cache_write_tokens=written,
                                      cache_write_1h_tokens=written_1h, output_tokens=out,
                                      reasoning_tokens=reasoning,
                                      duration_seconds=duration, ttft_seconds=ttft,
                                      cache_hit=False)
            self.tokens += inp + out
        self.cost += cost
        self.requests += 1
        if self.requests % 50 == 0:
            self._states()

    def _states(self) -> None:
        rng, llm = self.rng, self.llm
        for tier, total in (("Q1", 2), ("Q2", 2), ("Q3", 2)):
            llm.set_tier_models(tier=tier, available=rng.choice((total, total, total - 1)),
                                total=total)
        for provider in sorted({m.provider for m in MODELS}):
            circuit = "open" if rng.random() < 0.03 else "closed"
            llm.set_provider_state(provider=provider, up=circuit == "closed", circuit=circuit)
        llm.set_cache_size(cache="semantic", size_bytes=rng.uniform(50e6, 60e6))
        llm.set_vector_index_size(index="docs", size_bytes=1.2e9)
        llm.set_worker_pool(pool="llm-workers", active=rng.randint(0, 8),
                            queued=rng.randint(0, 20))
        llm.record_batch(provider="openai", model="gpt-4o-mini", team="research",
                         size=rng.randint(20, 200), input_tokens=rng.randint(10_000, 90_000),
                         output_tokens=rng.randint(2000, 20_000),
                         duration_seconds=rng.uniform(60, 600))

    def run(self, rate: float, stop: threading.Event, max_requests: int | None = None) -> None:
        """Record about ``rate`` requests per second until ``stop`` is set."""
        interval = 1.0 / rate
        next_at = time.monotonic()
        while not stop.is_set() and (max_requests is None or self.requests < max_requests):
            self.step()
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                stop.wait(delay)
