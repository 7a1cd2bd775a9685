"""The provider metrics service's (Flask + SQLite) write route, ``POST /api/llm/record``.
``error_message`` and ``endpoint`` are accepted and never become labels; the message only
helps pick the bounded error type. Each call feeds the provider's circuit breaker
(:mod:`.provider_state`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import provider_state
from .events import FieldSpec, check_fields, check_labels
from .infer import FAILED, SUCCEEDED, infer_provider, outcome

if TYPE_CHECKING:
    from ..record.recent import RecentRequests
    from ..record.recorder import LLMMetrics

RECORD = {
    "model": FieldSpec("label", True), "provider_name": FieldSpec("optional_label"),
    "status": FieldSpec("enum", choices=SUCCEEDED + FAILED,
                        doc="success/ok/completed, or error/failed/timeout"),
    "prompt_tokens": FieldSpec("count"), "completion_tokens": FieldSpec("count"),
    "duration_seconds": FieldSpec("seconds"),
}


def record(llm: LLMMetrics, body: dict[str, Any], recent: RecentRequests | None
           ) -> dict[str, Any]:
    kw = check_fields(body, RECORD, "body", "/api/llm/record")
    status, kind = outcome(kw.get("status") or "success", body.get("error_message"))
    ok = status == "success"
    model = kw["model"]
    args = {"provider": kw.get("provider_name") or infer_provider(llm.prices, model),
            "model": model}
    check_labels(args, "body")
    prompt, completion = kw.get("prompt_tokens", 0), kw.get("completion_tokens", 0)
    seconds = kw.get("duration_seconds")
    call = {**args, "input_tokens": prompt, "output_tokens": completion,
            "duration_seconds": seconds, "status": status, "error_type": kind}
    cost = llm.record_request(**call)
    provider_state.record_call(llm, args["provider"], ok)
    if recent is not None:
        recent.request(body, call, cost)
    return {"status": "success", "message": "LLM call recorded", "cost": cost,
            "tokens": prompt + completion}
