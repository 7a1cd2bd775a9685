"""The provider metrics service (Flask + SQLite): ``record_request`` and
``POST /api/llm/record``. ``error_message`` and ``endpoint`` are accepted and never become
labels; the message only helps pick the bounded error type."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import EventError, FieldSpec, check_fields, check_labels
from .infer import error_type, infer_provider
from .transport import Transport

if TYPE_CHECKING:
    from ..recent import RecentRequests
    from ..recorder import LLMMetrics

RECORD = {
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


def record(llm: LLMMetrics, body: dict[str, Any], recent: RecentRequests | None
           ) -> dict[str, Any]:
    kw = check_fields(body, RECORD, "body", "/api/llm/record")
    raw_status = (kw.get("status") or "success").strip().lower()
    if raw_status not in _OK | _FAILED:
        raise EventError("body.status", f"must be one of {', '.join(sorted(_OK | _FAILED))}, "
                                        f"got {kw.get('status')!r}")
    ok = raw_status in _OK
    model = kw["model"]
    args = {"provider": kw.get("provider_name") or infer_provider(llm.prices, model),
            "model": model}
    check_labels(args, "body")
    prompt, completion = kw.get("prompt_tokens", 0), kw.get("completion_tokens", 0)
    seconds = kw.get("duration_seconds")
    cost = llm.record_request(
        **args, input_tokens=prompt, output_tokens=completion, duration_seconds=seconds,
        status="success" if ok else "error",
        error_type=None if ok else error_type(raw_status, body.get("error_message")))
    if recent is not None:
        recent.add(request_id=body.get("request_id"), user_id=body.get("user_id"),
                   provider=args["provider"], model=model, team=None, tier=None,
                   prompt_tokens=prompt, output_tokens=completion, cost=cost,
                   latency_ms=None if seconds is None else seconds * 1000.0, cache_hit=None,
                   status="success" if ok else "error")
    return {"status": "success", "message": "LLM call recorded", "cost": cost,
            "tokens": prompt + completion}


class LLMMetricsService:
    """The provider metrics service's recording call, into a sidecar (``base_url``) or a
    recorder in process (``metrics``)."""

    def __init__(self, base_url: str | None = None, *, metrics: LLMMetrics | None = None,
                 token: str | None = None, timeout: float = 10.0) -> None:
        self._transport = Transport(base_url, metrics=metrics, token=token, timeout=timeout)

    def record_request(self, provider_name: str | None, model: str, status: str = "success",
                       prompt_tokens: int = 0, completion_tokens: int = 0,
                       duration_seconds: float | None = None,
                       error_message: str | None = None, endpoint: str | None = None
                       ) -> dict[str, Any]:
        """One provider call; returns {"status", "message", "cost", "tokens"}."""
        body = {"provider_name": provider_name, "model": model, "status": status,
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "duration_seconds": duration_seconds, "error_message": error_message,
                "endpoint": endpoint}
        return self._transport.post("/api/llm/record",
                                    {k: v for k, v in body.items() if v is not None})
