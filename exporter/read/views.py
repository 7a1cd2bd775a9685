"""The home-grown backends' read routes: each answer in that backend's JSON shape, built
from :class:`~exporter.read.queries.Questions`. Rates are percentages (0..100), as
those dashboards showed them; every answer says its source and the span it covers.

The cost backend's and the proxy's shapes, and the native shapes of the tier routing
routes; the tier routing backend's own shapes are in :mod:`.tier_views`, the provider
service's in :mod:`.provider_views`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

from ..cardinality import normalise_model
from .params import (
    DAY,
    HOUR,
    MAX_RANGE_SECONDS,
    Instant,
    Number,
    Param,
    ParamError,
    Params,
    Text,
    time_range,
)
from .queries import Questions
from .sources import Window

#: Every GET route answered here: path -> (the function answering it, the parameters it
#: reads). Its docstring and the parameters' bounds make the OpenAPI document.
ROUTES: dict[str, tuple[Callable[..., dict[str, Any]], tuple[Param, ...]]] = {}

F = TypeVar("F", bound=Callable[..., dict[str, Any]])


def route(path: str, *params: Param) -> Callable[[F], F]:
    def add(view: F) -> F:
        ROUTES[path] = (view, params)
        return view
    return add


HOURS = Number("time_range_hours", 24, 1 / 60, MAX_RANGE_SECONDS / HOUR, "hours back")
MIN_COST = Number("min_cost", 0, 0, 1e12, "keep the models that cost at least this (USD)")
TEAM_ALIAS = Text("team_alias", "one team")
MODEL_FILTER = Text("model_filter", "one model")
MODEL = Text("model", "one model")
FROM = Instant("from", "start; default a day before to")
TO = Instant("to", "end; default now")
#: Minute sparklines: at most a day of them.
MINUTES = Number("minutes", 60, 1, 24 * 60, "minutes back (one bucket per minute)")
#: No buckets: the matrix is one window, so the live page's 30 days work too.
MATRIX_MINUTES = Number("minutes", 60, 1, 31 * 24 * 60, "minutes back")


def days_param(default: float) -> Number:
    return Number("days", default, 1 / 24, MAX_RANGE_SECONDS / DAY, "days back")


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 4) if whole else 0.0


def avg_ms(row: Mapping[str, float]) -> float:
    n = row.get("latency_count", 0.0)
    return row.get("latency_sum", 0.0) / n * 1000.0 if n else 0.0


def source(q: Questions, window: Window, ignored: list[str] | None = None) -> dict[str, Any]:
    """Where an answer came from and what span it really covers."""
    kind = q.source.kind
    out: dict[str, Any] = {
        "kind": kind, "from": iso(q.source.since(window)), "to": iso(window.end),
        "note": "exact counts from Prometheus" if kind == "prometheus" else
        "this sidecar's own counters (no Prometheus configured): since it started, or "
        "since its in-memory history began"}
    if ignored:
        out["ignored_filters"] = ignored
    return out


def _filters(params: Params, **names: Text) -> dict[str, str]:
    """Label filters; a model is spelled as it is recorded (``models/gemini-2.5-flash``
    finds ``gemini-2.5-flash``)."""
    out = {label: value for label, p in names.items()
           if (value := p.read(params)) is not None}
    if "model" in out:
        try:
            out["model"] = normalise_model("", out["model"])
        except ValueError as exc:
            raise ParamError(names["model"].name, str(exc)) from None
    return out


# ------------------------------------------------------------------ cost backend

@route("/api/v1/dashboard/metrics", HOURS, TEAM_ALIAS, MODEL_FILTER, MIN_COST)
def cost_dashboard(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/v1/dashboard/metrics?time_range_hours=&team_alias=&model_filter=
    (&min_cost= keeps the models and teams that cost at least that much; the KPIs cover
    every request, as per-request costs are not kept: /api/v1/requests/recent filters
    single requests)."""
    hours = HOURS.read(params)
    min_cost = MIN_COST.read(params)
    window = Window.last(hours * HOUR)
    match = _filters(params, team=TEAM_ALIAS, model=MODEL_FILTER)
    totals = q.totals(window, match)
    models = q.breakdown(("model",), window, match)
    teams = q.breakdown(("team",), window, match)
    latency = q.latency(window, match).get((), {"p50": None, "p95": None, "p99": None,
                                                "buckets": []})
    lookups = totals["cache_hits"] + totals["cache_misses"]
    trend = q.trend(window, HOUR, match)
    return {
        "total_cost": totals["cost"], "total_tokens": round(totals["tokens"]),
        "total_requests": round(totals["requests"]), "avg_latency_ms": avg_ms(totals),
        "cache_hit_rate": pct(totals["cache_hits"], lookups),
        "error_rate": pct(totals["errors"], totals["requests"]),
        "model_usage": {k[0]: {"count": round(r["requests"]), "tokens": round(r["tokens"]),
                               "cost": r["cost"]}
                        for k, r in sorted(models.items()) if r["cost"] >= min_cost and
                        (r["requests"] or r["tokens"] or r["cost"])},
        "hourly_trend": {datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:00"):
                         {"cost": cells.get((), {}).get("cost", 0.0),
                          "count": round(cells.get((), {}).get("requests", 0.0))}
                         for t, cells in trend},
        "team_usage": {k[0]: {"count": round(r["requests"]), "tokens": round(r["tokens"]),
                              "cost": r["cost"], "avg_latency_ms": avg_ms(r)}
                       for k, r in sorted(teams.items()) if r["cost"] >= min_cost and
                       (r["requests"] or r["tokens"])},
        "cache": {"hits": round(totals["cache_hits"]), "misses": round(totals["cache_misses"])},
        "latency_percentiles_ms": {p: None if latency[p] is None else latency[p] * 1000.0
                                   for p in ("p50", "p95", "p99")},
        "latency_distribution": [{"le_ms": b * 1000.0 if b != math.inf else None,
                                  "count": round(c)} for b, c in latency["buckets"]],
        "source": source(q, window, q.ignored(("request_duration",), match)),
    }


# ------------------------------------------------------------------ proxy

@route("/_qs/metrics", FROM, TO, MODEL)
def proxy_metrics(q: Questions, params: Params) -> dict[str, Any]:
    """GET /_qs/metrics?from=&to=&model= (unix seconds or RFC 3339; the last 24 h)."""
    window = Window(*time_range(params, FROM, TO, DAY))
    match = _filters(params, model=MODEL)
    models = q.breakdown(("model",), window, match)
    trend = q.trend(window, HOUR, match)
    return {
        "totals": {"total_tokens": round(sum(r["tokens"] for r in models.values())),
                   "total_requests": round(sum(r["requests"] for r in models.values()))},
        "by_model": [{"model": k[0], "tokens": round(r["tokens"]),
                      "requests": round(r["requests"]), "avg_latency_ms": avg_ms(r)}
                     for k, r in sorted(models.items()) if r["requests"] or r["tokens"]],
        "timeseries": [{"bucket_start": iso(t),
                        "tokens": round(cells.get((), {}).get("tokens", 0.0)),
                        "requests": round(cells.get((), {}).get("requests", 0.0))}
                       for t, cells in trend],
        "source": source(q, window),
    }


# ------------------------------------------------------------------ tiers, routing, resources
# (the tier routing backend's own shapes, over these questions: tier_views.py)

@route("/api/v1/read/queries", MINUTES)
def routing_queries(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/v1/read/queries?minutes=: queries per minute, request count, error rate."""
    window = Window.last(MINUTES.read(params) * 60)
    trend = q.trend(window, 60, {})
    totals = q.totals(window, {})
    return {"query_rate": [{"timestamp": iso(t), "queries_per_minute":
                            cells.get((), {}).get("requests", 0.0)} for t, cells in trend],
            "total_requests": totals["requests"],
            "error_rate": pct(totals["errors"], totals["requests"]),
            "source": source(q, window)}


@route("/api/v1/read/tiers", MINUTES)
def routing_tiers(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/v1/read/tiers?minutes=: per tier tokens/s and latency, with per-minute
    sparklines."""
    window = Window.last(MINUTES.read(params) * 60)
    rows = q.tiers(window)
    starts, series = q.tier_series(window, 60)
    tiers = {}
    for tier, row in sorted(rows.items()):
        latency, speed = series.get(tier, ([0.0] * len(starts), [0.0] * len(starts)))
        gen_total = row.get("generation_seconds", 0.0)
        tiers[tier] = {"requests": row["requests"],
                       "error_rate": pct(row["errors"], row["requests"]),
                       "avg_latency_ms": avg_ms(row),
                       "tokens_per_second": row.get("output_tokens", 0.0) / gen_total
                       if gen_total else 0.0,
                       "latency_ms": latency, "tokens_per_second_series": speed}
    return {"tiers": tiers, "timestamps": [iso(t) for t in starts], "source": source(q, window)}


@route("/api/v1/read/resources")
def routing_resources(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/v1/read/resources: VRAM, CPU, memory, index and cache sizes,
    connections, worker pools, disk and network MB/s."""
    r = q.resources()
    mb = 1024.0 * 1024.0
    used, total = r["memory_used_bytes"], r["memory_total_bytes"]
    vram = {gpu: {"used_mb": v / mb, "total_mb": r["gpu_memory_total_bytes"].get(gpu, 0.0) / mb,
                  "percent": pct(v, r["gpu_memory_total_bytes"].get(gpu, 0.0)),
                  "utilization_percent": 100.0 * r["gpu_utilization"].get(gpu, 0.0)}
            for gpu, v in sorted(r["gpu_memory_used_bytes"].items())}
    return {
        "vram": vram,
        "cpu_percent": None if r["cpu_utilization"] is None else 100.0 * r["cpu_utilization"],
        "memory": {"used_mb": None if used is None else used / mb,
                   "total_mb": None if total is None else total / mb,
                   "percent": pct(used or 0.0, total or 0.0)},
        "faiss_index_mb": {k: v / mb for k, v in r["vector_index_size_bytes"].items()},
        "redis_cache_mb": {k: v / mb for k, v in r["cache_size_bytes"].items()},
        "connections": r["connections"],
        "thread_pool": r["pools"],
        "disk_mb_s": {"read": r["disk_bytes_per_second"].get("read", 0.0) / mb,
                      "write": r["disk_bytes_per_second"].get("write", 0.0) / mb},
        "network_mb_s": {"recv": r["network_bytes_per_second"].get("receive", 0.0) / mb,
                         "sent": r["network_bytes_per_second"].get("transmit", 0.0) / mb},
        "source": {"kind": q.source.kind, "note": "gauges now; MB/s over the last minute"},
    }


@route("/api/v1/read/routing", MATRIX_MINUTES)
def routing_matrix(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/v1/read/routing?minutes=: the complexity x tier matrix (count, average
    score), totals, average decision time, fallback rate, availability per tier."""
    window = Window.last(MATRIX_MINUTES.read(params) * 60)
    r = q.routing(window)
    matrix: dict[str, dict[str, Any]] = {}
    total = fallbacks = 0.0
    for (complexity, tier), cell in sorted(r["cells"].items()):
        matrix.setdefault(complexity, {})[tier] = {"count": cell["count"],
                                                   "avg_score": cell.get("avg_score")}
        total += cell["count"]
        fallbacks += cell["fallbacks"]
    n = r["decision_count"]
    return {"matrix": matrix, "total_decisions": total,
            "avg_decision_time_ms": r["decision_seconds_sum"] / n * 1000.0 if n else 0.0,
            "fallback_rate": pct(fallbacks, total),
            "model_availability": r["availability"], "source": source(q, window)}
