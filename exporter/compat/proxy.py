"""The proxy's usage records (Go + SQLite), posted to ``POST /_qs/usage`` one at a time
or as a JSON array. The HTTP status string decides status and error type; the request id
and the API-key hash are accepted and never become labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import EventError, FieldSpec, check_fields, check_labels
from .infer import http_status, infer_provider

if TYPE_CHECKING:
    from ..recent import RecentRequests
    from ..recorder import LLMMetrics

USAGE = {
    "model": FieldSpec("label", True), "provider": FieldSpec("optional_label"),
    "prompt_tokens": FieldSpec("count"), "completion_tokens": FieldSpec("count"),
    "total_tokens": FieldSpec("count"), "latency_ms": FieldSpec("ms"),
    "status": FieldSpec("optional_label", doc='the upstream HTTP status, "200", "429" ...'),
}


def _code(raw: Any, field: str) -> int:
    text = "200" if raw is None else raw.strip()
    if not (text.isdigit() and len(text) == 3 and 100 <= int(text) <= 599):
        raise EventError(field, f'must be an HTTP status code such as "200" or "429", '
                                f'got {raw!r}')
    return int(text)


def usage(llm: LLMMetrics, body: Any, recent: RecentRequests | None) -> dict[str, Any]:
    records = body if isinstance(body, list) else [body]
    if not records:
        raise EventError("body", "must be a usage record or a non-empty list of them")
    calls = []
    for i, rec in enumerate(records):  # validated whole before any is recorded
        where = "body" if records is not body else f"body[{i}]"
        if not isinstance(rec, dict):
            raise EventError(where, "must be a usage record object")
        kw = check_fields(rec, USAGE, where, "/_qs/usage")
        prompt, completion = kw.get("prompt_tokens", 0), kw.get("completion_tokens", 0)
        total = kw.get("total_tokens")
        if "prompt_tokens" not in kw and "completion_tokens" not in kw and total:
            prompt = total  # only a total: counted as input
        elif total is not None and total != prompt + completion:
            raise EventError(f"{where}.total_tokens", f"must equal prompt_tokens + "
                             f"completion_tokens ({prompt} + {completion}), got {total}")
        status, kind = http_status(_code(kw.get("status"), f"{where}.status"))
        args = {"provider": kw.get("provider") or infer_provider(llm.prices, kw["model"]),
                "model": kw["model"]}
        check_labels(args, where)
        calls.append((rec, args, prompt, completion, kw.get("latency_ms"), status, kind))
    costs = []
    for rec, args, prompt, completion, latency, status, kind in calls:
        cost = llm.record_request(**args, input_tokens=prompt, output_tokens=completion,
                                  duration_seconds=None if latency is None else latency / 1000,
                                  status=status, error_type=kind)
        costs.append(cost)
        if recent is not None:
            recent.add(request_id=rec.get("request_id"), user_id=None, team=None, tier=None,
                       prompt_tokens=prompt, output_tokens=completion, cost=cost,
                       latency_ms=latency, cache_hit=None, status=status, **args)
    return {"status": "ok", "recorded": len(calls), "cost": sum(costs)}
