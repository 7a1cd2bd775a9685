"""Resource collectors, read at scrape time.

One module per collector, each registering a factory under its name (node_exporter's
pattern): :func:`enabled` builds the ones a configuration names. :class:`CollectorSet`
runs them, times each one and reports ``llm_exporter_collector_success{collector}`` and
``llm_exporter_collector_duration_seconds{collector}``; a collector that raises reports
success 0 and the rest of the scrape is served. The sidecar renders the set after the
recorder's series; a library user can register it on a prometheus_client registry::

    from prometheus_client import REGISTRY
    from exporter import resource_collectors
    REGISTRY.register(resource_collectors())
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .._store.render import SampleKey, render_samples
from ..catalog import family
from .registry import _FACTORIES, Collector, Samples, available, register

__all__ = ["Collector", "CollectorSet", "Samples", "as_metrics", "available", "enabled",
           "register", "resource_collectors", "sample_values"]

log = logging.getLogger(__name__)

def enabled(names: Iterable[str], namespace: str = "llm", **options: Any) -> CollectorSet:
    """The set of the named collectors that can run here; KeyError names an unknown one."""
    built = []
    for name in names:
        if name not in _FACTORIES:
            raise KeyError(f"unknown collector {name!r}; known: {', '.join(_FACTORIES)}")
        collector = _FACTORIES[name](**options)
        if collector is not None:
            built.append(collector)
    return CollectorSet(built, namespace)


def resource_collectors(names: Iterable[str] = ("system", "gpu"), *,
                        gpu_processes: bool = False) -> CollectorSet:
    """The host's CPU, memory, disk, network and NVIDIA GPUs as a prometheus_client
    collector (``REGISTRY.register(resource_collectors())``); a missing GPU is skipped."""
    return enabled(names, gpu_processes=gpu_processes)


class CollectorSet:
    """The enabled collectors, rendered together after the recorder's series."""

    def __init__(self, collectors: Iterable[Collector], namespace: str = "llm") -> None:
        self.collectors: Sequence[Collector] = list(collectors)
        self.namespace = namespace
        self._failed_before: set[str] = set()
        self._last: Samples = []
        self.last_run: float | None = None
        """time.monotonic() of the last run (a scrape's, or the read side's refresh)."""

    def samples(self) -> Samples:
        """Every collector's samples, then each one's success and duration."""
        samples: Samples = []
        success: list[tuple[tuple[str, ...], float]] = []
        durations: list[tuple[tuple[str, ...], float]] = []
        for collector in self.collectors:
            start = time.perf_counter()
            try:
                got = collector.collect()
            except Exception:  # a failing collector never breaks the scrape
                ok = 0.0
                if collector.name not in self._failed_before:
                    self._failed_before.add(collector.name)
                    log.exception("collector %s failed (logged once; see "
                                  "llm_exporter_collector_success)", collector.name)
            else:
                ok = 1.0
                samples.extend(got)
                self._failed_before.discard(collector.name)
            success.append(((collector.name,), ok))
            durations.append(((collector.name,), time.perf_counter() - start))
        if self.collectors:
            samples.append((family("collector_success"), success))
            samples.append((family("collector_duration"), durations))
        self._last, self.last_run = samples, time.monotonic()
        return samples

    def latest(self) -> Iterator:
        """The samples of the last run as metrics, without running anything: what reads
        show (a read never runs a collector, nor resets its CPU baseline)."""
        return as_metrics(self._last, self.namespace)

    def latest_values(self) -> dict[SampleKey, float]:
        """:meth:`latest` as {(name, sorted label pairs): value}."""
        return sample_values(self._last, self.namespace)

    def render(self, openmetrics: bool) -> bytes:
        return render_samples(self.samples(), self.namespace, openmetrics=openmetrics)

    def collect(self) -> Iterator:
        """prometheus_client's collector protocol: the same samples as render()."""
        return as_metrics(self.samples(), self.namespace)


def sample_values(samples: Samples, namespace: str) -> dict[SampleKey, float]:
    """Samples as {(name, sorted label pairs): value}, as the read side indexes them."""
    out: dict[SampleKey, float] = {}
    for fam, rows in samples:
        name = fam.full_name(namespace)
        for labels, value in rows:
            out[(name, tuple(sorted(zip(fam.labels, labels))))] = float(value)
    return out


def as_metrics(samples: Samples, namespace: str) -> Iterator:
    """Samples as prometheus_client Metric objects."""
    from prometheus_client.metrics_core import Metric

    for fam, rows in samples:
        name = fam.full_name(namespace)
        metric = Metric(fam.base_name(namespace), fam.help, fam.kind, fam.unit)
        for labels, value in rows:
            metric.add_sample(name, dict(zip(fam.labels, labels)), value)
        yield metric


# Each module registers itself; the order is the default order of the configuration.
from . import system  # noqa: E402,F401,I001
from . import gpu  # noqa: E402,F401,I001
