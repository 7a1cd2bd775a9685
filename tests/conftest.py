"""Shared fixtures: a fresh registry and recorder per test, and real binaries."""

from __future__ import annotations

import os
import shutil

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, PriceBook, PriceOverride


def require_binary(name: str) -> str:
    """Path of a real binary; skip without it on a laptop, fail in CI (CI=true)."""
    path = shutil.which(name)
    if path is None:
        message = (f"{name} not found: install Debian's prometheus package "
                   "(apt-get install --no-install-recommends prometheus)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def llm(registry: CollectorRegistry) -> LLMMetrics:
    """A recorder on a fresh registry, with the bundled catalog and two overrides: a
    fine-tuned model priced per token and a self-hosted one priced per GPU-hour."""
    prices = PriceBook([
        PriceOverride(provider="openai", model="ft:gpt-4o-mini:acme", input_per_mtok=0.3,
                      output_per_mtok=1.2, cache_read_per_mtok=0.15),
        PriceOverride(provider="ollama", model="llama3.1:70b", gpu_hour_usd=3.6, gpus=2),
    ])
    return LLMMetrics(registry, prices=prices)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)
