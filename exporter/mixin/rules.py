"""Prometheus recording and alerting rules, generated from alerts/config.yml.

Six groups, each with one job:

- ``<ns>.recording``: rates, ratios and quantiles over at most 10 minutes of raw series,
  shared by alerts and dashboards;
- ``<ns>.alerts``: every alert but the budget ones; it reads recorded series, so its
  evaluation time does not depend on budget periods;
- ``<ns>.budget`` (its own interval, 1 m): spend counted exactly per step, windows up to
  6 hours summed from the *recorded* steps (no rule reads more than 1 h of a raw
  series), budgets, burn rates and the fast burn-rate alerts;
- ``<ns>.budget_long`` (every 5 m): windows of a day and more, summed from the steps,
  spend per budget period, forecasts, LLMBudgetExceeded and the slow burn-rate alert;
- ``<ns>.meta``: Prometheus and Alertmanager watching themselves, and the Watchdog;

and, in ``llm-insights.rules.yml``, ``<ns>.insights`` (:mod:`exporter.mixin.insights`):
self-hosted cost per million tokens, prompt-cache net savings, a stale price catalog and
spend anomalies.

Metric names come from the catalog and follow the configured namespace.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .budget import budget_rules
from .config import AlertConfig, load_alert_config
from .insights import INSIGHTS_FILE, insights_group
from .names import MONEY, Names, alert, link

RULES_FILE = "llm.rules.yml"


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


def alerts(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    sel, m = cfg.selector, names.metric
    s = cfg.raw
    sr, er, la, pd, gpu, ex = (s["spend_rate"], s["error_rate"], s["latency_p95"],
                               s["provider_down"], s["gpu"], s["exporter"])
    cost_link, team_link = link(cfg, "cost"), link(cfg, "cost", team="team")
    model_link = link(cfg, "performance", provider="provider", model="model")
    out = [
        alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour_all} > {sr['warning_usd_per_hour']}",
               sr["for"], "warning", f"LLM spend is ${MONEY}/hour",
               f"All teams together are spending {MONEY} USD per hour, over the "
               f"{sr['warning_usd_per_hour']} USD/hour threshold.", cost_link, scope="global"),
        alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour_all} > {sr['critical_usd_per_hour']}",
               sr["for"], "critical", f"LLM spend is ${MONEY}/hour",
               f"All teams together are spending {MONEY} USD per hour, over the "
               f"{sr['critical_usd_per_hour']} USD/hour threshold.", cost_link, scope="global"),
        # a team with a budget is watched by its burn rates, which know its normal pace
        alert(cfg, "LLMSpendRateHigh",
               f"{names.spend_per_hour} > {sr['team_warning_usd_per_hour']}"
               + (f"\nunless on (team)\n{names.budget}" if cfg.budgets else ""), sr["for"],
               "warning", f"Team {{{{ $labels.team }}}} spends ${MONEY}/hour on LLMs",
               f"Team {{{{ $labels.team }}}} is spending {MONEY} USD per hour, over the "
               f"{sr['team_warning_usd_per_hour']} USD/hour threshold for teams without a "
               "budget.", team_link, scope="team"),
    ]
    guard = f"and on (provider, model)\n{names.requests_rate} >= {er['min_requests_per_second']}"
    for severity, key in (("warning", "warning_ratio"), ("critical", "critical_ratio")):
        out.append(alert(
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
        out.append(alert(
            cfg, "LLMLatencyHigh", f"{p95} > {la[key]}\n{lat_guard}", la["for"], severity,
            "{{ $labels.provider }}/{{ $labels.model }}: p95 latency {{ $value | "
            "humanizeDuration }}",
            "95% of requests to {{ $labels.provider }}/{{ $labels.model }} take up to "
            f"{{{{ $value | humanizeDuration }}}} (threshold {la[key]}s, with at least "
            f"{la['min_requests_per_second']:g} requests/s).", model_link))
    out += [
        alert(cfg, "LLMProviderDown", f"{names.provider_unhealthy} > {pd['unhealthy_ratio']}",
               pd["for"], "critical", "LLM provider {{ $labels.provider }} is down",
               "Provider {{ $labels.provider }} was unhealthy (reported down, or its circuit "
               "breaker not closed) {{ $value | humanizePercentage }} of the last "
               f"{pd['window']}, averaged over the replicas that report it: requests fail or "
               "fall back to another tier.", link(cfg, "routing", provider="provider")),
        alert(cfg, "LLMUnpricedModel",
               f"sum by (provider, model) (increase({m('unpriced_requests')}{{{sel}}}[1h])) > 0",
               s["unpriced"]["for"], "warning",
               "No price known for {{ $labels.provider }}/{{ $labels.model }}",
               "{{ $value | printf \"%.0f\" }} requests to {{ $labels.provider }}/"
               "{{ $labels.model }} in the last hour had no price, so cost figures are "
               "incomplete. Add a price override (pricing.overrides).", cost_link),
        alert(cfg, "LLMLabelOverflow",
               f"sum by (label) (increase({m('label_overflow')}{{{sel}}}"
               f"[{s['label_overflow']['window']}])) > 0",
               s["label_overflow"]["for"], "warning",
               "New values of label {{ $labels.label }} are folded into \"other\"",
               "{{ $value | printf \"%.0f\" }} recordings in the last "
               f"{s['label_overflow']['window']} had a {{{{ $labels.label }}}} value past its "
               "cap and were counted as \"other\": per-{{ $labels.label }} figures, budgets "
               "included, undercount. Raise labels.caps or stop passing free-form values.",
               cost_link),
        alert(cfg, "LLMSeriesBudgetExceeded",
               f"sum by (family) (increase({m('series_overflow')}{{{sel}}}"
               f"[{s['label_overflow']['window']}])) > 0",
               s["label_overflow"]["for"], "warning",
               "{{ $labels.family }} reached its series budget",
               "{{ $value | printf \"%.0f\" }} recordings in the last "
               f"{s['label_overflow']['window']} had a label set new to "
               "{{ $labels.family }} after it held labels.series_budget series, and were "
               "counted under its overflow set (every capped label \"other\"). Raise "
               "labels.series_budget if the label sets are real, or find who sends so many.",
               cost_link),
        alert(cfg, "LLMIngestRejected",
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
    resources = link(cfg, "resources")
    for severity, key in (("warning", "memory_warning_ratio"), ("critical",
                                                               "memory_critical_ratio")):
        out.append(alert(
            cfg, "GPUMemoryNearlyFull",
            f"{m('gpu_memory_used')}{{{sel}}} / {m('gpu_memory_total')}{{{sel}}} > {gpu[key]}",
            gpu["for"], severity,
            "GPU {{ $labels.gpu }} on {{ $labels.instance }} memory "
            "{{ $value | humanizePercentage }} full",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) has used {{ $value | "
            f"humanizePercentage }}}} of its memory (threshold {gpu[key]:.0%}).", resources))
    for severity, key in (("warning", "temperature_warning_celsius"),
                          ("critical", "temperature_critical_celsius")):
        out.append(alert(
            cfg, "GPUTemperatureHigh", f"{m('gpu_temperature')}{{{sel}}} > {gpu[key]}",
            gpu["for"], severity, "GPU {{ $labels.gpu }} at {{ $value }}°C",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.instance }} runs at "
            f"{{{{ $value }}}}°C (threshold {gpu[key]}°C).", resources))
    out += [
        alert(cfg, "LLMExporterDown", f"up{{{sel}}} == 0 or absent(up{{{sel}}})",
               ex["down_for"], "critical", "The LLM exporter is not being scraped",
               "Prometheus cannot scrape the LLM exporter ({{ $labels.instance }}): LLM "
               "metrics and cost alerts are blind. Budget alerts still evaluate.", resources),
        alert(cfg, "LLMExporterCollectorFailed",
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
    prom_link = link(cfg, "cost")
    return [
        alert(cfg, "Watchdog", "vector(1)", None, "none",
               "The alerting pipeline is alive",
               "Always firing. Alertmanager routes it to the heartbeat receiver, a dead man's "
               "switch that pages when the heartbeat stops: then Prometheus, its rules or "
               "Alertmanager are down, and no other alert could reach you.", prom_link),
        alert(cfg, "PrometheusRuleEvaluationFailures",
               f"sum by (job, instance, rule_group) "
               f"(increase(prometheus_rule_evaluation_failures_total{{{p}}}[5m])) > 0",
               for_, "critical",
               "Prometheus {{ $labels.instance }} fails to evaluate rules",
               "{{ $value | printf \"%.0f\" }} evaluations of rule group "
               "{{ $labels.rule_group }} failed in 5 minutes: its alerts (budgets included) "
               "may not fire.", prom_link),
        alert(cfg, "PrometheusRuleGroupIterationsMissed",
               f"sum by (job, instance, rule_group) "
               f"(increase(prometheus_rule_group_iterations_missed_total{{{p}}}[5m])) > 0",
               for_, "warning",
               "Prometheus {{ $labels.instance }} skips evaluations of a rule group",
               "Rule group {{ $labels.rule_group }} missed {{ $value | printf \"%.0f\" }} "
               "evaluations in 5 minutes: it takes longer than its interval, so its alerts "
               "are late.", prom_link),
        alert(cfg, "PrometheusAlertmanagerUnreachable",
               f"sum by (job, instance) "
               f"(rate(prometheus_notifications_errors_total{{{p}}}[5m]))\n"
               f"/\nsum by (job, instance) "
               f"(rate(prometheus_notifications_sent_total{{{p}}}[5m])) > 0.01\n"
               f"or\nmax_over_time(prometheus_notifications_alertmanagers_discovered{{{p}}}[5m])"
               " < 1", for_, "critical",
               "Prometheus {{ $labels.instance }} cannot deliver alerts to Alertmanager",
               "Prometheus {{ $labels.instance }} fails to send alerts to Alertmanager, or "
               "knows of none: no alert reaches Slack.", prom_link),
        alert(cfg, "AlertmanagerNotificationsFailing",
               f"sum by (job, instance, integration) "
               f"(rate(alertmanager_notifications_failed_total{{{a}}}[5m])) > 0",
               for_, "critical",
               "Alertmanager {{ $labels.instance }} fails to send {{ $labels.integration }} "
               "notifications",
               "Alertmanager {{ $labels.instance }} failed to deliver "
               "{{ $labels.integration }} notifications over the last 5 minutes: check the "
               "webhook URL file and the network. This alert may not reach you by the same "
               "route; the dead man's switch and the Alertmanager UI show it.", prom_link),
        alert(cfg, "PrometheusConfigReloadFailed",
               f"max_over_time(prometheus_config_last_reload_successful{{{p}}}[5m]) == 0",
               for_, "warning",
               "Prometheus {{ $labels.instance }} could not load its configuration",
               "Prometheus {{ $labels.instance }} runs an older configuration: its last "
               "reload failed (new rules or targets are not active).", prom_link),
        alert(cfg, "AlertmanagerConfigReloadFailed",
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
    kept = tuple(cfg.raw.get("aggregation_labels") or ())
    insights = insights_group(cfg, names)
    return {RULES_FILE: {"groups": [
        {"name": f"{ns}.recording", "rules": aggregated(recording_rules(cfg, names), kept)},
        {"name": f"{ns}.alerts", "rules": aggregated(alerts(cfg, names), kept)},
        {"name": f"{ns}.budget", "interval": names.step, "rules": aggregated(steps, kept)},
        {"name": f"{ns}.budget_long", "interval": cfg.get("budget", "long_interval"),
         "rules": aggregated(long_windows, kept)},
        {"name": f"{ns}.meta", "rules": meta_alerts(cfg)},
    ]}, INSIGHTS_FILE: {"groups": [{**insights, "rules": aggregated(insights["rules"], kept)}]}}


_CLAUSE = re.compile(r"\b(by|on) \(([^)]*)\)")


def aggregated(rules: list[dict[str, Any]], kept: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rules with ``kept`` (the aggregation labels, e.g. cluster) in every ``by`` and
    ``on`` clause, so each cluster is summed, joined and alerted on by itself."""
    if not kept:
        return rules

    def widen(m: re.Match[str]) -> str:
        inner = [x.strip() for x in m.group(2).split(",") if x.strip()]
        return f"{m.group(1)} ({', '.join([*kept, *(x for x in inner if x not in kept)])})"

    return [{**r, "expr": _CLAUSE.sub(widen, r["expr"])} for r in rules]


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
