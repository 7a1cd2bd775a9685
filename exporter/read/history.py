"""A bounded in-memory history of the sidecar's own counters, so that trends, windows
and rates have an answer where no Prometheus is configured.

A point keeps only the series that changed since the one before (a quiet sidecar costs
almost nothing), their keys shared between points; when the ring is full, the oldest
point is folded into the base; past its memory budget, older points are merged.
"""

from __future__ import annotations

import bisect
import sys
import threading
from collections import deque
from collections.abc import Iterable, Mapping

from .._store.render import SampleKey as SeriesKey

State = dict[SeriesKey, float]


#: What one kept value costs beyond its dict's own size: the float (a key is interned,
#: so a point holds a reference to it, not a copy).
_PER_VALUE = 24
#: What one distinct series costs: its interned key and its slot in the base.
_PER_SERIES = 250
#: States kept for readers between two points (the windows' starts and ends).
_KEPT_STATES = 16


class History:
    """Points of (time, changed series) every ``interval`` seconds, at most ``points``
    and about ``max_bytes``: past the bytes, the older half of the points is merged
    pairwise (coarser resolution, the same totals), and ``merged`` counts the points
    merged away."""

    def __init__(self, interval: float = 60.0, points: int = 1440,
                 max_bytes: int = 64 << 20) -> None:
        if interval <= 0 or points < 2:
            raise ValueError("history needs an interval > 0 and at least 2 points")
        self.interval = interval
        self._points: deque[tuple[float, State, int]] = deque()
        self._max = points
        self.max_bytes = max_bytes
        self._base: State = {}
        self._base_time: float | None = None
        self._last: State = {}
        self._keys: dict[SeriesKey, SeriesKey] = {}
        self._point_bytes = 0
        self.merged = 0
        self._times: list[float] = []
        self._states: dict[int, State] = {}
        """States at point indexes, built on demand until the next point."""
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        """About what the history holds in memory."""
        return self._point_bytes + len(self._keys) * _PER_SERIES

    @property
    def start(self) -> float | None:
        """The time of the oldest value the history can answer for."""
        with self._lock:
            if self._base_time is not None:
                return self._base_time
            return self._points[0][0] if self._points else None

    def record(self, now: float, state: Mapping[SeriesKey, float]) -> None:
        """Keep the series of ``state`` that changed since the last point."""
        keys = self._keys
        changed = {keys.setdefault(k, k): v for k, v in state.items()
                   if self._last.get(k) != v}
        size = sys.getsizeof(changed) + _PER_VALUE * len(changed)
        with self._lock:
            self._last.update(changed)
            self._points.append((now, changed, size))
            self._point_bytes += size
            while len(self._points) > self._max:
                self._fold_oldest()
            if self.bytes > self.max_bytes:
                self._shrink()
            self._times = [p[0] for p in self._points]
            self._states = {}

    def _fold_oldest(self) -> None:
        t, old, size = self._points.popleft()
        self._base.update(old)
        self._base_time = t
        self._point_bytes -= size

    def _shrink(self) -> None:
        """Merge the older half pairwise until within ``max_bytes``; with two points
        left and still over, fold the oldest into the base (coverage, not totals)."""
        while self.bytes > self.max_bytes and len(self._points) > 1:
            points = list(self._points)
            # the oldest point stays: it is where the history's coverage begins (a
            # merged pair takes its later time, so that no state shows a change early)
            end = 1 + (len(points) - 1) // 2
            if end - 1 < 2:
                self._fold_oldest()
                self.merged += 1
                continue
            merged: list[tuple[float, State, int]] = [points[0]]
            for i in range(1, end - (end - 1) % 2, 2):
                (_, first, _), (t, second, _) = points[i], points[i + 1]
                union = {**first, **second}
                merged.append((t, union, sys.getsizeof(union) + _PER_VALUE * len(union)))
                self.merged += 1
            rest = points[end - (end - 1) % 2:]
            self._points = deque(merged + rest)
            self._point_bytes = sum(p[2] for p in self._points)

    def states_at(self, times: Iterable[float]) -> list[State | None]:
        """The state at each time (ascending), None before the history began."""
        return [None if s is None else s[1] for s in self.points_at(times)]

    def points_at(self, times: Iterable[float]) -> list[tuple[float, State] | None]:
        """(time of the point, state) at each time (ascending), None before the history
        began. A state is shared by every caller until the next point (read-only): a
        window's start moves every second, the point it falls on once a minute."""
        out: list[tuple[float, State] | None] = []
        with self._lock:
            for t in times:
                i = bisect.bisect_right(self._times, t) - 1
                if i < 0:
                    out.append(None if self._base_time is None or t < self._base_time
                               else (self._base_time, dict(self._base)))
                    continue
                state = self._states.get(i)
                if state is None:
                    state = self._state_of(i)
                out.append((self._points[i][0], state))
        return out

    def _state_of(self, i: int) -> State:
        """The state at point ``i`` (under ``_lock``), from the nearest kept state."""
        below = max((k for k in self._states if k < i), default=None)
        state = dict(self._base) if below is None else dict(self._states[below])
        for k in range(0 if below is None else below + 1, i + 1):
            state.update(self._points[k][1])
        if len(self._states) >= _KEPT_STATES:
            self._states.pop(next(iter(self._states)))
        self._states[i] = state
        return state
