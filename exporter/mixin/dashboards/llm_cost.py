"""LLM cost and usage: spend now and over time, by model, team and provider; budgets with
spend, forecast and hours left; tokens by type; cost per 1k requests; savings vs the
baseline; unpriced requests. Spend figures read the same recorded series as the budget
and spend-rate alerts, so a panel shows the number its alert fired on."""

from grafanalib.core import Dashboard

from ..config import AlertConfig
from ..names import Names
from .panels import RATE, Board, merge_columns, stat, steps, table, target, timeseries


class _Context:
    """What every panel of this dashboard reads: names, selectors, thresholds."""

    def __init__(self, cfg: AlertConfig) -> None:
        self.names = names = Names(cfg)
        self.m = names.metric
        self.board = Board(names, "job", "provider", "model", "team", "tier")
        self.c = self.board.sel("cost")
        self.team = self.board.labels(("team",))
        self.sr = cfg.raw["spend_rate"]
        self.warn_ratio = cfg.raw["budget"]["warning_ratio"]
        # the 1-hour page of each budget period in use (its factor derives from the period)
        self.pages = {p: t.factor_for(p) for p in cfg.periods() for t in cfg.burn_rates_for(p)
                      if t.long == "1h"} or {"month": 14.4}


def build(cfg: AlertConfig) -> Dashboard:
    """This dashboard for one alert config (namespace, thresholds)."""
    x = _Context(cfg)
    panels = _headline(x) + _budgets(x) + _trends(x)
    return x.board.dashboard("llm-cost", "LLM cost and usage", __doc__ or "", panels, ["cost"])


def _headline(x: _Context) -> list:
    """The top row: spend now, savings, unpriced requests, teams over budget."""
    names, m, board, TEAM, sr = x.names, x.m, x.board, x.team, x.sr
    return [
        stat("Spend, last 24 h", f"sum({names.increase('1d')}{TEAM})", "currencyUSD", 0, 0,
             "Exact spend of the selected teams over the last 24 hours, from the budget rules' "
             "recorded steps (every dollar the exporter recorded; filters on team only).",
             steps(colors=("blue",))),
        stat("Spend rate now", f"sum({names.spend_per_hour}{TEAM})", "currencyUSD", 4, 0,
             "USD per hour over the last 5 minutes, the number LLMSpendRateHigh fires on "
             f"(all teams: warning {sr['warning_usd_per_hour']}, critical "
             f"{sr['critical_usd_per_hour']} USD/h).",
             steps(sr["warning_usd_per_hour"], sr["critical_usd_per_hour"])),
        stat("Spend, last hour", f"sum({names.increase('1h')}{TEAM})", "currencyUSD", 8, 0,
             "Exact spend of the selected teams over the last hour (recorded steps).",
             steps(colors=("blue",))),
        stat("Saved vs baseline, last 24 h",
             f"sum(increase({m('cost_savings')}{board.sel('cost_savings')}[24h]))", "currencyUSD",
             12, 0, "Cost the same requests would have had on the configured baseline model, "
                    "minus what they cost.", steps(colors=("blue",))),
        stat("Unpriced requests, last 24 h",
             f"sum(increase({m('unpriced_requests')}{board.sel('unpriced_requests')}[24h]))",
             "short", 16, 0, "Requests to models without a known price: cost is incomplete "
                             "while this is above 0 (LLMUnpricedModel).", steps(1)),
        stat("Teams over budget", f"count({names.budget_used}{TEAM} >= 1) or vector(0)", "short",
             20, 0, "Budgeted teams whose spend over their period has reached the budget "
                    "(LLMBudgetExceeded, critical).", steps(1, colors=("green", "red"))),
    ]


def _budgets(x: _Context) -> list:
    """Each budget: spend, share used, forecast, hours left, burn rate."""
    names, TEAM, warn_ratio, pages = x.names, x.team, x.warn_ratio, x.pages
    page_text = ", ".join(f"{f:g}x ({p})" for p, f in pages.items())
    return [
        table("Budget per team", [
            target(f"{names.spend}{TEAM}", ref="A", instant=True, fmt="table"),
            target(f"{names.budget}{TEAM}", ref="B", instant=True, fmt="table"),
            target(f"{names.budget_used}{TEAM}", ref="C", instant=True, fmt="table"),
            target(f"{names.projected}{TEAM}", ref="D", instant=True, fmt="table"),
            target(f"{names.hours_left}{TEAM}", ref="E", instant=True, fmt="table")],
            0, 4, "Per team and budget period (day: rolling 24 hours, month: rolling 30 days, "
                  "calendar_month: since the 1st in the budget time zone): "
                  "spend so far, the budget from alerts/config.yml, the share used, the "
                  f"period's spend at the pace of the last {names.forecast_window} (forecast), "
                  "and the hours until the budget is gone at that pace (empty while the team "
                  "spends nothing).", w=24, h=6,
            transformations=merge_columns({"Value #A": "Spent (USD)", "Value #B": "Budget (USD)",
                                       "Value #C": "Used", "Value #D": "Forecast (USD)",
                                       "Value #E": "Hours left"}),
            overrides=[{"matcher": {"id": "byName", "options": "Used"},
                        "properties": [{"id": "unit", "value": "percentunit"},
                                   {"id": "thresholds", "value": {
                                       "mode": "absolute",
                                       "steps": steps(warn_ratio, 1.0)}},
                                   {"id": "custom.displayMode", "value": "color-background"}]}]),
        timeseries("Budget used per team", [target(f"{names.budget_used}{TEAM}",
                                               "{{team}} ({{period}})")],
                   "percentunit", 0, 10,
                   "Spend over the period / budget. Lines: the warning and critical levels of "
                   "LLMBudgetExceeded.", thresholds=steps(warn_ratio, 1.0)),
        timeseries("Budget burn rate, last hour", [target(f"{names.burn('1h')}{TEAM}",
                                                      "{{team}} ({{period}})")],
                   "x", 12, 10,
                   "Spend over the last hour as a multiple of the budget's even pace (budget / "
                   f"period). LLMBudgetBurnRateHigh pages above {page_text} over 1h and 5m; "
                   "the line is the lowest of them.",
                   thresholds=steps(min(pages.values()), colors=("green", "red"))),
    ]


def _trends(x: _Context) -> list:
    """Spend, tokens, cost per request and savings over time."""
    names, m, board, c, TEAM, sr = x.names, x.m, x.board, x.c, x.team, x.sr
    COST, TOKENS, REQ = m("cost"), m("tokens"), m("requests")
    return [
        timeseries("Spend per hour by model", [target(
            f"sum by (provider, model) (rate({COST}{c}[{RATE}])) * 3600",
            "{{provider}}/{{model}}")], "currencyUSD", 0, 18,
            "USD per hour, stacked: which models the money goes to.", stacked=True),
        timeseries("Spend per hour by team", [target(
            f"sum by (team) ({names.spend_per_hour}{TEAM})", "{{team}}")], "currencyUSD",
            12, 18, "USD per hour over 5 minutes per team, the number the per-team "
                    "LLMSpendRateHigh fires on.", stacked=True,
            thresholds=steps(sr["team_warning_usd_per_hour"], colors=("transparent", "orange"))),
        timeseries("Spend per hour by provider", [target(
            f"sum by (provider) (rate({COST}{c}[{RATE}])) * 3600", "{{provider}}")],
            "currencyUSD", 0, 26, "USD per hour, stacked by provider.", stacked=True),
        timeseries("Spend per hour by token type", [target(
            f"sum by (token_type) (rate({COST}{c}[{RATE}])) * 3600", "{{token_type}}")],
            "currencyUSD", 12, 26, "USD per hour by token type: uncached input, cache reads "
                               "and writes, visible output, reasoning.", stacked=True),
        timeseries("Tokens per second by type", [target(
            f"sum by (token_type) (rate({TOKENS}{board.sel('tokens')}[{RATE}]))",
            "{{token_type}}")], "short", 0, 34,
            "input is uncached input, output is non-reasoning output: the types add up to the "
            "total.", stacked=True),
        timeseries("Cost per 1k requests by model", [target(
            f"sum by (provider, model) (rate({COST}{c}[{RATE}])) / "
            f"sum by (provider, model) (rate({REQ}{board.sel('requests')}[{RATE}])) * 1000",
            "{{provider}}/{{model}}")], "currencyUSD", 12, 34,
            "What a thousand requests cost on each model, failed ones included."),
        timeseries("Savings per hour vs baseline", [target(
            f"sum by (provider, model) (rate({m('cost_savings')}{board.sel('cost_savings')}"
            f"[{RATE}])) * 3600", "{{provider}}/{{model}}")], "currencyUSD", 0, 42,
            "USD per hour saved against the baseline model (pricing.baseline)."),
        timeseries("Unpriced requests per second", [target(
            f"sum by (provider, model) (rate({m('unpriced_requests')}"
            f"{board.sel('unpriced_requests')}[{RATE}]))", "{{provider}}/{{model}}")], "reqps",
            12, 42, "Requests whose model has no price; add an override (pricing.overrides)."),
    ]
