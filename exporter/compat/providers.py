"""The provider metrics service's (Flask + SQLite) client, :class:`LLMMetricsService`:
its ``record_request`` and the other calls, delivered through
:mod:`exporter.ingest.providers`' translator (to a sidecar, or in process)."""

from __future__ import annotations

import functools
import os
import threading
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..ingest.providers import record
from .transport import Transport

if TYPE_CHECKING:
    from ..record.recorder import LLMMetrics

class _ClassOrInstance:
    """A method callable on an instance or on the class, as the service's document calls
    it (``LLMMetricsService.record_request(...)``): on the class it is the process's
    default service (:meth:`LLMMetricsService.default`)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __get__(self, obj: Any, cls: type[LLMMetricsService]) -> Callable[..., Any]:
        fn = self.fn
        if obj is not None:
            return types.MethodType(fn, obj)

        @functools.wraps(fn)
        def on_default(*args: Any, **kwargs: Any) -> Any:
            return fn(cls.default(), *args, **kwargs)  # resolved at call time
        return on_default


_default: LLMMetricsService | None = None
_default_lock = threading.Lock()


class LLMMetricsService:
    """The provider metrics service's calls, into a sidecar (``base_url``) or a recorder
    in process (``metrics``): ``record_request``, and its reads ``get_all_providers``
    and ``get_cost_summary`` (the sidecar's routes, or the same views over the recorder's
    counters since it started). ``read_token`` (or ``LLM_EXPORTER_READ_TOKEN``) is the
    sidecar's read token, when reads are private."""

    def __init__(self, base_url: str | None = None, *, metrics: LLMMetrics | None = None,
                 token: str | None = None, timeout: float = 10.0,
                 read_token: str | None = None) -> None:
        self._transport = Transport(base_url, metrics=metrics, token=token, timeout=timeout,
                                    read_token=read_token)

    @classmethod
    def default(cls) -> LLMMetricsService:
        """The process's service: the sidecar at ``LLM_EXPORTER_URL`` when that is set,
        otherwise a recorder in process on the default Prometheus registry."""
        global _default
        with _default_lock:
            if _default is None:
                url = os.environ.get("LLM_EXPORTER_URL")
                if url:
                    _default = cls(base_url=url)
                else:
                    from ..record.recorder import LLMMetrics

                    _default = cls(metrics=LLMMetrics())
            return _default

    @_ClassOrInstance
    def get_all_providers(self, days: float = 7) -> list[dict[str, Any]]:
        """Every provider by priority: ``display_name``, ``type``, ``priority``,
        ``enabled``, ``is_available``, ``circuit_state``, ``total_requests``,
        ``successful_requests``, ``avg_response_time_ms`` ..."""
        return self._transport.get("/api/llm/providers", {"days": f"{days:g}"})["providers"]

    @_ClassOrInstance
    def get_cost_summary(self, days: float = 30) -> dict[str, Any]:
        """``total_cost_usd``, ``total_requests``, ``local_requests``, ``remote_requests``,
        ``hypothetical_claude_cost_usd``, ``estimated_savings_usd``,
        ``savings_percentage``."""
        return self._transport.get("/api/llm/costs", {"days": f"{days:g}"})

    @_ClassOrInstance
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
        return self._transport.post("/api/llm/record", record,
                                    {k: v for k, v in body.items() if v is not None})
