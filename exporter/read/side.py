"""The sidecar's read side: the home-grown backends' GET routes, recent requests, the
live page's data and the routing backend's WebSocket, all from one
:class:`~exporter.read.queries.Questions` (Prometheus when configured, else the
sidecar's own counters and a history of them sampled in the background)."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from ..catalog import family
from ..collectors import CollectorSet, Samples
from ..ingest import provider_state
from ..record.recent import RecentRequests
from ..record.recorder import LLMMetrics
from ..settings.load import ServerSettings
from . import shapes, views
from .feed import Feed
from .history import History, State
from .params import Number
from .queries import Questions
from .sources import LocalSource, PrometheusSource, Source

log = logging.getLogger(__name__)

Params = dict[str, str]
#: Families whose history the local source keeps (what windows and trends are asked of).
_HISTORY_KEYS = (("requests", ""), ("tokens", ""), ("cost", ""), ("reference_cost", ""),
                 ("request_duration", "_count"), ("request_duration", "_sum"),
                 ("request_duration", "_bucket"), ("ttft", "_sum"), ("cache_lookups", ""),
                 ("routing_decisions", ""), ("routing_score", "_sum"),
                 ("routing_score", "_count"), ("routing_duration", "_sum"),
                 ("routing_duration", "_count"), ("disk_io", ""), ("network_io", ""),
                 ("team_duration", ""), ("timed_requests", ""))


#: The short history at 10 s that the tier routing backend's 10-second series come from
#: (a few minutes of the families they read).
FINE_SECONDS, FINE_POINTS, FINE_MAX_BYTES = 10, 24, 4 << 20
_FINE_KEYS = (("requests", ""), ("tokens", ""), ("request_duration", "_count"),
              ("request_duration", "_sum"), ("ttft", "_sum"))


#: A read shows the counters as of at most this long ago: half of it the age of the
#: snapshot every reader shares, half the age of an answer given to identical reads.
FRESH_SECONDS = 2.0
SNAPSHOT_SECONDS = ANSWER_SECONDS = FRESH_SECONDS / 2
#: With nobody scraping (no Prometheus), the collectors run this often while someone
#: reads (the page's resources) or the history samples; never on behalf of one read.
RESOURCE_SECONDS = 5.0
#: A read within this long keeps the collectors refreshed.
_READERS_SEEN_SECONDS = 60.0


class ReadSide:
    """Answers to GET routes by path, computed on a pool of their own from a snapshot
    shared by every reader; ``background`` samples the history (no Prometheus) and
    refreshes the resource collectors while nobody scrapes."""

    def __init__(self, llm: LLMMetrics, settings: ServerSettings,
                 collectors: CollectorSet) -> None:
        self.llm = llm
        self.collectors = collectors
        self.recent = RecentRequests(settings.recent_requests, log_lines=settings.request_log)
        self.history: History | None = None
        self.fine: History | None = None
        #: Reads queue here, never in front of a scrape or of ingest.
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="llm-read")
        self._snapshot: State | None = None
        self._snapshot_at = -math.inf
        self._snapshot_lock = threading.Lock()
        self.read_at = -math.inf
        self._load, self._load_at = 0.0, time.monotonic()
        self._load_lock = threading.Lock()
        source: Source
        prometheus = settings.prometheus()
        if prometheus is not None:
            source = PrometheusSource(prometheus)
        else:
            self.history = History(settings.history_interval_seconds, settings.history_points,
                                   settings.history_max_bytes)
            self.fine = History(FINE_SECONDS, FINE_POINTS, FINE_MAX_BYTES)
            source = LocalSource(self.snapshot, self.history, fine=self.fine)
        self.questions = Questions(source, llm.namespace)
        self._kept = frozenset(self.questions.name(k, s) for k, s in _HISTORY_KEYS)
        self._fine_kept = frozenset(self.questions.name(k, s) for k, s in _FINE_KEYS)
        q = self.questions
        self.routes: dict[str, Callable[[Params], Any]] = {
            path: functools.partial(view, q) for path, (view, _) in shapes.ROUTES.items()}
        for path in ("/api/llm/costs", "/api/llm/providers"):  # with this recorder's state
            self.routes[path] = functools.partial(shapes.provider_views.answer, path, q, llm)
        self.routes["/api/v1/requests/recent"] = self._recent
        self.routes["/_qs/health"] = lambda p: {"status": "ok"}
        self.feed = Feed(self._message)

    def snapshot(self) -> State:
        """Every sample the sidecar exposes, at most SNAPSHOT_SECONDS old, shared by every
        reader (read-only): the recorder now, the collectors as last run."""
        with self._snapshot_lock:
            if time.monotonic() - self._snapshot_at >= SNAPSHOT_SECONDS or \
                    self._snapshot is None:
                state = self.llm.values()
                state.update(self.collectors.latest_values())
                self._snapshot, self._snapshot_at = state, time.monotonic()
            return self._snapshot

    async def answer(self, path: str, params: Params) -> Any:
        """A route's answer, computed on the read pool."""
        self.read_at = time.monotonic()
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._timed, self.routes[path], params)

    def _timed(self, answer: Callable[[Params], Any], params: Params) -> Any:
        started = time.thread_time()
        try:
            return answer(params)
        finally:
            spent = time.thread_time() - started
            with self._load_lock:
                self._load = self.load() + spent
                self._load_at = time.monotonic()

    def load(self) -> float:
        """CPU seconds per second the answers took lately (decaying over a second)."""
        return self._load * math.exp(-max(0.0, time.monotonic() - self._load_at))

    def _recent(self, params: Params) -> list[dict[str, Any]]:
        """GET /api/v1/requests/recent?limit=&min_cost= (newest first; default 50)."""
        limit = int(Number("limit", 50, 1, max(self.recent.size, 1), "requests",
                           integer=True).read(params))
        return self.recent.latest(limit, views.MIN_COST.read(params))

    def update(self) -> dict[str, Any]:
        """The routing backend's WebSocket message."""
        return shapes.update(self.questions)

    async def _message(self) -> str:
        self.read_at = time.monotonic()
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, self._timed, lambda p: json.dumps(self.update()), {})

    def samples(self) -> Samples:
        """The history's own gauges for /metrics (none with a Prometheus)."""
        if self.history is None:
            return []
        return [(family("history_bytes"), [((), float(self.history.bytes))]),
                (family("history_merged"), [((), float(self.history.merged))])]

    def sample(self) -> None:
        if self.history is not None:
            self.history.record(time.time(), {k: v for k, v in self.snapshot().items()
                                              if k[0] in self._kept})

    def sample_fine(self) -> None:
        """A point of the 10 s history, stamped with the boundary just passed (it is
        taken within a second or so of it), so that buckets start on the boundaries."""
        if self.fine is not None:
            self.fine.record(math.floor(time.time() / FINE_SECONDS) * FINE_SECONDS,
                             {k: v for k, v in self.snapshot().items()
                              if k[0] in self._fine_kept})

    async def background(self, scrape_executor: Executor) -> None:
        """Until cancelled: the histories' samples (no Prometheus), and the collectors
        run when nobody scraped them for RESOURCE_SECONDS while someone reads or the
        history needs their counters."""
        loop = asyncio.get_running_loop()
        next_sample = time.monotonic() if self.history is not None else math.inf
        next_fine = math.inf if self.fine is None else time.time()
        tick = min(RESOURCE_SECONDS, self.history.interval if self.history else math.inf)
        while True:
            now = time.monotonic()
            sampling = self.history is not None and now >= next_sample
            reading = now - self.read_at < _READERS_SEEN_SECONDS
            last = self.collectors.last_run
            if self.collectors.collectors and (sampling or reading) and \
                    (last is None or now - last >= RESOURCE_SECONDS):
                try:
                    await loop.run_in_executor(scrape_executor, self.collectors.samples)
                except Exception:  # the set logs its own failures; this is the pool's
                    log.exception("refreshing the collectors failed")
            if sampling and self.history is not None:
                try:
                    await loop.run_in_executor(self.executor, self.sample)
                except Exception:  # a failed sample must not end the history
                    log.exception("sampling the in-memory history failed")
                next_sample += self.history.interval
                if next_sample < time.monotonic():
                    next_sample = time.monotonic() + self.history.interval
            provider_state.tick(self.llm)
            if time.time() >= next_fine:
                try:
                    await loop.run_in_executor(self.executor, self.sample_fine)
                except Exception:
                    log.exception("sampling the 10 s history failed")
                next_fine = (math.floor(time.time() / FINE_SECONDS) + 1) * FINE_SECONDS
            await asyncio.sleep(max(0.01, min(tick, next_fine - time.time(),
                                              next_sample - time.monotonic())))
