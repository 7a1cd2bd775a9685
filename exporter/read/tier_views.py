"""The tier / routing / resources backend's read routes, in its documented shapes
(camelCase, lists where its React page maps over them, counts as integers, rates as
fractions), built from the same :class:`~exporter.read.queries.Questions` as the
native routes.

Its document is silent or contradicts itself in places; the readings that keep its
frontend working:

- ``/api/metrics/queries`` says both "30-minute rolling window" and "18 timestamps at
  10-second intervals (last 3 minutes)": the 18 points cover the last 3 minutes (the
  newest one partial), ``queryRate`` is queries per second within each, and the totals
  and ``tierDistribution`` cover the last 30 minutes.
- ``/api/metrics/tiers``: "last 20 samples per tier" at the same 10 s; request count
  and error rate over the same 30 minutes.
- Tier and complexity names are one series whatever their case; these routes spell them
  in upper case, as the document's types (``'Q2' | 'Q3' | 'Q4'``, ``'SIMPLE'``) do.
- The decision matrix lists every complexity seen against every tier seen (its
  "9 cells"), zero where no query went.
"""

from __future__ import annotations

import math
import time
from typing import Any

from .params import Params
from .queries import Questions
from .sources import Window
from .views import avg_ms, iso, route

STEP = 10
"""Seconds per point of the query and tier series."""
QUERY_POINTS, TIER_POINTS = 18, 20
TOTALS_SECONDS = 30 * 60
GIB, MIB = float(1 << 30), float(1 << 20)


def _name(value: str) -> str:
    return value.upper()


def _points(n: int, now: float) -> Window:
    """The last ``n`` step-aligned buckets, the newest partial."""
    first = math.floor(now / STEP) * STEP - (n - 1) * STEP
    return Window(first, now)


def _rate(count: float, start: float, now: float) -> float:
    return count / max(1.0, min(STEP, now - start))


@route("/api/metrics/queries")
def queries(q: Questions, params: Params, now: float | None = None) -> dict[str, Any]:
    """GET /api/metrics/queries: 18 points of queries per second at 10 s, and the last
    30 minutes' total, average latency and queries per tier."""
    now = time.time() if now is None else now
    trend = q.trend(_points(QUERY_POINTS, now), STEP, {})[-QUERY_POINTS:]
    window = Window(now - TOTALS_SECONDS, now)
    totals = q.totals(window, {})
    tiers = q.breakdown(("tier",), window, {})
    return {"timestamps": [iso(t) for t, _ in trend],
            "queryRate": [_rate(cells.get((), {}).get("requests", 0.0), t, now)
                          for t, cells in trend],
            "totalQueries": round(totals["requests"]),
            "avgLatencyMs": avg_ms(totals),
            "tierDistribution": {_name(k[0]): round(r["requests"])
                                 for k, r in sorted(tiers.items()) if r.get("requests")}}


@route("/api/metrics/tiers")
def tiers(q: Questions, params: Params, now: float | None = None) -> dict[str, Any]:
    """GET /api/metrics/tiers: per tier, 20 points (10 s) of generation tokens per second
    and average latency, and the last 30 minutes' request count and error rate."""
    now = time.time() if now is None else now
    starts, series = q.tier_series(_points(TIER_POINTS, now), STEP)
    starts = starts[-TIER_POINTS:]
    out = []
    for tier, row in sorted(q.tiers(Window(now - TOTALS_SECONDS, now)).items()):
        latency, speed = series.get(tier, ([0.0] * len(starts), [0.0] * len(starts)))
        requests = row.get("requests", 0.0)
        out.append({"name": _name(tier), "tokensPerSec": speed[-TIER_POINTS:],
                    "latencyMs": latency[-TIER_POINTS:], "requestCount": round(requests),
                    "errorRate": row.get("errors", 0.0) / requests if requests else 0.0})
    return {"tiers": out}


@route("/api/metrics/resources")
def resources(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/metrics/resources: VRAM and memory in GiB (every GPU summed), CPU
    percent and cores, index and cache bytes, connections, worker pools, MiB/s."""
    r = q.resources()
    vram_used = sum(r["gpu_memory_used_bytes"].values())
    vram_total = sum(r["gpu_memory_total_bytes"].values())
    used, total = r["memory_used_bytes"] or 0.0, r["memory_total_bytes"] or 0.0
    cpu = r["cpu_utilization"]
    pools = r["pools"].values()
    return {
        "vram": {"used": vram_used / GIB, "total": vram_total / GIB,
                 "percent": 100.0 * vram_used / vram_total if vram_total else 0.0},
        "cpu": {"percent": 0.0 if cpu is None else 100.0 * cpu,
                "cores": round(r["cpu_count"] or 0)},
        "memory": {"used": used / GIB, "total": total / GIB,
                   "percent": 100.0 * used / total if total else 0.0},
        "faissIndexSize": round(sum(r["vector_index_size_bytes"].values())),
        "redisCacheSize": round(sum(r["cache_size_bytes"].values())),
        "activeConnections": round(r["connections"] or 0),
        "threadPoolStatus": {"active": round(sum(p["active"] for p in pools)),
                             "queued": round(sum(p["queued"] for p in pools))},
        "diskIO": {"readMBps": r["disk_bytes_per_second"].get("read", 0.0) / MIB,
                   "writeMBps": r["disk_bytes_per_second"].get("write", 0.0) / MIB},
        "networkThroughput": {
            "rxMBps": r["network_bytes_per_second"].get("receive", 0.0) / MIB,
            "txMBps": r["network_bytes_per_second"].get("transmit", 0.0) / MIB},
    }


@route("/api/metrics/routing")
def routing(q: Questions, params: Params, now: float | None = None) -> dict[str, Any]:
    """GET /api/metrics/routing: the last 30 minutes' decision matrix (every complexity
    seen against every tier seen), decision totals, and availability per tier."""
    now = time.time() if now is None else now
    r = q.routing(Window(now - TOTALS_SECONDS, now))
    cells = r["cells"]
    complexities = sorted({c for c, _ in cells})
    tier_names = sorted({t for _, t in cells})
    total = sum(c["count"] for c in cells.values())
    fallbacks = sum(c["fallbacks"] for c in cells.values())
    n = r["decision_count"]
    return {
        "decisionMatrix": [{"complexity": _name(c), "tier": _name(t),
                            "count": round(cells.get((c, t), {}).get("count", 0.0)),
                            "avgScore": cells.get((c, t), {}).get("avg_score") or 0.0}
                           for c in complexities for t in tier_names],
        "accuracyMetrics": {"totalDecisions": round(total),
                            "avgDecisionTimeMs": r["decision_seconds_sum"] / n * 1000.0
                            if n else 0.0,
                            "fallbackRate": fallbacks / total if total else 0.0},
        "modelAvailability": [{"tier": _name(t), "available": round(a["available"]),
                               "total": round(a["total"])}
                              for t, a in sorted(r["availability"].items())],
    }


def update(q: Questions) -> dict[str, Any]:
    """The WebSocket message (``/api/metrics/ws``, once a second)."""
    now = time.time()
    return {"type": "metrics_update", "timestamp": iso(now), "queries": queries(q, {}, now),
            "resources": resources(q, {}), "routing": routing(q, {}, now)}
