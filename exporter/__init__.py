"""LLM cost and performance metrics, native to Prometheus.

>>> from exporter import LLMMetrics
>>> llm = LLMMetrics()
>>> llm.record_request(provider="openai", model="gpt-4o", input_tokens=1200,
...                    output_tokens=350, duration_seconds=2.4)

Every public name is here and in ``__all__`` (a test pins both); the modules behind them
are internal and may change. ``OTelMetrics``, the sidecar clients and the SDK
instrumentors are imported when first used, so ``import exporter`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._metrics_server import start_metrics_server
from ._version import __version__
from .pricing.book import PriceBook, PriceOverride, Rates
from .pricing.pools import Pool
from .record.call import Call
from .record.classify import classify as classify_error
from .record.context import labels
from .record.recorder import LLMMetrics
from .record.usage import from_anthropic, from_openai
from .settings.load import ConfigError, Settings

if TYPE_CHECKING:
    from . import multiprocess
    from .client import AsyncSidecarClient, SidecarClient
    from .collectors import resource_collectors
    from .instrumentation.anthropic import AnthropicInstrumentor
    from .instrumentation.openai import OpenAIInstrumentor
    from .otel import OTelMetrics

_LAZY = {
    "AnthropicInstrumentor": ".instrumentation.anthropic",
    "AsyncSidecarClient": ".client",
    "OTelMetrics": ".otel",
    "OpenAIInstrumentor": ".instrumentation.openai",
    "SidecarClient": ".client",
    "resource_collectors": ".collectors",
}

__all__ = [
    "AnthropicInstrumentor",
    "AsyncSidecarClient",
    "Call",
    "ConfigError",
    "LLMMetrics",
    "OTelMetrics",
    "OpenAIInstrumentor",
    "Pool",
    "PriceBook",
    "PriceOverride",
    "Rates",
    "Settings",
    "SidecarClient",
    "__version__",
    "classify_error",
    "from_anthropic",
    "from_openai",
    "labels",
    "multiprocess",
    "resource_collectors",
    "start_metrics_server",
]


def __getattr__(name: str) -> Any:
    if name == "multiprocess":
        return import_module(".multiprocess", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'exporter' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
