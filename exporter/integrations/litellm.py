"""LiteLLM: every call its SDK or proxy makes, recorded through its callback interface.

    import litellm
    from exporter.integrations.litellm import LiteLLMCallback
    litellm.callbacks = [LiteLLMCallback()]           # the SDK

    # the proxy's config.yaml
    litellm_settings:
      callbacks: exporter.integrations.litellm.callback

Recorded per call: provider and model (the model asked for, as LiteLLM names it), the
five token types from the response's usage (cache reads and writes, 1-hour writes,
reasoning), our cost from our price book (LiteLLM's own ``response_cost`` is not used,
so every path prices alike), duration, time to first token for streams, the outcome
(an exception classified into the bounded error types), LiteLLM's response cache as
``cache_hit``, the team from the request's metadata (the proxy's
``user_api_key_team_alias``, else ``team``), its tier (``tier``), LiteLLM's retries as
``llm_request_retries_total`` and its fallbacks as routing decisions (``fallback="true"``
for a call that a fallback answered). Totals are exact with several proxy workers when
each records into one multiprocess directory (``LLM_EXPORTER_MULTIPROC_DIR``), or when
the callback sends to a sidecar (``LiteLLMCallback(metrics=OTelMetrics(...))`` also works).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ..record.classify import classify
from ..record.recorder import LLMMetrics
from ..record.usage import from_openai

__all__ = ["TEAM_KEYS", "LiteLLMCallback", "usage_of"]

log = logging.getLogger(__name__)

#: Metadata keys that name the team, first found wins (the proxy sets the first from the
#: caller's key; SDK users pass metadata={"team": ...}).
TEAM_KEYS = ("user_api_key_team_alias", "team")


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _count(obj: Any, *path: str) -> int:
    for name in path:
        if obj is None:
            return 0
        obj = _get(obj, name)
    return obj if isinstance(obj, int) and not isinstance(obj, bool) else 0


def usage_of(response: Any, payload: Mapping[str, Any]) -> dict[str, int]:
    """``record_request``'s token arguments from a LiteLLM response (its OpenAI-shaped
    usage, with Anthropic's cache writes and their 1-hour part), else the payload's
    prompt and completion counts."""
    usage = _get(response, "usage") if response is not None else None
    if usage is None:
        return {"input_tokens": int(payload.get("prompt_tokens") or 0),
                "output_tokens": int(payload.get("completion_tokens") or 0)}
    args = from_openai(usage)  # input, output, cache reads, reasoning
    inp = args["input_tokens"]
    if not args["cache_read_tokens"]:
        args["cache_read_tokens"] = min(_count(usage, "cache_read_input_tokens"), inp)
    details = _get(usage, "prompt_tokens_details")
    write = _count(details, "cache_creation_tokens") or _count(usage,
                                                               "cache_creation_input_tokens")
    write = min(write, max(inp - args["cache_read_tokens"], 0))
    one_hour = _count(details, "cache_creation_token_details", "ephemeral_1h_input_tokens")
    return {**args, "cache_write_tokens": write, "cache_write_1h_tokens": min(one_hour, write)}


def _header(payload: Mapping[str, Any], response: Any, name: str) -> int:
    """A count LiteLLM reports in its response headers (retries, fallbacks)."""
    for hidden in (payload.get("hidden_params"), _get(response, "_hidden_params")):
        headers = _get(hidden, "additional_headers") if hidden is not None else None
        value = _get(headers, name) if headers is not None else None
        try:
            if value is not None:
                return max(int(value), 0)
        except (TypeError, ValueError):
            pass
    return 0


class LiteLLMCallback(CustomLogger):  # type: ignore[misc]
    """A LiteLLM callback that records every call on ``metrics`` (default: the shared
    recorder on prometheus_client's default registry)."""

    def __init__(self, metrics: LLMMetrics | Any | None = None) -> None:
        super().__init__()
        if metrics is None:
            from ..instrumentation._base import default_metrics

            metrics = default_metrics()
        self.metrics = metrics

    def log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        self._record(kwargs, response_obj, None)

    def log_failure_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any,
                          end_time: Any) -> None:
        self._record(kwargs, None, kwargs.get("exception") or RuntimeError("failed"))

    async def async_log_success_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, None)

    async def async_log_failure_event(self, kwargs: dict[str, Any], response_obj: Any,
                                      start_time: Any, end_time: Any) -> None:
        self._record(kwargs, None, kwargs.get("exception") or RuntimeError("failed"))

    def _record(self, kwargs: Mapping[str, Any], response: Any,
                error: BaseException | None) -> None:
        """One call; never raises into LiteLLM (a failure of ours is logged)."""
        try:
            payload = kwargs.get("standard_logging_object") or {}
            metadata = {**((kwargs.get("litellm_params") or {}).get("metadata") or {}),
                        **(payload.get("metadata") or {})}
            team = next((metadata[k] for k in TEAM_KEYS if metadata.get(k)), None)
            provider = payload.get("custom_llm_provider") or "unknown"
            model = payload.get("model") or kwargs.get("model") or "unknown"
            start, end = payload.get("startTime"), payload.get("endTime")
            duration = end - start if start is not None and end is not None else None
            first = payload.get("completionStartTime")
            ttft = first - start if payload.get("stream") and first and start is not None \
                and end is not None and start < first < end else None
            cache_hit = payload.get("cache_hit")
            args: dict[str, Any] = {
                "provider": provider, "model": model, "team": team,
                "tier": metadata.get("tier"),
                "duration_seconds": max(duration, 0.0) if duration is not None else None,
                "ttft_seconds": ttft,
                "cache_hit": cache_hit if isinstance(cache_hit, bool) else None}
            if error is None:
                self.metrics.record_request(**args, **usage_of(response, payload))
            else:
                self.metrics.record_request(**args, status="error", error_type=classify(error))
            retries = _header(payload, response, "x-litellm-attempted-retries")
            if retries and hasattr(self.metrics, "record_retries"):
                self.metrics.record_retries(provider=provider, model=model, count=retries)
            fallbacks = _header(payload, response, "x-litellm-attempted-fallbacks")
            group = payload.get("model_group")
            if (group or fallbacks) and hasattr(self.metrics, "record_routing"):
                self.metrics.record_routing(complexity=group or model, tier=model,
                                            fallback=fallbacks > 0)
        except Exception:
            log.exception("llm-exporter could not record a LiteLLM call")


def __getattr__(name: str) -> Any:
    """``callback``: one shared instance, for the proxy's ``callbacks:`` setting (made
    on first use, so importing this module records nothing by itself)."""
    if name == "callback":
        instance = globals()["callback"] = LiteLLMCallback()
        return instance
    raise AttributeError(name)
