"""Money insight rules: what self-hosted GPU pools cost per million tokens beside an API
model, what prompt caching saved, whether the bundled prices are stale, and whether a
team's spend is far above its usual level for the hour of the week.

They live in a file of their own (``llm-insights.rules.yml``, one group evaluated every
``insights.interval``) so each can be unit-tested by promtool without the budget groups.
The spend anomaly reads only the budget group's recorded hourly spend at weekly offsets:
a handful of samples per team per evaluation, whatever the traffic.
"""

from __future__ import annotations

from typing import Any

from .config import AlertConfig
from .inference import inference_rules
from .names import MONEY, Names, alert, dedup, link, query

INSIGHTS_FILE = "llm-insights.rules.yml"


class InsightNames:
    """Recorded series of the insights group, for one namespace."""

    def __init__(self, ns: str, window: str) -> None:
        w = window
        self.pool_cost = f"pool:{ns}_pool_cost_usd:rate{w}"
        self.pool_energy = f"pool:{ns}_pool_energy_cost_usd:rate{w}"
        self.pool_tokens = f"pool:{ns}_tokens:rate{w}"
        self.pool_per_mtok = f"pool:{ns}_cost_usd_per_million_tokens:ratio_rate{w}"
        self.model_per_mtok = f"model:{ns}_cost_usd_per_million_tokens:ratio_rate{w}"
        self.reference_per_mtok = f"model:{ns}_reference_cost_usd_per_million_tokens:ratio_rate{w}"
        self.cache_net = f"team:{ns}_prompt_cache_net_savings_usd:rate{w}"
        self.spend_total = f"total:{ns}_cost_usd:increase1h"
        self.usual = f"team:{ns}_cost_usd:increase1h_usual"
        self.usual_total = f"total:{ns}_cost_usd:increase1h_usual"


def self_hosted_rules(cfg: AlertConfig, names: Names, n: InsightNames) -> list[dict[str, Any]]:
    """Pool cost (GPU hours, plus energy where priced) spread over the pool's tokens."""
    sel, m = cfg.selector, names.metric

    def d(expr: str) -> str:
        return dedup(cfg, expr)

    sh = cfg.raw["self_hosted"]
    w = sh["window"]
    price_info = f'{m("model_price_info")}{{{sel},source="pool"}}'
    pooled = f"max by (provider, model, pool) ({price_info})"
    tokens = f"{m('tokens')}{{{sel}}}"
    pool_cost = f"{m('pool_cost')}{{{sel}}}"
    rules = [{"record": n.pool_tokens, "expr":
              f"sum by (pool) (\n  sum by (provider, model) ({d(f'rate({tokens}[{w}])')})"
              f"\n  * on (provider, model) group_left (pool)\n  {pooled}\n)"}]
    hours = f"sum by (pool) ({d(f'rate({pool_cost}[{w}])')})"
    if sh["usd_per_kwh"]:
        join = ", ".join(sh["energy_join_labels"])
        usd_per_unit = sh["energy_joules_per_unit"] * sh["usd_per_kwh"] / 3.6e6
        energy = d(f"rate({sh['energy_metric']}[{w}])")
        rules.append({"record": n.pool_energy, "expr":
                      f"sum by (pool) (\n  sum by ({join}) ({energy})"
                      f" * {usd_per_unit:.6g}\n  * on ({join}) group_left (pool)\n"
                      f"  (0 * max by ({join}, pool) ({pool_cost}) + 1)\n)"})
        hours = f"{hours}\n+ on (pool)\n({n.pool_energy} or {hours} * 0)"
    reference = f"{m('reference_cost')}{{{sel}}}"
    savings = f"{m('prompt_cache_savings')}{{{sel}}}"
    premium = f"{m('prompt_cache_write_premium')}{{{sel}}}"
    rules += [
        {"record": n.pool_cost, "expr": hours},
        {"record": n.pool_per_mtok,
         "expr": f"{n.pool_cost}\n/ on (pool)\n({n.pool_tokens} > 0) * 1e6"},
        {"record": n.model_per_mtok,
         "expr": f"{n.pool_per_mtok}\n* on (pool) group_right\n{pooled}"},
        {"record": n.reference_per_mtok, "expr":
         f"sum by (provider, model) ({d(f'rate({reference}[{w}])')})\n/\n"
         f"(sum by (provider, model) ({d(f'rate({tokens}[{w}])')}) > 0) * 1e6"},
        {"record": n.cache_net, "expr":
         f"sum by (team) ({d(f'rate({savings}[{w}])')})\n-\n"
         f"sum by (team) ({d(f'rate({premium}[{w}])')})"},
    ]
    return rules


def catalog_alert(cfg: AlertConfig, names: Names) -> dict[str, Any]:
    """One alert per catalog version and data date, whatever the number of pods running
    it: the series it fires on outlives any one pod, so ``for:`` survives pod churn."""
    pc, m, sel = cfg.raw["price_catalog"], names.metric, cfg.selector
    days = pc["max_age_days"]
    age = dedup(cfg, f"{m('price_catalog_age')}{{{sel}}}")
    info = dedup(cfg, f"{m('price_catalog_info')}{{{sel}}}")
    return alert(
        cfg, "LLMPriceCatalogStale",
        f"max by (version, date) (\n  {age}\n"
        f"  * on (job, instance) group_left (version, date)\n  {info}\n) > {days * 86400:g}",
        pc["for"], "warning",
        "LLM prices of genai-prices {{ $labels.version }} are {{ $value | humanizeDuration }} "
        "old",
        "The bundled price catalog (genai-prices {{ $labels.version }}, data of "
        "{{ $labels.date }}) is older than "
        f"{days:g} days on every exporter that runs it: new models are unpriced and changed "
        "prices are wrong. Upgrade llm-exporter (pip install -U llm-exporter genai-prices) "
        "or set price overrides; `llm-exporter prices MODEL` shows what a model is priced "
        "at and why.", link(cfg, "insights"))


def anomaly_rules(cfg: AlertConfig, names: Names, n: InsightNames) -> list[dict[str, Any]]:
    """Hourly spend against the median over past weeks of the same hour of the week,
    taken as the highest of that hour and the hours on either side (robust to a
    daylight-saving shift, which moves local traffic by an hour in UTC)."""
    sa = cfg.raw["spend_anomaly"]
    hourly = names.increase("1h")

    def usual(series: str) -> str:
        # the same hour of the week in past weeks, and the hour on either side: across a
        # daylight-saving shift, local traffic moves by an hour in UTC, and the ramp-up
        # hour of a working day would otherwise be compared with a quiet one
        weeks = "\n  or\n".join(
            f'  label_replace(max_over_time({series}[2h] offset {k * 168 - 1}h), '
            f'"weeks_ago", "{k}", "", "")'
            for k in range(1, sa["weeks"] + 1))
        return (f"quantile without (weeks_ago) (0.5,\n{weeks}\n)\nand\n"
                f"count without (weeks_ago) (\n{weeks}\n) >= {sa['min_weeks']}")

    rules: list[dict[str, Any]] = [
        {"record": n.spend_total, "expr": f"sum without (team) ({hourly})"},
        {"record": n.usual, "expr": usual(hourly)},
        {"record": n.usual_total, "expr": usual(n.spend_total)},
    ]
    factor, floor = sa["factor"], sa["min_usd_per_hour"]
    for scope, spend, base, who in (("team", hourly, n.usual, "Team {{ $labels.team }}"),
                                    ("global", n.spend_total, n.usual_total, "LLM spend")):
        team = ("team",) if scope == "team" else ()
        on = "on (team) " if team else ""
        rules.append(alert(
            cfg, "LLMSpendAnomaly",
            f"{spend} > {on}{factor:g} * {base}\nand\n{spend} > {floor:g}", sa["for"],
            "warning", f"{who}: far above the usual spend for this hour of the week",
            f"{who}: {MONEY} USD in the last hour, over {factor:g}x the usual spend "
            f"of this hour of the week ({query(base, *team)} USD: the median over the last "
            f"{sa['weeks']} weeks of the same hour, or the hour either side if higher) and "
            f"over the {floor:g} USD/hour minimum.",
            link(cfg, "insights", **{t: t for t in team}), scope=scope))
    return rules


def insights_group(cfg: AlertConfig, names: Names) -> dict[str, Any]:
    n = InsightNames(cfg.namespace, cfg.raw["self_hosted"]["window"])
    return {"name": f"{cfg.namespace}.insights", "interval": cfg.get("insights", "interval"),
            "rules": [*self_hosted_rules(cfg, names, n),
                      *inference_rules(cfg, n.pool_cost), catalog_alert(cfg, names),
                      *anomaly_rules(cfg, names, n)]}
