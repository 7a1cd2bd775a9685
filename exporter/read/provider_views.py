"""The provider metrics service's read routes (Flask + SQLite), in its documented names
(``display_name``, ``is_available``, ``avg_response_time_ms``, ``total_cost_usd``,
``hypothetical_claude_cost_usd`` ...), counts as integers, built from the same
:class:`~exporter.read.queries.Questions` as every other route.

Where its document is silent: ``/api/llm/providers`` and ``/api/llm/metrics`` cover the
last 7 days (its curl comments say 7 for metrics, 30 for costs); ``enabled`` and
``is_available`` are 1 or 0, as its SQLite rows printed them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..catalog import TOKEN_TYPES
from ..ingest import provider_state
from ..ingest.provider_state import ProviderStates
from ..pricing.book import SELF_HOSTED_PROVIDERS, PriceBook
from .params import DAY, HOUR, Params
from .queries import Questions
from .sources import Window
from .views import avg_ms, days_param, iso, pct, route, source

if TYPE_CHECKING:
    from ..record.recorder import LLMMetrics

DAYS_7, DAYS_30 = days_param(7), days_param(30)
#: What "if all requests used Claude" prices, when no pricing.baseline says otherwise.
CLAUDE = ("anthropic", "claude-sonnet-4-5")


def _provider_row(name: str, row: Mapping[str, Any], states: ProviderStates | None,
                  rank: int) -> dict[str, Any]:
    up = row.get("up")
    requests = round(row.get("requests", 0.0))
    failed = round(row.get("errors", 0.0))
    failures = states.failures(name) if states is not None else None
    return {"id": rank, "name": name, "display_name": provider_state.display_name(name),
            "type": provider_state.kind(name), "priority": rank,
            "enabled": int(states is None or states.enabled(name)),
            "is_available": int(up is None or up >= 1),
            "circuit_state": row.get("circuit", "closed"),
            "failure_count": failures or 0,
            "total_requests": requests, "successful_requests": requests - failed,
            "failed_requests": failed, "success_rate": pct(requests - failed, requests),
            "avg_response_time_ms": avg_ms(row)}


def provider_rows(q: Questions, window: Window, states: ProviderStates | None
                  ) -> list[dict[str, Any]]:
    rows = q.providers(window)
    ordered = sorted(rows, key=provider_state.priority)
    return [_provider_row(p, rows[p], states, i) for i, p in enumerate(ordered, 1)]


@route("/api/llm/providers", DAYS_7)
def providers_list(q: Questions, params: Params, states: ProviderStates | None = None
                   ) -> dict[str, Any]:
    """GET /api/llm/providers?days=: every provider by priority, with its health (circuit
    state, availability, enabled), requests and average response time (ms)."""
    window = Window.last(DAYS_7.read(params) * DAY)
    return {"providers": provider_rows(q, window, states), "source": source(q, window)}


def _counts(r: Mapping[str, float]) -> dict[str, Any]:
    requests, failed = round(r.get("requests", 0.0)), round(r.get("errors", 0.0))
    return {"requests": requests, "successful": requests - failed, "failed": failed,
            "tokens": round(r.get("tokens", 0.0)), "cost": r.get("cost", 0.0),
            "success_rate": pct(requests - failed, requests),
            "avg_response_time_ms": avg_ms(r)}


@route("/api/llm/metrics", DAYS_7)
def providers_metrics(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/llm/metrics?days=: request, token and cost totals, by provider and model
    (default 7 days)."""
    days = DAYS_7.read(params)
    window = Window.last(days * DAY)
    t = _counts(q.totals(window, {}))
    return {"days": days, "total_requests": t["requests"],
            "successful_requests": t["successful"], "failed_requests": t["failed"],
            "success_rate": t["success_rate"], "total_tokens": t["tokens"],
            "total_cost": t["cost"], "avg_response_time_ms": t["avg_response_time_ms"],
            "by_provider": {k[0]: _counts(r) for k, r in
                            sorted(q.breakdown(("provider",), window, {}).items())},
            "by_model": {k[0]: _counts(r) for k, r in
                         sorted(q.breakdown(("model",), window, {}).items())},
            "source": source(q, window)}


def _on_claude(q: Questions, window: Window, prices: PriceBook) -> float:
    """The window's tokens at the reference model's per-token prices and request fee
    (no per-request long-context tiers: an estimate, for when no baseline was set)."""
    rates = prices.rates(*CLAUDE)
    tokens = q.increase("tokens", ("token_type",), window, {})
    requests = sum(q.increase("requests", (), window, {}).values())
    return sum(tokens.get((t,), 0.0) * rates.base[i] for i, t in enumerate(TOKEN_TYPES)) \
        + requests * rates.request_fee


@route("/api/llm/costs", DAYS_30)
def providers_costs(q: Questions, params: Params, reference: str | None = None,
                    prices: PriceBook | None = None) -> dict[str, Any]:
    """GET /api/llm/costs?days=: cost, local and remote requests, what the same traffic
    would have cost on Claude (``pricing.baseline`` when set, each request priced as it
    was recorded; else the tokens at claude-sonnet-4-5's prices), and the savings
    (negative where dearer)."""
    days = DAYS_30.read(params)
    window = Window.last(days * DAY)
    rows = q.breakdown(("provider",), window, {})
    cost = sum(r.get("cost", 0.0) for r in rows.values())
    if reference:
        hypothetical: float | None = sum(r.get("reference_cost", 0.0) for r in rows.values())
    else:
        hypothetical = _on_claude(q, window, prices) if prices is not None else None
    local = round(sum(r.get("requests", 0.0) for k, r in rows.items()
                      if k[0] in SELF_HOSTED_PROVIDERS))
    total = round(sum(r.get("requests", 0.0) for r in rows.values()))
    return {"days": days, "total_cost_usd": cost, "total_requests": total,
            "local_requests": local, "remote_requests": total - local,
            "reference_model": reference or ("/".join(CLAUDE) if hypothetical is not None
                                             else None),
            "hypothetical_claude_cost_usd": hypothetical,
            "estimated_savings_usd": None if hypothetical is None else hypothetical - cost,
            "savings_percentage": None if hypothetical is None else
            pct(hypothetical - cost, hypothetical),
            "source": source(q, window)}


@route("/api/llm/trends", DAYS_7)
def providers_trends(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/llm/trends?days=: one row per UTC day."""
    window = Window.last(DAYS_7.read(params) * DAY)
    rows = []
    for t, cells in q.trend(window, DAY, {}):
        c = _counts(cells.get((), {}))
        rows.append({"date": iso(t)[:10], "requests": c["requests"],
                     "successful": c["successful"], "failed": c["failed"],
                     "tokens": c["tokens"], "cost": c["cost"],
                     "success_rate": c["success_rate"]})
    return {"trends": rows, "source": source(q, window)}


@route("/api/llm/health")
def providers_health(q: Questions, params: Params) -> dict[str, Any]:
    """GET /api/llm/health: healthy when every known provider is up, degraded when some
    are down, unhealthy when all are."""
    rows = q.providers(Window.last(HOUR))
    states = {p: {"available": r.get("up") is None or r["up"] >= 1,
                  "circuit_state": r.get("circuit", "closed")} for p, r in rows.items()}
    down = sum(1 for s in states.values() if not s["available"])
    status = "healthy" if not down else "unhealthy" if down == len(states) else "degraded"
    return {"status": status, "providers": states, "timestamp": iso(time.time())}


def answer(path: str, q: Questions, llm: LLMMetrics, params: Params) -> dict[str, Any]:
    """A provider route's answer over ``q`` for a client in process (``llm``'s states,
    baseline and prices, as the sidecar's read side passes them)."""
    if path == "/api/llm/providers":
        return providers_list(q, params, states=provider_state.of(llm))
    if path == "/api/llm/costs":
        baseline = llm.settings.baseline
        return providers_costs(q, params, "/".join(baseline) if baseline else None,
                               llm.prices)
    raise ValueError(f"no provider route {path}")
