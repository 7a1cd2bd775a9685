"""A bounded in-memory history of the sidecar's own counters, so that trends, windows
and rates have an answer where no Prometheus is configured.

A point keeps only the series that changed since the one before (a quiet sidecar costs
almost nothing); when the ring is full, the oldest point is folded into the base.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]
"""(sample name, sorted label pairs)."""
State = dict[SeriesKey, float]


class History:
    """Points of (time, changed series) every ``interval`` seconds, at most ``points``."""

    def __init__(self, interval: float = 60.0, points: int = 1440) -> None:
        if interval <= 0 or points < 2:
            raise ValueError("history needs an interval > 0 and at least 2 points")
        self.interval = interval
        self._points: deque[tuple[float, State]] = deque()
        self._max = points
        self._base: State = {}
        self._base_time: float | None = None
        self._last: State = {}
        self._lock = threading.Lock()

    @property
    def start(self) -> float | None:
        """The time of the oldest value the history can answer for."""
        with self._lock:
            if self._base_time is not None:
                return self._base_time
            return self._points[0][0] if self._points else None

    def record(self, now: float, state: Mapping[SeriesKey, float]) -> None:
        """Keep the series of ``state`` that changed since the last point."""
        changed = {k: v for k, v in state.items() if self._last.get(k) != v}
        with self._lock:
            self._last.update(changed)
            self._points.append((now, changed))
            while len(self._points) > self._max:
                t, old = self._points.popleft()
                self._base.update(old)
                self._base_time = t

    def states_at(self, times: Iterable[float]) -> list[State | None]:
        """The state at each time (ascending), None before the history began."""
        return [None if s is None else s[1] for s in self.points_at(times)]

    def points_at(self, times: Iterable[float]) -> list[tuple[float, State] | None]:
        """(time of the point, state) at each time (ascending), None before the history
        began."""
        wanted = list(times)
        out: list[tuple[float, State] | None] = []
        with self._lock:
            state = dict(self._base)
            points = list(self._points)
            base_time = self._base_time
        i = 0
        at = base_time
        for t in wanted:
            while i < len(points) and points[i][0] <= t:
                state.update(points[i][1])
                at = points[i][0]
                if base_time is None:
                    base_time = at
                i += 1
            out.append(None if at is None or t < at else (at, dict(state)))
        return out
