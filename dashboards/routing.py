"""Routing and tiers: decisions by complexity and tier, fallback rate, decision time,
complexity scores, tier availability, provider health and circuit state."""

from .panels import RATE, dashboard, m, table, target, timeseries

DEC = m("routing_decisions")
J = '{job=~"$job"}'

panels = [
    table("Decisions by complexity x tier (selected range)",
          f"sum by (complexity, tier) (increase({DEC}{J}[$__range]))", 0, 0),
    timeseries("Decisions per second by tier", [target(
        f"sum by (tier) (rate({DEC}{J}[{RATE}]))", "{{tier}}")], "ops", 12, 0, stacked=True),
    timeseries("Fallback rate", [target(
        f'sum(rate({DEC}{{job=~"$job",fallback="true"}}[{RATE}])) / '
        f"sum(rate({DEC}{J}[{RATE}]))", "fallback")], "percentunit", 0, 8),
    timeseries("Decision time p95 by tier", [target(
        f"histogram_quantile(0.95, sum by (tier, le) "
        f"(rate({m('routing_duration')}_bucket{J}[{RATE}])))", "{{tier}}")], "s", 12, 8),
    timeseries("Complexity score p50 by class", [target(
        f"histogram_quantile(0.5, sum by (complexity, le) "
        f"(rate({m('routing_score')}_bucket{J}[{RATE}])))", "{{complexity}}")], "short",
        0, 16),
    timeseries("Tier availability", [target(
        f"{m('tier_available')}{J} / {m('tier_total')}{J}", "{{tier}}")], "percentunit",
        12, 16),
    timeseries("Provider up", [target(f"{m('provider_up')}{J}", "{{provider}}")], "short",
               0, 24),
    table("Circuit breaker state", f"{m('provider_circuit')}{J} == 1", 12, 24),
]

dashboard_ = dashboard("llm-routing", "LLM routing and tiers", __doc__ or "", panels,
                       ("job",), ["routing"])
