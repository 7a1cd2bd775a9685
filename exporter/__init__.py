"""LLM cost and performance metrics, native to Prometheus.

>>> from exporter import LLMMetrics
>>> llm = LLMMetrics()
>>> llm.record_request(provider="openai", model="gpt-4o", input_tokens=1200,
...                    output_tokens=350, duration_seconds=2.4)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llm-exporter")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

from .config import ConfigError, Settings
from .context import labels
from .errors import classify as classify_error
from .pricing import PriceBook, PriceOverride, Rates
from .recorder import Call, LLMMetrics
from .usage import from_anthropic, from_openai

__all__ = [
    "Call",
    "ConfigError",
    "LLMMetrics",
    "PriceBook",
    "PriceOverride",
    "Rates",
    "Settings",
    "__version__",
    "classify_error",
    "from_anthropic",
    "from_openai",
    "labels",
]
