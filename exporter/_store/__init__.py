"""Where the recorder's series live and how they leave: :class:`SeriesStore`.

``layout`` names the slots of a value list, ``memory`` holds series in lists, ``mmap``
in files shared by the workers of one app, ``render`` turns either into text,
OpenMetrics or prometheus_client metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..cardinality import OTHER
from ..catalog import AUTH_ENDPOINTS, EVENT_RESULTS, EXPORTER_FAMILIES, TOKEN_TYPES
from . import layout
from .memory import Exemplars, Series, UpdateLock, ZeroHold, add_usage, new_states
from .mmap import NAN, SegmentStore, merged_states
from .render import SampleKey, describe, metric_families, render, sample_values

__all__ = ["DEFAULT_SERIES_BUDGET", "SeriesStore"]

DEFAULT_SERIES_BUDGET = 1000
"""Combinations of capped labels per family (request label sets for the request
families). A sidecar flooded with distinct label sets then serves 14 MB of /metrics in
about 0.1 s at 132 MB RSS (tests/benchmarks/bench_flood.py; 2,000 gave 28 MB)."""
_SAMPLE_KEYS_MAX = 100_000
"""Series whose sample keys :meth:`SeriesStore.values` keeps (more only with files of
many workers; past it the keys are rebuilt)."""
#: The exporter's own families have fixed label sets; nothing to budget.
_UNBUDGETED = frozenset(f.key for f in EXPORTER_FAMILIES)


class SeriesStore:
    """Every series one recorder keeps, and their exposition.

    In memory by default; with ``directory`` (multiprocess mode) value lists are views
    of this process's mmap files and a scrape merges every worker's files. New series
    are created under ``lock``, the recorder's update lock, so a scrape never sees half
    of one.
    """

    def __init__(self, namespace: str, *, created: bool = False, zero_hold: float = 0.0,
                 directory: str | Path | None = None, budget: int = DEFAULT_SERIES_BUDGET,
                 foldable: frozenset[str] = frozenset(),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.namespace = namespace
        self.clock = clock
        """Monotonic seconds for the zero-first hold (system-wide, so workers agree)."""
        self.budget = budget
        self.foldable = foldable
        self.over: list[str] = []
        """Families whose budget folded a series since the caller last cleared this."""
        self._combinations: dict[str, set[tuple[str, ...]]] = {}
        self.files = SegmentStore(directory) if directory else None
        self.lock = UpdateLock()
        self.families = new_states(namespace)
        self.created = created
        if created:
            for st in self.families.values():
                st.created = {}
        self.exemplars = Exemplars()
        self.zero_hold = zero_hold
        self._started = time.time()
        self._sample_keys: dict[tuple[str, tuple[str, ...]], tuple[SampleKey, ...]] = {}

    def _fold(self, key: str, labels: tuple[str, ...], report: str | None = None
              ) -> tuple[str, ...]:
        """``labels``, or the family's overflow label set (noted in ``over`` under
        ``report`` or ``key``: every capped label "other", the bounded ones kept) once the
        family holds ``budget`` distinct combinations of its capped labels. Bounded
        labels (status, token_type ...) do not count: five token types are one."""
        if key in _UNBUDGETED:
            return labels
        names = self.families[key].family.labels
        free = tuple(value for name, value in zip(names, labels) if name in self.foldable)
        seen = self._combinations.setdefault(key, set())
        if free in seen:
            return labels
        if len(seen) < self.budget or all(v == OTHER for v in free):
            seen.add(free)
            return labels
        self.over.append(report or key)
        return tuple(OTHER if name in self.foldable else value
                     for name, value in zip(names, labels))

    def series(self, key: str, labels: tuple[str, ...]) -> Any:
        """The value list behind a series, created (zero) on first use; past the
        family's budget, its overflow series."""
        st = self.families[key]
        s = st.series.get(labels)
        if s is None:
            labels = self._fold(key, labels)
            s = st.series.get(labels)
        if s is None:
            with self.lock:
                s = st.series.get(labels)
                if s is None:
                    values: Any = layout.new_values(st.family) if self.files is None else \
                        self.files.new((key, *labels), layout.size(st.family))
                    s = self._add(key, Series(labels, values, 0))
        return s.values

    def gauge(self, key: str, labels: tuple[str, ...]) -> Any:
        """A gauge's value list, hidden from the exposition until first set (its value
        is None in memory, NaN in files)."""
        s = self.families[key].series.get(labels)
        if s is None:
            labels = self._fold(key, labels)
            s = self.families[key].series.get(labels)
        if s is not None:
            return s.values
        values: Any = [None, 0.0] if self.files is None else \
            self.files.new((key, *labels), layout.size(self.families[key].family), NAN)
        with self.lock:
            s = self.families[key].series.get(labels)
            return (s or self._add(key, Series(labels, values, 0))).values

    def usage(self, r: tuple[str, ...]) -> Any:
        """The usage list (tokens, cost and savings series) of request label set ``r``."""
        first = self.families["tokens"].series.get(r + ("input",))
        if first is None:
            r = self._fold(layout.USAGE_FOLD, r, report="tokens")  # the family users know
            first = self.families["tokens"].series.get(r + ("input",))
        if first is not None:
            return first.values
        values: Any = layout.new_usage() if self.files is None else \
            self.files.new((layout.USAGE_KEY, *r), layout.USAGE_SIZE)
        with self.lock:
            add_usage(self.families, r, values)
            if self.created:
                now = time.time()
                for key in layout.USAGE_OFFSETS:
                    for token_type in TOKEN_TYPES:
                        self.families[key].created[r + (token_type,)] = now  # type: ignore[index]
                for key in layout.USAGE_SCALARS:
                    self.families[key].created[r] = now  # type: ignore[index]
        return values

    @property
    def started(self) -> float:
        """When this store began counting (multiprocess: when the directory was prepared,
        the same instant in every worker)."""
        return self._started if self.files is None else self.files.started

    def seed(self, version: str) -> None:
        """The exporter's own series, shown from the start: build info, events, auth."""
        self.series("build_info", (version,))[layout.VALUE] = 1
        for result in EVENT_RESULTS:
            self.series("events", (result,))
        for endpoint in AUTH_ENDPOINTS:
            self.series("auth_failures", (endpoint,))

    def _add(self, key: str, s: Series) -> Series:
        st = self.families[key]
        st.series[s.labels] = s
        if st.created is not None:
            st.created[s.labels] = time.time()
        return s

    def _hold(self) -> ZeroHold | None:
        return ZeroHold(self.zero_hold, self.clock()) if self.zero_hold else None

    def render(self, openmetrics: bool = False, eof: bool = True) -> bytes:
        """The exposition (see :meth:`exporter.LLMMetrics.exposition`)."""
        if self.files is not None:
            return render(merged_states(self.files, self.namespace, self._hold()),
                          UpdateLock(), openmetrics=openmetrics, eof=eof)
        return render(self.families.values(), self.lock, openmetrics=openmetrics,
                      created=self.created, eof=eof,
                      exemplars=self.exemplars.by_list if openmetrics else None,
                      hold=self._hold())

    def collect(self, scrape: bool = True) -> Iterator:
        """The same samples as prometheus_client Metric objects, exemplars included.
        ``scrape=False`` reads the values as recorded: no zero-first hold, and the read
        does not count as a series' first scrape."""
        hold = self._hold() if scrape else None
        if self.files is not None:
            return metric_families(merged_states(self.files, self.namespace, hold),
                                   UpdateLock())
        return metric_families(self.families.values(), self.lock, self.created, hold,
                               self.exemplars.by_list)

    def values(self) -> dict[SampleKey, float]:
        """Every sample as recorded (like ``collect(scrape=False)``, no exemplars or
        ``_created``) as {(name, sorted label pairs): value}: the read side's snapshot."""
        if len(self._sample_keys) > _SAMPLE_KEYS_MAX:  # dead workers' series, in files
            self._sample_keys.clear()
        if self.files is not None:
            return sample_values(merged_states(self.files, self.namespace), UpdateLock(),
                                 self._sample_keys)
        return sample_values(self.families.values(), self.lock, self._sample_keys)

    def describe(self) -> list:
        return describe(self.families.values())
