"""One tracked LLM call: what ``LLMMetrics.track()`` (and the SDK instrumentations)
hand back, and record when the call ends."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

from .classify import classify
from .validation import check_tokens
from .validation import error_type as check_error_type

log = logging.getLogger(__name__)


def current_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span, if one is recording."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


class Call:
    """One tracked LLM call; see :meth:`LLMMetrics.track`."""

    __slots__ = (
        "_in_flight",
        "_metrics",
        "_start",
        "_ttft",
        "_usage",
        "cache_hit",
        "cost",
        "error_type",
        "model",
        "operation",
        "provider",
        "response_model",
        "retries",
        "team",
        "tier",
        "trace_id",
    )

    def __init__(self, metrics: Any, provider: str, model: str, team: str | None,
                 tier: str | None, cache_hit: bool | None,
                 trace_id: str | None = None) -> None:
        """``metrics`` is an :class:`LLMMetrics` or anything with its ``record_request``,
        ``call_started`` and ``call_ended`` (the OpenTelemetry recorder)."""
        self._metrics = metrics
        self.provider, self.model, self.team, self.tier = provider, model, team, tier
        self.cache_hit = cache_hit
        self.trace_id = trace_id
        self._ttft: float | None = None
        self._usage: dict[str, int] = {}
        self.error_type: str | None = None
        self.cost: float | None = None
        """The call's cost in USD, set when the call ends."""
        self.operation: str | None = None
        """The GenAI operation (chat, embeddings ...), where the instrumentor knows it:
        for OpenTelemetry's gen_ai.operation.name."""
        self.retries = 0
        """Attempts the SDK retried within this call, beyond the first (the instrumentors
        count them; the call's duration covers every attempt and the backoff)."""
        self.response_model: str | None = None
        """The model the provider answered with, where it names one (a dated snapshot of
        the requested alias); the label stays the requested model."""

    def first_token(self) -> None:
        """Mark the first streamed token; later calls are ignored."""
        if self._ttft is None:
            self._ttft = time.perf_counter() - self._start

    def usage(self, *, input_tokens: int = 0, output_tokens: int = 0,
              cache_read_tokens: int = 0, cache_write_tokens: int = 0,
              reasoning_tokens: int = 0, cache_write_1h_tokens: int = 0) -> None:
        """The call's token usage (same meaning as in record_request); a later call
        replaces an earlier one, so a stream can report its final usage chunk."""
        check_tokens(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                     reasoning_tokens, cache_write_1h_tokens)
        self._usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                       "cache_read_tokens": cache_read_tokens,
                       "cache_write_tokens": cache_write_tokens,
                       "cache_write_1h_tokens": cache_write_1h_tokens,
                       "reasoning_tokens": reasoning_tokens}

    def fail(self, error_type: str = "other") -> None:
        """Mark the call failed without raising (e.g. an error returned in a response)."""
        self.error_type = check_error_type(error_type, "error")

    def __enter__(self) -> Call:
        self._in_flight = self._metrics.call_started(self.provider, self.model)
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        duration = time.perf_counter() - self._start
        m = self._metrics
        m.call_ended(self._in_flight)
        if exc is not None and self.error_type is None:
            try:
                self.error_type = classify(exc)
            except Exception:  # never mask the caller's exception
                self.error_type = "other"
        # OpenTelemetry's recorder also takes what answered (semconv attributes of it)
        extra = {"response_model": self.response_model, "operation": self.operation} \
            if getattr(m, "takes_response", False) else {}
        try:
            self.cost = m.record_request(
                provider=self.provider, model=self.model, team=self.team, tier=self.tier,
                duration_seconds=duration, ttft_seconds=self._ttft,
                status="error" if self.error_type is not None else "success",
                error_type=self.error_type, cache_hit=self.cache_hit, **self._usage,
                **({"trace_id": self.trace_id} if self.trace_id is not None else {}), **extra)
        except Exception:
            if exc is None:
                raise
            log.exception("could not record a failed LLM call")
        if self.retries and hasattr(m, "record_retries"):
            m.record_retries(provider=self.provider, model=self.model, count=self.retries)

    async def __aenter__(self) -> Call:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)
