"""Resource collectors for the sidecar, read at scrape time.

One module per collector. :class:`CollectorSet` runs them, times each one and reports
``llm_exporter_collector_success{collector}`` and
``llm_exporter_collector_duration_seconds{collector}``; a collector that raises reports
success 0 and the rest of the scrape is served.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..catalog import Family, family
from ..exposition import render_samples

log = logging.getLogger(__name__)

Samples = list[tuple[Family, list[tuple[tuple[str, ...], float]]]]
"""Per family, its (label values, value) pairs."""


class Collector(Protocol):
    name: str

    def collect(self) -> Samples:
        """Read the resource now. May raise: the set reports it as a failure."""
        ...


class CollectorSet:
    """The enabled collectors, rendered together after the recorder's series."""

    def __init__(self, collectors: Iterable[Collector], namespace: str = "llm") -> None:
        self.collectors: Sequence[Collector] = list(collectors)
        self.namespace = namespace
        self._failed_before: set[str] = set()

    def render(self, openmetrics: bool) -> bytes:
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
        return render_samples(samples, self.namespace, openmetrics=openmetrics)
