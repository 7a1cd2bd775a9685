"""Self-hosted inference servers (vLLM, SGLang, TGI) count their own tokens: rules that
read each server's documented counters and give USD per million tokens per GPU pool and
model, with no application code.

A pool's cost is the insights group's (its GPU hours from ``pricing.pools``, plus energy
where priced); its tokens are what the servers scraped with that pool's label produced.
Each server's scrape job carries the pool's name in ``inference_servers.pool_label`` (a
target label). The metric names are the servers' own, as their documentation names them:
vLLM's "Production Metrics" (v0.11), SGLang's "Production Metrics" (v0.5), TGI's
"Metrics" (v3). Ollama exports no Prometheus metrics; record its calls instead.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .config import AlertConfig
from .names import dedup


class Server(NamedTuple):
    input: str
    """Counter of prompt (prefill) tokens."""
    output: str
    """Counter of generated tokens."""
    running: str
    """Gauge of requests being served now."""
    model_label: str | None
    """The label naming the model (TGI serves one model and has none: the scrape job's
    ``model`` target label, else the server's name)."""


SERVERS: dict[str, Server] = {
    "vllm": Server("vllm:prompt_tokens_total", "vllm:generation_tokens_total",
                   "vllm:num_requests_running", "model_name"),
    "sglang": Server("sglang:prompt_tokens_total", "sglang:generation_tokens_total",
                     "sglang:num_running_reqs", "model_name"),
    "tgi": Server("tgi_request_input_length_sum", "tgi_request_generated_tokens_sum",
                  "tgi_batch_current_size", None),
}


class InferenceNames:
    """Recorded series of the inference-server rules, for one namespace and window."""

    def __init__(self, ns: str, window: str) -> None:
        self.tokens = f"pool_model:{ns}_inference_tokens:rate{window}"
        self.pool_tokens = f"pool:{ns}_inference_tokens:rate{window}"
        self.per_mtok = f"pool_model:{ns}_inference_cost_usd_per_million_tokens:ratio_rate{window}"
        self.running = f"pool_model:{ns}_inference_requests_running:sum"


def _normalised(expr: str, server: str, model_label: str | None, by: str,
                **constants: str) -> str:
    """``expr`` summed by (pool, model), its model label renamed ``model``, with the
    server's name and ``constants`` as labels."""
    if model_label is None:  # one model per server: the job's model label, else its name
        inner = f"sum by ({by}, model) ({expr})"
        out = f'label_replace({inner}, "model", "{server}", "model", "")'
    else:
        inner = f"sum by ({by}, {model_label}) ({expr})"
        out = (f'sum without ({model_label}) (label_replace({inner}, "model", "$1", '
               f'"{model_label}", "(.+)"))')
    for name, value in {"server": server, **constants}.items():
        out = f'label_replace({out}, "{name}", "{value}", "", "")'
    return out


def inference_rules(cfg: AlertConfig, pool_cost: str) -> list[dict[str, Any]]:
    """Tokens per second by pool, model, server and token type; USD per million tokens by
    pool and model (``pool_cost``: the insights group's USD per second by pool)."""
    ic = cfg.raw["inference_servers"]
    if not ic["servers"]:
        return []
    n = InferenceNames(cfg.namespace, cfg.raw["self_hosted"]["window"])
    w, pool = cfg.raw["self_hosted"]["window"], ic["pool_label"]
    token_parts, running_parts = [], []
    for name in ic["servers"]:
        s = SERVERS[name]
        for kind, metric in (("input", s.input), ("output", s.output)):
            rate = dedup(cfg, f"rate({metric}[{w}])")
            token_parts.append(_normalised(rate, name, s.model_label, pool, token_type=kind))
        running_parts.append(_normalised(dedup(cfg, s.running), name,
                                         s.model_label, pool))
    by_pool = f"max by ({pool}, model) (0 * {n.tokens} + 1)"
    return [
        {"record": n.tokens, "expr": "\nor\n".join(token_parts)},
        {"record": n.pool_tokens, "expr": f"sum by ({pool}) ({n.tokens})"},
        {"record": n.per_mtok, "expr":
         f"{pool_cost}\n/ on ({pool})\n({n.pool_tokens} > 0) * 1e6\n"
         f"* on ({pool}) group_right\n{by_pool}"},
        {"record": n.running, "expr": "\nor\n".join(running_parts)},
    ]
