"""LLM performance: request and error rates, latency and TTFT percentiles, time per
output token, requests in flight, cache hit ratio and lookup latency."""

from .panels import RATE, dashboard, m, sel, target, timeseries

REQ, DUR, TTFT = m("requests"), m("request_duration"), m("ttft")
ERRORS = sel("requests", 'status="error"')


def quantiles(metric: str, key: str, by: str) -> list:
    return [target(f"histogram_quantile({q}, sum by ({by}, le) "
                   f"(rate({metric}_bucket{sel(key)}[{RATE}])))",
                   f"p{int(q * 100)} {{{{{by.split(', ')[-1]}}}}}", ref=chr(65 + i))
            for i, q in enumerate((0.5, 0.95, 0.99))]


panels = [
    timeseries("Requests per second by model", [target(
        f"sum by (provider, model) (rate({REQ}{sel('requests')}[{RATE}]))",
        "{{provider}}/{{model}}")], "reqps", 0, 0),
    timeseries("Error ratio by model", [target(
        f"sum by (provider, model) (rate({REQ}{ERRORS}[{RATE}]))"
        f" / sum by (provider, model) (rate({REQ}{sel('requests')}[{RATE}]))",
        "{{provider}}/{{model}}")], "percentunit", 12, 0),
    timeseries("Errors per second by type", [target(
        f"sum by (error_type) (rate({m('request_errors')}{sel('request_errors')}[{RATE}]))",
        "{{error_type}}")], "reqps", 0, 8, stacked=True),
    timeseries("Request duration p50 / p95 / p99", quantiles(DUR, "request_duration", "model"),
               "s", 12, 8),
    timeseries("Time to first token p50 / p95 / p99", quantiles(TTFT, "ttft", "model"), "s",
               0, 16),
    timeseries("Time per output token p95", [target(
        f"histogram_quantile(0.95, sum by (model, le) "
        f"(rate({m('tpot')}_bucket{sel('tpot')}[{RATE}])))", "{{model}}")], "s", 12, 16),
    timeseries("Requests in flight", [target(
        f"sum by (provider, model) ({m('in_flight')}{sel('in_flight')})",
        "{{provider}}/{{model}}")], "short", 0, 24),
    timeseries("Cache hit ratio", [target(
        f'sum by (cache) (rate({m("cache_lookups")}{{job=~"$job",result="hit"}}[{RATE}])) / '
        f'sum by (cache) (rate({m("cache_lookups")}{{job=~"$job"}}[{RATE}]))', "{{cache}}")],
        "percentunit", 12, 24),
    timeseries("Cache lookup duration p95", [target(
        f"histogram_quantile(0.95, sum by (cache, le) (rate("
        f'{m("cache_lookup_duration")}_bucket{{job=~"$job"}}[{RATE}])))', "{{cache}}")],
        "s", 0, 32),
    timeseries("Tokens per request p95 by type", [target(
        f"histogram_quantile(0.95, sum by (token_type, le) "
        f"(rate({m('request_tokens')}_bucket{sel('request_tokens')}[{RATE}])))",
        "{{token_type}}")], "short", 12, 32),
]

dashboard_ = dashboard("llm-performance", "LLM performance", __doc__ or "", panels,
                       ("job", "provider", "model", "tier"), ["performance"])
