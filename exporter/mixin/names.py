"""Names every generated artifact agrees on: recorded series, dashboard links, and the
alert and template helpers the rule modules share."""

from __future__ import annotations

from typing import Any

from ..catalog import metric_name
from .config import AlertConfig, duration, seconds

#: Dashboard paths (uid/slug) that alerts link to; dashboards/ defines the same uids.
DASHBOARDS = {"cost": "llm-cost/llm-cost-and-usage",
              "performance": "llm-performance/llm-performance",
              "routing": "llm-routing/llm-routing-and-tiers",
              "resources": "llm-resources/llm-resources",
              "insights": "llm-insights/llm-money-insights"}

class Names:
    """Recorded series (``level:metric:operations``) for one namespace and config."""

    def __init__(self, cfg: AlertConfig) -> None:
        ns = cfg.namespace
        self.ns = ns
        self.step = cfg.get("budget", "interval")
        self.forecast_window = cfg.get("budget", "forecast_window")
        self.spend_per_hour = f"team:{ns}_cost_usd_per_hour:rate5m"
        self.spend_per_hour_all = f"job:{ns}_cost_usd_per_hour:rate5m"
        self.requests_rate = f"model:{ns}_requests:rate5m"
        self.error_ratio = f"model:{ns}_request_errors:ratio_rate5m"
        self.cache_hit_ratio = f"cache:{ns}_cache_hits:ratio_rate5m"
        window = cfg.get("provider_down", "window")
        self.provider_unhealthy = f"provider:{ns}_provider_unhealthy:ratio_avg{window}"
        self.provider_unhealthy_max = f"provider:{ns}_provider_unhealthy:max_ratio_avg{window}"
        self.provider_unhealthy_min = f"provider:{ns}_provider_unhealthy:min_ratio_avg{window}"
        self.provider_unhealthy_instance = \
            f"instance_provider:{ns}_provider_unhealthy:ratio_avg{window}"
        #: share of requests slower than a bucket bound (label threshold)
        self.slow_ratio = f"model:{ns}_request_duration_seconds:slow_ratio_rate5m"
        self.budget = f"team_period:{ns}_budget_usd:configured"
        self.spend = f"team_period:{ns}_cost_usd:spend"
        self.budget_used = f"team_period:{ns}_budget_used:ratio"
        self.projected = f"team_period:{ns}_cost_usd:projected"
        self.hours_left = f"team_period:{ns}_budget_left:hours"
        #: per cost series, what the last budget step counted up to
        self.counted = f"series:{ns}_cost_usd:counted"
        #: how far back a step finds that: the longest safe gap, plus a step
        self.base_lookback = duration(seconds(cfg.get("budget", "max_gap")) +
                                      seconds(self.step))
        self.month_step = f"team_month:{ns}_cost_usd:increase{self.step}"
        kept = "_".join(cfg.aggregation_labels) or "job"
        #: exporter targets per aggregation-label value (cluster), replicas merged
        self.targets = f"{kept}:{ns}_exporter_targets:count"

    def metric(self, key: str) -> str:
        """The scraped name of a catalog family in this namespace."""
        return metric_name(key, self.ns)

    def errors(self, window: str) -> str:
        """Failed requests per provider and model over ``window``."""
        return f"model:{self.ns}_request_errors:increase{window}"

    def error_ratio_over(self, window: str) -> str:
        return f"model:{self.ns}_request_errors:ratio_rate{window}"

    def latency(self, q: str) -> str:
        return f"model:{self.ns}_request_duration_seconds:p{q}_rate5m"

    def ttft(self, q: str) -> str:
        return f"model:{self.ns}_time_to_first_token_seconds:p{q}_rate5m"

    def increase(self, window: str) -> str:
        """Exact spend per team over ``window``, summed from the recorded steps."""
        return f"team:{self.ns}_cost_usd:increase{window}"

    def burn(self, window: str) -> str:
        """Spend over ``window`` as a multiple of the budget's even pace."""
        return f"team_period:{self.ns}_budget_burn:rate{window}"


def dedup(cfg: AlertConfig, expr: str) -> str:
    """``expr`` with the replicas of an HA pair of Prometheus merged (``replica_labels``):
    the highest value across replicas, before any sum, so a store that does not
    deduplicate counts each series once."""
    replicas = cfg.replica_labels
    return f"max without ({', '.join(replicas)}) ({expr})" if replicas else expr


def closed_open(window: str) -> str:
    """``window`` minus a second: Prometheus 2's ranges include both ends, so a sum over
    ``[1h]`` of a series recorded every minute would hold 61 steps, not 60."""
    return duration(seconds(window) - 1)


def link(cfg: AlertConfig, board: str, **variables: str) -> str:
    query = "&".join(f"var-{k}={{{{ $labels.{v} }}}}" for k, v in variables.items())
    return f"{cfg.grafana_url}/d/{DASHBOARDS[board]}" + (f"?{query}" if query else "")


def alert(cfg: AlertConfig, name: str, expr: str, for_: str | None, severity: str,
           summary: str, description: str, dashboard: str,
           **labels: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": name, "expr": expr}
    if for_ is not None:
        rule["for"] = for_
    rule["labels"] = {"severity": severity, **labels}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": cfg.runbook_url.replace("{alert}", name.lower()),
                           "dashboard_url": dashboard}
    return rule


def query(series: str, *match: str, fmt: str = "%.2f", unit: str = "",
           otherwise: str = "", total: bool = False) -> str:
    """A template printing ``series`` for this alert's labels (``otherwise`` when the
    series is absent; ``total``: the sum of its matching series)."""
    sel = ",".join(f"{m}='%s'" for m in match)
    args = " ".join(f"$labels.{m}" for m in match)
    alt = f"{{{{ else }}}}{otherwise}" if otherwise else ""
    selected = f"sum({series}{{{sel}}})" if total else f"{series}{{{sel}}}"
    return (f'{{{{ with printf "{selected}" {args} | query }}}}'
            f'{{{{ . | first | value | printf "{fmt}" }}}}{unit}{alt}{{{{ end }}}}')


MONEY = '{{ $value | printf "%.2f" }}'
