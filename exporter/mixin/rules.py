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

from .._store.memory import go_float
from ..catalog import DURATION_BUCKETS
from .budget import budget_rules
from .config import AlertConfig, load_alert_config
from .health import fleet_alerts, meta_alerts
from .insights import INSIGHTS_FILE, insights_group
from .names import MONEY, Names, alert, dedup, link

RULES_FILE = "llm.rules.yml"


def recording_rules(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    sel, m = cfg.selector, names.metric

    def d(expr: str) -> str:
        return dedup(cfg, expr)

    cost, requests = f"{m('cost')}{{{sel}}}", m("requests")
    errors = f'{requests}{{{sel},status="error"}}'
    window = cfg.get("provider_down", "window")
    slow = cfg.get("error_rate", "slow_window")
    rules: list[dict[str, Any]] = [
        {"record": names.spend_per_hour,
         "expr": f"sum by (team) ({d(f'rate({cost}[5m])')}) * 3600"},
        {"record": names.spend_per_hour_all,
         "expr": f"sum by (job) ({d(f'rate({cost}[5m])')}) * 3600"},
        {"record": names.requests_rate,
         "expr": f"sum by (provider, model) ({d(f'rate({requests}{{{sel}}}[5m])')})"},
    ]
    for w, ratio, count in (("5m", names.error_ratio, names.errors("5m")),
                            (slow, names.error_ratio_over(slow), names.errors(slow))):
        rules += [
            {"record": ratio, "expr":
             f"sum by (provider, model) ({d(f'rate({errors}[{w}])')})\n/\n"
             f"sum by (provider, model) ({d(f'rate({requests}{{{sel}}}[{w}])')})"},
            {"record": count, "expr":
             f"sum by (provider, model) ({d(f'increase({errors}[{w}])')})"}]
    lookups = f"{m('cache_lookups')}{{{sel}}}"
    hits = f'{m("cache_lookups")}{{{sel},result="hit"}}'
    rules.append({"record": names.cache_hit_ratio,
                  "expr": f"sum by (cache) ({d(f'rate({hits}[5m])')})\n/\n"
                          f"sum by (cache) ({d(f'rate({lookups}[5m])')})"})
    for q in ("50", "95", "99"):
        for name, key in ((names.latency(q), "request_duration"), (names.ttft(q), "ttft")):
            rules.append({"record": name, "expr":
                          f"histogram_quantile(0.{q}, sum by (provider, model, le) "
                          f"({d(f'rate({m(key)}_bucket{{{sel}}}[5m])')}))"})
    la = cfg.raw["latency_p95"]
    buckets = f"{m('request_duration')}_bucket"
    for key in ("warning_seconds", "critical_seconds"):
        le = bucket_bound(la[key])
        under = d(f'rate({buckets}{{{sel},le="{le}"}}[5m])')
        every = d(f'rate({buckets}{{{sel},le="+Inf"}}[5m])')
        rules.append({"record": names.slow_ratio, "labels": {"threshold": le}, "expr":
                      f"1 - (\n  sum by (provider, model) ({under})\n  /\n"
                      f"  sum by (provider, model) ({every})\n)"})
    # A provider is unhealthy while it reports down or its circuit is not closed
    # (half_open included: a circuit cycling open -> half_open -> open is down), averaged
    # over the window per exporter replica; then the mean, the highest and the lowest over
    # the replicas: one series each per provider.
    up = d(f"avg_over_time({m('provider_up')}{{{sel}}}[{window}])")
    circuit = f'{m("provider_circuit")}{{{sel},state="closed"}}'
    closed = d(f"avg_over_time({circuit}[{window}])")
    rules.append({"record": names.provider_unhealthy_instance, "expr":
                  f"max by (job, instance, provider) (\n  1 - {up}\n  or\n  1 - {closed}\n)"})
    for agg, name in (("avg", names.provider_unhealthy), ("max", names.provider_unhealthy_max),
                      ("min", names.provider_unhealthy_min)):
        rules.append({"record": name, "expr":
                      f"{agg} by (provider) ({names.provider_unhealthy_instance})"})
    return rules


def bucket_bound(value: float) -> str:
    """The ``le`` label of the request-duration bucket bound ``value`` (the config check
    makes sure it is one)."""
    return go_float(min(DURATION_BUCKETS, key=lambda b: abs(b - value)))


def alerts(cfg: AlertConfig, names: Names) -> list[dict[str, Any]]:
    sel, m = cfg.selector, names.metric

    def d(expr: str) -> str:
        return dedup(cfg, expr)

    s = cfg.raw
    sr, er, la, pd = s["spend_rate"], s["error_rate"], s["latency_p95"], s["provider_down"]
    cost_link, team_link = link(cfg, "cost"), link(cfg, "cost", team="team")
    model_link = link(cfg, "performance", provider="provider", model="model")
    team_rate = alert(
        cfg, "LLMSpendRateHigh", f"{names.spend_per_hour} > {sr['team_warning_usd_per_hour']}"
        + (f"\nunless on ({', '.join(budget_labels(cfg))})\n{names.budget}"
           if cfg.budgets else ""), sr["for"],
        "warning", f"Team {{{{ $labels.team }}}} spends ${MONEY}/hour on LLMs",
        f"Team {{{{ $labels.team }}}} is spending {MONEY} USD per hour, over the "
        f"{sr['team_warning_usd_per_hour']} USD/hour threshold for teams without a "
        "budget.", team_link, scope="team")
    # a budget spanning the aggregation labels has none of them: join on team alone
    team_rate["_fixed"] = [f"on ({', '.join(budget_labels(cfg))})"]
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
        team_rate,
    ]
    slow = er["slow_window"]
    for severity, key in (("warning", "warning_ratio"), ("critical", "critical_ratio")):
        out.append(alert(
            cfg, "LLMErrorRateHigh",
            f"(\n  {names.error_ratio} > {er[key]}\n  and on (provider, model)\n"
            f"  {names.errors('5m')} >= {er['min_errors']}\n)\nor\n(\n"
            f"  {names.error_ratio_over(slow)} > {er[key]}\n  and on (provider, model)\n"
            f"  {names.errors(slow)} >= {er['min_errors']}\n)", er["for"],
            severity, "{{ $labels.provider }}/{{ $labels.model }}: {{ $value | "
            "humanizePercentage }} of requests fail",
            "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }}/"
            f"{{{{ $labels.model }}}} failed over the last 5 minutes, or over {slow} for "
            f"a model with little traffic (threshold {er[key]:.0%}, once at least "
            f"{er['min_errors']:g} requests failed in the window). See "
            f"{m('request_errors')} by error_type for why.", model_link))
    for severity, key in (("warning", "warning_seconds"), ("critical", "critical_seconds")):
        le = bucket_bound(la[key])
        out.append(alert(
            cfg, "LLMLatencyHigh",
            f'{names.slow_ratio}{{threshold="{le}"}} > 0.05\nand on (provider, model)\n'
            f"{names.requests_rate} * 300 >= {la['min_requests']}", la["for"], severity,
            "{{ $labels.provider }}/{{ $labels.model }}: {{ $value | humanizePercentage }} "
            f"of requests take over {le}s",
            "{{ $value | humanizePercentage }} of requests to {{ $labels.provider }}/"
            f"{{{{ $labels.model }}}} over the last 5 minutes took longer than {le}s: the "
            f"p95 is above the {le}s threshold (a bucket bound of "
            f"{m('request_duration')}, so no interpolation guesses it), with at least "
            f"{la['min_requests']:g} requests in the window.", model_link))
    routing = link(cfg, "routing", provider="provider")
    unpriced = f"{m('unpriced_requests')}{{{sel}}}"
    out += [
        alert(cfg, "LLMProviderDown",
               f"{names.provider_unhealthy_max} >= {pd['warning_ratio']}", pd["for"],
               "warning", "LLM provider {{ $labels.provider }} is unhealthy on some replicas "
               "or flapping",
               "Provider {{ $labels.provider }} was unhealthy (reported down, or its circuit "
               "breaker not closed) {{ $value | humanizePercentage }} of the last "
               f"{pd['window']} on at least one exporter replica: a partial outage, or a "
               "provider going up and down. Requests there fail or fall back.", routing),
        alert(cfg, "LLMProviderDown",
               f"{names.provider_unhealthy_min} >= {pd['critical_ratio']}", pd["for"],
               "critical", "LLM provider {{ $labels.provider }} is down",
               "Provider {{ $labels.provider }} was unhealthy (reported down, or its circuit "
               "breaker not closed) at least {{ $value | humanizePercentage }} of the last "
               f"{pd['window']} on every exporter replica that reports it: requests fail or "
               "fall back to another tier.", routing),
        alert(cfg, "LLMUnpricedModel",
               f"sum by (provider, model) ({d(f'increase({unpriced}[1h])')}) > 0",
               s["unpriced"]["for"], "warning",
               "No price known for {{ $labels.provider }}/{{ $labels.model }}",
               "{{ $value | printf \"%.0f\" }} requests to {{ $labels.provider }}/"
               "{{ $labels.model }} in the last hour had no price, so cost figures are "
               "incomplete. Add a price override (pricing.overrides).", cost_link),
    ]
    return out + fleet_alerts(cfg, names)


def budget_labels(cfg: AlertConfig) -> tuple[str, ...]:
    """The labels of a budget series: the team, and the aggregation labels when each of
    their values has the whole budget."""
    per = cfg.get("budget", "per_aggregation_labels")
    return (*cfg.aggregation_labels, "team") if per else ("team",)


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
        # the budget rules keep the aggregation labels themselves (a budget may span them)
        {"name": f"{ns}.budget", "interval": names.step, "rules": steps},
        {"name": f"{ns}.budget_long", "interval": cfg.get("budget", "long_interval"),
         "rules": long_windows},
        {"name": f"{ns}.meta", "rules": meta_alerts(cfg)},
    ]}, INSIGHTS_FILE: {"groups": [{**insights, "rules": aggregated(insights["rules"], kept)}]}}


_CLAUSE = re.compile(r"\b(by|on) \(([^)]*)\)")


def aggregated(rules: list[dict[str, Any]], kept: tuple[str, ...]) -> list[dict[str, Any]]:
    """The rules with ``kept`` (the aggregation labels, e.g. cluster) in every ``by`` and
    ``on`` clause, so each cluster is summed, joined and alerted on by itself; but the
    clauses a rule lists under ``_fixed`` (a join with a budget that spans clusters)."""
    if not kept:
        return [{k: v for k, v in r.items() if k != "_fixed"} for r in rules]

    def widen(m: re.Match[str]) -> str:
        inner = [x.strip() for x in m.group(2).split(",") if x.strip()]
        return f"{m.group(1)} ({', '.join([*kept, *(x for x in inner if x not in kept)])})"

    def one(rule: dict[str, Any]) -> dict[str, Any]:
        fixed = rule.get("_fixed", ())
        expr = _CLAUSE.sub(lambda m: m.group(0) if m.group(0) in fixed else widen(m),
                           rule["expr"])
        return {k: v for k, v in {**rule, "expr": expr}.items() if k != "_fixed"}

    return [one(r) for r in rules]


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
