"""The tier routing backend (FastAPI + WebSocket): its collector's three calls.

A query of a tier is a request (provider ``local`` unless given, the model the tier's
name unless ``models`` maps it): latency is its duration, and latency minus generation
time its time to the first token, so tokens per second of generation per tier is
``output tokens / (duration sum - TTFT sum)``. Complexity and tier are case-insensitive.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..record import validation

if TYPE_CHECKING:
    from ..client import SidecarClient
    from ..record.recorder import LLMMetrics


class MetricsCollector:
    """``record_query``, ``record_routing_decision`` and ``update_model_availability``,
    recorded in process (``metrics``) or sent to a sidecar (``url``, batched in the
    background by :class:`~exporter.client.SidecarClient`)."""

    def __init__(self, metrics: LLMMetrics | None = None, *, url: str | None = None,
                 provider: str = "local", models: Mapping[str, str] | None = None,
                 token: str | None = None) -> None:
        if metrics is not None and url is not None:
            raise ValueError("give metrics (in process) or url (a sidecar), not both")
        self._client: SidecarClient | None = None
        if url is not None:
            from ..client import SidecarClient

            self._client = SidecarClient(url, token=token)
            self._metrics = None
        else:
            if metrics is None:
                from ..record.recorder import LLMMetrics

                metrics = LLMMetrics()
            self._metrics = metrics
        self.provider = provider
        self.models = {k.lower(): v for k, v in (models or {}).items()}

    def _send(self, method: str, event: str, **fields: Any) -> None:
        if self._client is not None:
            self._client.send({"type": event, **{k: v for k, v in fields.items()
                                                 if v is not None}})
        else:
            getattr(self._metrics, method)(**fields)

    def record_query(self, tier: str, latency_ms: float, tokens_generated: int = 0,
                     generation_time_ms: float | None = None, is_error: bool = False) -> None:
        """One query served by ``tier``."""
        validation.flag("is_error", is_error)
        latency = validation.seconds("latency_ms", latency_ms / 1000.0)
        ttft = None
        if generation_time_ms is not None:
            generation = validation.seconds("generation_time_ms", generation_time_ms / 1000.0)
            if generation <= latency:
                ttft = latency - generation
        self._send("record_request", "request", provider=self.provider,
                   model=self.models.get(str(tier).strip().lower(), tier), tier=tier,
                   output_tokens=tokens_generated, duration_seconds=latency,
                   ttft_seconds=ttft, status="error" if is_error else "success",
                   error_type="other" if is_error else None)

    def record_routing_decision(self, complexity: str, tier: str, score: float | None = None,
                                decision_time_ms: float | None = None,
                                is_fallback: bool = False) -> None:
        """Which tier a query of this complexity was routed to, and with what score."""
        self._send("record_routing", "routing", complexity=complexity, tier=tier,
                   score=score, fallback=is_fallback,
                   duration_seconds=None if decision_time_ms is None
                   else decision_time_ms / 1000.0)

    def update_model_availability(self, tier: str, available: int, total: int) -> None:
        """How many of a tier's models are up, out of how many."""
        self._send("set_tier_models", "tier_models", tier=tier, available=available,
                   total=total)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until a sidecar has every event sent so far (in process: at once)."""
        return True if self._client is None else self._client.flush(timeout)


_collector: MetricsCollector | None = None
_lock = threading.Lock()


def get_metrics_collector() -> MetricsCollector:
    """The process's collector, as the routing backend had it: sending to the sidecar at
    ``LLM_EXPORTER_URL`` when that is set, otherwise recording in process on the default
    Prometheus registry."""
    global _collector
    with _lock:
        if _collector is None:
            url = os.environ.get("LLM_EXPORTER_URL")
            _collector = MetricsCollector(url=url) if url else MetricsCollector()
        return _collector
