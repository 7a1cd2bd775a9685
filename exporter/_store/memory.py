"""Series state in memory: plain lists of numbers, no per-metric objects.

Each family keeps a dict from its label values to a :class:`Series`, which points at a
slot of a value list laid out as :mod:`exporter._store.layout` says (a usage list backs
the series of three families). Also here: the recorder's lock, the zero-first rule and
the exemplar store, which all work on these objects.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from .. import catalog
from ..catalog import TOKEN_TYPES, Family
from . import layout


def wait_for(lock: threading.Lock) -> None:
    """Take ``lock`` after a failed non-blocking attempt, without convoying.

    A thread that blocks in ``lock.acquire()`` is handed the lock on release while it
    still waits for the GIL; the releasing thread then blocks on its next acquire, and
    with several threads every update becomes a context switch (measured: 3 us -> 12 us
    per request with 4 threads). Retrying non-blocking, yielding the GIL in between,
    means only a thread that is running ever owns the lock.
    """
    for _ in range(1000):
        time.sleep(0)
        if lock.acquire(False):
            return
    lock.acquire()


class UpdateLock:
    """``with``-able wrapper of the recorder's mutex that takes it via :func:`wait_for`."""

    __slots__ = ("mutex",)

    def __init__(self) -> None:
        self.mutex = threading.Lock()

    def __enter__(self) -> UpdateLock:
        if not self.mutex.acquire(False):
            wait_for(self.mutex)
        return self

    def __exit__(self, *exc: object) -> None:
        self.mutex.release()


def escape_label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def go_float(value: float) -> str:
    """Prometheus' canonical float text for ``le`` values (as client_python renders)."""
    if value == float("inf"):
        return "+Inf"
    s = repr(float(value))
    dot = s.find(".")
    if value > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1:]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return s


class Series:
    """One label set of one or more families. A counter or gauge reads
    ``values[index + family offset]``; a histogram's ``values`` is
    [bucket counts..., +Inf count, sum]. llm_tokens_total and llm_cost_usd_total share
    their Series objects (same labels, cost five slots further), so each label string
    is stored once for both."""

    __slots__ = ("index", "labels", "seen", "text", "values")

    def __init__(self, labels: tuple[str, ...], values: list, index: int) -> None:
        self.labels = labels
        self.values = values
        self.index = index
        self.text: str | tuple[str, ...] | None = None
        """Cached rendering: ``{labels} `` for counters and gauges, the full line
        prefixes of every bucket, _count and _sum for histograms."""
        self.seen = 0.0
        """When a scrape first saw this series (monotonic clock; 0: not yet): see
        :class:`ZeroHold`."""

    def pairs(self, label_names: tuple[str, ...]) -> str:
        return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in zip(label_names, self.labels))

    def label_text(self, label_names: tuple[str, ...]) -> str:
        """``{labels} `` (or a lone space), rendered once per series."""
        text = self.text
        if text is None:
            pairs = self.pairs(label_names)
            text = self.text = f"{{{pairs}}} " if pairs else " "
        return text  # type: ignore[return-value]

    def histogram_prefixes(self, name: str, label_names: tuple[str, ...],
                           le: tuple[str, ...]) -> tuple[str, ...]:
        """Line prefixes for each ``le`` bucket, then ``_count`` and ``_sum``."""
        prefixes = self.text
        if prefixes is None:
            pairs = self.pairs(label_names)
            sep = "," if pairs else ""
            braces = f"{{{pairs}}}" if pairs else ""
            prefixes = self.text = tuple(
                f'{name}_bucket{{{pairs}{sep}le="{b}"}} ' for b in le) + (
                f"{name}_count{braces} ", f"{name}_sum{braces} ")
        return prefixes  # type: ignore[return-value]

    def created_prefix(self, name: str, label_names: tuple[str, ...]) -> str:
        """``<name>_created{labels} ``, rendered on demand (created series are opt-in)."""
        base = name.removesuffix("_total")
        pairs = self.pairs(label_names)
        return f"{base}_created{{{pairs}}} " if pairs else f"{base}_created "


class ZeroHold:
    """Show every new counter and histogram series at 0 before its value.

    Prometheus' ``increase()`` and ``rate()`` only count what a series gains *between*
    samples: a series whose first sample already holds its first increment (a new label
    set, or every label set after a restart) loses that increment. So a new series is
    exposed at 0 from its first scrape until ``seconds`` have passed since that scrape;
    every scraper whose interval is at most ``seconds`` (both servers of an HA pair)
    therefore stores a 0 before the value. The recorder makes none when its
    ``zero_hold_seconds`` is 0 (for a Prometheus that ingests OpenMetrics created
    timestamps instead).
    """

    __slots__ = ("now", "seconds")

    def __init__(self, seconds: float, now: float) -> None:
        self.seconds = seconds
        self.now = now
        """One monotonic clock reading per scrape: series that share a value list
        agree."""

    def hides(self, series: Series) -> bool:
        """True while ``series`` must still read 0 (marks its first scrape)."""
        seen = series.seen
        if not seen:
            series.seen = self.now
            return True
        return self.now - seen < self.seconds


class FamilyState:
    """All series of one family, in creation order."""

    __slots__ = ("created", "family", "le", "name", "offset", "series")

    def __init__(self, family: Family, namespace: str, offset: int = 0) -> None:
        self.family = family
        self.name = family.full_name(namespace)
        self.series: dict[tuple[str, ...], Series] = {}
        self.le = tuple(go_float(b) for b in family.buckets) + ("+Inf",) \
            if family.kind == "histogram" else ()
        self.offset = offset
        """Added to each series' index: lets two families read one Series object."""
        self.created: dict[tuple[str, ...], float] | None = None
        """Creation time per series, kept only when created series are asked for."""



_COST_SLOTS = tuple(layout.COST_SLOT.values())


class Exemplars:
    """The latest exemplar (trace id, value, time) per series slot, for OpenMetrics.

    Keyed by the identity of a series' value list (lists live as long as their series)
    and the slot: a bucket index for histograms, a cost slot of a usage list.
    Only requests that carry a trace id come here, so this is off the common path.
    """

    def __init__(self) -> None:
        self.by_list: dict[int, dict[int, tuple[str, float, float]]] = {}
        self._lock = threading.Lock()

    def note(self, trace_id: str, row: Any, costs: tuple[float, ...], i_dur: int,
             duration: float | None, i_ttft: int, ttft: float | None) -> None:
        now = time.time()
        trace_id = str(trace_id)[:64]
        with self._lock:
            if i_dur >= 0:
                self._set(row.duration, i_dur, trace_id, duration, now)
            if i_ttft >= 0:
                self._set(row.ttft, i_ttft, trace_id, ttft, now)
            for slot, cost in zip(_COST_SLOTS, costs):
                if cost:
                    self._set(row.usage, slot, trace_id, cost, now)

    def _set(self, values: list, slot: int, trace_id: str, value: float | None,
             now: float) -> None:
        if len(self.by_list) < 100_000 or id(values) in self.by_list:
            self.by_list.setdefault(id(values), {})[slot] = (trace_id, float(value or 0), now)


def new_states(namespace: str) -> dict[str, FamilyState]:
    """Empty state of every family the recorder stores (usage families share series)."""
    return {f.key: FamilyState(f, namespace, layout.USAGE_OFFSETS.get(f.key, 0))
            for f in catalog.RECORDED}


def add_usage(states: dict[str, FamilyState], labels: tuple[str, ...], values: Any
              ) -> None:
    """The series of every family a usage list backs, for request label set ``labels``."""
    for i, token_type in enumerate(TOKEN_TYPES):
        series = Series(labels + (token_type,), values, i)
        for key in layout.USAGE_OFFSETS:
            states[key].series[series.labels] = series
    for key, slot in layout.USAGE_SCALARS.items():
        states[key].series[labels] = Series(labels, values, slot)
