"""The collectors' registry: each collector module registers its factory here by name
(node_exporter's pattern), and the package builds the configured ones. A module of its
own, so that the collector modules never import the package that imports them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..catalog import Family

Samples = list[tuple[Family, list[tuple[tuple[str, ...], float]]]]
"""Per family, its (label values, value) pairs."""


class Collector(Protocol):
    name: str

    def collect(self) -> Samples:
        """Read the resource now. May raise: the set reports it as a failure."""
        ...


_FACTORIES: dict[str, Callable[..., Collector | None]] = {}


def register(name: str) -> Callable[[Callable[..., Collector | None]],
                                    Callable[..., Collector | None]]:
    """Decorator for a collector module's factory. The factory takes keyword options
    (``gpu_processes``...) and may return None when its resource is absent (no GPU)."""
    def add(factory: Callable[..., Collector | None]) -> Callable[..., Collector | None]:
        _FACTORIES[name] = factory
        return factory
    return add


def available() -> tuple[str, ...]:
    """The names of every registered collector."""
    return tuple(_FACTORIES)
