"""Every metric family, defined once.

The catalog is the public contract (see DESIGN.md): the recorder, the exposition, the
sidecar's collectors, dashboards, alerts and docs/metrics.md's table all read it from here.
Names are stored without the namespace prefix where the family is namespaced, so
``LLMMetrics(namespace="acme")`` renames ``llm_requests_total`` to ``acme_requests_total``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]
Emitter = Literal["recorder", "collector"]
"""Who produces a family: the recorder's series state (the library, and the sidecar's
ingest through it), or a collector that reads a resource at scrape time."""
Merge = Literal["sum", "live_sum", "latest"]
"""How multiprocess mode combines the workers' values of a series: ``sum`` over every
worker dead or alive (counters, histograms), ``live_sum`` over live workers only (a dead
worker has nothing in flight), ``latest``: the most recently written value (gauges)."""

#: Request-level label set R. Histograms drop ``team`` to keep series counts sane.
REQUEST_LABELS = ("provider", "model", "tier", "team")

#: ``token_type`` values. They partition a request's tokens: ``input`` is the uncached
#: input, ``output`` the non-reasoning output, so a sum over token_type is the total.
TOKEN_TYPES = ("input", "cache_read", "cache_write", "output", "reasoning")

STATUSES = ("success", "error")
ERROR_TYPES = ("rate_limit", "timeout", "server_error", "client_error", "content_filter", "other")
CIRCUIT_STATES = ("closed", "half_open", "open")
EVENT_RESULTS = ("accepted", "rejected")
AUTH_ENDPOINTS = ("ingest", "metrics", "read")

#: 0.01 s doubling to 81.92 s (the GenAI semconv list), then 163.84 and 327.68 s for long
#: reasoning calls. client_python's defaults stop at 10 s, far too short for LLM calls.
DURATION_BUCKETS = tuple(0.01 * 2**k for k in range(16))
#: GenAI semconv ``gen_ai.server.time_to_first_token`` list, plus 20, 40 and 80 s.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
#: GenAI semconv ``gen_ai.server.time_per_output_token`` list.
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
#: GenAI semconv ``gen_ai.client.token.usage`` list: 1, 4, 16 ... 4**13.
TOKEN_BUCKETS = tuple(float(4**k) for k in range(14))
CACHE_LOOKUP_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                        0.1, 0.25, 0.5, 1.0)
SIMILARITY_BUCKETS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.99, 1.0)
ROUTING_DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                            0.5, 1.0, 2.5, 5.0)
COMPLEXITY_SCORE_BUCKETS = (0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0)
BATCH_SIZE_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
                      5000.0, 10000.0, 50000.0)


@dataclass(frozen=True)
class Family:
    """One metric family of the contract."""

    key: str
    """Stable identifier used by code (``"requests"``), independent of the namespace."""
    name: str
    """Full name with the default namespace, as scraped (``llm_requests_total``)."""
    kind: Kind
    help: str
    labels: tuple[str, ...]
    unit: str = ""
    buckets: tuple[float, ...] = ()
    namespaced: bool = True
    """Whether ``namespace`` replaces the leading ``llm`` (false for system_/gpu_ families)."""
    emitter: Emitter = "recorder"
    merge: Merge = "sum"

    def label_values(self, **values: str) -> tuple[str, ...]:
        """The label tuple of one series, in this family's label order whatever the
        order of the arguments; a missing or unknown label is a KeyError naming it."""
        if len(values) != len(self.labels) or not all(n in values for n in self.labels):
            unknown = sorted(set(values) - set(self.labels))
            missing = sorted(set(self.labels) - set(values))
            raise KeyError(f"{self.key}: labels {unknown} are not in {list(self.labels)}"
                           if unknown else f"{self.key}: missing labels {missing}")
        return tuple(values[name] for name in self.labels)

    def full_name(self, namespace: str = "llm") -> str:
        if not self.namespaced or namespace == "llm":
            return self.name
        return namespace + self.name[len("llm"):]

    def base_name(self, namespace: str = "llm") -> str:
        """The name OpenMetrics puts on ``# TYPE``: counters lose ``_total``."""
        name = self.full_name(namespace)
        if self.kind == "counter" and name.endswith("_total"):
            return name[: -len("_total")]
        return name


def _f(key: str, name: str, kind: Kind, help: str, labels: tuple[str, ...] = (),
       unit: str = "", buckets: tuple[float, ...] = (), namespaced: bool = True,
       emitter: Emitter = "recorder", merge: Merge | None = None) -> Family:
    if merge is None:
        merge = "latest" if kind == "gauge" else "sum"
    return Family(key, name, kind, help, labels, unit, buckets, namespaced, emitter, merge)


_R = REQUEST_LABELS

LLM_FAMILIES: tuple[Family, ...] = (
    _f("requests", "llm_requests_total", "counter",
       "LLM requests by outcome.", _R + ("status",)),
    _f("request_errors", "llm_request_errors_total", "counter",
       "Failed LLM requests by bounded error type.", ("provider", "model", "error_type")),
    _f("tokens", "llm_tokens_total", "counter",
       "Tokens by type; token_type values partition the total (input is uncached input, "
       "output is non-reasoning output).", _R + ("token_type",)),
    _f("cost", "llm_cost_usd_total", "counter",
       "Cost in USD from the price catalog, split like llm_tokens_total.",
       _R + ("token_type",), unit="usd"),
    _f("cost_savings", "llm_cost_savings_usd_total", "counter",
       "Cost the same usage would have had on the baseline model, minus the actual cost "
       "(never negative; see llm_reference_cost_usd_total for signed savings).", _R,
       unit="usd"),
    _f("reference_cost", "llm_reference_cost_usd_total", "counter",
       "What the same usage would have cost on the configured reference (baseline) model; "
       "reference minus llm_cost_usd_total is the savings, negative where a model is "
       "dearer. Stays 0 without a priced baseline.", _R, unit="usd"),
    _f("prompt_cache_savings", "llm_prompt_cache_savings_usd_total", "counter",
       "What prompt-cache reads saved: cached input tokens priced at the uncached input "
       "rate minus what they cost.", _R, unit="usd"),
    _f("prompt_cache_write_premium", "llm_prompt_cache_write_premium_usd_total", "counter",
       "What prompt-cache writes cost above the uncached input rate (Anthropic's 5-minute "
       "and 1-hour write premiums); savings minus this is the net saving.", _R, unit="usd"),
    _f("team_duration", "llm_team_request_duration_seconds_total", "counter",
       "Sum of request durations per request label set, team included (the latency "
       "histograms drop team): over llm_timed_requests_total, one team's average "
       "latency.", _R, unit="seconds"),
    _f("timed_requests", "llm_timed_requests_total", "counter",
       "Requests that reported a duration, per request label set (team included).", _R),
    _f("model_price_info", "llm_model_price_info", "gauge",
       "Where a model's prices come from (source: catalog, override, free, pool, none; "
       "pool: the GPU pool whose hours are its cost); always 1.",
       ("provider", "model", "source", "pool")),
    _f("pool_cost", "llm_pool_cost_usd_total", "counter",
       "Cost of a self-hosted GPU pool: gpus x gpu_hour_usd, accruing with time since the "
       "exporter started, idle or busy. Its requests cost 0 in llm_cost_usd_total.",
       ("pool",), unit="usd", emitter="collector"),
    _f("price_catalog_info", "llm_price_catalog_info", "gauge",
       "The bundled price catalog: package, version and data date (the newest date its "
       "maintainers checked prices); always 1.", ("source", "version", "date"),
       emitter="collector"),
    _f("price_catalog_age", "llm_price_catalog_age_seconds", "gauge",
       "Age of the bundled price catalog's data (now minus its data date).",
       unit="seconds", emitter="collector"),
    _f("unpriced_requests", "llm_unpriced_requests_total", "counter",
       "Requests whose model has no known price: their cost is counted as 0.",
       ("provider", "model")),
    _f("request_duration", "llm_request_duration_seconds", "histogram",
       "End-to-end LLM request duration.", ("provider", "model", "tier", "status"),
       unit="seconds", buckets=DURATION_BUCKETS),
    _f("ttft", "llm_time_to_first_token_seconds", "histogram",
       "Time to the first streamed token.", ("provider", "model", "tier"),
       unit="seconds", buckets=TTFT_BUCKETS),
    _f("tpot", "llm_time_per_output_token_seconds", "histogram",
       "Time per output token after the first (streaming requests).",
       ("provider", "model", "tier"), unit="seconds", buckets=TPOT_BUCKETS),
    _f("request_tokens", "llm_request_tokens", "histogram",
       "Tokens per request, by token type.", ("provider", "model", "token_type"),
       buckets=TOKEN_BUCKETS),
    _f("request_retries", "llm_request_retries_total", "counter",
       "Attempts an SDK retried within one request (a 429, a 5xx, a timeout), beyond its "
       "first. llm_requests_total counts the request once, and its duration covers every "
       "attempt and the backoff between them.", ("provider", "model")),
    _f("in_flight", "llm_requests_in_flight", "gauge",
       "LLM requests started and not yet finished.", ("provider", "model"),
       merge="live_sum"),
    _f("cache_lookups", "llm_cache_lookups_total", "counter",
       "Cache lookups by result and team; a request's cache_hit counts under "
       "cache=\"response\" with the request's team.", ("cache", "result", "team")),
    _f("cache_lookup_duration", "llm_cache_lookup_duration_seconds", "histogram",
       "Cache lookup duration.", ("cache",), unit="seconds", buckets=CACHE_LOOKUP_BUCKETS),
    _f("cache_similarity", "llm_cache_similarity", "histogram",
       "Similarity score of semantic-cache matches (0..1).", ("cache",),
       buckets=SIMILARITY_BUCKETS),
    _f("cache_size", "llm_cache_size_bytes", "gauge",
       "Memory used by a cache.", ("cache",), unit="bytes"),
    _f("vector_index_size", "llm_vector_index_size_bytes", "gauge",
       "Size of a vector index.", ("index",), unit="bytes"),
    _f("routing_decisions", "llm_routing_decisions_total", "counter",
       "Routing decisions by query complexity, chosen tier and fallback.",
       ("complexity", "tier", "fallback")),
    _f("routing_duration", "llm_routing_decision_duration_seconds", "histogram",
       "Time taken to make a routing decision.", ("tier",), unit="seconds",
       buckets=ROUTING_DURATION_BUCKETS),
    _f("routing_score", "llm_routing_complexity_score", "histogram",
       "Complexity score computed by the router, per complexity and chosen tier (sum/count "
       "is a decision-matrix cell's average score).", ("complexity", "tier"),
       buckets=COMPLEXITY_SCORE_BUCKETS),
    _f("tier_available", "llm_tier_models_available", "gauge",
       "Models of a tier currently available.", ("tier",)),
    _f("tier_total", "llm_tier_models", "gauge",
       "Models configured in a tier (DESIGN.md called it llm_tier_models_total; a gauge must "
       "not end in _total).", ("tier",)),
    _f("provider_up", "llm_provider_up", "gauge",
       "1 if the provider is healthy, 0 if not.", ("provider",)),
    _f("provider_circuit", "llm_provider_circuit_state", "gauge",
       "Circuit breaker state per provider: the current state is 1, the others 0.",
       ("provider", "state")),
    _f("batches", "llm_batches_total", "counter",
       "Batch jobs by outcome; their tokens and cost also go to the request counters.",
       ("provider", "model", "team", "status")),
    _f("batch_size", "llm_batch_size", "histogram",
       "Requests per batch.", ("provider", "model"), buckets=BATCH_SIZE_BUCKETS),
    _f("worker_pool_active", "llm_worker_pool_active", "gauge",
       "Workers of a pool busy now.", ("pool",)),
    _f("worker_pool_queued", "llm_worker_pool_queued", "gauge",
       "Tasks waiting for a worker of a pool.", ("pool",)),
)

EXPORTER_FAMILIES: tuple[Family, ...] = (
    _f("build_info", "llm_exporter_build_info", "gauge",
       "Build information; always 1.", ("version",)),
    _f("events", "llm_exporter_events_total", "counter",
       "Ingested events by result.", ("result",)),
    _f("auth_failures", "llm_exporter_auth_failures_total", "counter",
       "Requests refused for a missing or wrong token or password (not counted as "
       "rejected events).", ("endpoint",)),
    _f("label_overflow", "llm_exporter_label_overflow_total", "counter",
       "Recorded events whose label value was folded into \"other\" by a cap.", ("label",)),
    _f("series_overflow", "llm_exporter_series_overflow_total", "counter",
       "Recorded events folded into a family's overflow series (every capped label "
       "\"other\") because the family had reached its series budget.", ("family",)),
    _f("collector_success", "llm_exporter_collector_success", "gauge",
       "1 if the collector's last run succeeded, 0 if it failed.", ("collector",),
       emitter="collector"),
    _f("collector_duration", "llm_exporter_collector_duration_seconds", "gauge",
       "Duration of the collector's last run.", ("collector",), unit="seconds",
       emitter="collector"),
    _f("history_bytes", "llm_exporter_history_bytes", "gauge",
       "Memory the sidecar's in-memory history holds (no Prometheus configured), within "
       "server.history_max_bytes.", unit="bytes", emitter="collector"),
    _f("history_merged", "llm_exporter_history_points_merged_total", "counter",
       "History points merged into a neighbour (coarser resolution, the same totals) to "
       "stay within server.history_max_bytes.", emitter="collector"),
)

def _r(key: str, name: str, kind: Kind, help: str, labels: tuple[str, ...] = (),
       unit: str = "") -> Family:
    """A host resource family: read by a collector, named without the namespace."""
    return _f(key, name, kind, help, labels, unit, namespaced=False, emitter="collector")


RESOURCE_FAMILIES: tuple[Family, ...] = (
    _r("cpu_time", "system_cpu_time_seconds_total", "counter",
       "CPU time by mode.", ("mode",), unit="seconds"),
    _r("cpu_utilization", "system_cpu_utilization_ratio", "gauge",
       "CPU utilization since the previous scrape (0..1)."),
    _r("cpu_count", "system_cpu_count", "gauge", "Logical CPUs."),
    _r("memory_used", "system_memory_used_bytes", "gauge", "Memory in use.",
       unit="bytes"),
    _r("memory_total", "system_memory_total_bytes", "gauge", "Total memory.",
       unit="bytes"),
    _r("disk_io", "system_disk_io_bytes_total", "counter", "Disk bytes by direction.",
       ("direction",), unit="bytes"),
    _r("network_io", "system_network_io_bytes_total", "counter",
       "Network bytes by direction.", ("direction",), unit="bytes"),
    _r("network_connections", "system_network_connections", "gauge",
       "Open network connections."),
    _r("gpu_utilization", "gpu_utilization_ratio", "gauge", "GPU utilization (0..1).",
       ("gpu", "uuid", "name")),
    _r("gpu_memory_used", "gpu_memory_used_bytes", "gauge", "GPU memory in use.",
       ("gpu", "uuid", "name"), unit="bytes"),
    _r("gpu_memory_total", "gpu_memory_total_bytes", "gauge", "GPU memory in all.",
       ("gpu", "uuid", "name"), unit="bytes"),
    _r("gpu_temperature", "gpu_temperature_celsius", "gauge", "GPU temperature.",
       ("gpu", "uuid", "name"), unit="celsius"),
    _r("gpu_power", "gpu_power_usage_watts", "gauge", "GPU power draw.",
       ("gpu", "uuid", "name"), unit="watts"),
    _r("gpu_power_limit", "gpu_power_limit_watts", "gauge", "GPU power limit.",
       ("gpu", "uuid", "name"), unit="watts"),
    _r("gpu_energy", "gpu_energy_joules_total", "counter", "GPU energy since driver load.",
       ("gpu", "uuid", "name"), unit="joules"),
    _r("gpu_process_memory", "gpu_process_memory_used_bytes", "gauge",
       "GPU memory used per process (opt-in).", ("gpu", "pid", "process"), unit="bytes",
       ),
)

ALL_FAMILIES: tuple[Family, ...] = LLM_FAMILIES + EXPORTER_FAMILIES + RESOURCE_FAMILIES
BY_KEY: dict[str, Family] = {f.key: f for f in ALL_FAMILIES}
#: The families whose series the recorder stores (the rest are read at scrape time).
RECORDED: tuple[Family, ...] = tuple(f for f in ALL_FAMILIES if f.emitter == "recorder")


def family(key: str) -> Family:
    """The family with this key; KeyError names the key when it is not in the catalog."""
    return BY_KEY[key]


def metric_name(key: str, namespace: str = "llm") -> str:
    """The scraped name of a family, for dashboards and rules that must not retype it."""
    return BY_KEY[key].full_name(namespace)
