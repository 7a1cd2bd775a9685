"""Where windowed answers come from: a Prometheus server (exact at query time), or the
sidecar's own counters and their in-memory history (since the sidecar started).

Both answer the same four questions about a sample name, summed by some labels:
``increase`` over a window, ``steps`` (the increase per step of a window), ``current``
(a gauge now) and ``rate`` (per second over a recent span).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .._exceptions import SourceError
from .endpoint import Endpoint
from .history import History, SeriesKey, State

Vector = dict[tuple[str, ...], float]
Match = Mapping[str, str]


@dataclass(frozen=True)
class Window:
    start: float
    end: float

    @property
    def seconds(self) -> int:
        return max(1, round(self.end - self.start))

    @classmethod
    def last(cls, seconds: float, now: float | None = None) -> Window:
        end = time.time() if now is None else now
        return cls(end - seconds, end)


class Source(Protocol):
    kind: str
    """"prometheus" or "sidecar"."""

    def since(self, window: Window) -> float:
        """The start the answers really cover (later than asked when data is younger)."""

    def increase(self, name: str, by: tuple[str, ...], window: Window, match: Match) -> Vector:
        ...

    def steps(self, name: str, by: tuple[str, ...], window: Window, step: int,
              match: Match) -> list[tuple[float, Vector]]:
        ...

    def current(self, name: str, by: tuple[str, ...], match: Match, op: str = "sum"
                ) -> Vector:
        """A gauge now, ``op`` (sum, max or min) over the series (max: a value every
        replica reports alike, such as a tier's model count)."""

    def rate(self, name: str, by: tuple[str, ...], seconds: int, match: Match) -> Vector: ...


def bucket_starts(window: Window, step: int) -> list[float]:
    """Step-aligned bucket starts (UTC) covering the window; the last may be partial."""
    first = math.floor(window.start / step) * step
    # ceil: a window ending 0.3 s into a bucket has that bucket (its counts are in it)
    return [float(t) for t in range(int(first), math.ceil(window.end), step)] or [float(first)]


def _selector(name: str, match: Match) -> str:
    if not match:
        return name
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(match.items()))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exact_increase(selector: str, seconds: int) -> str:
    """PromQL for a counter's exact increase over the last ``seconds``: now minus the
    value at the window's start (0 for a series born inside it, which starts at 0), and
    ``increase()`` (extrapolated) only for a series that reset or vanished meanwhile."""
    w = f"{seconds}s"
    return (f"(({selector} - ({selector} offset {w} or {selector} * 0)) "
            f"unless (resets({selector}[{w}]) > 0)) or increase({selector}[{w}])")


class PrometheusSource:
    """Instant and range queries against Prometheus's HTTP API (``/api/v1/query``)."""

    kind = "prometheus"

    def __init__(self, endpoint: Endpoint | str, *, timeout: float = 10.0,
                 extra_match: Match | None = None) -> None:
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else \
            Endpoint.parse(endpoint, where="prometheus_url")
        self.url = self.endpoint.url.rstrip("/")
        self.timeout = timeout
        self.extra = dict(extra_match or {})

    def since(self, window: Window) -> float:
        return window.start

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        request = urllib.request.Request(f"{self.url}{path}?{urllib.parse.urlencode(params)}",
                                         headers=self.endpoint.headers())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise SourceError(f"Prometheus at {self.url} refused the credentials "
                                  f"(HTTP {exc.code}): set server.prometheus_user and "
                                  "LLM_EXPORTER_PROMETHEUS_PASSWORD, or "
                                  "LLM_EXPORTER_PROMETHEUS_BEARER_TOKEN") from None
            raise SourceError(self.endpoint.redact(
                f"Prometheus at {self.url} answered HTTP {exc.code}")) from None
        except (OSError, ValueError) as exc:
            raise SourceError(self.endpoint.redact(
                f"Prometheus at {self.url} did not answer: {exc}")) from None
        if reply.get("status") != "success":
            raise SourceError(self.endpoint.redact(
                f"Prometheus refused a query: {reply.get('error')}"))
        return reply["data"]["result"]  # type: ignore[no-any-return]

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})

    def _vector(self, expr: str, by: tuple[str, ...], at: float) -> Vector:
        out: Vector = {}
        for item in self.query(expr, at):
            key = tuple(item["metric"].get(b, "") for b in by)
            out[key] = out.get(key, 0.0) + float(item["value"][1])
        return out

    @staticmethod
    def _sum(expr: str, by: tuple[str, ...], op: str = "sum") -> str:
        return f"{op} by ({', '.join(by)}) ({expr})" if by else f"{op}({expr})"

    def increase(self, name: str, by: tuple[str, ...], window: Window, match: Match) -> Vector:
        selector = _selector(name, {**self.extra, **match})
        return self._vector(self._sum(exact_increase(selector, window.seconds), by), by,
                            window.end)

    def steps(self, name: str, by: tuple[str, ...], window: Window, step: int,
              match: Match) -> list[tuple[float, Vector]]:
        starts = bucket_starts(window, step)
        out: list[tuple[float, Vector]] = []
        selector = _selector(name, {**self.extra, **match})
        full = [s for s in starts if s + step <= window.end]
        if full:
            expr = self._sum(exact_increase(selector, step), by)
            results = self._get("/api/v1/query_range", {
                "query": expr, "start": f"{full[0] + step:.3f}", "end": f"{full[-1] + step:.3f}",
                "step": str(step)})
            by_time: dict[float, Vector] = {s: {} for s in full}
            for item in results:
                key = tuple(item["metric"].get(b, "") for b in by)
                for t, value in item["values"]:
                    start = float(t) - step
                    if start in by_time:
                        by_time[start][key] = by_time[start].get(key, 0.0) + float(value)
            out = [(s, by_time[s]) for s in full]
        partial = [s for s in starts if s + step > window.end]
        for s in partial:
            seconds = max(1, round(window.end - s))
            out.append((s, self._vector(self._sum(exact_increase(selector, seconds), by), by,
                                        window.end)))
        return out

    def current(self, name: str, by: tuple[str, ...], match: Match, op: str = "sum"
                ) -> Vector:
        return self._vector(self._sum(_selector(name, {**self.extra, **match}), by, op), by,
                            time.time())

    def rate(self, name: str, by: tuple[str, ...], seconds: int, match: Match) -> Vector:
        selector = _selector(name, {**self.extra, **match})
        return self._vector(self._sum(f"rate({selector}[{seconds}s])", by), by, time.time())


Snapshot = Callable[[], State]


def state_of(families: Iterable[Any]) -> State:
    """The samples of prometheus_client metric families as {(name, labels): value}."""
    out: State = {}
    for fam in families:
        for s in fam.samples:
            if s.name.endswith("_created"):
                continue
            out[(s.name, tuple(sorted(s.labels.items())))] = float(s.value)
    return out


class LocalSource:
    """The sidecar's counters now (``snapshot``), minus what ``history`` held at a
    window's start; before the history began, since the sidecar started."""

    kind = "sidecar"

    def __init__(self, snapshot: Snapshot, history: History | None = None,
                 started: float | None = None, fine: History | None = None) -> None:
        self.snapshot = snapshot
        self.history = history
        self.fine = fine
        """A short history at a finer interval, for steps shorter than ``history``'s."""
        self.started = time.time() if started is None else started
        self._indexed: dict[int, tuple[State, dict[str, list[tuple[SeriesKey,
                                                                dict[str, str]]]]]] = {}
        self._index_lock = threading.Lock()

    def since(self, window: Window) -> float:
        begun = self.history.start if self.history is not None else None
        if begun is not None and begun <= window.start:
            return window.start
        return max(window.start, self.started)

    def _states(self, times: list[float], step: float = math.inf) -> list[State | None]:
        history = self.history
        if self.fine is not None and history is not None and step < history.interval:
            history = self.fine
        if history is None:
            return [None] * len(times)
        return history.states_at(times)

    def _by_name(self, state: State) -> dict[str, list[tuple[SeriesKey, dict[str, str]]]]:
        """The state's keys by sample name, with their labels as a dict: built once per
        state (the shared snapshot is one state for every question of every reader)."""
        kept = self._indexed.get(id(state))
        if kept is not None and kept[0] is state:
            return kept[1]
        index: dict[str, list[tuple[SeriesKey, dict[str, str]]]] = {}
        for key in state:
            index.setdefault(key[0], []).append((key, dict(key[1])))
        with self._index_lock:  # two read threads may index at once
            if len(self._indexed) >= 16:
                self._indexed.pop(next(iter(self._indexed)))
            self._indexed[id(state)] = (state, index)  # the state kept: its id stays its own
        return index

    def _group(self, now: State, base: State | None, name: str, by: tuple[str, ...],
               match: Match, op: str = "sum") -> Vector:
        out: Vector = {}
        for key, labels in self._by_name(now).get(name, ()):
            value = now[key]
            if any(labels.get(k) != v for k, v in match.items()):
                continue
            g = tuple(labels.get(b, "") for b in by)
            value -= base.get(key, 0.0) if base else 0.0
            if g not in out:
                out[g] = value
            else:
                out[g] = max(out[g], value) if op == "max" else \
                    min(out[g], value) if op == "min" else out[g] + value
        return out

    def _end(self, end: float) -> State:
        """The counters at ``end``: now, or the history's point for a past end."""
        if self.history is not None and end < time.time() - self.history.interval:
            return self.history.states_at([end])[0] or {}
        return self.snapshot()

    def increase(self, name: str, by: tuple[str, ...], window: Window, match: Match) -> Vector:
        base, = self._states([window.start])
        return self._group(self._end(window.end), base, name, by, match)

    def steps(self, name: str, by: tuple[str, ...], window: Window, step: int,
              match: Match) -> list[tuple[float, Vector]]:
        starts = bucket_starts(window, step)
        bounds = [*starts, starts[-1] + step]
        states = self._states(bounds, step)
        states[-1] = self._end(window.end)
        out: list[tuple[float, Vector]] = []
        for i, s in enumerate(starts):
            end = states[i + 1]
            if end is None:  # before the history began: nothing to tell apart
                out.append((s, {}))
                continue
            out.append((s, self._group(end, states[i], name, by, match)))
        return out

    def current(self, name: str, by: tuple[str, ...], match: Match, op: str = "sum"
                ) -> Vector:
        return self._group(self.snapshot(), None, name, by, match, op)

    def rate(self, name: str, by: tuple[str, ...], seconds: int, match: Match) -> Vector:
        now = time.time()
        if self.history is None:
            return {}
        point = self.history.points_at([now - seconds])[0]
        if point is None:
            return {}
        span = max(now - point[0], 1e-9)
        return {k: v / span for k, v in
                self._group(self.snapshot(), point[1], name, by, match).items()}
