"""The proxy's usage records (Go + SQLite), posted to ``POST /_qs/usage`` one at a time
or as a JSON array, in snake_case or with the Go struct's own field names
(``PromptTokens`` ...). The HTTP status string decides status and error type; the
request id and the API-key hash are accepted and never become labels; a record's own
``Timestamp`` is checked (within a day of now) and the record counted when it arrives."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..read.params import rfc3339
from .events import EventError, FieldSpec, check_fields, check_labels
from .infer import http_status, infer_provider

if TYPE_CHECKING:
    from ..record.recent import RecentRequests
    from ..record.recorder import LLMMetrics

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


#: The Go struct's field names (``metrics.UsageMetric``, marshalled without JSON tags).
GO_NAMES = {"Timestamp": "timestamp", "Model": "model", "PromptTokens": "prompt_tokens",
            "CompletionTokens": "completion_tokens", "TotalTokens": "total_tokens",
            "RequestID": "request_id", "Status": "status", "LatencyMs": "latency_ms",
            "APIKeyHash": "api_key_hash"}
_SENT_AS = {v: k for k, v in GO_NAMES.items()}
#: How far a record's own time may be from now: it is counted at arrival (a counter has
#: no past), so a record a day old is a replay or a clock gone wrong, not a late one.
MAX_SKEW_SECONDS = 86400.0


def _snake(rec: dict[str, Any], where: str) -> tuple[dict[str, Any], bool]:
    """The record in snake_case; True when it came in the Go struct's names."""
    if not any(k in GO_NAMES for k in rec):
        return rec, False
    out = {}
    for k, v in rec.items():
        name = GO_NAMES.get(k, k)
        if name in out:
            raise EventError(f"{where}.{k}", f"given twice (as {name} and {_SENT_AS[name]})")
        out[name] = v
    return out, True


def _when(raw: Any, field: str, now: float) -> None:
    """Check a record's Timestamp: RFC 3339 (Go's time.Time) or unix seconds, within a
    day of now."""
    if raw is None:
        return
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        t = float(raw)
    elif isinstance(raw, str) and len(raw) <= 64:
        try:
            t = rfc3339(raw)
        except ValueError:
            raise EventError(field, f"must be an RFC 3339 time, got {raw[:64]!r}") from None
    else:
        raise EventError(field, f"must be an RFC 3339 time or unix seconds, got {raw!r}"[:120])
    if not abs(t - now) <= MAX_SKEW_SECONDS:
        raise EventError(field, "is more than a day from now: records are counted when "
                                "they arrive, so an old one would be counted in the wrong "
                                "day (or twice, if it was sent before)")


def usage(llm: LLMMetrics, body: Any, recent: RecentRequests | None) -> dict[str, Any]:
    records = body if isinstance(body, list) else [body]
    if not records:
        raise EventError("body", "must be a usage record or a non-empty list of them")
    calls = []
    now = time.time()
    for i, raw in enumerate(records):  # validated whole before any is recorded
        where = "body" if records is not body else f"body[{i}]"
        if not isinstance(raw, dict):
            raise EventError(where, "must be a usage record object")
        rec, go = _snake(raw, where)
        try:
            kw = check_fields(rec, USAGE, where, "/_qs/usage")
            _when(rec.get("timestamp"), f"{where}.timestamp", now)
        except EventError as exc:  # named as it was sent
            if not go:
                raise
            head, _, name = exc.field.rpartition(".")
            raise EventError(f"{head}.{_SENT_AS.get(name, name)}", exc.reason) from None
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
        call = {**args, "input_tokens": prompt, "output_tokens": completion,
                "duration_seconds": None if latency is None else latency / 1000,
                "status": status, "error_type": kind}
        cost = llm.record_request(**call)
        costs.append(cost)
        if recent is not None:
            recent.request({"request_id": rec.get("request_id")}, call, cost)
    return {"status": "ok", "recorded": len(calls), "cost": sum(costs)}
