"""Every question the read routes, the live page and ``llm-exporter report`` ask, in one
place: totals, breakdowns, latency quantiles, trends, providers, tiers, routing and
resources, answered from a :class:`~exporter.read.sources.Source`.

Filters apply to the families that carry the label: latency histograms have no team, so
a team filter narrows costs and counts, not latency (said in ``ignored_filters``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..catalog import BY_KEY, metric_name
from .sources import Match, Source, Vector, Window


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus's histogram_quantile over cumulative (upper bound, count) pairs."""
    if not buckets:
        return None
    buckets = sorted(buckets)
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


class Questions:
    """The answers, for a source and the recorder's namespace."""

    def __init__(self, source: Source, namespace: str = "llm") -> None:
        self.source = source
        self.ns = namespace

    def name(self, key: str, suffix: str = "") -> str:
        """A family's scraped sample name in this namespace."""
        return metric_name(key, self.ns) + suffix

    @staticmethod
    def _match(key: str, match: Match) -> Match:
        labels = BY_KEY[key].labels
        return {k: v for k, v in match.items() if k in labels}

    def ignored(self, keys: tuple[str, ...], match: Match) -> list[str]:
        """Filters some of these families cannot apply (they lack the label)."""
        return sorted({k for k in match for key in keys if k not in BY_KEY[key].labels})

    def increase(self, key: str, by: tuple[str, ...], window: Window, match: Match,
                 suffix: str = "") -> Vector:
        return self.source.increase(self.name(key, suffix), by, window,
                                    self._match(key, match))

    def breakdown(self, by: tuple[str, ...], window: Window, match: Match
                  ) -> dict[tuple[str, ...], dict[str, float]]:
        """Per value of ``by``: requests, errors, tokens, cost, reference cost, and
        latency count/sum (where ``by`` is a latency label)."""
        rows: dict[tuple[str, ...], dict[str, float]] = {}

        def put(field: str, vector: Vector) -> None:
            for k, v in vector.items():
                rows.setdefault(k, {})[field] = rows.get(k, {}).get(field, 0.0) + v

        for (*k, status), v in self.increase("requests", by + ("status",), window,
                                             match).items():
            put("requests", {tuple(k): v})
            if status == "error":
                put("errors", {tuple(k): v})
        put("tokens", self.increase("tokens", by, window, match))
        put("cost", self.increase("cost", by, window, match))
        put("reference_cost", self.increase("reference_cost", by, window, match))
        if all(b in BY_KEY["request_duration"].labels for b in by) or "team" in by:
            count, total = self._latency(by, window, match)
            put("latency_count", count)
            put("latency_sum", total)
        for row in rows.values():
            for field in ("requests", "errors", "tokens", "cost", "reference_cost"):
                row.setdefault(field, 0.0)
        return rows

    def _latency(self, by: tuple[str, ...], window: Window, match: Match
                 ) -> tuple[Vector, Vector]:
        """(timed requests, their duration sum): from the latency histogram, or, where a
        team is asked for (the histogram has no team), the per-team duration counters."""
        if "team" in by or "team" in match:
            return (self.increase("timed_requests", by, window, match),
                    self.increase("team_duration", by, window, match))
        return (self.increase("request_duration", by, window, match, "_count"),
                self.increase("request_duration", by, window, match, "_sum"))

    def totals(self, window: Window, match: Match) -> dict[str, float]:
        row = self.breakdown((), window, match).get((), {})
        out = {f: row.get(f, 0.0) for f in ("requests", "errors", "tokens", "cost",
                                            "reference_cost")}
        count, total = self._latency((), window, match)
        out["latency_count"], out["latency_sum"] = sum(count.values()), sum(total.values())
        cache = self.increase("cache_lookups", ("result",), window,
                              {**match, "cache": "response"})
        out["cache_hits"] = cache.get(("hit",), 0.0)
        out["cache_misses"] = cache.get(("miss",), 0.0)
        return out

    def latency(self, window: Window, match: Match, by: tuple[str, ...] = ()
                ) -> dict[tuple[str, ...], dict[str, Any]]:
        """Per value of ``by``: p50/p95/p99 in seconds and the non-cumulative count per
        bucket (upper bound, count)."""
        vector = self.increase("request_duration", by + ("le",), window, match, "_bucket")
        grouped: dict[tuple[str, ...], list[tuple[float, float]]] = {}
        for k, v in vector.items():
            grouped.setdefault(k[:-1], []).append((float(k[-1]), v))
        out = {}
        for k, cumulative in grouped.items():
            cumulative.sort()
            counts, before = [], 0.0
            for upper, c in cumulative:
                counts.append((upper, max(c - before, 0.0)))
                before = c
            out[k] = {"p50": quantile(0.5, cumulative), "p95": quantile(0.95, cumulative),
                      "p99": quantile(0.99, cumulative), "buckets": counts}
        return out

    def trend(self, window: Window, step: int, match: Match, by: tuple[str, ...] = ()
              ) -> list[tuple[float, dict[tuple[str, ...], dict[str, float]]]]:
        """Per step: cost, requests, errors and tokens (by ``by``)."""
        series: dict[str, list[tuple[float, Vector]]] = {
            "cost": self.source.steps(self.name("cost"), by, window, step,
                                      self._match("cost", match)),
            "tokens": self.source.steps(self.name("tokens"), by, window, step,
                                        self._match("tokens", match))}
        requests = self.source.steps(self.name("requests"), by + ("status",), window, step,
                                     self._match("requests", match))
        out: dict[float, dict[tuple[str, ...], dict[str, float]]] = {}
        for field, steps in series.items():
            for start, vector in steps:
                cell = out.setdefault(start, {})
                for k, v in vector.items():
                    cell.setdefault(k, {})[field] = v
        for start, vector in requests:
            cell = out.setdefault(start, {})
            for k, v in vector.items():
                row = cell.setdefault(k[:-1], {})
                row["requests"] = row.get("requests", 0.0) + v
                if k[-1] == "error":
                    row["errors"] = row.get("errors", 0.0) + v
        return sorted(out.items())

    def providers(self, window: Window) -> dict[str, dict[str, Any]]:
        """Per provider: traffic, success rate inputs, and its health gauges now."""
        rows: dict[str, dict[str, Any]] = {k[0]: v for k, v in
                                           self.breakdown(("provider",), window, {}).items()}
        for (provider,), up in self.source.current(self.name("provider_up"), ("provider",),
                                                   {}, "min").items():
            rows.setdefault(provider, {})["up"] = up
        for (provider, state), v in self.source.current(
                self.name("provider_circuit"), ("provider", "state"), {}).items():
            if v >= 1:
                rows.setdefault(provider, {})["circuit"] = state
        return rows

    def tiers(self, window: Window) -> dict[str, dict[str, float]]:
        """Per tier: requests, errors, output tokens, and generation seconds (duration
        minus time to first token) for tokens per second."""
        rows = {k[0]: v for k, v in self.breakdown(("tier",), window, {}).items()}
        out_tokens = self.increase("tokens", ("tier", "token_type"), window, {})
        ttft = self.increase("ttft", ("tier",), window, {}, "_sum")
        for (tier, token_type), v in out_tokens.items():
            if token_type in ("output", "reasoning"):
                row = rows.setdefault(tier, {})
                row["output_tokens"] = row.get("output_tokens", 0.0) + v
        for tier, row in rows.items():
            row["generation_seconds"] = max(row.get("latency_sum", 0.0)
                                            - ttft.get((tier,), 0.0), 0.0)
        return rows

    def tier_series(self, window: Window, step: int
                    ) -> tuple[list[float], dict[str, tuple[list[float], list[float]]]]:
        """Per step of the window: each tier's average latency (ms) and generation tokens
        per second (output tokens over duration minus time to first token); (bucket
        starts, {tier: (latency_ms, tokens_per_second)}) for the tiers seen."""
        def steps(key: str, suffix: str, match: Match) -> dict[float, Vector]:
            return dict(self.source.steps(self.name(key, suffix), ("tier",), window, step,
                                          match))

        n, total = steps("request_duration", "_count", {}), steps("request_duration", "_sum", {})
        ttft = steps("ttft", "_sum", {})
        tokens = steps("tokens", "", {"token_type": "output"})
        starts = sorted(n)
        seen = {k for vector in n.values() for k in vector}
        out: dict[str, tuple[list[float], list[float]]] = {}
        for key in sorted(seen):
            latency, speed = [], []
            for t in starts:
                count, spent = n[t].get(key, 0.0), total.get(t, {}).get(key, 0.0)
                generating = spent - ttft.get(t, {}).get(key, 0.0)
                latency.append(spent / count * 1000.0 if count else 0.0)
                speed.append(tokens.get(t, {}).get(key, 0.0) / generating if generating > 0
                             else 0.0)
            out[key[0]] = (latency, speed)
        return starts, out

    def routing(self, window: Window) -> dict[str, Any]:
        decisions = self.increase("routing_decisions", ("complexity", "tier", "fallback"),
                                  window, {})
        scores_sum = self.increase("routing_score", ("complexity", "tier"), window, {}, "_sum")
        scores_n = self.increase("routing_score", ("complexity", "tier"), window, {}, "_count")
        decide_sum = sum(self.increase("routing_duration", (), window, {}, "_sum").values())
        decide_n = sum(self.increase("routing_duration", (), window, {}, "_count").values())
        cells: dict[tuple[str, ...], dict[str, float]] = {}
        for (c, t, fallback), v in decisions.items():
            cell = cells.setdefault((c, t), {"count": 0.0, "fallbacks": 0.0})
            cell["count"] += v
            if fallback == "true":
                cell["fallbacks"] += v
        for k, n in scores_n.items():
            if n:
                cells.setdefault(k, {"count": 0.0, "fallbacks": 0.0})["avg_score"] = \
                    scores_sum.get(k, 0.0) / n
        # every replica of an app reports its tiers alike: the highest, not the sum
        available = self.source.current(self.name("tier_available"), ("tier",), {}, "max")
        configured = self.source.current(self.name("tier_total"), ("tier",), {}, "max")
        return {"cells": cells, "decision_seconds_sum": decide_sum,
                "decision_count": decide_n,
                "availability": {t: {"available": available.get((t,), 0.0), "total": total}
                                 for (t,), total in configured.items()}}

    def resources(self, rate_seconds: int = 60) -> dict[str, Any]:
        """Host and GPU gauges now, disk and network bytes per second."""
        def one(key: str, by: tuple[str, ...] = ()) -> Mapping[tuple[str, ...], float]:
            return self.source.current(self.name(key), by, {})

        def scalar(key: str) -> float | None:
            values = one(key)
            return values.get(()) if values else None

        disk = self.source.rate(self.name("disk_io"), ("direction",), rate_seconds, {})
        net = self.source.rate(self.name("network_io"), ("direction",), rate_seconds, {})
        queued = one("worker_pool_queued", ("pool",))
        return {
            "cpu_utilization": scalar("cpu_utilization"),
            "cpu_count": scalar("cpu_count"),
            "memory_used_bytes": scalar("memory_used"),
            "memory_total_bytes": scalar("memory_total"),
            "connections": scalar("network_connections"),
            "gpu_memory_used_bytes": {k[0]: v for k, v in one("gpu_memory_used",
                                                              ("gpu",)).items()},
            "gpu_memory_total_bytes": {k[0]: v for k, v in one("gpu_memory_total",
                                                               ("gpu",)).items()},
            "gpu_utilization": {k[0]: v for k, v in one("gpu_utilization", ("gpu",)).items()},
            "cache_size_bytes": {k[0]: v for k, v in one("cache_size", ("cache",)).items()},
            "vector_index_size_bytes": {k[0]: v for k, v in
                                        one("vector_index_size", ("index",)).items()},
            "pools": {k[0]: {"active": v, "queued": queued.get(k, 0.0)}
                      for k, v in one("worker_pool_active", ("pool",)).items()},
            "disk_bytes_per_second": {k[0]: v for k, v in disk.items()},
            "network_bytes_per_second": {k[0]: v for k, v in net.items()},
        }

