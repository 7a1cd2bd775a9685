"""LLM performance: request and error rates, latency and TTFT percentiles and heatmaps,
time per output token, requests in flight, cache hit ratio and lookup latency. Rates,
ratios and percentiles read the recorded series the error and latency alerts use."""

from collections.abc import Callable

from grafanalib.core import Dashboard

from ..config import AlertConfig
from ..names import Names
from .panels import RATE, Board, heatmap, stat, steps, target, timeseries


def build(cfg: AlertConfig) -> Dashboard:
    """This dashboard for one alert config (namespace, thresholds)."""
    names = Names(cfg)
    m = names.metric

    board = Board(names, "job", "provider", "model", "tier")
    MODEL = board.labels(("provider", "model"))
    er, la = cfg.raw["error_rate"], cfg.raw["latency_p95"]
    ERR = steps(er["warning_ratio"], er["critical_ratio"])
    LAT = steps(la["warning_seconds"], la["critical_seconds"])
    GUARD = (f"The error alert counts a window once {er['min_errors']:g} requests failed in it "
             f"(5 minutes, or {er['slow_window']} for models with little traffic).")
    SLOW = f"{names.slow_ratio}{board.labels(('provider', 'model'))}"


    def quantiles(name: Callable[[str], str]) -> list:
        """p50, p95 and p99 from the recorded quantile series ``name(q)``."""
        return [target(f"{name(q)}{MODEL}", f"p{q} {{{{provider}}}}/{{{{model}}}}",
                       ref=chr(65 + i)) for i, q in enumerate(("50", "95", "99"))]


    panels = [
        stat("Requests per second", f"sum({names.requests_rate}{MODEL})", "reqps", 0, 0,
             "Requests per second over 5 minutes, all selected models.", steps(colors=("blue",)),
             w=6),
        stat("Error ratio", f"sum({names.error_ratio}{MODEL} * {names.requests_rate}{MODEL}) / "
             f"sum({names.requests_rate}{MODEL})", "percentunit", 6, 0,
             "Failed requests / requests over 5 minutes, all selected models. LLMErrorRateHigh: "
             f"warning {er['warning_ratio']:.0%}, critical {er['critical_ratio']:.0%} per model. "
             + GUARD, ERR, w=6),
        stat("Slowest p95 latency", f"max({names.latency('95')}{MODEL})", "s", 12, 0,
             "The highest p95 request duration of the selected models over 5 minutes "
             "(interpolated inside its bucket). LLMLatencyHigh fires when over 5% of a "
             f"model's requests take longer than {la['warning_seconds']} s (warning) or "
             f"{la['critical_seconds']} s (critical), bucket bounds, with at least "
             f"{la['min_requests']:g} requests in 5 minutes.", LAT, w=6),
        stat("Cache hit ratio", f"avg({names.cache_hit_ratio})", "percentunit", 18, 0,
             "Share of cache lookups that hit, over 5 minutes, mean over caches.",
             steps(colors=("blue",)), w=6),
        timeseries("Requests per second by model", [target(
            f"{names.requests_rate}{MODEL}", "{{provider}}/{{model}}")], "reqps", 0, 4,
            "Requests per second over 5 minutes (LLMLatencyHigh needs "
            f"{la['min_requests']:g} requests in 5 minutes on the model).",
            thresholds=steps(la["min_requests"] / 300, colors=("transparent", "blue"))),
        timeseries("Error ratio by model", [target(
            f"{names.error_ratio}{MODEL}", "{{provider}}/{{model}}")], "percentunit", 12, 4,
            "Failed / all requests over 5 minutes, the number LLMErrorRateHigh fires on. "
            + GUARD, thresholds=ERR),
        timeseries("Errors per second by type", [target(
            f"sum by (error_type) (rate({m('request_errors')}{board.sel('request_errors')}"
            f"[{RATE}]))", "{{error_type}}")], "reqps", 0, 12,
            "Why requests fail: rate_limit, timeout, server_error, client_error, "
            "content_filter, other.", stacked=True),
        timeseries("Request duration p50 / p95 / p99", quantiles(names.latency), "s", 12, 12,
                   "Request duration percentiles per model over 5 minutes, interpolated "
                   "inside the histogram's doubling buckets.", thresholds=LAT),
        timeseries("Requests slower than the latency thresholds", [target(
            SLOW, "{{provider}}/{{model}} over {{threshold}} s")], "percentunit", 0, 52,
            "Share of each model's requests over the last 5 minutes that took longer than "
            "the LLMLatencyHigh thresholds (bucket bounds, so exact): the alert fires above "
            "5%, the p95.", thresholds=steps(0.05, colors=("transparent", "red"))),
        heatmap("Request duration", f"sum by (le) (rate({m('request_duration')}_bucket"
                f"{board.sel('request_duration')}[{RATE}]))", 0, 20,
                "How request durations spread: a slow tail growing shows here before the "
                "p95 moves."),
        heatmap("Time to first token", f"sum by (le) (rate({m('ttft')}_bucket"
                f"{board.sel('ttft')}[{RATE}]))", 12, 20,
                "How time to first token spreads (streamed requests): queueing and provider "
                "load."),
        timeseries("Time to first token p50 / p95 / p99", quantiles(names.ttft), "s", 0, 28,
                   "Time to first token percentiles per model over 5 minutes."),
        timeseries("Time per output token p95", [target(
            f"histogram_quantile(0.95, sum by (model, le) "
            f"(rate({m('tpot')}_bucket{board.sel('tpot')}[{RATE}])))", "{{model}}")], "s",
            12, 28, "Generation speed after the first token, p95 per model."),
        timeseries("Requests in flight", [target(
            f"sum by (provider, model) ({m('in_flight')}{board.sel('in_flight')})",
            "{{provider}}/{{model}}")], "short", 0, 36,
            "Calls running now (recorded with track() or the SDK instrumentation)."),
        timeseries("Cache hit ratio by cache", [target(f"{names.cache_hit_ratio}", "{{cache}}")],
                   "percentunit", 12, 36, "Share of lookups that hit, per cache, over 5 minutes."),
        timeseries("Cache lookup duration p95", [target(
            f"histogram_quantile(0.95, sum by (cache, le) (rate("
            f'{m("cache_lookup_duration")}_bucket{board.sel("cache_lookup_duration")}[{RATE}])))',
            "{{cache}}")], "s", 0, 44, "How long cache lookups take, p95 per cache."),
        timeseries("Tokens per request p95 by type", [target(
            f"histogram_quantile(0.95, sum by (token_type, le) "
            f"(rate({m('request_tokens')}_bucket{board.sel('request_tokens')}[{RATE}])))",
            "{{token_type}}")], "short", 12, 44,
            "Prompt and answer sizes: p95 tokens per request by type."),
    ]

    return board.dashboard("llm-performance", "LLM performance", __doc__ or "", panels,
                             ["performance"])
