"""Prometheus recording and alerting rules, generated from alerts/config.yml.

Thresholds and budgets live in one YAML file; this module validates it and writes
``alerts/generated/*.rules.yml``. Budgets become recording rules (a constant series
per team and period), so budget alerts keep working while an app is down; a team
without a budget gets no series. Metric names come from the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .catalog import metric_name
from .config import ConfigError

PERIODS = {"day": ("1d", 24), "month": ("30d", 720)}
"""Budget period -> (rolling window, hours in it)."""

_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")

RULES_FILE = "llm.rules.yml"

#: Recording rule names (level:metric:operations), for dashboards and tests.
SPEND_PER_HOUR = "team:llm_cost_usd_per_hour:rate5m"
SPEND_PER_HOUR_ALL = "job:llm_cost_usd_per_hour:rate5m"
SPEND_1H = "team:llm_cost_usd:increase1h"
SPEND_1D = "team:llm_cost_usd:increase1d"
BUDGET = "team_period:llm_budget_usd:configured"
BUDGET_SPEND = "team_period:llm_cost_usd:spend"
BUDGET_PROJECTED = "team_period:llm_cost_usd:projected"
BUDGET_USED = "team_period:llm_budget_used:ratio"
ERROR_RATIO = "model:llm_request_errors:ratio_rate5m"
CACHE_HIT_RATIO = "cache:llm_cache_hits:ratio_rate5m"
LATENCY = "model:llm_request_duration_seconds:p{q}_rate5m"
TTFT = "model:llm_time_to_first_token_seconds:p{q}_rate5m"


@dataclass(frozen=True)
class Budget:
    team: str
    usd: float
    period: str


@dataclass(frozen=True)
class AlertConfig:
    raw: Mapping[str, Any]
    selector: str
    runbook_url: str
    dashboard_url: str
    budgets: tuple[Budget, ...]

    def get(self, section: str, key: str) -> Any:
        return self.raw[section][key]


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "spend_rate": {"warning_usd_per_hour": (int, float), "critical_usd_per_hour": (int, float),
                   "team_warning_usd_per_hour": (int, float), "for": str},
    "budget": {"warning_ratio": (int, float), "for": str, "burn_rate_for": str},
    "error_rate": {"warning_ratio": (int, float), "critical_ratio": (int, float), "for": str},
    "latency_p95": {"warning_seconds": (int, float), "critical_seconds": (int, float),
                    "for": str},
    "provider_down": {"for": str},
    "unpriced": {"for": str},
    "gpu": {"memory_warning_ratio": (int, float), "memory_critical_ratio": (int, float),
            "temperature_warning_celsius": (int, float),
            "temperature_critical_celsius": (int, float), "for": str},
    "exporter": {"down_for": str, "collector_failed_for": str},
}


def load_alert_config(path: str | Path) -> AlertConfig:
    """Read and validate alerts/config.yml; ConfigError names the offending key."""
    import yaml

    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    allowed = {"selector", "runbook_url", "dashboard_url", "budgets", *_SCHEMA}
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("selector", "runbook_url", "dashboard_url"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{key}: must be a non-empty string")
    for section, fields in _SCHEMA.items():
        values = raw.get(section)
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: must be a mapping with {', '.join(fields)}")
        for key, kind in fields.items():
            value = values.get(key)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ConfigError(f"{section}.{key}: expected a "
                                  f"{'duration like 10m' if kind is str else 'number'}, "
                                  f"got {value!r}")
            if isinstance(value, str) and not _DURATION.match(value):
                raise ConfigError(f"{section}.{key}: expected a duration like 10m, "
                                  f"got {value!r}")
            if isinstance(value, (int, float)) and value < 0:
                raise ConfigError(f"{section}.{key}: must be >= 0, got {value!r}")
        extra = set(values) - set(fields)
        if extra:
            raise ConfigError(f"{section}: unknown key(s) {', '.join(sorted(extra))}")
    budgets = []
    seen = set()
    for i, b in enumerate(raw.get("budgets") or []):
        where = f"budgets[{i}]"
        if not isinstance(b, dict) or set(b) != {"team", "usd", "period"}:
            raise ConfigError(f"{where}: needs exactly team, usd and period")
        if not isinstance(b["team"], str) or not b["team"].strip():
            raise ConfigError(f"{where}.team: must be a non-empty string")
        if isinstance(b["usd"], bool) or not isinstance(b["usd"], (int, float)) \
                or b["usd"] <= 0:
            raise ConfigError(f"{where}.usd: must be a number > 0, got {b['usd']!r}")
        if b["period"] not in PERIODS:
            raise ConfigError(f"{where}.period: must be day or month, got {b['period']!r}")
        if (b["team"], b["period"]) in seen:
            raise ConfigError(f"{where}: a second {b['period']} budget for team {b['team']}")
        seen.add((b["team"], b["period"]))
        budgets.append(Budget(b["team"].strip(), float(b["usd"]), b["period"]))
    return AlertConfig(raw, raw["selector"], raw["runbook_url"], raw["dashboard_url"],
                       tuple(budgets))


def _annotations(cfg: AlertConfig, alert: str, summary: str, description: str
                 ) -> dict[str, str]:
    return {"summary": summary, "description": description,
            "runbook_url": cfg.runbook_url.replace("{alert}", alert.lower()),
            "dashboard_url": cfg.dashboard_url}


def _alert(cfg: AlertConfig, name: str, expr: str, for_: str, severity: str,
           summary: str, description: str, **labels: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity, **labels},
            "annotations": _annotations(cfg, name, summary, description)}


def generate(cfg: AlertConfig, namespace: str = "llm") -> dict[str, dict[str, Any]]:
    """File name -> rule file content."""
    sel = cfg.selector

    def m(key: str) -> str:
        return metric_name(key, namespace)

    cost, requests = m("cost"), m("requests")
    recording = [
        {"record": SPEND_PER_HOUR, "expr": f"sum by (team) (rate({cost}{{{sel}}}[5m])) * 3600"},
        {"record": SPEND_PER_HOUR_ALL, "expr": f"sum by (job) (rate({cost}{{{sel}}}[5m])) * 3600"},
        {"record": SPEND_1H, "expr": f"sum by (team) (increase({cost}{{{sel}}}[1h]))"},
        {"record": SPEND_1D, "expr": f"sum by (team) (increase({cost}{{{sel}}}[1d]))"},
        {"record": ERROR_RATIO,
         "expr": f'sum by (provider, model) (rate({requests}{{{sel},status="error"}}[5m]))\n'
                 f"/\nsum by (provider, model) (rate({requests}{{{sel}}}[5m]))"},
        {"record": CACHE_HIT_RATIO,
         "expr": f'sum by (cache) (rate({m("cache_lookups")}{{{sel},result="hit"}}[5m]))\n'
                 f"/\nsum by (cache) (rate({m('cache_lookups')}{{{sel}}}[5m]))"},
    ]
    for q in ("50", "95", "99"):
        for name, key in ((LATENCY, "request_duration"), (TTFT, "ttft")):
            recording.append({"record": name.format(q=q), "expr":
                              f"histogram_quantile(0.{q}, sum by (provider, model, le) "
                              f"(rate({m(key)}_bucket{{{sel}}}[5m])))"})
    budget_rules: list[dict[str, Any]] = []
    for b in cfg.budgets:
        budget_rules.append({"record": BUDGET, "expr": f"vector({b.usd:g})",
                             "labels": {"team": b.team, "period": b.period}})
    for period, (window, hours) in PERIODS.items():
        if not any(b.period == period for b in cfg.budgets):
            continue
        budget_rules += [
            {"record": BUDGET_SPEND, "expr": f"sum by (team) (increase({cost}{{{sel}}}[{window}]))",
             "labels": {"period": period}},
            {"record": BUDGET_PROJECTED, "expr": f"{SPEND_1H} * {hours}",
             "labels": {"period": period}},
        ]
    if cfg.budgets:
        budget_rules.append({"record": BUDGET_USED,
                             "expr": f"{BUDGET_SPEND} / on (team, period) {BUDGET}"})

    s = cfg.raw
    sr, bu, er, la, gpu, ex = (s["spend_rate"], s["budget"], s["error_rate"], s["latency_p95"],
                               s["gpu"], s["exporter"])
    money = '{{ $value | printf "%.2f" }}'
    budget_q = ('{{ with printf "' + BUDGET + '{team=\'%s\',period=\'%s\'}" $labels.team '
                '$labels.period | query }}{{ . | first | value | printf "%.2f" }}{{ end }}')
    alerts = [
        _alert(cfg, "LLMSpendRateHigh", f"{SPEND_PER_HOUR_ALL} > {sr['warning_usd_per_hour']}",
               sr["for"], "warning", f"LLM spend is ${money}/hour",
               f"All teams together are spending {money} USD per hour, over the "
               f"{sr['warning_usd_per_hour']} USD/hour threshold.", scope="global"),
        _alert(cfg, "LLMSpendRateHigh", f"{SPEND_PER_HOUR_ALL} > {sr['critical_usd_per_hour']}",
               sr["for"], "critical", f"LLM spend is ${money}/hour",
               f"All teams together are spending {money} USD per hour, over the "
               f"{sr['critical_usd_per_hour']} USD/hour threshold.", scope="global"),
        _alert(cfg, "LLMSpendRateHigh",
               f"{SPEND_PER_HOUR} > {sr['team_warning_usd_per_hour']}", sr["for"], "warning",
               f"Team {{{{ $labels.team }}}} spends ${money}/hour on LLMs",
               f"Team {{{{ $labels.team }}}} is spending {money} USD per hour, over the "
               f"{sr['team_warning_usd_per_hour']} USD/hour per-team threshold.", scope="team"),
    ]
    if cfg.budgets:
        exceeded = ("Team {{ $labels.team }} has spent $" + money + " of its $" + budget_q +
                    " {{ $labels.period }} budget ({{ $labels.period }}: rolling "
                    "{{ if eq $labels.period \"day\" }}24 hours{{ else }}30 days{{ end }}).")
        alerts += [
            _alert(cfg, "LLMBudgetExceeded",
                   f"{BUDGET_SPEND} >= on (team, period) {bu['warning_ratio']} * {BUDGET}",
                   bu["for"], "warning",
                   f"Team {{{{ $labels.team }}}} used over {bu['warning_ratio']:.0%} of its "
                   f"{{{{ $labels.period }}}} LLM budget", exceeded),
            _alert(cfg, "LLMBudgetExceeded", f"{BUDGET_SPEND} >= on (team, period) {BUDGET}",
                   bu["for"], "critical",
                   "Team {{ $labels.team }} is over its {{ $labels.period }} LLM budget",
                   exceeded),
            _alert(cfg, "LLMBudgetBurnRateHigh",
                   f"{BUDGET_PROJECTED} > on (team, period) {BUDGET}", bu["burn_rate_for"],
                   "warning",
                   "Team {{ $labels.team }} will overrun its {{ $labels.period }} LLM budget "
                   "at the current rate",
                   "At the last hour's rate, team {{ $labels.team }} would spend $" + money +
                   " per {{ $labels.period }}, over its $" + budget_q + " budget."),
        ]
    err = (f"{ERROR_RATIO} > {{t}}", "{{ $labels.provider }}/{{ $labels.model }}: "
           "{{ $value | humanizePercentage }} of requests fail")
    p95 = LATENCY.format(q="95")
    alerts += [
        _alert(cfg, "LLMErrorRateHigh", err[0].format(t=er["warning_ratio"]), er["for"],
               "warning", err[1],
               f"{{{{ $value | humanizePercentage }}}} of requests to {{{{ $labels.provider }}}}"
               f"/{{{{ $labels.model }}}} failed over 5 minutes (threshold "
               f"{er['warning_ratio']:.0%}).{_ERROR_HINT}"),
        _alert(cfg, "LLMErrorRateHigh", err[0].format(t=er["critical_ratio"]), er["for"],
               "critical", err[1],
               f"{{{{ $value | humanizePercentage }}}} of requests to {{{{ $labels.provider }}}}"
               f"/{{{{ $labels.model }}}} failed over 5 minutes (threshold "
               f"{er['critical_ratio']:.0%}).{_ERROR_HINT}"),
        _alert(cfg, "LLMLatencyHigh", f"{p95} > {la['warning_seconds']}", la["for"], "warning",
               "{{ $labels.provider }}/{{ $labels.model }}: p95 latency {{ $value | "
               "humanizeDuration }}",
               f"95% of requests to {{{{ $labels.provider }}}}/{{{{ $labels.model }}}} take up "
               f"to {{{{ $value | humanizeDuration }}}} (threshold {la['warning_seconds']}s)."),
        _alert(cfg, "LLMLatencyHigh", f"{p95} > {la['critical_seconds']}", la["for"],
               "critical", "{{ $labels.provider }}/{{ $labels.model }}: p95 latency "
               "{{ $value | humanizeDuration }}",
               f"95% of requests to {{{{ $labels.provider }}}}/{{{{ $labels.model }}}} take up "
               f"to {{{{ $value | humanizeDuration }}}} (threshold {la['critical_seconds']}s)."),
        _alert(cfg, "LLMProviderDown",
               f"{m('provider_up')}{{{sel}}} == 0\nor\n"
               f'{m("provider_circuit")}{{{sel},state="open"}} == 1',
               s["provider_down"]["for"], "critical",
               "LLM provider {{ $labels.provider }} is down",
               "Provider {{ $labels.provider }} reports unhealthy or its circuit breaker is "
               "open: requests fail or fall back to another tier."),
        _alert(cfg, "LLMUnpricedModel",
               f"sum by (provider, model) (increase({m('unpriced_requests')}{{{sel}}}[1h])) > 0",
               s["unpriced"]["for"], "warning",
               "No price known for {{ $labels.provider }}/{{ $labels.model }}",
               "{{ $value | printf \"%.0f\" }} requests to {{ $labels.provider }}/"
               "{{ $labels.model }} in the last hour had no price, so cost figures are "
               "incomplete. Add a price override (pricing.overrides)."),
        _alert(cfg, "GPUMemoryNearlyFull",
               f"{m('gpu_memory_used')}{{{sel}}} / {m('gpu_memory_total')}{{{sel}}} > "
               f"{gpu['memory_warning_ratio']}", gpu["for"], "warning",
               "GPU {{ $labels.gpu }} on {{ $labels.instance }} memory "
               "{{ $value | humanizePercentage }} full",
               "GPU {{ $labels.gpu }} ({{ $labels.name }}) has used {{ $value | "
               f"humanizePercentage }}}} of its memory (threshold "
               f"{gpu['memory_warning_ratio']:.0%})."),
        _alert(cfg, "GPUMemoryNearlyFull",
               f"{m('gpu_memory_used')}{{{sel}}} / {m('gpu_memory_total')}{{{sel}}} > "
               f"{gpu['memory_critical_ratio']}", gpu["for"], "critical",
               "GPU {{ $labels.gpu }} on {{ $labels.instance }} memory "
               "{{ $value | humanizePercentage }} full",
               "GPU {{ $labels.gpu }} ({{ $labels.name }}) has used {{ $value | "
               f"humanizePercentage }}}} of its memory (threshold "
               f"{gpu['memory_critical_ratio']:.0%})."),
        _alert(cfg, "GPUTemperatureHigh",
               f"{m('gpu_temperature')}{{{sel}}} > {gpu['temperature_warning_celsius']}",
               gpu["for"], "warning", "GPU {{ $labels.gpu }} at {{ $value }}°C",
               "GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.instance }} runs at "
               f"{{{{ $value }}}}°C (threshold {gpu['temperature_warning_celsius']}°C)."),
        _alert(cfg, "GPUTemperatureHigh",
               f"{m('gpu_temperature')}{{{sel}}} > {gpu['temperature_critical_celsius']}",
               gpu["for"], "critical", "GPU {{ $labels.gpu }} at {{ $value }}°C",
               "GPU {{ $labels.gpu }} ({{ $labels.name }}) on {{ $labels.instance }} runs at "
               f"{{{{ $value }}}}°C (threshold {gpu['temperature_critical_celsius']}°C)."),
        _alert(cfg, "LLMExporterDown", f"up{{{sel}}} == 0 or absent(up{{{sel}}})",
               ex["down_for"], "critical", "The LLM exporter is not being scraped",
               "Prometheus cannot scrape the LLM exporter ({{ $labels.instance }}): LLM "
               "metrics and cost alerts are blind. Budget alerts still evaluate."),
        _alert(cfg, "LLMExporterCollectorFailed",
               f"{m('collector_success')}{{{sel}}} == 0", ex["collector_failed_for"], "warning",
               "Collector {{ $labels.collector }} is failing",
               "The {{ $labels.collector }} collector of {{ $labels.instance }} fails on every "
               "scrape; its metrics are missing. The exporter log says why."),
    ]
    # One group, in dependency order: Prometheus evaluates a group's rules one after the
    # other, but different groups independently, so an alert in another group than the
    # recording rule it reads can see that series between updates (promtool's unit tests
    # of such rules passed or failed from run to run).
    return {RULES_FILE: {"groups": [{"name": "llm",
                                     "rules": recording + budget_rules + alerts}]}}


_ERROR_HINT = " See llm_request_errors_total by error_type for why."
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


def write(config_path: str | Path, out_dir: str | Path, namespace: str = "llm") -> list[Path]:
    """Regenerate the rule files; stale generated files are removed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    texts = render(generate(load_alert_config(config_path), namespace))
    for old in out.glob("*.rules.yml"):
        if old.name not in texts:
            old.unlink()
    paths = []
    for name, text in texts.items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
