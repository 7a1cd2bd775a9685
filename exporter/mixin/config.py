"""alerts/config.yml: budgets and thresholds, read and validated once.

The rule generator (:mod:`exporter.mixin.rules`) and the dashboards read the same object, so
a stat panel's thresholds are the alert's thresholds. Every error names the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._exceptions import ConfigError
from ..record.validation import InvalidValue
from ..record.validation import namespace as check_namespace
from ..settings._parse import read_document

#: Budget period -> its length in hours: the rolling windows, and the nominal length of
#: a calendar month (the rules use the month's own number of days).
PERIOD_HOURS = {"day": 24, "month": 720, "calendar_month": 720}
#: What each period is, for messages.
PERIOD_TEXT = {"day": "rolling 24 hours", "month": "rolling 30 days",
               "calendar_month": "calendar month"}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d|w)$")

_NUMBER = (int, float)
_DUR = "duration"  # a Prometheus duration string, like 10m
_SCHEMA: dict[str, dict[str, Any]] = {
    "spend_rate": {"warning_usd_per_hour": _NUMBER, "critical_usd_per_hour": _NUMBER,
                   "team_warning_usd_per_hour": _NUMBER, "for": _DUR},
    "budget": {"interval": _DUR, "long_interval": _DUR, "warning_ratio": _NUMBER, "for": _DUR,
               "forecast_window": _DUR, "burn_rates": list, "evaluation_delay": _DUR,
               "max_gap": _DUR, "timezone": str, "per_aggregation_labels": bool},
    "error_rate": {"warning_ratio": _NUMBER, "critical_ratio": _NUMBER, "for": _DUR,
                   "min_errors": _NUMBER, "slow_window": _DUR},
    "latency_p95": {"warning_seconds": _NUMBER, "critical_seconds": _NUMBER, "for": _DUR,
                    "min_requests": _NUMBER},
    "provider_down": {"window": _DUR, "warning_ratio": _NUMBER, "critical_ratio": _NUMBER,
                      "for": _DUR},
    "unpriced": {"for": _DUR},
    "label_overflow": {"window": _DUR, "for": _DUR},
    "ingest": {"rejected_ratio": _NUMBER, "for": _DUR},
    "gpu": {"memory_warning_ratio": _NUMBER, "memory_critical_ratio": _NUMBER,
            "temperature_warning_celsius": _NUMBER, "temperature_critical_celsius": _NUMBER,
            "for": _DUR},
    "exporter": {"down_for": _DUR, "collector_failed_for": _DUR},
    "meta": {"prometheus_selector": str, "alertmanager_selector": str, "for": _DUR},
    "insights": {"interval": _DUR},
    "self_hosted": {"window": _DUR, "usd_per_kwh": _NUMBER, "energy_metric": str,
                    "energy_joules_per_unit": _NUMBER, "energy_join_labels": list},
    "inference_servers": {"servers": list, "pool_label": str},
    "price_catalog": {"max_age_days": _NUMBER, "for": _DUR},
    "spend_anomaly": {"factor": _NUMBER, "min_usd_per_hour": _NUMBER, "weeks": int,
                      "min_weeks": int, "for": _DUR},
}
#: Sections and keys added after the first release: a config without them gets these
#: values.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "budget": {"evaluation_delay": "0s", "max_gap": "1h", "timezone": "UTC",
               "per_aggregation_labels": False},
    "insights": {"interval": "5m"},
    "self_hosted": {"window": "1h", "usd_per_kwh": 0, "energy_metric":
                    'gpu_energy_joules_total{job="llm-exporter"}',
                    "energy_joules_per_unit": 1, "energy_join_labels": ["instance"]},
    "inference_servers": {"servers": ["vllm", "sglang", "tgi"], "pool_label": "pool"},
    "price_catalog": {"max_age_days": 60, "for": "1h"},
    "spend_anomaly": {"factor": 3, "min_usd_per_hour": 10, "weeks": 4, "min_weeks": 2,
                      "for": "15m"},
}
#: Keys whose meaning changed: a config that still has one gets an error saying what
#: replaced it.
_REPLACED = {
    ("error_rate", "min_requests_per_second"):
        "min_errors (failed requests in the window before its ratio counts) and slow_window",
    ("latency_p95", "min_requests_per_second"): "min_requests (requests in 5 minutes)",
    ("provider_down", "unhealthy_ratio"):
        "warning_ratio (any replica, or flapping) and critical_ratio (every replica)",
}
_BURN_KEYS = {"severity": str, "long": _DUR, "short": _DUR, "for": _DUR}
#: A burn-rate tier names its threshold one of two ways (exactly one of them).
_BURN_THRESHOLDS = {"factor": _NUMBER, "exhausts_within": _DUR}


_PART = re.compile(r"([0-9]+)(s|m|h|d|w)")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: Labels the rules already aggregate by or over: not aggregation labels.
_RESERVED = frozenset({"team", "period", "provider", "model", "le", "job", "instance",
                       "cache", "label", "family", "__name__"})


def seconds(duration: str) -> int:
    """Seconds in a Prometheus duration (``90s``, ``5m``, ``4m59s``, ``30d``)."""
    parts = _PART.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def duration(secs: int) -> str:
    """The shortest Prometheus duration for ``secs`` (``3600`` -> ``1h``, ``90`` ->
    ``1m30s``)."""
    if secs <= 0:
        raise ValueError(f"duration must be positive, got {secs}")
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out += f"{secs // size}{unit}"
            secs %= size
    return out


@dataclass(frozen=True)
class Budget:
    team: str
    usd: float
    period: str


@dataclass(frozen=True)
class BurnRate:
    """One window pair of a multi-window, multi-burn-rate budget alert: fires while the
    spend over both ``long`` and ``short`` runs at ``factor`` times the budget's even pace
    (budget / period), or, with ``exhausts_within``, at a pace that would spend the whole
    budget within that time (a factor derived from each period: 4x for a day budget at
    6h, 120x for a 30-day one)."""

    severity: str
    long: str
    short: str
    factor: float | None
    exhausts_within: str | None
    for_: str

    def factor_for(self, period: str) -> float:
        """This tier's threshold as a multiple of ``period``'s even pace (a calendar
        month counted as 30 days here; the rules use the month's own length)."""
        if self.factor is not None:
            return self.factor
        assert self.exhausts_within is not None
        return PERIOD_HOURS[period] * 3600 / seconds(self.exhausts_within)


@dataclass(frozen=True)
class AlertConfig:
    raw: Mapping[str, Any]
    namespace: str
    selector: str
    runbook_url: str
    grafana_url: str
    budgets: tuple[Budget, ...]
    burn_rates: tuple[BurnRate, ...]

    def get(self, section: str, key: str) -> Any:
        return self.raw[section][key]

    @property
    def aggregation_labels(self) -> tuple[str, ...]:
        return tuple(self.raw.get("aggregation_labels") or ())

    @property
    def replica_labels(self) -> tuple[str, ...]:
        return tuple(self.raw.get("replica_labels") or ())

    def periods(self) -> list[str]:
        """The budget periods in use, in PERIOD_HOURS order."""
        used = {b.period for b in self.budgets}
        return [p for p in PERIOD_HOURS if p in used]

    def burn_rates_for(self, period: str) -> list[BurnRate]:
        """The burn-rate tiers that can fire while at least half of ``period``'s budget is
        left: a tier whose long window at its factor spends half the budget or more (any
        3-day window of a day budget), or whose pace would not spend the budget within the
        period, only repeats LLMBudgetExceeded. Of tiers of one severity on the same
        windows, the lowest factor is kept (it fires whenever a higher one would)."""
        period_s = PERIOD_HOURS[period] * 3600
        usable = [t for t in self.burn_rates
                  if t.factor_for(period) * seconds(t.long) < period_s / 2
                  and (t.exhausts_within is None or t.factor_for(period) > 1)]
        return [t for t in usable
                if not any(o is not t and (o.severity, o.long, o.short) ==
                           (t.severity, t.long, t.short) and
                           (o.factor_for(period), usable.index(o)) <
                           (t.factor_for(period), usable.index(t)) for o in usable)]


def local_grafana(cfg: AlertConfig) -> bool:
    """Whether alert links point at a Grafana on localhost (fine for the demo, wrong for
    a team's on-call)."""
    from urllib.parse import urlsplit

    return (urlsplit(cfg.grafana_url).hostname or "") in ("localhost", "127.0.0.1", "::1")


def _check_duration(where: str, value: Any) -> None:
    if not isinstance(value, str) or not _DURATION.match(value):
        raise ConfigError(f"{where}: expected a duration like 10m, got {value!r}")


def _check_fields(where: str, values: Any, fields: Mapping[str, Any]) -> None:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: must be a mapping with {', '.join(fields)}")
    missing = set(fields) - set(values)
    if missing:
        raise ConfigError(f"{where}: missing key(s) {', '.join(sorted(missing))}")
    extra = set(values) - set(fields)
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
    for key, kind in fields.items():
        value = values[key]
        if kind is _DUR:
            _check_duration(f"{where}.{key}", value)
        elif kind is _NUMBER:
            if isinstance(value, bool) or not isinstance(value, _NUMBER):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
            if value < 0:
                raise ConfigError(f"{where}.{key}: must be >= 0, got {value!r}")
        elif kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}.{key}: expected true or false, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, kind) or value == "":
            raise ConfigError(f"{where}.{key}: expected a {kind.__name__}, got {value!r}")


def _check_insights(raw: dict[str, Any]) -> None:
    sa, sh = raw["spend_anomaly"], raw["self_hosted"]
    if not 1 <= sa["weeks"] <= 8:
        raise ConfigError(f"spend_anomaly.weeks: 1 to 8, got {sa['weeks']!r}")
    if not 1 <= sa["min_weeks"] <= sa["weeks"]:
        raise ConfigError(f"spend_anomaly.min_weeks: 1 to weeks ({sa['weeks']}), got "
                          f"{sa['min_weeks']!r}")
    if sa["factor"] <= 1:
        raise ConfigError(f"spend_anomaly.factor: must be > 1, got {sa['factor']!r}")
    ic = raw["inference_servers"]
    known = ("vllm", "sglang", "tgi")
    if not all(s in known for s in ic["servers"]) or len(set(ic["servers"])) != \
            len(ic["servers"]):
        raise ConfigError(f"inference_servers.servers: some of {', '.join(known)}, each "
                          f"once, got {ic['servers']!r}")
    if not _LABEL.match(ic["pool_label"]):
        raise ConfigError("inference_servers.pool_label: a label name, got "
                          f"{ic['pool_label']!r}")
    joins = sh["energy_join_labels"]
    if not joins or not all(isinstance(j, str) and _LABEL.match(j) for j in joins):
        raise ConfigError("self_hosted.energy_join_labels: a non-empty list of label names, "
                          f"got {joins!r}")


def _burn_rate(where: str, tier: Any, interval: str) -> BurnRate:
    if not isinstance(tier, dict):
        raise ConfigError(f"{where}: must be a mapping")
    thresholds = [k for k in _BURN_THRESHOLDS if k in tier]
    if len(thresholds) != 1:
        raise ConfigError(f"{where}: needs exactly one of factor (a multiple of the even "
                          "pace) or exhausts_within (a duration)")
    key = thresholds[0]
    _check_fields(where, tier, {**_BURN_KEYS, key: _BURN_THRESHOLDS[key]})
    if tier["severity"] not in ("warning", "critical"):
        raise ConfigError(f"{where}.severity: warning or critical, got {tier['severity']!r}")
    if seconds(tier["short"]) >= seconds(tier["long"]):
        raise ConfigError(f"{where}.short: must be shorter than long ({tier['long']})")
    for w in ("long", "short"):
        if seconds(tier[w]) % seconds(interval):
            raise ConfigError(f"{where}.{w}: must be a multiple of budget.interval "
                              f"({interval})")
    if key == "factor" and tier["factor"] <= 0:
        raise ConfigError(f"{where}.factor: must be > 0, got {tier['factor']!r}")
    factor = float(tier["factor"]) if key == "factor" else None
    return BurnRate(tier["severity"], tier["long"], tier["short"], factor,
                    tier.get("exhausts_within"), tier["for"])


def _check_budget(bu: dict[str, Any]) -> None:
    if seconds(bu["evaluation_delay"]) > 600:
        raise ConfigError(f"budget.evaluation_delay: at most 10m, got {bu['evaluation_delay']!r}")
    interval = seconds(bu["interval"])
    gap = seconds(bu["max_gap"])
    if not 2 * interval <= gap <= 86400:
        raise ConfigError(f"budget.max_gap: between twice budget.interval and 1d, got "
                          f"{bu['max_gap']!r}")
    try:
        from .timezone import check_timezone
        check_timezone(bu["timezone"])
    except ValueError as exc:
        raise ConfigError(f"budget.timezone: {exc}") from None


def _check_latency(la: dict[str, Any]) -> None:
    """Thresholds are bucket bounds of the request-duration histogram: a share of
    requests slower than a bound is exact, where a quantile interpolates inside a bucket
    (all requests at 22 s read as a p95 of 39 s in the 20.48-40.96 s bucket)."""
    from ..catalog import DURATION_BUCKETS

    for key in ("warning_seconds", "critical_seconds"):
        if not any(abs(la[key] - b) < 1e-9 for b in DURATION_BUCKETS):
            bounds = ", ".join(f"{b:g}" for b in DURATION_BUCKETS if b >= 1)
            raise ConfigError(f"latency_p95.{key}: must be a bucket bound of "
                              f"llm_request_duration_seconds ({bounds}), got {la[key]!r}")


def load_alert_config(path: str | Path) -> AlertConfig:
    """Read and validate alerts/config.yml; ConfigError names the offending key."""
    raw = read_document(Path(path), "alerts config")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    namespace = _check_top(raw, path)
    _check_label_lists(raw)
    for (section, key), instead in _REPLACED.items():
        if isinstance(raw.get(section), dict) and key in raw[section]:
            raise ConfigError(f"{section}.{key}: replaced by {instead}; see "
                              "docs/changelog.md")
    for section, defaults in _DEFAULTS.items():
        given = raw.get(section) or {}
        if isinstance(given, dict):
            raw[section] = {**defaults, **given}
    for section, fields in _SCHEMA.items():
        _check_fields(section, raw.get(section), fields)
    _check_insights(raw)
    _check_budget(raw["budget"])
    _check_latency(raw["latency_p95"])
    for section in ("budget", "ingest", "provider_down", "error_rate"):
        for key, value in raw[section].items():
            if key.endswith("_ratio") and value > 1:
                raise ConfigError(f"{section}.{key}: a ratio in 0..1, got {value!r}")
    burn_rates = [_burn_rate(f"budget.burn_rates[{i}]", tier, raw["budget"]["interval"])
                  for i, tier in enumerate(raw["budget"]["burn_rates"])]
    _check_intervals(raw["budget"])
    return AlertConfig(raw, namespace, raw["selector"], raw["runbook_url"],
                       raw["grafana_url"].rstrip("/"), _budgets(raw.get("budgets") or []),
                       tuple(burn_rates))


def _check_top(raw: dict[str, Any], path: str | Path) -> str:
    """The top-level keys and strings; the namespace, checked."""
    allowed = {"namespace", "selector", "runbook_url", "grafana_url", "budgets",
               "aggregation_labels", "replica_labels", *_SCHEMA}
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    for key in ("namespace", "selector", "runbook_url", "grafana_url"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{key}: must be a non-empty string")
    try:
        return check_namespace(raw["namespace"], "namespace:")
    except InvalidValue as exc:
        raise ConfigError(str(exc)) from None


def _check_label_lists(raw: dict[str, Any]) -> None:
    """aggregation_labels (clusters ...) and replica_labels (an HA pair's), disjoint and
    none of the labels the rules use themselves."""
    aggregation = raw.setdefault("aggregation_labels", [])
    if not isinstance(aggregation, list) or not all(
            isinstance(a, str) and _LABEL.match(a) and a not in _RESERVED for a in aggregation):
        raise ConfigError("aggregation_labels: a list of label names (such as cluster), none "
                          f"of {', '.join(sorted(_RESERVED))}; got {aggregation!r}")
    replicas = raw.setdefault("replica_labels", [])
    if not isinstance(replicas, list) or not all(
            isinstance(r, str) and _LABEL.match(r) and r not in _RESERVED
            and r not in aggregation for r in replicas):
        raise ConfigError("replica_labels: a list of label names (such as prometheus_replica), "
                          f"none of {', '.join(sorted(_RESERVED))} or the aggregation labels; "
                          f"got {replicas!r}")


def _check_intervals(budget: dict[str, Any]) -> None:
    interval = seconds(budget["interval"])
    if not 10 <= interval <= 3600 or 3600 % interval:
        raise ConfigError("budget.interval: must divide an hour, between 10s and 1h, "
                          f"got {budget['interval']!r}")
    if not interval <= seconds(budget["long_interval"]) <= 3600:
        raise ConfigError("budget.long_interval: between budget.interval and 1h, got "
                          f"{budget['long_interval']!r}")
    if seconds(budget["forecast_window"]) % interval:
        raise ConfigError("budget.forecast_window: must be a multiple of budget.interval")


def _budgets(entries: list[Any]) -> tuple[Budget, ...]:
    """The budgets: one per team and period, each a positive USD amount."""
    budgets, seen = [], set()
    for i, b in enumerate(entries):
        where = f"budgets[{i}]"
        if not isinstance(b, dict) or set(b) != {"team", "usd", "period"}:
            raise ConfigError(f"{where}: needs exactly team, usd and period")
        if not isinstance(b["team"], str) or not b["team"].strip():
            raise ConfigError(f"{where}.team: must be a non-empty string")
        if isinstance(b["usd"], bool) or not isinstance(b["usd"], _NUMBER) or b["usd"] <= 0:
            raise ConfigError(f"{where}.usd: must be a number > 0, got {b['usd']!r}")
        if b["period"] not in PERIOD_HOURS:
            raise ConfigError(f"{where}.period: must be one of {', '.join(PERIOD_HOURS)}, got "
                              f"{b['period']!r}")
        if (b["team"], b["period"]) in seen:
            raise ConfigError(f"{where}: a second {b['period']} budget for team {b['team']}")
        seen.add((b["team"], b["period"]))
        budgets.append(Budget(b["team"].strip(), float(b["usd"]), b["period"]))
    return tuple(budgets)
