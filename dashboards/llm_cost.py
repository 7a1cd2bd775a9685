"""LLM cost and usage: spend now and over time, by model, team and provider; tokens by
type; cost per 1k requests; savings vs baseline; budget used per team; unpriced."""

from exporter import rules

from .panels import RATE, dashboard, m, sel, stat, table, target, timeseries

COST, TOKENS, REQ = m("cost"), m("tokens"), m("requests")
c, t = sel("cost"), sel("tokens")

panels = [
    stat("Spend, last 24 h", f"sum(increase({COST}{c}[24h]))", "currencyUSD", 0, 0),
    stat("Spend rate now (USD/hour)", f"sum(rate({COST}{c}[{RATE}])) * 3600", "currencyUSD",
         6, 0),
    stat("Saved vs baseline, last 24 h",
         f"sum(increase({m('cost_savings')}{sel('cost_savings')}[24h]))", "currencyUSD", 12, 0,
         description="Cost the same requests would have had on the configured baseline "
                     "model, minus what they cost."),
    stat("Unpriced requests, last 24 h",
         f"sum(increase({m('unpriced_requests')}{sel('unpriced_requests')}[24h]))", "short",
         18, 0, description="Requests to models without a known price: cost is incomplete "
                            "while this is above 0."),
    timeseries("Spend per hour by model", [target(
        f"sum by (provider, model) (rate({COST}{c}[{RATE}])) * 3600",
        "{{provider}}/{{model}}")], "currencyUSD", 0, 4, stacked=True),
    timeseries("Spend per hour by team", [target(
        f"sum by (team) (rate({COST}{c}[{RATE}])) * 3600", "{{team}}")], "currencyUSD",
        12, 4, stacked=True),
    timeseries("Spend per hour by provider", [target(
        f"sum by (provider) (rate({COST}{c}[{RATE}])) * 3600", "{{provider}}")], "currencyUSD",
        0, 12, stacked=True),
    timeseries("Spend per hour by token type", [target(
        f"sum by (token_type) (rate({COST}{c}[{RATE}])) * 3600", "{{token_type}}")],
        "currencyUSD", 12, 12, stacked=True),
    timeseries("Tokens per second by type", [target(
        f"sum by (token_type) (rate({TOKENS}{t}[{RATE}]))", "{{token_type}}")], "short",
        0, 20, stacked=True,
        description="input is uncached input, output is non-reasoning output: the types "
                    "add up to the total."),
    timeseries("Cost per 1k requests by model", [target(
        f"sum by (provider, model) (rate({COST}{c}[{RATE}])) / "
        f"sum by (provider, model) (rate({REQ}{sel('requests')}[{RATE}])) * 1000",
        "{{provider}}/{{model}}")], "currencyUSD", 12, 20),
    timeseries("Savings per hour vs baseline", [target(
        f"sum by (provider, model) (rate({m('cost_savings')}{sel('cost_savings')}[{RATE}]))"
        " * 3600", "{{provider}}/{{model}}")], "currencyUSD", 0, 28),
    table("Budget used per team", f'{rules.BUDGET_USED}{{team=~"$team"}}', 12, 28,
          unit="percentunit",
          description="Spend over the budget's rolling period (day: 24 h, month: 30 days) "
                      "divided by the budget in alerts/config.yml."),
    timeseries("Unpriced requests per second", [target(
        f"sum by (provider, model) (rate({m('unpriced_requests')}"
        f"{sel('unpriced_requests')}[{RATE}]))", "{{provider}}/{{model}}")], "reqps", 0, 36),
]

dashboard_ = dashboard("llm-cost", "LLM cost and usage", __doc__ or "", panels,
                       ("job", "provider", "model", "team", "tier"), ["cost"])
