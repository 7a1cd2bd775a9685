"""Routing and tiers: decisions by complexity and tier, fallback rate, decision time,
complexity scores, tier availability, provider health (the number LLMProviderDown fires
on) and circuit breaker state."""

from grafanalib.core import Dashboard

from ..config import AlertConfig
from ..names import Names
from .panels import RATE, Board, merge_columns, steps, table, target, timeseries


def build(cfg: AlertConfig) -> Dashboard:
    """This dashboard for one alert config (namespace, thresholds)."""
    names = Names(cfg)
    m = names.metric

    board = Board(names, "job", "provider")
    DEC = m("routing_decisions")
    J = board.sel("routing_decisions")
    FALLBACK = board.sel("routing_decisions", 'fallback="true"')
    SCORE, S = m("routing_score"), board.sel("routing_score")
    pd = cfg.raw["provider_down"]

    panels = [
        table("Decisions by complexity x tier (selected range)", [
            target(f"sum by (complexity, tier) (increase({DEC}{J}[$__range]))", instant=True,
                   fmt="table"),
            target(f"sum by (complexity, tier) (increase({SCORE}_sum{S}[$__range])) / "
                   f"sum by (complexity, tier) (increase({SCORE}_count{S}[$__range]))",
                   ref="B", instant=True, fmt="table")],
            0, 0, "How many queries of each complexity class went to each tier over the "
                  "dashboard's time range, and their average complexity score.",
            transformations=merge_columns({"Value #A": "Decisions",
                                           "Value #B": "Average score"})),
        timeseries("Decisions per second by tier", [target(
            f"sum by (tier) (rate({DEC}{J}[{RATE}]))", "{{tier}}")], "ops", 12, 0,
            "Routing decisions per second, stacked by the tier chosen.", stacked=True),
        timeseries("Fallback rate", [target(
            f"sum(rate({DEC}{FALLBACK}[{RATE}])) / "
            f"sum(rate({DEC}{J}[{RATE}]))", "fallback")], "percentunit", 0, 8,
            "Share of decisions that fell back to another tier (the first choice was "
            "unavailable)."),
        timeseries("Decision time p95 by tier", [target(
            f"histogram_quantile(0.95, sum by (tier, le) "
            f"(rate({m('routing_duration')}_bucket{board.sel('routing_duration')}[{RATE}])))",
            "{{tier}}")], "s", 12, 8, "How long the router takes to decide, p95 per tier."),
        timeseries("Complexity score p50 by class", [target(
            f"histogram_quantile(0.5, sum by (complexity, le) "
            f"(rate({m('routing_score')}_bucket{board.sel('routing_score')}[{RATE}])))",
            "{{complexity}}")], "short", 0, 16,
            "Median complexity score of the queries in each class."),
        timeseries("Tier availability", [target(
            f"{m('tier_available')}{board.sel('tier_available')} / "
            f"{m('tier_total')}{board.sel('tier_total')}", "{{tier}}")], "percentunit", 12, 16,
            "Models available / configured, per tier."),
        timeseries("Provider unhealthy share", [
            target(f"{names.provider_unhealthy_max}{board.labels(('provider',))}",
                   "{{provider}}: worst replica", ref="A"),
            target(f"{names.provider_unhealthy_min}{board.labels(('provider',))}",
                   "{{provider}}: every replica", ref="B")],
            "percentunit", 0, 24,
            f"Share of the last {pd['window']} each provider was reported down or its circuit "
            "was not closed, on its worst exporter replica and on every replica: "
            f"LLMProviderDown warns when the worst passes {pd['warning_ratio']:.0%} (a partial "
            f"or flapping outage) and pages when every replica passes "
            f"{pd['critical_ratio']:.0%}, for {pd['for']}.",
            thresholds=steps(pd["warning_ratio"], pd["critical_ratio"],
                             colors=("transparent", "orange", "red"))),
        timeseries("Provider up", [target(f"{m('provider_up')}{board.sel('provider_up')}",
                                      "{{provider}} {{instance}}")], "short", 12, 24,
                   "1 while the app reports the provider healthy, 0 when not."),
        table("Circuit breaker state", [target(
            f"{m('provider_circuit')}{board.sel('provider_circuit')} == 1", instant=True,
            fmt="table")], 0, 32, "The current state of each circuit breaker (closed, "
                              "half_open, open), per replica.", w=24),
    ]

    return board.dashboard("llm-routing", "LLM routing and tiers", __doc__ or "", panels,
                             ["routing"])
