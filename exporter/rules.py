"""Prometheus recording and alerting rules, generated from alerts/config.yml.

Five groups, each with one job:

- ``<ns>.recording``: rates, ratios and quantiles over at most 10 minutes of raw series,
  shared by alerts and dashboards;
- ``<ns>.alerts``: every alert but the budget ones; it reads recorded series, so its
  evaluation time does not depend on budget periods;
- ``<ns>.budget`` (its own interval, 1 m): spend counted exactly per step, windows up to
  6 hours summed from the *recorded* steps (no rule reads more than 1 h of a raw
  series), budgets, burn rates and the fast burn-rate alerts;
- ``<ns>.budget_long`` (every 5 m): windows of a day and more, summed from the steps,
  spend per budget period, forecasts, LLMBudgetExceeded and the slow burn-rate alert;
- ``<ns>.meta``: Prometheus and Alertmanager watching themselves, and the Watchdog.

Metric names come from the catalog and follow the configured namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .alert_config import PERIOD_HOURS, AlertConfig, duration, load_alert_config, seconds
from .catalog import metric_name

RULES_FILE = "llm.rules.yml"

#: Dashboard paths (uid/slug) that alerts link to; dashboards/ defines the same uids.
DASHBOARDS = {"cost": "llm-cost/llm-cost-and-usage",
              "performance": "llm-performance/llm-performance",
              "routing": "llm-routing/llm-routing-and-tiers",
              "resources": "llm-resources/llm-resources"}

#: How far back the step rule looks for a series' previous sample: a scrape gap longer
#: than this costs the increments within the gap, never counts a value twice.
_BASE_LOOKBACK = "10m"
#: Windows of a day and more go to the long budget group.
_DAY = 86400


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
        self.provider_unhealthy = \
            f"provider:{ns}_provider_unhealthy:ratio_avg{cfg.get('provider_down', 'window')}"
        self.budget = f"team_period:{ns}_budget_usd:configured"
        self.spend = f"team_period:{ns}_cost_usd:spend"
        self.budget_used = f"team_period:{ns}_budget_used:ratio"
        self.projected = f"team_period:{ns}_cost_usd:projected"
        self.hours_left = f"team_period:{ns}_budget_left:hours"

    def metric(self, key: str) -> str:
        """The scraped name of a catalog family in this namespace."""
        return metric_name(key, self.ns)

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


def _closed_open(window: str) -> str:
    """``window`` minus a second: Prometheus 2's ranges include both ends, so a sum over
    ``[1h]`` of a series recorded every minute would hold 61 steps, not 60."""
    return duration(seconds(window) - 1)


def exact_step(cost: str, step: str) -> str:
    """Spend per team in the last ``step``, exactly: per cost series, (highest sample in
    the step) - (last sample before it).

    Successive steps telescope, so a sum over recorded steps is exactly what the exporter
    recorded, where increase() extrapolates to its window's edges. A counter only falls
    at a restart, and the exporter shows a restarted (or new) series at 0 for
    ``zero_hold_seconds``: with a hold at least as long as the step, every sample of a
    restarted process within its first step is 0, so the highest sample is the last one
    before the restart and the 0s add nothing; the next step counts from 0. A series with
    no sample in the 10 minutes before the step (new, or back after a gap) counts from its
    lowest sample in the step: 0 for a new series, its first value after a gap (a gap's
    increments are lost, never counted twice).
    """
    base = f"last_over_time({cost}[{_BASE_LOOKBACK}] offset {step})"
    return (f"sum by (team) (\n  clamp_min(\n    max_over_time({cost}[{step}])\n"
            f"    - ({base} or min_over_time({cost}[{step}])),\n    0\n  )\n)")


def _link(cfg: AlertConfig, board: str, **variables: str) -> str:
    query = "&".join(f"var-{k}={{{{ $labels.{v} }}}}" for k, v in variables.items())
    return f"{cfg.grafana_url}/d/{DASHBOARDS[board]}" + (f"?{query}" if query else "")


def _alert(cfg: AlertConfig, name: str, expr: str, for_: str | None, severity: str,
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


def _query(series: str, *match: str, fmt: str = "%.2f", unit: str = "",
           otherwise: str = "") -> str:
    """A template printing ``series`` for this alert's labels (``otherwise`` when the
    series is absent)."""
    sel = ",".join(f"{m}='%s'" for m in match)
    args = " ".join(f"$labels.{m}" for m in match)
    alt = f"{{{{ else }}}}{otherwise}" if otherwise else ""
    return (f'{{{{ with printf "{series}{{{sel}}}" {args} | query }}}}'
            f'{{{{ . | first | value | printf "{fmt}" }}}}{unit}{alt}{{{{ end }}}}')


MONEY = '{{ $value | printf "%.2f" }}'


def recording_rules(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    sel, m = cfg.selector, names.metric
    cost, requests = f"{m('cost')}{{{sel}}}", m("requests")
    window = cfg.get("provider_down", "window")
    rules = [
        {"record": names.spend_per_hour, "expr": f"sum by (team) (rate({cost}[5m])) * 3600"},
        {"record": names.spend_per_hour_all, "expr": f"sum by (job) (rate({cost}[5m])) * 3600"},
        {"record": names.requests_rate,
         "expr": f"sum by (provider, model) (rate({requests}{{{sel}}}[5m]))"},
        {"record": names.error_ratio,
         "expr": f'sum by (provider, model) (rate({requests}{{{sel},status="error"}}[5m]))\n'
                 f"/\n{names.requests_rate}"},
        {"record": names.cache_hit_ratio,
         "expr": f'sum by (cache) (rate({m("cache_lookups")}{{{sel},result="hit"}}[5m]))\n'
                 f"/\nsum by (cache) (rate({m('cache_lookups')}{{{sel}}}[5m]))"},
    ]
    for q in ("50", "95", "99"):
        for name, key in ((names.latency(q), "request_duration"), (names.ttft(q), "ttft")):
            rules.append({"record": name, "expr":
                          f"histogram_quantile(0.{q}, sum by (provider, model, le) "
                          f"(rate({m(key)}_bucket{{{sel}}}[5m])))"})
    # A provider is unhealthy while it reports down or its circuit is not closed
    # (half_open included: a circuit cycling open -> half_open -> open is down). Averaged
    # over the window, it does not reset on every half_open sample; max per replica, then
    # the mean over replicas: one series per provider.
    rules.append({"record": names.provider_unhealthy, "expr":
                  f"avg by (provider) (\n  max by (job, instance, provider) (\n"
                  f"      1 - avg_over_time({m('provider_up')}{{{sel}}}[{window}])\n    or\n"
                  f"      1 - avg_over_time({m('provider_circuit')}{{{sel},state=\"closed\"}}"
                  f"[{window}])\n  )\n)"})
    return rules


def _team_regex(teams: set[str]) -> str:
    """A PromQL matcher value for exactly ``teams`` (RE2 metacharacters escaped)."""
    def literal(team: str) -> str:
        return "".join(c if c.isalnum() or c in "_- " else "\\\\" + c for c in team)
    return "|".join(sorted(literal(t) for t in teams))


def budget_rules(cfg: AlertConfig, names: Names) -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """Two groups' rules. The step group (every ``budget.interval``): exact spend steps,
    windows up to 6 hours, budgets and the fast burn-rate alerts. The long group (every
    ``budget.long_interval``): windows of a day and more (a 30-day sum reads 43,200 steps
    per team, so it runs less often and only for teams whose budget needs it), spend,
    forecasts and the other budget alerts."""
    cost = f"{names.metric('cost')}{{{cfg.selector}}}"
    step = names.step
    fast: list[dict[str, Any]] = [
        {"record": names.increase(step), "expr": exact_step(cost, step)}]
    slow: list[dict[str, Any]] = []
    # window -> the teams that need it (None: every team, for the dashboards)
    windows: dict[str, set[str] | None] = {"1h": None, "1d": None,
                                           names.forecast_window: None}
    for b in cfg.budgets:
        needed = {duration(PERIOD_HOURS[b.period] * 3600)}
        for tier in cfg.burn_rates_for(b.period):
            needed.update((tier.long, tier.short))
        for w in needed:
            if w not in windows or windows[w] is not None:
                windows[w] = (windows.get(w) or set()) | {b.team}
    for w, teams in sorted(windows.items(), key=lambda item: seconds(item[0])):
        if w == step:
            continue
        matcher = "" if teams is None else f'{{team=~"{_team_regex(teams)}"}}'
        rule = {"record": names.increase(w),
                "expr": f"sum_over_time({names.increase(step)}{matcher}[{_closed_open(w)}])"}
        (fast if seconds(w) < _DAY else slow).append(rule)
    if not cfg.budgets:
        return fast, slow
    for b in cfg.budgets:
        fast.append({"record": names.budget, "expr": f"vector({b.usd:g})",
                     "labels": {"team": b.team, "period": b.period}})
    fw_hours = seconds(names.forecast_window) / 3600
    for period in cfg.periods():
        hours = PERIOD_HOURS[period]
        budget = f'{names.budget}{{period="{period}"}}'
        whole = names.increase(duration(hours * 3600))
        slow.append({"record": names.spend, "labels": {"period": period},
                     "expr": f"{whole} and on (team) {budget}\nor on (team)\n{budget} * 0"})
        fast.append({"record": names.projected, "labels": {"period": period},
                     "expr": f"{names.increase(names.forecast_window)} * {hours / fw_hours:g}"
                             f" and on (team) {budget}"})
        for w in sorted({x for t in cfg.burn_rates_for(period) for x in (t.long, t.short)},
                        key=seconds):
            (fast if seconds(w) < _DAY else slow).append(
                {"record": names.burn(w), "labels": {"period": period},
                 "expr": f"{names.increase(w)} * {hours * 3600 / seconds(w):g}\n"
                         f"/ on (team) group_right\n{budget}"})
    slow += [
        {"record": names.budget_used, "expr": f"{names.spend} / on (team, period) {names.budget}"},
        {"record": names.hours_left,
         "expr": f"clamp_min({names.budget} - on (team, period) {names.spend}, 0)\n"
                 f"/ on (team) group_left ()\n"
                 f"({names.increase(names.forecast_window)} / {fw_hours:g} > 0)"},
    ]
    fast_alerts, slow_alerts = budget_alerts(cfg, names)
    return fast + fast_alerts, slow + slow_alerts


def budget_alerts(cfg: AlertConfig, names: Names) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]]]:
    """Burn-rate alerts whose windows are all under a day run in the step group; the
    rest in the long group, beside the series they read."""
    bu = cfg.raw["budget"]
    fw = names.forecast_window
    link = _link(cfg, "cost", team="team")
    budget_q = _query(names.budget, "team", "period")
    period_text = ('({{ $labels.period }}: rolling {{ if eq $labels.period "day" }}24 hours'
                   '{{ else }}30 days{{ end }})')
    forecast = (f" At the pace of the last {fw} the team spends $"
                f"{_query(names.projected, 'team', 'period')} per "
                "{{ $labels.period }}; the budget left lasts "
                + _query(names.hours_left, "team", "period", fmt="%.0f", unit=" hours",
                         otherwise="while nothing is spent") + ".")
    exceeded = ("Team {{ $labels.team }} has spent $" + MONEY + " of its $" + budget_q +
                " {{ $labels.period }} budget " + period_text + "." + forecast)
    slow = [
        _alert(cfg, "LLMBudgetExceeded",
               f"{names.spend} >= on (team, period) {bu['warning_ratio']} * {names.budget}",
               bu["for"], "warning",
               f"Team {{{{ $labels.team }}}} used over {bu['warning_ratio']:.0%} of its "
               f"{{{{ $labels.period }}}} LLM budget", exceeded, link),
        _alert(cfg, "LLMBudgetExceeded", f"{names.spend} >= on (team, period) {names.budget}",
               bu["for"], "critical",
               "Team {{ $labels.team }} is over its {{ $labels.period }} LLM budget",
               exceeded, link),
    ]
    fast: list[dict[str, Any]] = []
    for period in cfg.periods():
        for tier in cfg.burn_rates_for(period):
            long_q = _query(names.increase(tier.long), "team")
            short_q = _query(names.increase(tier.short), "team")
            (fast if seconds(tier.long) < _DAY else slow).append(_alert(
                cfg, "LLMBudgetBurnRateHigh",
                f'{names.burn(tier.long)}{{period="{period}"}} > {tier.factor:g}\nand\n'
                f'{names.burn(tier.short)}{{period="{period}"}} > {tier.factor:g}',
                tier.for_, tier.severity,
                "Team {{ $labels.team }} burns its {{ $labels.period }} LLM budget "
                "at {{ $value | printf \"%.1f\" }}x the even pace",
                f"Team {{{{ $labels.team }}}} spent ${long_q} in the last {tier.long} and "
                f"${short_q} in the last {tier.short}: "
                f"{{{{ $value | printf \"%.1f\" }}}}x the even pace of its ${budget_q} "
                f"{{{{ $labels.period }}}} budget (threshold {tier.factor:g}x)." + forecast,
                link, window=tier.long, period=period))
    return fast, slow


def alerts(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    sel, m = cfg.selector, names.metric
    s = cfg.raw
    sr, er, la, pd, gpu, ex = (s["spend_rate"], s["error_rate"], s["latency_p95"],
                               s["provider_down"], s["gpu"], s["exporter"])
    cost_link, team_link = _link(cfg, "cost"), _link(cfg, "cost", team="team")
    model_link = _link(cfg, "performance", provider="provider", model="model")
    out = [
        _alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour_all} > {sr['warning_usd_per_hour']}",
               sr["for"], "warning", f"LLM spend is ${MONEY}/hour",
               f"All teams together are spending {MONEY} USD per hour, over the "
               f"{sr['warning_usd_per_hour']} USD/hour threshold.", cost_link, scope="global"),
        _alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour_all} > {sr['critical_usd_per_hour']}",
               sr["for"], "critical", f"LLM spend is ${MONEY}/hour",
               f"All teams together are spending {MONEY} USD per hour, over the "
               f"{sr['critical_usd_per_hour']} USD/hour threshold.", cost_link, scope="global"),
        # a team with a budget is watched by its burn rates, which know its normal pace
        _alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour} > {sr['team_warning_usd_per_hour']}"
               + (f"\nunless on (team)\n{names.budget}" if cfg.budgets else ""), sr["for"],
               "warning", f"Team {{{{ $labels.team }}}} spends ${MONEY}/hour on LLMs",
               f"Team {{{{ $labels.team }}}} is spending {MONEY} USD per hour, over the "
               f"{sr['team_warning_usd_per_hour']} USD/hour threshold for teams without a "
               "budget.", team_link, scope="team"),
    ]
    guard = f"and on (provider, model)\n{names.requests_rate} >= {er['min_requests_per_second']}"
    for severity, key in (("warning", "warning_ratio"), ("critical", "critical_ratio")):
        out.append(_alert(
            cfg, "LLMErrorRateHigh", f"{names.error_ratio} > {er[key]}\n{guard}", er["for"],
            severity, "{{ $labels.provider }}/{{ $labels.model }}: {{ $value | "
            "humanizePercentage }} of requests fail",
            "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }}/"
            f"{{{{ $labels.model }}}} failed over 5 minutes (threshold {er[key]:.0%}, with at "
            f"least {er['min_requests_per_second']:g} requests/s). See {m('request_errors')} "
            "by error_type for why.", model_link))
    p95 = names.latency("95")
    lat_guard = (f"and on (provider, model)\n{names.requests_rate} >= "
                 f"{la['min_requests_per_second']}")
    for severity, key in (("warning", "warning_seconds"), ("critical", "critical_seconds")):
        out.append(_alert(
            cfg, "LLMLatencyHigh", f"{p95} > {la[key]}\n{lat_guard}", la["for"], severity,
            "{{ $labels.provider }}/{{ $labels.model }}: p95 latency {{ $value | "
            "humanizeDuration }}",
            "95% of requests to {{ $labels.provider }}/{{ $labels.model }} take up to "
            f"{{{{ $value | humanizeDuration }}}} (threshold {la[key]}s, with at least "
            f"{la['min_requests_per_second']:g} requests/s).", model_link))
    out += [
        _alert(cfg, "LLMProviderDown", f"{names.provider_unhealthy} > {pd['unhealthy_ratio']}",
               pd["for"], "critical", "LLM provider {{ $labels.provider }} is down",
               "Provider {{ $labels.provider }} was unhealthy (reported down, or its circuit "
               "breaker not closed) {{ $value | humanizePercentage }} of the last "
               f"{pd['window']}, averaged over the replicas that report it: requests fail or "
               "fall back to another tier.", _link(cfg, "routing", provider="provider")),
        _alert(cfg, "LLMUnpricedModel",
               f"sum by (provider, model) (increase({m('unpriced_requests')}{{{sel}}}[1h])) > 0",
               s["unpriced"]["for"], "warning",
               "No price known for {{ $labels.provider }}/{{ $labels.model }}",
               "{{ $value | printf \"%.0f\" }} requests to {{ $labels.provider }}/"
               "{{ $labels.model }} in the last hour had no price, so cost figures are "
               "incomplete. Add a price override (pricing.overrides).", cost_link),
        _alert(cfg, "LLMLabelOverflow",
               f"sum by (label) (increase({m('label_overflow')}{{{sel}}}"
               f"[{s['label_overflow']['window']}])) > 0",
               s["label_overflow"]["for"], "warning",
               "New values of label {{ $labels.label }} are folded into \"other\"",
               "{{ $value | printf \"%.0f\" }} recordings in the last "
               f"{s['label_overflow']['window']} had a {{{{ $labels.label }}}} value past its "
               "cap and were counted as \"other\": per-{{ $labels.label }} figures, budgets "
               "included, undercount. Raise labels.caps or stop passing free-form values.",
               cost_link),
        _alert(cfg, "LLMIngestRejected",
               f'sum by (job, instance) (rate({m("events")}{{{sel},result="rejected"}}[5m]))\n'
               f"/\nsum by (job, instance) (rate({m('events')}{{{sel}}}[5m]))\n"
               f"> {s['ingest']['rejected_ratio']}", s["ingest"]["for"], "warning",
               "The sidecar on {{ $labels.instance }} rejects {{ $value | humanizePercentage }}"
               " of events",
               "{{ $value | humanizePercentage }} of the events posted to {{ $labels.instance }}"
               " over 5 minutes were rejected (threshold "
               f"{s['ingest']['rejected_ratio']:.0%}): those LLM calls are not counted. The "
               "4xx answers name the field.", cost_link),
    ]
    resources = _link(cfg, "resources")
    for severity, key in (("warning", "memory_warning_ratio"), ("critical",
                                                               "memory_critical_ratio")):
        out.append(_alert(
            cfg, "GPUMemoryNearlyFull",
            f"{m('gpu_memory_used')}{{{sel}}} / {m('gpu_memory_total')}{{{sel}}} > {gpu[key]}",
            gpu["for"], severity,
            "GPU {{ $labels.gpu }} on {{ $labels.instance }} memory "
            "{{ $value | humanizePercentage }} full",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) has used {{ $value | "
            f"humanizePercentage }}}} of its memory (threshold {gpu[key]:.0%}).", resources))
    for severity, key in (("warning", "temperature_warning_celsius"),
                          ("critical", "temperature_critical_celsius")):
        out.append(_alert(
            cfg, "GPUTemperatureHigh", f"{m('gpu_temperature')}{{{sel}}} > {gpu[key]}",
            gpu["for"], severity, "GPU {{ $labels.gpu }} at {{ $value }}°C",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.instance }} runs at "
            f"{{{{ $value }}}}°C (threshold {gpu[key]}°C).", resources))
    out += [
        _alert(cfg, "LLMExporterDown", f"up{{{sel}}} == 0 or absent(up{{{sel}}})",
               ex["down_for"], "critical", "The LLM exporter is not being scraped",
               "Prometheus cannot scrape the LLM exporter ({{ $labels.instance }}): LLM "
               "metrics and cost alerts are blind. Budget alerts still evaluate.", resources),
        _alert(cfg, "LLMExporterCollectorFailed",
               f"{m('collector_success')}{{{sel}}} == 0", ex["collector_failed_for"], "warning",
               "Collector {{ $labels.collector }} is failing",
               "The {{ $labels.collector }} collector of {{ $labels.instance }} fails on every "
               "scrape; its metrics are missing. The exporter log says why.", resources),
    ]
    return out


def meta_alerts(cfg: AlertConfig) -> list[dict[str, Any]]:
    """The monitoring watching itself: rules that fail or fall behind, alerts that do not
    reach Alertmanager or Slack, and an always-firing Watchdog for a dead man's switch."""
    meta = cfg.raw["meta"]
    p, a, for_ = meta["prometheus_selector"], meta["alertmanager_selector"], meta["for"]
    prom_link = _link(cfg, "cost")
    return [
        _alert(cfg, "Watchdog", "vector(1)", None, "none",
               "The alerting pipeline is alive",
               "Always firing. Alertmanager routes it to the heartbeat receiver, a dead man's "
               "switch that pages when the heartbeat stops: then Prometheus, its rules or "
               "Alertmanager are down, and no other alert could reach you.", prom_link),
        _alert(cfg, "PrometheusRuleEvaluationFailures",
               f"sum by (job, instance, rule_group) "
               f"(increase(prometheus_rule_evaluation_failures_total{{{p}}}[5m])) > 0",
               for_, "critical",
               "Prometheus {{ $labels.instance }} fails to evaluate rules",
               "{{ $value | printf \"%.0f\" }} evaluations of rule group "
               "{{ $labels.rule_group }} failed in 5 minutes: its alerts (budgets included) "
               "may not fire.", prom_link),
        _alert(cfg, "PrometheusRuleGroupIterationsMissed",
               f"sum by (job, instance, rule_group) "
               f"(increase(prometheus_rule_group_iterations_missed_total{{{p}}}[5m])) > 0",
               for_, "warning",
               "Prometheus {{ $labels.instance }} skips evaluations of a rule group",
               "Rule group {{ $labels.rule_group }} missed {{ $value | printf \"%.0f\" }} "
               "evaluations in 5 minutes: it takes longer than its interval, so its alerts "
               "are late.", prom_link),
        _alert(cfg, "PrometheusAlertmanagerUnreachable",
               f"sum by (job, instance) "
               f"(rate(prometheus_notifications_errors_total{{{p}}}[5m]))\n"
               f"/\nsum by (job, instance) "
               f"(rate(prometheus_notifications_sent_total{{{p}}}[5m])) > 0.01\n"
               f"or\nmax_over_time(prometheus_notifications_alertmanagers_discovered{{{p}}}[5m])"
               " < 1", for_, "critical",
               "Prometheus {{ $labels.instance }} cannot deliver alerts to Alertmanager",
               "Prometheus {{ $labels.instance }} fails to send alerts to Alertmanager, or "
               "knows of none: no alert reaches Slack.", prom_link),
        _alert(cfg, "AlertmanagerNotificationsFailing",
               f"sum by (job, instance, integration) "
               f"(rate(alertmanager_notifications_failed_total{{{a}}}[5m])) > 0",
               for_, "critical",
               "Alertmanager {{ $labels.instance }} fails to send {{ $labels.integration }} "
               "notifications",
               "Alertmanager {{ $labels.instance }} failed to deliver "
               "{{ $labels.integration }} notifications over the last 5 minutes: check the "
               "webhook URL file and the network. This alert may not reach you by the same "
               "route; the dead man's switch and the Alertmanager UI show it.", prom_link),
        _alert(cfg, "PrometheusConfigReloadFailed",
               f"max_over_time(prometheus_config_last_reload_successful{{{p}}}[5m]) == 0",
               for_, "warning",
               "Prometheus {{ $labels.instance }} could not load its configuration",
               "Prometheus {{ $labels.instance }} runs an older configuration: its last "
               "reload failed (new rules or targets are not active).", prom_link),
        _alert(cfg, "AlertmanagerConfigReloadFailed",
               f"max_over_time(alertmanager_config_last_reload_successful{{{a}}}[5m]) == 0",
               for_, "warning",
               "Alertmanager {{ $labels.instance }} could not load its configuration",
               "Alertmanager {{ $labels.instance }} runs an older configuration: its last "
               "reload failed.", prom_link),
    ]


def generate(cfg: AlertConfig) -> dict[str, dict[str, Any]]:
    """File name -> rule file content."""
    names = Names(cfg)
    ns = cfg.namespace
    steps, long_windows = budget_rules(cfg, names)
    return {RULES_FILE: {"groups": [
        {"name": f"{ns}.recording", "rules": recording_rules(cfg, names)},
        {"name": f"{ns}.alerts", "rules": alerts(cfg, names)},
        {"name": f"{ns}.budget", "interval": names.step, "rules": steps},
        {"name": f"{ns}.budget_long", "interval": cfg.get("budget", "long_interval"),
         "rules": long_windows},
        {"name": f"{ns}.meta", "rules": meta_alerts(cfg)},
    ]}}


HEADER = "# Generated by `llm-exporter rules` from alerts/config.yml: do not edit.\n"


def render(files: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
        style = "|" if "\n" in data else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, str_presenter)
    return {name: HEADER + yaml.dump(content, Dumper=Dumper, sort_keys=False, width=1000,
                                     allow_unicode=True)
            for name, content in files.items()}


def write(config_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Regenerate the rule files; stale generated files are removed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = render(generate(load_alert_config(config_path)))
    for old in out.glob("*.rules.yml"):
        if old.name not in texts:
            old.unlink()
    paths = []
    for name, text in texts.items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
