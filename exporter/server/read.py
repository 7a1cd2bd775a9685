"""The sidecar's read side: the home-grown backends' GET routes, recent requests, the
live page's data and the routing backend's WebSocket, all from one
:class:`~exporter.readout.queries.Questions` (Prometheus when configured, else the
sidecar's own counters and a history of them sampled in the background)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..collectors import CollectorSet
from ..compat import views
from ..compat.params import Number
from ..config import ServerSettings
from ..readout.history import History, State
from ..readout.queries import Questions
from ..readout.sources import LocalSource, PrometheusSource, Source, state_of
from ..recent import RecentRequests
from ..recorder import LLMMetrics

log = logging.getLogger(__name__)

Params = dict[str, str]
#: Families whose history the local source keeps (what windows and trends are asked of).
_HISTORY_KEYS = (("requests", ""), ("tokens", ""), ("cost", ""), ("reference_cost", ""),
                 ("request_duration", "_count"), ("request_duration", "_sum"),
                 ("request_duration", "_bucket"), ("ttft", "_sum"), ("cache_lookups", ""),
                 ("routing_decisions", ""), ("routing_score", "_sum"),
                 ("routing_score", "_count"), ("routing_duration", "_sum"),
                 ("routing_duration", "_count"), ("disk_io", ""), ("network_io", ""))


class ReadSide:
    """Answers to GET routes by path; ``history_task`` samples while no Prometheus is
    configured."""

    def __init__(self, llm: LLMMetrics, settings: ServerSettings,
                 collectors: CollectorSet) -> None:
        self.llm = llm
        self.collectors = collectors
        self.recent = RecentRequests(settings.recent_requests, log_lines=settings.request_log)
        self.history: History | None = None
        source: Source
        if settings.prometheus_url:
            source = PrometheusSource(settings.prometheus_url)
        else:
            self.history = History(settings.history_interval_seconds, settings.history_points)
            source = LocalSource(self.snapshot, self.history)
        self.questions = Questions(source, llm.namespace)
        self._kept = frozenset(self.questions.name(k, s) for k, s in _HISTORY_KEYS)
        baseline = llm.settings.baseline
        reference = "/".join(baseline) if baseline else None
        q = self.questions
        self.routes: dict[str, Callable[[Params], Any]] = {
            path: functools.partial(view, q) for path, (view, _) in views.ROUTES.items()}
        self.routes["/api/llm/costs"] = functools.partial(views.providers_costs, q,
                                                          reference=reference)
        self.routes["/api/v1/requests/recent"] = self._recent
        self.routes["/_qs/health"] = lambda p: {"status": "ok"}

    def snapshot(self) -> State:
        """Every sample the sidecar exposes now, recorder and collectors."""
        state = state_of(self.llm.collect(scrape=False))
        state.update(state_of(self.collectors.collect()))
        return state

    def _recent(self, params: Params) -> list[dict[str, Any]]:
        """GET /api/v1/requests/recent?limit= (newest first; default 50)."""
        limit = int(Number("limit", 50, 1, max(self.recent.size, 1), "requests").read(params))
        return self.recent.latest(limit)

    def update(self) -> dict[str, Any]:
        """The routing backend's WebSocket message."""
        q = self.questions
        p: Params = {}
        return {"type": "metrics_update", "timestamp": views.iso(time.time()),
                "queries": views.routing_queries(q, p), "tiers": views.routing_tiers(q, p),
                "resources": views.routing_resources(q, p),
                "routing": views.routing_matrix(q, p)}

    def sample(self) -> None:
        if self.history is not None:
            self.history.record(time.time(), {k: v for k, v in self.snapshot().items()
                                              if k[0] in self._kept})

    async def history_task(self) -> None:
        """Samples the history every interval until cancelled."""
        if self.history is None:
            return
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self.sample)
            except Exception:  # a failed sample must not end the history
                log.exception("sampling the in-memory history failed")
            await asyncio.sleep(self.history.interval)
