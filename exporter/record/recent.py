"""The last N requests with the fields that must never be labels (request and user ids,
latency, cost), for the cost backend's "recent requests" table and, optionally, one JSON
log line per request for a log pipeline (Loki, Vector).

A bounded deque: appending is one tuple and never takes a lock of ours; the dicts are
built only when someone reads.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

#: The logger that carries one JSON line per request when ``log_lines`` is on.
request_log = logging.getLogger("llm_exporter.requests")

FIELDS = ("timestamp", "request_id", "user_id", "provider", "model", "team_alias",
          "query_type", "prompt_tokens", "output_tokens", "total_tokens", "cost",
          "latency_ms", "cache_hit", "status")


class RecentRequests:
    """A ring of the last ``size`` requests (size 0 keeps none)."""

    def __init__(self, size: int = 1000, *, log_lines: bool = False) -> None:
        if size < 0:
            raise ValueError(f"recent requests size must be >= 0, got {size}")
        self.size = size
        self.log_lines = log_lines
        self._ring: deque[tuple[Any, ...]] = deque(maxlen=size or 1)

    def remember(self, events: list[Any], calls: list[tuple[str, dict[str, Any]]],
                 costs: list[float | None]) -> None:
        """The request events of an accepted batch (as posted, as validated, as priced),
        with their free-form ids."""
        for event, (method, kw), cost in zip(events, calls, costs):
            if method == "record_request":
                self.request(event, kw, cost)

    def request(self, ids: Mapping[str, Any], kw: Mapping[str, Any], cost: float | None
                ) -> None:
        """One request as recorded: ``kw`` as passed to ``LLMMetrics.record_request``,
        ``ids`` the payload that carried its free-form ``request_id`` and ``user_id``.
        The one mapping from a recorded request to a row, for every route."""
        seconds = kw.get("duration_seconds")
        self.add(
            request_id=ids.get("request_id"), user_id=ids.get("user_id"),
            provider=kw["provider"], model=kw["model"], team=kw.get("team"),
            tier=kw.get("tier"), prompt_tokens=kw.get("input_tokens", 0),
            output_tokens=kw.get("output_tokens", 0), cost=cost or 0.0,
            latency_ms=None if seconds is None else seconds * 1000.0,
            cache_hit=kw.get("cache_hit"), status=kw.get("status", "success"))

    def add(self, *, request_id: Any, user_id: Any, provider: str, model: str,
            team: str | None, tier: str | None, prompt_tokens: int, output_tokens: int,
            cost: float, latency_ms: float | None, cache_hit: bool | None,
            status: str) -> None:
        if not self.size and not self.log_lines:
            return
        entry = (time.time(), _text(request_id), _text(user_id), provider, model, team, tier,
                 prompt_tokens, output_tokens, prompt_tokens + output_tokens, cost,
                 latency_ms, cache_hit, status)
        if self.size:
            self._ring.append(entry)
        if self.log_lines and request_log.isEnabledFor(logging.INFO):
            request_log.info(json.dumps(_dict(entry), separators=(",", ":")))

    def latest(self, limit: int | None = None, min_cost: float = 0.0) -> list[dict[str, Any]]:
        """The newest first, at most ``limit``, of those that cost at least ``min_cost``."""
        if not self.size:
            return []
        items = list(self._ring)
        items.reverse()
        if min_cost > 0:
            at = FIELDS.index("cost")
            items = [e for e in items if (e[at] or 0.0) >= min_cost]
        if limit is not None:
            items = items[:limit]
        return [_dict(entry) for entry in items]


def _dict(entry: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(FIELDS, entry))
    out["timestamp"] = datetime.fromtimestamp(entry[0], timezone.utc).isoformat(
        timespec="milliseconds")
    return out


def _text(value: Any) -> str | None:
    """A free-form id as a bounded string: it is shown, never a label."""
    if value is None:
        return None
    return str(value)[:200]
