"""Drop-in routes for clients that already exist, translated to recorder calls.

``POST /api/v1/metrics/track``, ``/api/v1/metrics/cache``, ``/api/v1/metrics/batch`` and
``POST /api/llm/record`` keep their request and response shapes, so code written for
them keeps working. ``team_alias`` is the team; the provider is inferred from the model
when the payload names none; free-form fields (user_id, request_id, error_message,
endpoint, batch_id) are accepted and never become labels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..cardinality import PLACEHOLDER
from ..events import EventError, FieldSpec, check_fields, check_labels
from ..recorder import LLMMetrics

Handler = Callable[[LLMMetrics, dict[str, Any]], dict[str, Any]]

#: Model-name prefixes of the big providers; genai-prices' matching covers the rest.
_PREFIXES = (
    (("gpt-", "o1", "o3", "o4", "chatgpt", "text-embedding", "davinci", "babbage", "whisper",
      "dall-e", "tts-", "omni-moderation", "codex"), "openai"),
    (("claude",), "anthropic"),
    (("gemini", "models/gemini", "gemma", "text-embedding-004"), "google"),
    (("mistral", "mixtral", "codestral", "ministral", "pixtral", "magistral", "devstral"),
     "mistral"),
    (("deepseek",), "deepseek"),
    (("grok",), "x-ai"),
    (("command",), "cohere"),
    (("sonar",), "perplexity"),
)


def infer_provider(llm: LLMMetrics, model: str) -> str:
    """The provider a model name belongs to, or ``unknown``. ``name:tag`` models (the
    Ollama convention, e.g. ``llama3.1:8b``) are taken as local (ollama)."""
    m = model.strip().lower()
    for prefixes, provider in _PREFIXES:
        if m.startswith(prefixes):
            return provider
    if ":" in m and "/" not in m:
        return "ollama"
    return llm.prices.provider_for(m) or PLACEHOLDER


def _error_type(status: str, message: str | None) -> str:
    text = f"{status} {message or ''}".lower()
    for needles, error_type in ((("rate limit", "ratelimit", "429", "too many"), "rate_limit"),
                                (("timeout", "timed out"), "timeout"),
                                (("content", "filter", "policy", "safety"), "content_filter"),
                                (("500", "502", "503", "504", "server", "overloaded",
                                  "unavailable"), "server_error"),
                                (("400", "401", "403", "404", "invalid", "unauthorized",
                                  "forbidden"), "client_error")):
        if any(n in text for n in needles):
            return error_type
    return "other"


_TRACK = {
    "model": FieldSpec("label", True), "provider": FieldSpec("optional_label"),
    "prompt_tokens": FieldSpec("count"), "output_tokens": FieldSpec("count"),
    "total_tokens": FieldSpec("count"), "latency_ms": FieldSpec("ms"),
    "team_alias": FieldSpec("optional_label"), "cache_hit": FieldSpec("optional_bool"),
    "query_type": FieldSpec("optional_label", doc="recorded as the tier label"),
    "status": FieldSpec("enum", choices=("success", "error")),
}


def track(llm: LLMMetrics, body: dict[str, Any]) -> dict[str, Any]:
    kw = check_fields(body, _TRACK, "body", "/api/v1/metrics/track")
    prompt, output = kw.get("prompt_tokens"), kw.get("output_tokens")
    total = kw.get("total_tokens")
    if prompt is None and output is None and total is not None:
        prompt = total  # only a total: counted as input
    prompt, output = prompt or 0, output or 0
    if total is not None and total != prompt + output:
        raise EventError("body.total_tokens", f"must equal prompt_tokens + output_tokens "
                                              f"({prompt} + {output}), got {total}")
    model = kw["model"]
    provider = kw.get("provider") or infer_provider(llm, model)
    args = {"provider": provider, "model": model, "team": kw.get("team_alias"),
            "tier": kw.get("query_type")}
    check_labels(args, "body")
    cost = llm.record_request(
        **args, input_tokens=prompt, output_tokens=output,
        duration_seconds=kw["latency_ms"] / 1000.0 if "latency_ms" in kw else None,
        cache_hit=kw.get("cache_hit"), status=kw.get("status", "success"))
    return {"status": "success", "message": "Metrics tracked successfully",
            "request_id": body.get("request_id"), "cost": cost, "tokens": prompt + output}


_CACHE = {
    "cache_hit": FieldSpec("count", doc="hits since the last report"),
    "cache_miss": FieldSpec("count", doc="misses since the last report"),
    "avg_lookup_time_ms": FieldSpec("ms"), "team_alias": FieldSpec("optional_label"),
    "cache": FieldSpec("optional_label", doc="cache name (default: response)"),
}


def cache(llm: LLMMetrics, body: dict[str, Any]) -> dict[str, Any]:
    kw = check_fields(body, _CACHE, "body", "/api/v1/metrics/cache")
    name = kw.get("cache") or "response"
    check_labels({"cache": name}, "body")
    seconds = kw["avg_lookup_time_ms"] / 1000.0 if "avg_lookup_time_ms" in kw else None
    hits, misses = kw.get("cache_hit", 0), kw.get("cache_miss", 0)
    team = kw.get("team_alias")
    llm.record_cache_lookup(cache=name, hit=True, count=hits, duration_seconds=seconds, team=team)
    llm.record_cache_lookup(cache=name, hit=False, count=misses, duration_seconds=seconds,
                            team=team)
    return {"status": "success", "message": "Cache metrics recorded successfully",
            "cache_hit": hits, "cache_miss": misses}


_BATCH = {
    "batch_size": FieldSpec("count", True), "total_tokens": FieldSpec("count"),
    "batch_cost": FieldSpec("nonneg", doc="USD; when absent, priced from the catalog"),
    "batch_latency_ms": FieldSpec("ms"), "team_alias": FieldSpec("optional_label"),
    "model": FieldSpec("optional_label"), "provider": FieldSpec("optional_label"),
}


def batch(llm: LLMMetrics, body: dict[str, Any]) -> dict[str, Any]:
    kw = check_fields(body, _BATCH, "body", "/api/v1/metrics/batch")
    model = kw.get("model") or PLACEHOLDER
    provider = kw.get("provider") or (infer_provider(llm, model) if "model" in kw
                                      else PLACEHOLDER)
    args: dict[str, Any] = {"provider": provider, "model": model, "team": kw.get("team_alias")}
    check_labels(args, "body")
    tokens = kw.get("total_tokens", 0)
    cost = llm.record_batch(
        **args, size=kw["batch_size"], input_tokens=tokens, cost_usd=kw.get("batch_cost"),
        duration_seconds=kw["batch_latency_ms"] / 1000.0 if "batch_latency_ms" in kw else None)
    return {"status": "success", "message": "Batch metrics recorded successfully",
            "batch_id": body.get("batch_id"), "cost": cost, "tokens": tokens}


_RECORD = {
    "model": FieldSpec("label", True), "provider_name": FieldSpec("optional_label"),
    "status": FieldSpec("enum", choices=("success", "ok", "completed", "succeeded", "error",
                                         "failed", "failure", "timeout", "rate_limited",
                                         "cancelled"),
                        doc="success/ok/completed, or error/failed/timeout"),
    "prompt_tokens": FieldSpec("count"), "completion_tokens": FieldSpec("count"),
    "duration_seconds": FieldSpec("seconds"),
}
_OK = {"success", "ok", "completed", "succeeded"}
_FAILED = {"error", "failed", "failure", "timeout", "rate_limited", "cancelled"}


def record(llm: LLMMetrics, body: dict[str, Any]) -> dict[str, Any]:
    kw = check_fields(body, _RECORD, "body", "/api/llm/record")
    raw_status = (kw.get("status") or "success").strip().lower()
    if raw_status not in _OK | _FAILED:
        raise EventError("body.status", f"must be one of {', '.join(sorted(_OK | _FAILED))}, "
                                        f"got {kw.get('status')!r}")
    ok = raw_status in _OK
    model = kw["model"]
    args = {"provider": kw.get("provider_name") or infer_provider(llm, model), "model": model}
    check_labels(args, "body")
    prompt, completion = kw.get("prompt_tokens", 0), kw.get("completion_tokens", 0)
    cost = llm.record_request(
        **args, input_tokens=prompt, output_tokens=completion,
        duration_seconds=kw.get("duration_seconds"), status="success" if ok else "error",
        error_type=None if ok else _error_type(raw_status, body.get("error_message")))
    return {"status": "success", "message": "LLM call recorded", "cost": cost,
            "tokens": prompt + completion}


ROUTES: dict[str, Handler] = {
    "/api/v1/metrics/track": track,
    "/api/v1/metrics/cache": cache,
    "/api/v1/metrics/batch": batch,
    "/api/llm/record": record,
}
FIELDS = {"/api/v1/metrics/track": _TRACK, "/api/v1/metrics/cache": _CACHE,
          "/api/v1/metrics/batch": _BATCH, "/api/llm/record": _RECORD}
