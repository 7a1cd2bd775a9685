"""Known traffic from all four home-grown backends, sent verbatim through their drop-in
clients, and the numbers every read route must then answer (counted by hand from what
was sent; costs from the sidecar's own replies)."""

from __future__ import annotations

import dataclasses
import json
import math
import time
import urllib.request
from typing import Any

from exporter.compat import LLMMetricsService, MetricsCollector, SyncMetricsClient
from exporter.read.side import FRESH_SECONDS

BASELINE = ("openai", "gpt-4o-mini")


@dataclasses.dataclass
class Sent:
    costs: dict[str, float] = dataclasses.field(default_factory=dict)
    """Cost per model, from the replies."""
    team_costs: dict[str, float] = dataclasses.field(default_factory=dict)
    latencies_ms: list[float] = dataclasses.field(default_factory=list)

    def cost(self) -> float:
        return sum(self.costs.values())


def _add(d: dict[str, float], k: str, v: float) -> None:
    d[k] = d.get(k, 0.0) + v


def send(url: str) -> Sent:
    """Every backend's documented calls, as their users make them."""
    s = Sent()
    cost = SyncMetricsClient(base_url=url)
    for model, p, o, ms, team, hit, qt, status in (
            ("gpt-4o", 1000, 200, 1500, "search", False, "SIMPLE", "success"),
            ("gpt-4o-mini", 500, 100, 300, "ads", True, "simple", "success"),
            ("gpt-4o", 100, 0, 2000, "search", None, None, "error")):
        reply = cost.track_request(model=model, prompt_tokens=p, output_tokens=o,
                                   total_tokens=p + o, latency_ms=ms, user_id="alice",
                                   request_id=f"req-{model}-{ms}", team_alias=team,
                                   cache_hit=hit, query_type=qt, status=status)
        assert reply["status"] == "success" and reply["tokens"] == p + o, reply
        _add(s.costs, model, reply["cost"])
        _add(s.team_costs, team, reply["cost"])
        s.latencies_ms.append(ms)
    cost.track_cache_metrics(cache_hit=30, cache_miss=70, avg_lookup_time_ms=2.5,
                             team_alias="search")
    reply = cost.track_batch(batch_id="b-1", batch_size=10, total_tokens=5000, batch_cost=0.25,
                             batch_latency_ms=60000, team_alias="etl")
    assert reply["cost"] == 0.25
    _add(s.costs, "unknown", 0.25)
    _add(s.team_costs, "etl", 0.25)

    usage = [{"model": "gpt-4o-mini", "prompt_tokens": 200, "completion_tokens": 50,
              "total_tokens": 250, "request_id": "p-1", "status": "200", "latency_ms": 400,
              "api_key_hash": "9f86d081884c7d65"},
             {"model": "claude-sonnet-4-5", "prompt_tokens": 100, "completion_tokens": 0,
              "total_tokens": 100, "request_id": "p-2", "status": "429", "latency_ms": 50,
              "api_key_hash": "9f86d081884c7d65"}]
    request = urllib.request.Request(f"{url}/_qs/usage", data=json.dumps(usage).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(response.read())["recorded"] == 2
    service = LLMMetricsService(base_url=url)
    s.latencies_ms += [400, 50]
    r1 = service.record_request(provider_name="ollama", model="llama3.1:8b", status="success",
                                prompt_tokens=300, completion_tokens=100, duration_seconds=2.0,
                                endpoint="/api/chat")
    r2 = service.record_request(provider_name="openai", model="gpt-4o", status="timeout",
                                prompt_tokens=0, completion_tokens=0, duration_seconds=30.0,
                                error_message="Request timed out", endpoint="/v1/chat")
    _add(s.costs, "llama3.1:8b", r1["cost"])
    _add(s.costs, "gpt-4o", r2["cost"])
    _add(s.team_costs, "unknown", r1["cost"] + r2["cost"])
    s.latencies_ms += [2000, 30000]

    router = MetricsCollector(url=url)
    router.record_routing_decision(complexity="SIMPLE", tier="Local", score=0.8,
                                   decision_time_ms=2.0, is_fallback=False)
    router.record_routing_decision(complexity="simple", tier="local", score=1.2,
                                   decision_time_ms=4.0, is_fallback=True)
    router.record_routing_decision(complexity="COMPLEX", tier="premium", score=3.0,
                                   decision_time_ms=1.0, is_fallback=False)
    router.record_query(tier="local", latency_ms=1000, tokens_generated=200,
                        generation_time_ms=800, is_error=False)
    router.record_query(tier="Premium", latency_ms=3000, tokens_generated=300,
                        generation_time_ms=2000, is_error=True)
    router.update_model_availability(tier="LOCAL", available=2, total=3)
    assert router.flush(10)
    s.latencies_ms += [1000, 3000]
    time.sleep(FRESH_SECONDS)  # reads show the counters as of at most this long ago
    return s


def usage_costs(prices: Any) -> dict[str, float]:
    """The proxy records' costs (its route answers one sum), from the price book."""
    return {"gpt-4o-mini": prices.rates("openai", "gpt-4o-mini").costs(200, 0, 0, 0, 50, 0,
                                                                        200),
            "claude-sonnet-4-5": prices.rates("anthropic", "claude-sonnet-4-5").costs(
                100, 0, 0, 0, 0, 0, 100)}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_all_routes(get: Any, sent: Sent, prices: Any, kind: str) -> None:
    """Every read route against what was sent. ``get(path)`` returns parsed JSON."""
    for model, parts in usage_costs(prices).items():
        _add(sent.costs, model, sum(parts))
    _add(sent.team_costs, "unknown", sum(sum(p) for p in usage_costs(prices).values()))
    total_cost = sent.cost()

    d = get("/api/v1/dashboard/metrics?time_range_hours=1")
    assert d["source"]["kind"] == kind
    assert d["total_requests"] == 9  # 3 tracked + 2 proxied + 2 provider calls + 2 queries
    assert d["total_tokens"] == 1900 + 5000 + 350 + 400 + 500
    assert close(d["total_cost"], total_cost)
    assert close(d["error_rate"], round(100 * 4 / 9, 4))
    assert close(d["avg_latency_ms"], sum(sent.latencies_ms) / len(sent.latencies_ms))
    assert close(d["cache_hit_rate"], round(100 * 31 / 102, 4))  # 30 + 1 hits, 70 + 1 misses
    assert d["model_usage"]["gpt-4o"] == {"count": 3, "tokens": 1300,
                                          "cost": d["model_usage"]["gpt-4o"]["cost"]}
    assert close(d["model_usage"]["gpt-4o"]["cost"], sent.costs["gpt-4o"])
    assert d["model_usage"]["gpt-4o-mini"]["count"] == 2
    assert close(sum(h["cost"] for h in d["hourly_trend"].values()), total_cost)
    assert sum(h["count"] for h in d["hourly_trend"].values()) == 9
    assert sum(b["count"] for b in d["latency_distribution"]) == 9

    search = get("/api/v1/dashboard/metrics?time_range_hours=1&team_alias=search")
    assert search["total_requests"] == 2 and search["total_tokens"] == 1300
    assert close(search["total_cost"], sent.team_costs["search"])
    assert close(search["cache_hit_rate"], round(100 * 30 / 101, 4))
    assert close(search["avg_latency_ms"], (1500 + 2000) / 2)  # this team's own
    assert search["source"]["ignored_filters"] == ["team"]  # the percentiles have no team
    assert close(d["team_usage"]["ads"]["avg_latency_ms"], 300.0)
    assert all(type(d[k]) is int for k in ("total_tokens", "total_requests"))
    assert all(type(m["count"]) is int and type(m["tokens"]) is int
               for m in d["model_usage"].values())
    mini = get("/api/v1/dashboard/metrics?time_range_hours=1&model_filter=models/gpt-4o-mini")
    assert mini["total_requests"] == 2 and list(mini["model_usage"]) == ["gpt-4o-mini"]
    cheap = get("/api/v1/dashboard/metrics?time_range_hours=1&min_cost=0.001")
    assert all(m["cost"] >= 0.001 for m in cheap["model_usage"].values())

    q = get("/_qs/metrics?model=gpt-4o-mini")
    assert q["totals"] == {"total_tokens": 850, "total_requests": 2}
    assert q["by_model"] == [{"model": "gpt-4o-mini", "tokens": 850, "requests": 2,
                              "avg_latency_ms": 350.0}]
    assert sum(t["requests"] for t in q["timeseries"]) == 2
    assert get("/_qs/health") == {"status": "ok"}

    r = get("/api/v1/read/routing")
    assert r["matrix"]["simple"]["local"]["count"] == 2
    assert close(r["matrix"]["simple"]["local"]["avg_score"], 1.0)
    assert r["matrix"]["complex"]["premium"] == {"count": 1, "avg_score": 3.0}
    assert r["total_decisions"] == 3 and close(r["fallback_rate"], round(100 / 3, 4))
    assert close(r["avg_decision_time_ms"], 7.0 / 3)
    assert r["model_availability"]["local"] == {"available": 2, "total": 3}
    t = get("/api/v1/read/tiers")["tiers"]
    assert close(t["local"]["tokens_per_second"], 200 / 0.8)
    assert close(t["premium"]["tokens_per_second"], 300 / 2.0)
    assert t["premium"]["error_rate"] == 100 and t["simple"]["requests"] == 2  # SIMPLE + simple
    assert get("/api/v1/read/queries")["total_requests"] == 9

    providers = {p["name"]: p for p in get("/api/llm/providers")["providers"]}
    assert providers["openai"]["total_requests"] == 5  # 3 tracked, 1 proxied, 1 recorded
    assert providers["openai"]["success_rate"] == 60.0
    assert providers["ollama"]["avg_response_time_ms"] == 2000.0
    costs = get("/api/llm/costs")
    assert costs["local_requests"] == 3 and costs["remote_requests"] == 6
    assert costs["reference_model"] == "/".join(BASELINE)
    assert close(costs["total_cost_usd"], total_cost)
    assert close(costs["estimated_savings_usd"],
                 costs["hypothetical_claude_cost_usd"] - total_cost)
    m = get("/api/llm/metrics")
    assert m["total_requests"] == 9 and m["failed_requests"] == 4
    assert sum(row["requests"] for row in get("/api/llm/trends")["trends"]) == 9


def recorded(llm: Any, name: str, **labels: str) -> float | None:
    """A sample's value as recorded (no zero-first hold)."""
    for fam in llm.collect(scrape=False):
        for sample in fam.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None
