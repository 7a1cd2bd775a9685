"""Record through an OpenTelemetry MeterProvider, with the GenAI semantic conventions.

For teams that run OpenTelemetry already: :class:`OTelMetrics` takes the same calls as
:class:`~exporter.record.recorder.LLMMetrics` (``record_request``, ``track``; so the SDK
instrumentations accept it too) and records ``gen_ai.client.token.usage``,
``gen_ai.client.operation.duration``, ``gen_ai.server.time_to_first_token`` and
``gen_ai.server.time_per_output_token`` with the semconv bucket boundaries, plus
``llm.client.cost`` (USD, from the same price catalog) and
``llm.client.requests.active``, and what prompt caching saved and cost above the input
price (``llm.client.prompt_cache.savings``, ``llm.client.prompt_cache.write_premium``).
Any reader works: the Prometheus exporter (``opentelemetry-exporter-prometheus``), OTLP
to a Collector, the in-memory reader.

Names follow the semconv transition rule: by default, what this package has always
emitted; with ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental`` (or
``semconv="latest"``), the latest experimental GenAI names: time to first and per
output *chunk* on the client (``gen_ai.client.operation.time_to_first_chunk``,
``...time_per_output_chunk``), provider names as semconv spells them (``azure.ai.openai``,
``mistral_ai``, ``x_ai``, ``gcp.gemini``), and the USD counters named for their currency
(``llm.client.cost.usd``, unit ``{USD}``, so Prometheus shows ``llm_client_cost_usd_total``).
Either way the operation is the call's own (``embeddings`` for an embedding) and
``gen_ai.request.model`` is the model asked for, ``gen_ai.response.model`` the one that
answered.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import catalog
from ._version import __version__
from .cardinality import LabelCaps, normalise_model, normalise_optional, normalise_provider
from .pricing.book import PriceBook, cache_effect, costs
from .record import validation
from .record.call import Call
from .record.validation import check_tokens
from .settings.load import Settings

#: The GenAI semconv boundaries (our Prometheus buckets extend some of them).
DURATION_BOUNDARIES = catalog.DURATION_BUCKETS[:14]
TTFT_BOUNDARIES = catalog.TTFT_BUCKETS[:16]
TPOT_BOUNDARIES = catalog.TPOT_BUCKETS
TOKEN_BOUNDARIES = catalog.TOKEN_BUCKETS


#: The opt-in value of OTEL_SEMCONV_STABILITY_OPT_IN for the latest GenAI conventions.
LATEST = "gen_ai_latest_experimental"
#: Our provider ids as the latest conventions spell gen_ai.provider.name (the rest, such
#: as openai, anthropic, groq, deepseek, perplexity, cohere, are spelled alike).
SEMCONV_PROVIDERS = {"azure": "azure.ai.openai", "mistral": "mistral_ai", "x-ai": "x_ai",
                     "google": "gcp.gemini", "vertex": "gcp.vertex_ai",
                     "bedrock": "aws.bedrock", "watsonx": "ibm.watsonx.ai"}
#: Instrument names and units: (the default, what we always emitted; the latest).
NAMES = {
    "ttft": (("gen_ai.server.time_to_first_token", "s"),
             ("gen_ai.client.operation.time_to_first_chunk", "s")),
    "tpot": (("gen_ai.server.time_per_output_token", "s"),
             ("gen_ai.client.operation.time_per_output_chunk", "s")),
    "cost": (("llm.client.cost", "USD"), ("llm.client.cost.usd", "{USD}")),
    "cache_savings": (("llm.client.prompt_cache.savings", "USD"),
                      ("llm.client.prompt_cache.savings.usd", "{USD}")),
    "write_premium": (("llm.client.prompt_cache.write_premium", "USD"),
                      ("llm.client.prompt_cache.write_premium.usd", "{USD}")),
}


def wants_latest(env: Mapping[str, str] = os.environ) -> bool:
    """Whether OTEL_SEMCONV_STABILITY_OPT_IN asks for the latest GenAI conventions."""
    return LATEST in {v.strip() for v in env.get("OTEL_SEMCONV_STABILITY_OPT_IN", "").split(",")}


class _Labels(NamedTuple):
    base: dict[str, str]
    input: dict[str, str]
    """base + gen_ai.token.type=input"""
    output: dict[str, str]
    priced_as: tuple[str, str]
    """The normalised (provider, response model) the price book is asked about."""


class OTelMetrics:
    """The OpenTelemetry twin of :class:`~exporter.record.recorder.LLMMetrics` for requests."""

    #: record_request takes the call's operation and answered model (Call passes them).
    takes_response = True

    def __init__(self, meter_provider: Any = None, *, config: Settings | None = None,
                 prices: PriceBook | None = None, operation: str = "chat",
                 semconv: str | None = None) -> None:
        """``semconv``: "latest" or "default"; None reads OTEL_SEMCONV_STABILITY_OPT_IN."""
        from opentelemetry import metrics

        if semconv not in (None, "latest", "default"):
            raise ValueError(f"semconv must be 'latest' or 'default', got {semconv!r}")
        self.latest = wants_latest() if semconv is None else semconv == "latest"
        names = {k: v[1 if self.latest else 0] for k, v in NAMES.items()}
        settings = config or Settings.load()
        self._prices = prices if prices is not None else settings.price_book()
        self._caps = LabelCaps(settings.label_caps)
        self._operation = operation
        meter = (meter_provider or metrics.get_meter_provider()).get_meter(
            "llm-exporter", __version__)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BOUNDARIES)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BOUNDARIES)
        self._ttft = meter.create_histogram(
            names["ttft"][0], unit="s",
            description="Time to receive the first chunk (token) of a streamed response.",
            explicit_bucket_boundaries_advisory=TTFT_BOUNDARIES)
        self._tpot = meter.create_histogram(
            names["tpot"][0], unit="s",
            description="Time per output chunk (token) after the first.",
            explicit_bucket_boundaries_advisory=TPOT_BOUNDARIES)
        self._cost = meter.create_counter(
            names["cost"][0], unit=names["cost"][1],
            description="Cost of GenAI requests, from the price catalog.")
        self._cache_savings = meter.create_counter(
            names["cache_savings"][0], unit=names["cache_savings"][1],
            description="Cached input priced at the uncached input rate, minus its cost.")
        self._write_premium = meter.create_counter(
            names["write_premium"][0], unit=names["write_premium"][1],
            description="What prompt-cache writes cost above the uncached input rate.")
        self._retries = meter.create_counter(
            "llm.client.retries", unit="{attempt}",
            description="Attempts an SDK retried within one operation, beyond its first.")
        self._active = meter.create_up_down_counter(
            "llm.client.requests.active", unit="{request}",
            description="GenAI requests started and not yet finished.")
        self._attrs: dict[tuple, _Labels] = {}

    def _labels(self, provider: str, model: str, response_model: str | None,
                team: str | None, tier: str | None, operation: str | None = None) -> _Labels:
        """Attribute sets and price key of a label combination, worked out once."""
        key = (provider, model, response_model, team, tier, operation)
        try:
            labels = self._attrs.get(key)
        except TypeError:  # an unhashable label value: normalising names it
            labels = None
        if labels is None:
            p = normalise_provider(provider)
            requested = normalise_model(p, model)
            responded = normalise_model(p, response_model) if response_model else requested
            shown = self._caps.admit("provider", p)[0]
            if self.latest:
                shown = SEMCONV_PROVIDERS.get(shown, shown)
            attrs = {"gen_ai.operation.name": operation or self._operation,
                     "gen_ai.provider.name": shown,
                     "gen_ai.request.model": self._caps.admit("model", requested)[0],
                     "gen_ai.response.model": self._caps.admit("model", responded)[0]}
            if team is not None:
                attrs["llm.team"] = self._caps.admit("team", normalise_optional("team", team))[0]
            if tier is not None:
                attrs["llm.tier"] = self._caps.admit("tier", normalise_optional("tier", tier))[0]
            labels = _Labels(attrs, {**attrs, "gen_ai.token.type": "input"},
                             {**attrs, "gen_ai.token.type": "output"}, (p, responded))
            if len(self._attrs) < 50_000:
                self._attrs[key] = labels
        return labels

    def record_request(self, *, provider: str, model: str, input_tokens: int = 0,
                       output_tokens: int = 0, cache_read_tokens: int = 0,
                       cache_write_tokens: int = 0, cache_write_1h_tokens: int = 0,
                       reasoning_tokens: int = 0, duration_seconds: float | None = None,
                       ttft_seconds: float | None = None, status: str = "success",
                       error_type: str | None = None, cache_hit: bool | None = None,
                       team: str | None = None, tier: str | None = None,
                       response_model: str | None = None, trace_id: str | None = None,
                       operation: str | None = None) -> float:
        """Same arguments and token semantics as ``LLMMetrics.record_request``; returns
        the cost in USD. ``cache_hit`` is accepted for compatibility (semconv has no
        response-cache instrument); so is ``trace_id`` (the OTel SDK takes exemplars from
        the current span itself)."""
        check_tokens(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                     reasoning_tokens, cache_write_1h_tokens)
        for name, value in (("duration_seconds", duration_seconds),
                            ("ttft_seconds", ttft_seconds)):
            if value is not None:
                validation.seconds(name, value)
        validation.status(status)
        validation.error_type(error_type, status)
        if cache_hit is not None:
            validation.flag("cache_hit", cache_hit)
        labels = self._labels(provider, model, response_model, team, tier, operation)
        attrs = labels.base
        p = self._prices.rates(*labels.priced_as).prices(input_tokens)
        uncached = input_tokens - cache_read_tokens - cache_write_tokens
        cost = sum(costs(p, uncached, cache_read_tokens, cache_write_tokens,
                         cache_write_1h_tokens, output_tokens - reasoning_tokens,
                         reasoning_tokens))
        saved, premium = cache_effect(p, cache_read_tokens, cache_write_tokens,
                                      cache_write_1h_tokens)
        if status == "error":
            attrs = {**attrs, "error.type": error_type or "other"}
        else:
            self._tokens.record(input_tokens, labels.input)
            self._tokens.record(output_tokens, labels.output)
            if ttft_seconds is not None:
                self._ttft.record(ttft_seconds, attrs)
                if output_tokens > 1 and duration_seconds is not None \
                        and duration_seconds >= ttft_seconds:
                    self._tpot.record((duration_seconds - ttft_seconds) / (output_tokens - 1),
                                      attrs)
        if duration_seconds is not None:
            self._duration.record(duration_seconds, attrs)
        if cost > 0 and math.isfinite(cost):
            self._cost.add(cost, attrs)
        if saved > 0:
            self._cache_savings.add(saved, attrs)
        if premium > 0:
            self._write_premium.add(premium, attrs)
        return cost

    def track(self, *, provider: str, model: str, team: str | None = None,
              tier: str | None = None, cache_hit: bool | None = None,
              trace_id: str | None = None) -> Call:
        """Time one call, as ``LLMMetrics.track`` does."""
        return Call(self, provider, model, team, tier, cache_hit, trace_id)

    def record_retries(self, *, provider: str, model: str, count: int = 1) -> None:
        """Attempts an SDK retried within one operation (``LLMMetrics.record_retries``)."""
        validation.count("count", count)
        if count:
            self._retries.add(count, self._labels(provider, model, None, None, None).base)

    def call_started(self, provider: str, model: str) -> dict[str, str]:
        attrs = self._labels(provider, model, None, None, None).base
        self._active.add(1, attrs)
        return attrs

    def call_ended(self, attrs: dict[str, str]) -> None:
        self._active.add(-1, attrs)
