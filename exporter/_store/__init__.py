"""Where the recorder's series live and how they leave: :class:`SeriesStore`.

``layout`` names the slots of a value list, ``memory`` holds series in lists, ``mmap``
in files shared by the workers of one app, ``render`` turns either into text,
OpenMetrics or prometheus_client metrics.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..catalog import TOKEN_TYPES
from . import layout
from .memory import Exemplars, Series, UpdateLock, ZeroHold, add_usage, new_states
from .mmap import NAN, SegmentStore, merged_states
from .render import describe, metric_families, render

__all__ = ["SeriesStore"]


class SeriesStore:
    """Every series one recorder keeps, and their exposition.

    In memory by default; with ``directory`` (multiprocess mode) value lists are views
    of this process's mmap files and a scrape merges every worker's files. New series
    are created under ``lock``, the recorder's update lock, so a scrape never sees half
    of one.
    """

    def __init__(self, namespace: str, *, created: bool = False, zero_hold: float = 0.0,
                 directory: str | Path | None = None) -> None:
        self.namespace = namespace
        self.files = SegmentStore(directory) if directory else None
        self.lock = UpdateLock()
        self.families = new_states(namespace)
        self.created = created
        if created:
            for st in self.families.values():
                st.created = {}
        self.exemplars = Exemplars()
        self.zero_hold = zero_hold

    def series(self, key: str, labels: tuple[str, ...]) -> Any:
        """The value list behind a series, created (zero) on first use."""
        st = self.families[key]
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
                self.families[layout.USAGE_SAVINGS].created[r] = now  # type: ignore[index]
        return values

    def _add(self, key: str, s: Series) -> Series:
        st = self.families[key]
        st.series[s.labels] = s
        if st.created is not None:
            st.created[s.labels] = time.time()
        return s

    def _hold(self) -> ZeroHold | None:
        return ZeroHold(self.zero_hold) if self.zero_hold else None

    def render(self, openmetrics: bool = False, eof: bool = True) -> bytes:
        """The exposition (see :meth:`exporter.LLMMetrics.exposition`)."""
        if self.files is not None:
            return render(merged_states(self.files, self.namespace, self._hold()),
                          UpdateLock(), openmetrics=openmetrics, eof=eof)
        return render(self.families.values(), self.lock, openmetrics=openmetrics,
                      created=self.created, eof=eof,
                      exemplars=self.exemplars.by_list if openmetrics else None,
                      hold=self._hold())

    def collect(self) -> Iterator:
        """The same samples as prometheus_client Metric objects, exemplars included."""
        if self.files is not None:
            return metric_families(merged_states(self.files, self.namespace, self._hold()),
                                   UpdateLock())
        return metric_families(self.families.values(), self.lock, self.created, self._hold(),
                               self.exemplars.by_list)

    def describe(self) -> list:
        return describe(self.families.values())
