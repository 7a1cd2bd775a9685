"""The cost backend's client: :class:`SyncMetricsClient` and :class:`MetricsClient` keep
its signatures and return values, and deliver through :mod:`exporter.ingest.cost`'s
translators (to a sidecar, or in process)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..ingest.cost import batch, cache, track
from ..ingest.routes import Translator
from .transport import Transport

if TYPE_CHECKING:
    from ..record.recorder import LLMMetrics


def _track_body(model: str, prompt_tokens: int, output_tokens: int, total_tokens: int | None,
                latency_ms: float | None, user_id: str | None, request_id: str | None,
                team_alias: str | None, cache_hit: bool | None, query_type: str | None,
                status: str) -> dict[str, Any]:
    body = {"model": model, "prompt_tokens": prompt_tokens, "output_tokens": output_tokens,
            "total_tokens": total_tokens, "latency_ms": latency_ms, "user_id": user_id,
            "request_id": request_id, "team_alias": team_alias, "cache_hit": cache_hit,
            "query_type": query_type, "status": status}
    return {k: v for k, v in body.items() if v is not None}


def _cache_body(cache_hit: int, cache_miss: int, avg_lookup_time_ms: float | None,
                team_alias: str | None) -> dict[str, Any]:
    body = {"cache_hit": cache_hit, "cache_miss": cache_miss,
            "avg_lookup_time_ms": avg_lookup_time_ms, "team_alias": team_alias}
    return {k: v for k, v in body.items() if v is not None}


def _batch_body(batch_id: str, batch_size: int, total_tokens: int, batch_cost: float | None,
                batch_latency_ms: float | None, team_alias: str | None) -> dict[str, Any]:
    body = {"batch_id": batch_id, "batch_size": batch_size, "total_tokens": total_tokens,
            "batch_cost": batch_cost, "batch_latency_ms": batch_latency_ms,
            "team_alias": team_alias}
    return {k: v for k, v in body.items() if v is not None}


class SyncMetricsClient:
    """The cost backend's synchronous client: ``SyncMetricsClient(base_url=...)`` posts
    to a sidecar; ``SyncMetricsClient(metrics=llm)`` records in process."""

    def __init__(self, base_url: str | None = None, *, metrics: LLMMetrics | None = None,
                 token: str | None = None, timeout: float = 10.0) -> None:
        self._transport = Transport(base_url, metrics=metrics, token=token, timeout=timeout)

    def track_request(self, model: str, prompt_tokens: int = 0, output_tokens: int = 0,
                      total_tokens: int | None = None, latency_ms: float | None = None,
                      user_id: str | None = None, request_id: str | None = None,
                      team_alias: str | None = None, cache_hit: bool | None = None,
                      query_type: str | None = None, status: str = "success"
                      ) -> dict[str, Any]:
        """One request; returns {"status", "message", "request_id", "cost", "tokens"}."""
        return self._transport.post("/api/v1/metrics/track", track, _track_body(
            model, prompt_tokens, output_tokens, total_tokens, latency_ms, user_id,
            request_id, team_alias, cache_hit, query_type, status))

    def track_cache_metrics(self, cache_hit: int, cache_miss: int,
                            avg_lookup_time_ms: float | None = None,
                            team_alias: str | None = None) -> dict[str, Any]:
        """Cache hits and misses since the last report."""
        return self._transport.post("/api/v1/metrics/cache", cache, _cache_body(
            cache_hit, cache_miss, avg_lookup_time_ms, team_alias))

    def track_batch(self, batch_id: str, batch_size: int, total_tokens: int = 0,
                    batch_cost: float | None = None, batch_latency_ms: float | None = None,
                    team_alias: str | None = None) -> dict[str, Any]:
        """One batch job; ``batch_cost`` from the bill, or priced when a model is known."""
        return self._transport.post("/api/v1/metrics/batch", batch, _batch_body(
            batch_id, batch_size, total_tokens, batch_cost, batch_latency_ms, team_alias))

    def close(self) -> None:
        """Nothing held open; kept because the original client had it."""


class MetricsClient:
    """The cost backend's async client: the same calls as :class:`SyncMetricsClient`,
    awaited (HTTP runs in a worker thread, so the event loop never blocks)."""

    def __init__(self, base_url: str | None = None, *, metrics: LLMMetrics | None = None,
                 token: str | None = None, timeout: float = 10.0) -> None:
        self._transport = Transport(base_url, metrics=metrics, token=token, timeout=timeout)

    async def _post(self, path: str, translate: Translator, body: dict[str, Any]
                    ) -> dict[str, Any]:
        if self._transport.metrics is not None:
            return self._transport.post(path, translate, body)
        return await asyncio.to_thread(self._transport.post, path, translate, body)

    async def track_request(self, model: str, prompt_tokens: int = 0, output_tokens: int = 0,
                            total_tokens: int | None = None, latency_ms: float | None = None,
                            user_id: str | None = None, request_id: str | None = None,
                            team_alias: str | None = None, cache_hit: bool | None = None,
                            query_type: str | None = None, status: str = "success"
                            ) -> dict[str, Any]:
        return await self._post("/api/v1/metrics/track", track, _track_body(
            model, prompt_tokens, output_tokens, total_tokens, latency_ms, user_id,
            request_id, team_alias, cache_hit, query_type, status))

    async def track_cache_metrics(self, cache_hit: int, cache_miss: int,
                                  avg_lookup_time_ms: float | None = None,
                                  team_alias: str | None = None) -> dict[str, Any]:
        return await self._post("/api/v1/metrics/cache", cache, _cache_body(
            cache_hit, cache_miss, avg_lookup_time_ms, team_alias))

    async def track_batch(self, batch_id: str, batch_size: int, total_tokens: int = 0,
                          batch_cost: float | None = None,
                          batch_latency_ms: float | None = None,
                          team_alias: str | None = None) -> dict[str, Any]:
        return await self._post("/api/v1/metrics/batch", batch, _batch_body(
            batch_id, batch_size, total_tokens, batch_cost, batch_latency_ms, team_alias))

    async def close(self) -> None:
        """Nothing held open; kept because the original client had it."""

    async def __aenter__(self) -> MetricsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
