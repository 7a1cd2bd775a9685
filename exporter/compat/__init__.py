"""Drop-in replacements for home-grown LLM metrics backends' clients (see
docs/migration.md): the cost backend's ``SyncMetricsClient`` and
``MetricsClient``, the tier router's ``MetricsCollector`` / ``get_metrics_collector``, and
the provider service's ``LLMMetricsService``. Their routes are served by the sidecar."""

from __future__ import annotations

from .cost import MetricsClient, SyncMetricsClient
from .providers import LLMMetricsService
from .routing import MetricsCollector, get_metrics_collector
from .transport import DeliveryError

__all__ = ["DeliveryError", "LLMMetricsService", "MetricsClient", "MetricsCollector",
           "SyncMetricsClient", "get_metrics_collector"]
