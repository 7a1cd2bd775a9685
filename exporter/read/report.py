"""``llm-exporter report``: the read routes' answers in the terminal, for a time range
("24h", "7d", or "month": this calendar month so far), from Prometheus (exact at query
time) or from a sidecar's ``/metrics`` (its counters since it started). ``--json``
prints the backends' shapes instead of tables."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import urllib.request
from datetime import datetime, timezone
from typing import Any, TextIO

from ..pricing.book import PriceBook
from . import provider_views, views
from .endpoint import Endpoint
from .history import State
from .queries import Questions
from .sources import LocalSource, PrometheusSource, Source, SourceError, Window, state_of

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def window_hours(spec: str, now: float | None = None) -> float:
    """Hours covered by "30m", "24h", "7d", "2w" or "month" (this calendar month, UTC)."""
    now = time.time() if now is None else now
    if spec == "month":
        start = datetime.fromtimestamp(now, timezone.utc).replace(day=1, hour=0, minute=0,
                                                                  second=0, microsecond=0)
        return max((now - start.timestamp()) / 3600, 1 / 60)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", spec.strip())
    if not m:
        raise ValueError(f"--range: expected e.g. 30m, 24h, 7d or month, got {spec!r}")
    return float(m.group(1)) * _UNITS[m.group(2)] / 3600


def scraped(endpoint: Endpoint) -> State:
    """A sidecar's or app's /metrics as a state (text format). Its errors never quote
    what was read (it may not be metrics at all)."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(endpoint.url, headers=endpoint.headers())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read(64 << 20).decode("utf-8")
    except (OSError, ValueError) as exc:
        raise SourceError(endpoint.redact(f"{endpoint.url} did not answer: {exc}")) from None
    try:
        return state_of(text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError):
        raise SourceError(f"{endpoint.url} did not answer in the Prometheus text "
                          "format") from None


def answers(q: Questions, hours: float, team: str | None, model: str | None,
            reference: str | None, prices: PriceBook | None = None) -> dict[str, Any]:
    """Every backend's answer for the range, keyed by its route."""
    p = {"time_range_hours": f"{hours}", "minutes": f"{min(hours * 60, 1440)}",
         "days": f"{max(hours / 24, 1 / 24)}",
         "from": f"{time.time() - hours * 3600}"}
    filtered = {**p, **({"team_alias": team} if team else {}),
                **({"model_filter": model} if model else {})}
    return {"/api/v1/dashboard/metrics": views.cost_dashboard(q, filtered),
            "/_qs/metrics": views.proxy_metrics(q, {**p, **({"model": model} if model else {})}),
            "/api/llm/providers": provider_views.providers_list(q, p),
            "/api/llm/costs": provider_views.providers_costs(q, p, reference, prices),
            "/api/llm/trends": provider_views.providers_trends(q, p),
            "/api/v1/read/routing": views.routing_matrix(q, p),
            "by_team": {k[0]: r for k, r in q.breakdown(("team",), Window.last(hours * 3600),
                                                        {"team": team} if team else {}).items()}}


def _table(out: TextIO, title: str, head: list[str], rows: list[list[Any]]) -> None:
    out.write(f"\n{title}\n")
    if not rows:
        out.write("  (none)\n")
        return
    cells = [head] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(head))]
    for i, r in enumerate(cells):
        out.write("  " + "  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w)
                                   for j, (c, w) in enumerate(zip(r, widths))) + "\n")
        if i == 0:
            out.write("  " + "  ".join("-" * w for w in widths) + "\n")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".") if v % 1 else f"{v:,.0f}"
    return "" if v is None else str(v)


def render(a: dict[str, Any], out: TextIO) -> None:
    d = a["/api/v1/dashboard/metrics"]
    src = d["source"]
    out.write(f"llm-exporter report, {src['from']} .. {src['to']} ({src['kind']}: "
              f"{src['note']})\n")
    _table(out, "Totals", ["", "value"], [
        ["cost (USD)", d["total_cost"]], ["tokens", d["total_tokens"]],
        ["requests", d["total_requests"]], ["error rate %", d["error_rate"]],
        ["avg latency ms", d["avg_latency_ms"]], ["cache hit rate %", d["cache_hit_rate"]]])
    _table(out, "By model", ["model", "requests", "tokens", "cost"],
           [[m, r["count"], r["tokens"], r["cost"]] for m, r in d["model_usage"].items()])
    _table(out, "By team", ["team", "requests", "tokens", "cost"],
           [[t, r["requests"], r["tokens"], r["cost"]] for t, r in sorted(a["by_team"].items())
            if r["requests"] or r["tokens"]])
    _table(out, "By provider", ["provider", "requests", "success %", "avg ms", "circuit", "up"],
           [[p["name"], p["total_requests"], p["success_rate"], p["avg_response_time_ms"],
             p["circuit_state"], "yes" if p["is_available"] else "no"]
            for p in a["/api/llm/providers"]["providers"]])
    c = a["/api/llm/costs"]
    _table(out, f"Savings against {c['reference_model'] or '(no reference model)'}",
           ["", "value"], [["cost", c["total_cost_usd"]],
                           ["on the reference", c["hypothetical_claude_cost_usd"]],
                           ["savings", c["estimated_savings_usd"]],
                           ["savings %", c["savings_percentage"]],
                           ["local requests", c["local_requests"]],
                           ["remote requests", c["remote_requests"]]])
    r = a["/api/v1/read/routing"]
    _table(out, "Routing (count, average score)", ["complexity", "tier", "count", "avg score"],
           [[cx, tier, cell["count"], cell["avg_score"]]
            for cx, row in r["matrix"].items() for tier, cell in row.items()])
    hourly = d["hourly_trend"]
    if len(hourly) <= 48:
        _table(out, "Hourly", ["hour (UTC)", "requests", "cost"],
               [[h, v["count"], v["cost"]] for h, v in hourly.items()])
    else:
        _table(out, "Daily", ["day (UTC)", "requests", "tokens", "cost"],
               [[t["date"], t["requests"], t["tokens"], t["cost"]]
                for t in a["/api/llm/trends"]["trends"]])


def main(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    from ..settings.load import Settings

    settings = Settings.load(args.config)
    server = settings.server
    source: Source
    try:
        prometheus = server.prometheus(args.prometheus, where="--prometheus"
                                       if args.prometheus else "server.prometheus_url")
        if prometheus is not None:
            source = PrometheusSource(prometheus)
        else:
            metrics = Endpoint.parse(args.metrics_url or f"http://127.0.0.1:{server.port}"
                                     "/metrics", where="--metrics-url")
            source = LocalSource(lambda: scraped(metrics))
    except ValueError as exc:
        print(f"llm-exporter report: {exc}", file=sys.stderr)
        return 2
    try:
        hours = window_hours(args.range)
        reference = "/".join(settings.baseline) if settings.baseline else None
        result = answers(Questions(source, settings.namespace), hours, args.team, args.model,
                         reference, settings.price_book())
    except (ValueError, SourceError, OSError) as exc:
        print(f"llm-exporter report: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out.write(json.dumps(result, indent=1) + "\n")
    else:
        render(result, out)
    return 0


def add_parser(sub: Any) -> None:
    report = sub.add_parser("report", help="totals, breakdowns, savings and routing for a "
                                           "time range, in the terminal")
    report.add_argument("--range", default="24h",
                        help="30m, 24h, 7d ... or month (this calendar month); default 24h")
    report.add_argument("--prometheus", help="Prometheus URL (default: server.prometheus_url "
                                             "or $LLM_EXPORTER_PROMETHEUS_URL)")
    report.add_argument("--metrics-url", help="without Prometheus: a /metrics to read "
                                              "(default: the local sidecar's)")
    report.add_argument("--team")
    report.add_argument("--model")
    report.add_argument("--config", help="settings file (namespace, baseline, Prometheus URL)")
    report.add_argument("--json", action="store_true", help="the backends' JSON shapes")
    report.set_defaults(func=main)
