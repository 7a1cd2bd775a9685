"""The cost backend's (FastAPI + PostgreSQL) write routes: ``POST /api/v1/metrics/track``,
``/cache`` and ``/batch``, in their request and answer shapes. ``team_alias`` is the team,
``query_type`` the tier; the provider is inferred from the model when the payload names
none; free-form fields (user_id, request_id, batch_id) are accepted and never become
labels."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from ..cardinality import PLACEHOLDER
from .events import EventError, FieldSpec, check_fields, check_labels
from .infer import FAILED, SUCCEEDED, infer_provider, outcome

if TYPE_CHECKING:
    from ..record.recent import RecentRequests
    from ..record.recorder import LLMMetrics

TRACK = {
    "model": FieldSpec("label", True), "provider": FieldSpec("optional_label"),
    "prompt_tokens": FieldSpec("count"), "output_tokens": FieldSpec("count"),
    "total_tokens": FieldSpec("count"), "latency_ms": FieldSpec("ms"),
    "team_alias": FieldSpec("optional_label"), "cache_hit": FieldSpec("optional_bool"),
    "query_type": FieldSpec("optional_label", doc="recorded as the tier label"),
    "status": FieldSpec("enum", choices=SUCCEEDED + FAILED,
                        doc="success, or error/failed/timeout ... (its metrics table's)"),
    "time_to_first_token_ms": FieldSpec("ms"),
    "cache_similarity_score": FieldSpec("ratio", doc="a semantic cache match's score "
                                                     "(0..1), with cache_hit"),
    # the rest of its metrics table's columns: checked, accepted, never labels; costs come
    # from the price book (pricing.overrides for your own prices), not from the payload
    "id": FieldSpec("count", doc="accepted, not used"),
    "response_cost": FieldSpec("nonneg", doc="accepted, not used: priced from the catalog"),
    "prompt_cost": FieldSpec("nonneg", doc="accepted, not used"),
    "output_cost": FieldSpec("nonneg", doc="accepted, not used"),
    "is_batched": FieldSpec("optional_bool", doc="accepted, not used"),
    "batch_size": FieldSpec("count", doc="accepted, not used"),
    "end_user": FieldSpec("optional_label", doc="accepted, never a label"),
}


def track(llm: LLMMetrics, body: dict[str, Any], recent: RecentRequests | None
          ) -> dict[str, Any]:
    kw = check_fields(body, TRACK, "body", "/api/v1/metrics/track")
    prompt, output = kw.get("prompt_tokens"), kw.get("output_tokens")
    total = kw.get("total_tokens")
    if prompt is None and output is None and total is not None:
        prompt = total  # only a total: counted as input
    prompt, output = prompt or 0, output or 0
    if total is not None and total != prompt + output:
        raise EventError("body.total_tokens", f"must equal prompt_tokens + output_tokens "
                                              f"({prompt} + {output}), got {total}")
    model = kw["model"]
    provider = kw.get("provider") or infer_provider(llm.prices, model)
    args = {"provider": provider, "model": model, "team": kw.get("team_alias"),
            "tier": kw.get("query_type")}
    check_labels(args, "body")
    latency, ttft = kw.get("latency_ms"), kw.get("time_to_first_token_ms")
    status, kind = outcome(kw.get("status", "success"), body.get("error_message"))
    hit, similarity = kw.get("cache_hit"), kw.get("cache_similarity_score")
    if similarity is not None and hit is None:
        raise EventError("body.cache_similarity_score", "needs cache_hit (was the match "
                                                        "served from the cache?)")
    call = {**args, "input_tokens": prompt, "output_tokens": output,
            "duration_seconds": latency / 1000.0 if latency is not None else None,
            "ttft_seconds": ttft / 1000.0 if ttft is not None else None,
            "cache_hit": hit if similarity is None else None, "status": status,
            "error_type": kind}
    cost = llm.record_request(**call)
    if similarity is not None:  # the same lookup as cache_hit's, with its score
        llm.record_cache_lookup(cache="response", hit=bool(hit), similarity=similarity,
                                team=args["team"])
    request_id = body.get("request_id") or str(uuid.uuid4())
    if recent is not None:
        recent.request({"request_id": request_id, "user_id": body.get("user_id")},
                       {**call, "cache_hit": hit}, cost)
    return {"status": "success", "message": "Metrics tracked successfully",
            "request_id": request_id, "cost": cost, "tokens": prompt + output}


CACHE = {
    "cache_hit": FieldSpec("count", doc="hits since the last report"),
    "cache_miss": FieldSpec("count", doc="misses since the last report"),
    "avg_lookup_time_ms": FieldSpec("ms"), "team_alias": FieldSpec("optional_label"),
    "cache": FieldSpec("optional_label", doc="cache name (default: response)"),
}


def cache(llm: LLMMetrics, body: dict[str, Any], recent: RecentRequests | None
          ) -> dict[str, Any]:
    kw = check_fields(body, CACHE, "body", "/api/v1/metrics/cache")
    name = kw.get("cache") or "response"
    team = kw.get("team_alias")
    check_labels({"cache": name, "team": team}, "body")
    seconds = kw["avg_lookup_time_ms"] / 1000.0 if "avg_lookup_time_ms" in kw else None
    hits, misses = kw.get("cache_hit", 0), kw.get("cache_miss", 0)
    llm.record_cache_lookup(cache=name, hit=True, count=hits, duration_seconds=seconds,
                            team=team)
    llm.record_cache_lookup(cache=name, hit=False, count=misses, duration_seconds=seconds,
                            team=team)
    return {"status": "success", "message": "Cache metrics recorded successfully",
            "cache_hit": hits, "cache_miss": misses}


BATCH = {
    "batch_size": FieldSpec("count", True), "total_tokens": FieldSpec("count"),
    "batch_cost": FieldSpec("nonneg", doc="USD; when absent, priced from the catalog"),
    "batch_latency_ms": FieldSpec("ms"), "team_alias": FieldSpec("optional_label"),
    "model": FieldSpec("optional_label"), "provider": FieldSpec("optional_label"),
}


def batch(llm: LLMMetrics, body: dict[str, Any], recent: RecentRequests | None
          ) -> dict[str, Any]:
    kw = check_fields(body, BATCH, "body", "/api/v1/metrics/batch")
    model = kw.get("model") or PLACEHOLDER
    provider = kw.get("provider") or (infer_provider(llm.prices, model) if "model" in kw
                                      else PLACEHOLDER)
    args: dict[str, Any] = {"provider": provider, "model": model, "team": kw.get("team_alias")}
    check_labels(args, "body")
    tokens = kw.get("total_tokens", 0)
    cost = llm.record_batch(
        **args, size=kw["batch_size"], input_tokens=tokens, cost_usd=kw.get("batch_cost"),
        duration_seconds=kw["batch_latency_ms"] / 1000.0 if "batch_latency_ms" in kw else None)
    return {"status": "success", "message": "Batch metrics recorded successfully",
            "batch_id": body.get("batch_id"), "cost": cost, "tokens": tokens}
