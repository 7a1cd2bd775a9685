"""Alerts about the monitoring itself: the exporters (down, a cluster gone dark, failing
collectors, rejected events, label and series budgets, GPUs) and the Prometheus and
Alertmanager that watch them (the meta group, and the Watchdog)."""

from __future__ import annotations

from typing import Any

from .config import AlertConfig
from .names import Names, alert, dedup, link


def fleet_alerts(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    """Alerts about the exporters themselves. Those about something every replica shares
    (a bad client, a failing collector) aggregate over instances: one alert, not one per
    pod, and one that survives pods being replaced (``for:`` runs on a series that stays)."""
    sel, m = cfg.selector, names.metric

    def d(expr: str) -> str:
        return dedup(cfg, expr)

    s = cfg.raw
    gpu, ex, lo = s["gpu"], s["exporter"], s["label_overflow"]
    window = lo["window"]
    cost_link, resources = link(cfg, "cost"), link(cfg, "resources")
    overflow = f"{m('label_overflow')}{{{sel}}}"
    series = f"{m('series_overflow')}{{{sel}}}"
    events = f"{m('events')}{{{sel}}}"
    rejected = f'{m("events")}{{{sel},result="rejected"}}'
    up = f"up{{{sel}}}"
    failed = f"{m('collector_success')}{{{sel}}}"
    out = [
        alert(cfg, "LLMLabelOverflow",
               f"sum by (label) ({d(f'increase({overflow}[{window}])')}) > 0",
               lo["for"], "warning",
               "New values of label {{ $labels.label }} are folded into \"other\"",
               "{{ $value | printf \"%.0f\" }} recordings in the last "
               f"{window} had a {{{{ $labels.label }}}} value past its "
               "cap and were counted as \"other\": per-{{ $labels.label }} figures, budgets "
               "included, undercount. Raise labels.caps or stop passing free-form values.",
               cost_link),
        alert(cfg, "LLMSeriesBudgetExceeded",
               f"sum by (family) ({d(f'increase({series}[{window}])')}) > 0",
               lo["for"], "warning",
               "{{ $labels.family }} reached its series budget",
               "{{ $value | printf \"%.0f\" }} recordings in the last "
               f"{window} had a label set new to "
               "{{ $labels.family }} after it held labels.series_budget series, and were "
               "counted under its overflow set (every capped label \"other\"). Raise "
               "labels.series_budget if the label sets are real, or find who sends so many.",
               cost_link),
        alert(cfg, "LLMIngestRejected",
               f"sum by (job) ({d(f'rate({rejected}[5m])')})\n/\n"
               f"sum by (job) ({d(f'rate({events}[5m])')})\n"
               f"> {s['ingest']['rejected_ratio']}", s["ingest"]["for"], "warning",
               "The sidecars of {{ $labels.job }} reject {{ $value | humanizePercentage }} of "
               "events",
               "{{ $value | humanizePercentage }} of the events posted to the sidecars of job "
               "{{ $labels.job }} over 5 minutes were rejected (threshold "
               f"{s['ingest']['rejected_ratio']:.0%}): those LLM calls are not counted. The "
               f"4xx answers name the field; {m('events')} by instance shows which "
               "sidecars.", cost_link),
    ]
    for severity, key in (("warning", "memory_warning_ratio"), ("critical",
                                                               "memory_critical_ratio")):
        used = d(f"{m('gpu_memory_used')}{{{sel}}}")
        total = d(f"{m('gpu_memory_total')}{{{sel}}}")
        out.append(alert(
            cfg, "GPUMemoryNearlyFull", f"{used} / {total} > {gpu[key]}",
            gpu["for"], severity,
            "GPU {{ $labels.gpu }} on {{ $labels.instance }} memory "
            "{{ $value | humanizePercentage }} full",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) has used {{ $value | "
            f"humanizePercentage }}}} of its memory (threshold {gpu[key]:.0%}).", resources))
    for severity, key in (("warning", "temperature_warning_celsius"),
                          ("critical", "temperature_critical_celsius")):
        temperature = d(f"{m('gpu_temperature')}{{{sel}}}")
        out.append(alert(
            cfg, "GPUTemperatureHigh", f"{temperature} > {gpu[key]}",
            gpu["for"], severity, "GPU {{ $labels.gpu }} at {{ $value }}°C",
            "GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.instance }} runs at "
            f"{{{{ $value }}}}°C (threshold {gpu[key]}°C).", resources))
    kept = cfg.aggregation_labels
    if kept:
        # a cluster whose exporters were seen in the last day and now send no `up` at all
        # (its Prometheus stopped remote-writing, or every target is gone): absent()
        # across all clusters would stay silent while others report
        by = ", ".join(kept)
        gone = (f"group by ({by}) (last_over_time({names.targets}[1d]))\n"
                f"unless on ({by})\ngroup by ({by}) ({up})")
        where = " ".join(f"{k} {{{{ $labels.{k} }}}}" for k in kept)
        out.append(alert(
            cfg, "LLMExporterDown", gone, ex["down_for"], "critical",
            f"No LLM exporter reports from {where}",
            f"No exporter target of {where} has been scraped for {ex['down_for']} (it had "
            "some in the last day): the whole cluster is dark, or its Prometheus stopped "
            "sending. Its LLM metrics and cost alerts are blind; budgets keep what was "
            "counted.", resources, scope="aggregation"))
    else:
        out.append(alert(
            cfg, "LLMExporterDown", f"absent({up})", ex["down_for"], "critical",
            "No LLM exporter is being scraped",
            "Prometheus has no target of the LLM exporter: LLM metrics and cost alerts are "
            "blind. Budgets keep what was counted.", resources, scope="aggregation"))
    out += [
        alert(cfg, "LLMExporterDown", f"{d(up)} == 0", ex["down_for"], "critical",
               "The LLM exporter {{ $labels.instance }} is not being scraped",
               "Prometheus cannot scrape the LLM exporter {{ $labels.instance }}: its LLM "
               "metrics and cost alerts are blind. Budget alerts keep what was counted, and "
               "a gap up to budget.max_gap is counted when scraping resumes.", resources,
               scope="target"),
        alert(cfg, "LLMExporterCollectorFailed",
               f"count by (job, collector) ({d(failed)} == 0)", ex["collector_failed_for"],
               "warning", "Collector {{ $labels.collector }} is failing",
               "The {{ $labels.collector }} collector fails on every scrape of {{ $value }} "
               "exporter instance(s) of job {{ $labels.job }}; its metrics are missing there. "
               f"{m('collector_success')} == 0 shows which; the exporter log says why.",
               resources),
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
