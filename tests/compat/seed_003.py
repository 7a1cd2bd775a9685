"""Seed 003 (tier / routing / resources metrics API), its documented calls and shapes.

The document's collector calls, quoted (its "Data Collection Integration")::

    collector.record_query(
        tier=selected_tier,  # "Q2", "Q3", or "Q4"
        latency_ms=total_latency,
        tokens_generated=response_tokens,
        generation_time_ms=generation_time,
        is_error=False
    )
    collector.record_routing_decision(
        complexity=complexity_level,  # "SIMPLE", "MODERATE", "COMPLEX"
        tier=selected_tier,  # "Q2", "Q3", "Q4"
        score=complexity_score,
        decision_time_ms=decision_time,
        is_fallback=False
    )
    collector.update_model_availability(tier="Q2", available=2, total=3)

Its TypeScript types, quoted, are what :func:`check` compares against, key for key and
type for type (``number`` is an int where the example shows one)::

    interface QueryMetrics { timestamps: string[]; queryRate: number[];
      totalQueries: number; avgLatencyMs: number;
      tierDistribution: { Q2: number; Q3: number; Q4: number; }; }
    interface TierMetrics { name: 'Q2' | 'Q3' | 'Q4'; tokensPerSec: number[];
      latencyMs: number[]; requestCount: number; errorRate: number; }
    interface ResourceMetrics { vram: { used: number; total: number; percent: number };
      cpu: { percent: number; cores: number };
      memory: { used: number; total: number; percent: number };
      faissIndexSize: number; redisCacheSize: number; activeConnections: number;
      threadPoolStatus: { active: number; queued: number };
      diskIO: { readMBps: number; writeMBps: number };
      networkThroughput: { rxMBps: number; txMBps: number }; }
    interface RoutingMetrics {
      decisionMatrix: Array<{ complexity: 'SIMPLE' | 'MODERATE' | 'COMPLEX';
        tier: 'Q2' | 'Q3' | 'Q4'; count: number; avgScore: number; }>;
      accuracyMetrics: { totalDecisions: number; avgDecisionTimeMs: number;
        fallbackRate: number; };
      modelAvailability: Array<{ tier: 'Q2' | 'Q3' | 'Q4'; available: number;
        total: number; }>; }
    interface MetricsUpdate { type: 'metrics_update'; timestamp: string;
      queries: QueryMetrics; resources: ResourceMetrics; routing: RoutingMetrics; }
"""

from __future__ import annotations

import calendar
import math
import re
import time
from typing import Any

from exporter.compat import MetricsCollector

#: (tier, latency_ms, tokens_generated, generation_time_ms, is_error): one query per
#: tier, so each tier's series has exactly one non-zero point.
QUERIES = (("Q2", 1200.0, 54, 1000.0, False), ("Q3", 3200.0, 100, 2500.0, False),
           ("Q4", 8500.0, 200, 8000.0, True))
#: (complexity, tier, score, decision_time_ms, is_fallback)
DECISIONS = (("SIMPLE", "Q2", 1.6, 12.5, False), ("SIMPLE", "Q2", 2.0, 12.5, False),
             ("MODERATE", "Q3", 5.2, 10.0, False), ("COMPLEX", "Q4", 8.7, 15.0, True))
AVAILABILITY = (("Q2", 3, 3), ("Q3", 2, 2), ("Q4", 0, 1))
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def send(url: str) -> tuple[float, float]:
    """The document's calls, verbatim in form; returns (before, after) the sending."""
    before = time.time()
    collector = MetricsCollector(url=url)
    for tier, latency, tokens, generation, error in QUERIES:
        collector.record_query(tier=tier, latency_ms=latency, tokens_generated=tokens,
                               generation_time_ms=generation, is_error=error)
    for complexity, tier, score, ms, fallback in DECISIONS:
        collector.record_routing_decision(complexity=complexity, tier=tier, score=score,
                                          decision_time_ms=ms, is_fallback=fallback)
    for tier, available, total in AVAILABILITY:
        collector.update_model_availability(tier=tier, available=available, total=total)
    assert collector.flush(10)
    return before, time.time()


def _typed(value: Any, kind: type) -> bool:
    return type(value) is kind


def _keys(obj: Any, *names: str) -> None:
    assert isinstance(obj, dict) and set(obj) == set(names), (sorted(obj), names)


def check_queries(d: Any, sent_at: tuple[float, float]) -> None:
    _keys(d, "timestamps", "queryRate", "totalQueries", "avgLatencyMs", "tierDistribution")
    assert len(d["timestamps"]) == len(d["queryRate"]) == 18
    assert all(ISO.match(t) for t in d["timestamps"])
    times = [float(calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ")))
             for t in d["timestamps"]]
    assert [b - a for a, b in zip(times, times[1:])] == [10.0] * 17
    assert all(_typed(r, float) and r >= 0 for r in d["queryRate"])
    # full buckets hold whole queries; the newest is partial, its rate over its elapsed part
    full = [r * 10 for r in d["queryRate"][:-1]]
    assert all(math.isclose(c, round(c), abs_tol=1e-9) for c in full), full
    last = len(QUERIES) - round(sum(full))
    assert last >= 0
    if last:
        width = last / d["queryRate"][-1]
        assert 1.0 - 1e-9 <= width <= min(10.0, time.time() - times[-1]) + 1e-9, width
    assert times[0] <= sent_at[0] and times[-1] <= time.time()
    assert _typed(d["totalQueries"], int) and d["totalQueries"] == len(QUERIES)
    assert _typed(d["avgLatencyMs"], float)
    assert math.isclose(d["avgLatencyMs"], sum(q[1] for q in QUERIES) / len(QUERIES))
    assert d["tierDistribution"] == {"Q2": 1, "Q3": 1, "Q4": 1}
    assert all(_typed(v, int) for v in d["tierDistribution"].values())


def check_tiers(d: Any) -> None:
    _keys(d, "tiers")
    assert isinstance(d["tiers"], list)  # the page calls data.tiers.map(...)
    assert [t["name"] for t in d["tiers"]] == ["Q2", "Q3", "Q4"]
    for t, (_, latency, tokens, generation, error) in zip(d["tiers"], QUERIES):
        _keys(t, "name", "tokensPerSec", "latencyMs", "requestCount", "errorRate")
        assert len(t["tokensPerSec"]) == len(t["latencyMs"]) == 20
        assert all(_typed(v, float) for v in t["tokensPerSec"] + t["latencyMs"])
        assert [v for v in t["tokensPerSec"] if v] == [tokens / (generation / 1000.0)], t
        assert [v for v in t["latencyMs"] if v] == [latency], t
        assert _typed(t["requestCount"], int) and t["requestCount"] == 1
        assert _typed(t["errorRate"], float) and t["errorRate"] == (1.0 if error else 0.0)


def check_resources(d: Any, cores: int, memory_total: float) -> None:
    _keys(d, "vram", "cpu", "memory", "faissIndexSize", "redisCacheSize",
          "activeConnections", "threadPoolStatus", "diskIO", "networkThroughput")
    _keys(d["vram"], "used", "total", "percent")
    _keys(d["cpu"], "percent", "cores")
    _keys(d["memory"], "used", "total", "percent")
    _keys(d["threadPoolStatus"], "active", "queued")
    _keys(d["diskIO"], "readMBps", "writeMBps")
    _keys(d["networkThroughput"], "rxMBps", "txMBps")
    for group in ("vram", "memory"):
        assert all(_typed(v, float) for v in d[group].values()), d[group]
    assert d["vram"] == {"used": 0.0, "total": 0.0, "percent": 0.0}  # no GPU here
    assert _typed(d["cpu"]["percent"], float) and 0 <= d["cpu"]["percent"] <= 100
    assert _typed(d["cpu"]["cores"], int) and d["cpu"]["cores"] == cores
    assert math.isclose(d["memory"]["total"], memory_total / 2**30)  # GB, as documented
    assert 0 < d["memory"]["percent"] <= 100
    for key in ("faissIndexSize", "redisCacheSize", "activeConnections"):
        assert _typed(d[key], int) and d[key] >= 0, key
    assert all(_typed(v, int) for v in d["threadPoolStatus"].values())
    for group in ("diskIO", "networkThroughput"):
        assert all(_typed(v, float) and v >= 0 for v in d[group].values()), d[group]


def check_routing(d: Any) -> None:
    _keys(d, "decisionMatrix", "accuracyMetrics", "modelAvailability")
    cells = {(c["complexity"], c["tier"]): c for c in d["decisionMatrix"]}
    assert len(cells) == len(d["decisionMatrix"]) == 9  # 3 complexities x 3 tiers
    for c in d["decisionMatrix"]:
        _keys(c, "complexity", "tier", "count", "avgScore")
        assert _typed(c["count"], int) and _typed(c["avgScore"], float)
    assert cells[("SIMPLE", "Q2")]["count"] == 2
    assert math.isclose(cells[("SIMPLE", "Q2")]["avgScore"], 1.8)
    assert (cells[("MODERATE", "Q3")]["count"], cells[("MODERATE", "Q3")]["avgScore"]) == (1, 5.2)
    assert (cells[("COMPLEX", "Q4")]["count"], cells[("COMPLEX", "Q4")]["avgScore"]) == (1, 8.7)
    assert cells[("SIMPLE", "Q4")] == {"complexity": "SIMPLE", "tier": "Q4", "count": 0,
                                       "avgScore": 0.0}
    a = d["accuracyMetrics"]
    _keys(a, "totalDecisions", "avgDecisionTimeMs", "fallbackRate")
    assert _typed(a["totalDecisions"], int) and a["totalDecisions"] == 4
    assert math.isclose(a["avgDecisionTimeMs"], 12.5)
    assert a["fallbackRate"] == 0.25  # a fraction, as the example's 0.03
    assert d["modelAvailability"] == [{"tier": t, "available": a, "total": n}
                                      for t, a, n in AVAILABILITY]
    assert all(_typed(m["available"], int) and _typed(m["total"], int)
               for m in d["modelAvailability"])


def check_update(m: Any, cores: int, memory_total: float, sent_at: tuple[float, float]) -> None:
    """The WebSocket message: MetricsUpdate, with the REST routes' shapes inside."""
    _keys(m, "type", "timestamp", "queries", "resources", "routing")
    assert m["type"] == "metrics_update" and ISO.match(m["timestamp"])
    check_queries(m["queries"], sent_at)
    check_resources(m["resources"], cores, memory_total)
    check_routing(m["routing"])
