"""LLM money insights: what prompt caching saved (net of write premiums) beside its hit
ratio, what self-hosted GPU pools cost per million tokens beside the same tokens on an
API model, where prices come from and how old they are, and each team's hourly spend
beside its usual level for that hour of the week (LLMSpendAnomaly)."""

from grafanalib.core import Dashboard

from ..config import AlertConfig
from ..inference import InferenceNames
from ..insights import InsightNames
from ..names import Names
from .panels import RATE, Board, merge_columns, stat, steps, table, target, timeseries


def build(cfg: AlertConfig) -> Dashboard:
    """This dashboard for one alert config (namespace, thresholds)."""
    names = Names(cfg)
    n = InsightNames(cfg.namespace, cfg.raw["self_hosted"]["window"])
    inf = InferenceNames(cfg.namespace, cfg.raw["self_hosted"]["window"])
    m = names.metric
    board = Board(names, "job", "provider", "model", "team")
    saved, premium = m("prompt_cache_savings"), m("prompt_cache_write_premium")
    s_sel, p_sel = board.sel("prompt_cache_savings"), board.sel("prompt_cache_write_premium")
    tokens, t_sel = m("tokens"), "job=~\"$job\",provider=~\"$provider\",model=~\"$model\"," \
                                 "team=~\"$team\""
    cached = f'{tokens}{{{t_sel},token_type="cache_read"}}'
    inputs = f'{tokens}{{{t_sel},token_type=~"input|cache_read|cache_write"}}'
    info = f"{m('model_price_info')}{board.sel('model_price_info')}"
    TEAM = board.labels(("team",))
    sa, max_age = cfg.raw["spend_anomaly"], cfg.raw["price_catalog"]["max_age_days"]

    panels = [
        stat("Prompt-cache net savings, last 24 h",
             f"sum(increase({saved}{s_sel}[24h])) - sum(increase({premium}{p_sel}[24h]))",
             "currencyUSD", 0, 0, "Cache reads priced at the uncached input rate minus what "
             "they cost, minus what cache writes cost above that rate.",
             steps(colors=("blue",))),
        stat("Prompt-cache hit ratio, last 24 h",
             f"sum(increase({cached}[24h])) / sum(increase({inputs}[24h]))", "percentunit",
             4, 0, "Share of input tokens read from the provider's prompt cache.",
             steps(colors=("blue",))),
        stat("Cache write premium, last 24 h", f"sum(increase({premium}{p_sel}[24h]))",
             "currencyUSD", 8, 0, "What cache writes cost above the uncached input rate "
             "(Anthropic: 1.25x for 5 minutes, 2x for an hour).", steps(colors=("blue",))),
        stat("Self-hosted GPU pools, per hour", f"sum({n.pool_cost}) * 3600", "currencyUSD",
             12, 0, "What the GPU pools cost per hour (GPU hours, plus energy where "
                    "self_hosted.usd_per_kwh is set), idle or busy.", steps(colors=("blue",))),
        stat("Price catalog age", f"max({m('price_catalog_age')}{board.sel('price_catalog_age')})",
             "s", 16, 0, f"Age of the bundled prices' data; LLMPriceCatalogStale fires past "
                         f"{max_age:g} days. Upgrade the package or set overrides.",
             steps(max_age * 86400 * 0.75, max_age * 86400)),
        stat("Models without a price", f'count({info.rstrip("}")},source="none"}}) or vector(0)',
             "short", 20, 0, "Models priced by nobody: their cost counts as 0 "
                             "(LLMUnpricedModel).", steps(1)),
        timeseries("Prompt-cache net savings per hour by model", [target(
            f"(sum by (provider, model) (rate({saved}{s_sel}[{RATE}]))\n - sum by (provider, "
            f"model) (rate({premium}{p_sel}[{RATE}]))) * 3600", "{{provider}}/{{model}}")],
            "currencyUSD", 0, 4, "Savings minus write premiums, USD per hour: negative where "
                                 "a cache is written more than it is read."),
        timeseries("Prompt-cache hit ratio by model", [target(
            f"sum by (provider, model) (rate({cached}[{RATE}]))\n/ sum by (provider, model) "
            f"(rate({inputs}[{RATE}]))", "{{provider}}/{{model}}")], "percentunit", 12, 4,
            "Share of each model's input tokens read from the prompt cache: beside the "
            "savings, it says whether a cache pays for its writes."),
        table("Self-hosted vs API, USD per million tokens", [
            target(f'{n.model_per_mtok}{{provider=~"$provider",model=~"$model"}}', ref="A",
                   instant=True, fmt="table"),
            target(f'{n.reference_per_mtok}{{provider=~"$provider",model=~"$model"}}\n'
                   f"and on (provider, model) {n.model_per_mtok}", ref="B", instant=True,
                   fmt="table")],
            0, 12, "Per self-hosted model: its pool's cost (over "
                   f"{cfg.raw['self_hosted']['window']}) spread over the tokens the pool "
                   "served, beside what the same tokens "
                   "would cost on the reference model (pricing.baseline).",
            transformations=merge_columns({"Value #A": "Ours (USD/1M tokens)",
                                           "Value #B": "On the reference model"}),
            unit="currencyUSD"),
        timeseries("GPU pool cost per hour", [target(f"{n.pool_cost} * 3600", "{{pool}}")],
                   "currencyUSD", 12, 12, "Each pool's USD per hour: gpus x gpu_hour_usd, plus "
                                          "energy where priced.", stacked=True),
        timeseries("Hourly spend vs the usual for this hour of the week", [
            target(f"{names.increase('1h')}{TEAM}", "{{team}}: last hour"),
            target(f"{n.usual}{TEAM}", "{{team}}: usual", ref="B")],
            "currencyUSD", 0, 20, f"Spend over the last hour and the median of the same hour "
            f"over the last {sa['weeks']} weeks (needs {sa['min_weeks']} weeks of history). "
            f"LLMSpendAnomaly fires above {sa['factor']:g}x the usual and "
            f"{sa['min_usd_per_hour']:g} USD/hour."),
        table("Where prices come from", [target(info, ref="A", instant=True, fmt="table")],
              12, 20, "Per model: catalog (genai-prices), override, free, pool (a GPU pool's "
                      "hours are its cost) or none.",
              transformations=merge_columns({}, hide=("Time", "Value", "__name__", "job",
                                                      "instance"))),
        table("Inference servers, USD per million tokens", [
            target(inf.per_mtok, ref="A", instant=True, fmt="table")],
            0, 28, "vLLM, SGLang and TGI count their own tokens: each GPU pool's cost (its "
                   "GPU hours, plus energy where priced) over the tokens its servers made, "
                   "per model. No application code: the servers' /metrics and the pool "
                   "label on their scrape jobs (inference_servers in alerts/config.yml).",
            transformations=merge_columns({"Value": "USD per million tokens"},
                                          hide=("Time", "__name__")), unit="currencyUSD"),
        timeseries("Inference servers, tokens per second", [
            target(inf.tokens, "{{server}} {{model}} ({{pool}}): {{token_type}}")],
            "short", 12, 28, "Prompt and generated tokens per second of each self-hosted "
                             "server, from its own counters.", stacked=True),
    ]
    return board.dashboard("llm-insights", "LLM money insights", __doc__ or "", panels,
                           ["cost"])
