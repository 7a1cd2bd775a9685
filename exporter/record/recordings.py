"""Everything :class:`~exporter.record.recorder.LLMMetrics` records besides a request: cache
lookups, routing decisions, tiers, provider health, sizes, worker pools, batches,
ingested events and calls in flight.

These are a base class rather than functions so the public methods keep their own
signatures and docstrings (the ingest contract is checked against them) while the
request hot path stays alone in ``recorder.py``.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any

from .. import catalog
from .._store import layout
from ..cardinality import normalise_provider
from ..pricing.book import cache_effect, split_cost
from ..pricing.book import costs as price_costs
from . import validation
from .validation import check_tokens

if TYPE_CHECKING:
    from .._store import SeriesStore
    from .._store.memory import UpdateLock
    from .rows import RowBook

_CIRCUIT_STATES = catalog.CIRCUIT_STATES
_VALUE, _WRITTEN = layout.VALUE, layout.WRITTEN
_TOKEN = tuple(layout.TOKEN_SLOT.values())
_COST = tuple(layout.COST_SLOT.values())
_SAVINGS = layout.SAVINGS_SLOT
_REFERENCE = layout.REFERENCE_SLOT
_CACHE_SAVINGS = layout.CACHE_SAVINGS_SLOT
_WRITE_PREMIUM = layout.WRITE_PREMIUM_SLOT
_SIZE_SUM = layout.sum_slot(catalog.BY_KEY["batch_size"])


class Recordings:
    """The non-request half of the recording API; see :class:`LLMMetrics`."""

    _book: RowBook
    _store: SeriesStore
    _lock: UpdateLock

    def record_cache_lookup(self, *, cache: str, hit: bool,
                            duration_seconds: float | None = None,
                            similarity: float | None = None, count: int = 1,
                            team: str | None = None) -> None:
        """One lookup in a cache of yours (e.g. cache="semantic"). ``similarity`` is the
        score the cache computed for its best candidate, 0..1. ``count`` records that
        many identical lookups at once (e.g. from a periodic report); ``team`` is whose
        lookup it was (the hit ratio per team)."""
        validation.count("count", count)
        validation.flag("hit", hit)
        if duration_seconds is not None:
            validation.seconds("duration_seconds", duration_seconds)
        if similarity is not None:
            validation.ratio("similarity", similarity)
        book = self._book

        def build(folded: list[str]) -> tuple:
            name = book.optional("cache", cache, folded)
            who = book.optional("team", team, folded)
            return (book.new("cache_lookups", cache=name, result="hit", team=who),
                    book.new("cache_lookups", cache=name, result="miss", team=who),
                    book.new("cache_lookup_duration", cache=name),
                    book.new("cache_similarity", cache=name))

        hits, misses, durations, similarities, overflow = book.cells(("cache", cache, team),
                                                                      build)
        i_dur = -1 if duration_seconds is None else \
            bisect_left(catalog.CACHE_LOOKUP_BUCKETS, duration_seconds)
        i_sim = -1 if similarity is None else bisect_left(catalog.SIMILARITY_BUCKETS, similarity)
        with self._lock:
            (hits if hit else misses)[_VALUE] += count
            if i_dur >= 0:
                durations[i_dur] += count
                durations[-1] += duration_seconds * count  # type: ignore[operator]
            if i_sim >= 0:
                similarities[i_sim] += count
                similarities[-1] += similarity * count  # type: ignore[operator]
            for cell in overflow:
                cell[_VALUE] += count

    def record_routing(self, *, complexity: str, tier: str, score: float | None = None,
                       duration_seconds: float | None = None, fallback: bool = False) -> None:
        """One routing decision: which tier a query of this complexity went to."""
        if duration_seconds is not None:
            validation.seconds("duration_seconds", duration_seconds)
        if score is not None:
            validation.finite("score", score)
        validation.flag("fallback", fallback)
        book = self._book

        def build(folded: list[str]) -> tuple:
            c = book.optional("complexity", complexity, folded)
            t = book.optional("tier", tier, folded)
            return (book.new("routing_decisions", complexity=c, tier=t, fallback="true"),
                    book.new("routing_decisions", complexity=c, tier=t, fallback="false"),
                    book.new("routing_duration", tier=t),
                    book.new("routing_score", complexity=c, tier=t))

        yes, no, durations, scores, overflow = book.cells(("route", complexity, tier), build)
        with self._lock:
            (yes if fallback else no)[_VALUE] += 1
            if duration_seconds is not None:
                durations[bisect_left(catalog.ROUTING_DURATION_BUCKETS, duration_seconds)] += 1
                durations[-1] += duration_seconds
            if score is not None:
                scores[bisect_left(catalog.COMPLEXITY_SCORE_BUCKETS, score)] += 1
                scores[-1] += score
            for cell in overflow:
                cell[_VALUE] += 1

    def set_tier_models(self, *, tier: str, available: int, total: int) -> None:
        """How many models of a tier are available now, out of how many configured."""
        validation.count("available", available)
        validation.count("total", total)
        if available > total:
            raise validation.InvalidValue("available", f"({available}) must not exceed "
                                                       f"total ({total})")
        book = self._book

        def build(folded: list[str]) -> tuple:
            t = book.optional("tier", tier, folded)
            return (self._store.gauge("tier_available", (t,)),
                    self._store.gauge("tier_total", (t,)))

        avail, tot, overflow = book.cells(("tier", tier), build)
        now = time.time()
        with self._lock:
            avail[_VALUE], avail[_WRITTEN] = available, now
            tot[_VALUE], tot[_WRITTEN] = total, now
            for cell in overflow:
                cell[_VALUE] += 1

    def set_provider_state(self, *, provider: str, up: bool | None = None,
                           circuit: str | None = None) -> None:
        """Health of a provider and its circuit breaker state (closed, half_open, open)."""
        if up is not None:
            validation.flag("up", up)
        if circuit is not None:
            validation.circuit(circuit)
        book = self._book

        def build(folded: list[str]) -> tuple:
            p = book.admit("provider", normalise_provider(provider), folded)
            up_cell = self._store.gauge("provider_up", (p,))
            states = tuple(self._store.gauge("provider_circuit", catalog.BY_KEY[
                "provider_circuit"].label_values(provider=p, state=st))
                for st in _CIRCUIT_STATES)
            return up_cell, states

        up_cell, states, overflow = book.cells(("provider", provider), build)
        now = time.time()
        with self._lock:
            if up is not None:
                up_cell[_VALUE], up_cell[_WRITTEN] = int(up), now
            if circuit is not None:
                for st, cell in zip(_CIRCUIT_STATES, states):
                    cell[_VALUE], cell[_WRITTEN] = int(st == circuit), now
            for cell in overflow:
                cell[_VALUE] += 1

    def set_cache_size(self, *, cache: str, size_bytes: float) -> None:
        """Memory used by a cache (e.g. Redis ``used_memory`` of the semantic cache)."""
        self._set_gauge("cache_size", "cache", cache, size_bytes, "size_bytes")

    def set_vector_index_size(self, *, index: str, size_bytes: float) -> None:
        """Size of a vector index (e.g. a FAISS index file)."""
        self._set_gauge("vector_index_size", "index", index, size_bytes, "size_bytes")

    def set_worker_pool(self, *, pool: str, active: int | None = None,
                        queued: int | None = None) -> None:
        """Busy workers and queued tasks of a worker pool."""
        if active is not None:
            self._set_gauge("worker_pool_active", "pool", pool, active, "active")
        if queued is not None:
            self._set_gauge("worker_pool_queued", "pool", pool, queued, "queued")

    def _set_gauge(self, key: str, label: str, raw: Any, value: Any, field: str) -> None:
        validation.amount(field, value)
        book = self._book

        def build(folded: list[str]) -> tuple:
            return (self._store.gauge(key, (book.optional(label, raw, folded),)),)

        cell, overflow = book.cells((key, raw), build)
        now = time.time()
        with self._lock:
            cell[_VALUE], cell[_WRITTEN] = value, now
            for c in overflow:
                c[_VALUE] += 1

    def record_batch(self, *, provider: str, model: str, size: int, team: str | None = None,
                     tier: str | None = None, input_tokens: int = 0, output_tokens: int = 0,
                     cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                     cache_write_1h_tokens: int = 0, reasoning_tokens: int = 0,
                     duration_seconds: float | None = None, status: str = "success",
                     cost_usd: float | None = None) -> float:
        """One batch job of ``size`` requests; its tokens and cost (at the provider's
        batch price where the catalog has one, or ``cost_usd`` when you know it from the
        bill) go to the request counters too. Returns the cost in USD."""
        check_tokens(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                     reasoning_tokens, cache_write_1h_tokens)
        validation.count("size", size)
        if duration_seconds is not None:
            validation.seconds("duration_seconds", duration_seconds)
        if cost_usd is not None:
            validation.amount("cost_usd", cost_usd)
        book = self._book
        try:
            row = book.batch_rows.get((provider, model, tier, team, status))
        except TypeError:  # an unhashable label value: the slow path names it
            row = None
        if row is None:
            row = book.request_row(provider, model, tier, team, status, batch=True)
        rates = row.rates
        if row.expires is not None and book.prices.clock() >= row.expires:
            rates = book.refresh(row)
        uncached = input_tokens - cache_read_tokens - cache_write_tokens
        visible = output_tokens - reasoning_tokens
        tokens = (uncached, cache_read_tokens, cache_write_tokens, visible, reasoning_tokens)
        # A price row, not a bill, says what caching saved: at the batch prices.
        p = rates.prices(input_tokens)
        cache_saved, write_premium = cache_effect(p, cache_read_tokens, cache_write_tokens,
                                                  cache_write_1h_tokens)
        if cost_usd is not None:
            costs = split_cost(float(cost_usd), tokens)
        else:
            costs = price_costs(p, uncached, cache_read_tokens, cache_write_tokens,
                                cache_write_1h_tokens, visible, reasoning_tokens)
        cost = sum(costs)
        saved = reference = 0.0
        if row.baseline is not None:
            reference = sum(row.baseline.costs(uncached, cache_read_tokens, cache_write_tokens,
                                               cache_write_1h_tokens, visible,
                                               reasoning_tokens, input_tokens))
            saved = reference - cost
        with self._lock:
            row.requests[_VALUE] += 1
            h = row.duration
            h[bisect_left(catalog.BATCH_SIZE_BUCKETS, size)] += 1
            h[_SIZE_SUM] += size
            u = row.usage
            for i in range(len(tokens)):
                u[_TOKEN[i]] += tokens[i]
                u[_COST[i]] += costs[i]
            if saved > 0.0:
                u[_SAVINGS] += saved
            u[_REFERENCE] += reference
            u[_CACHE_SAVINGS] += cache_saved
            u[_WRITE_PREMIUM] += write_premium
            if row.unpriced is not None and cost_usd is None:
                row.unpriced[_VALUE] += 1
            for cell in row.overflow:
                cell[_VALUE] += 1
        return cost

    def record_retries(self, *, provider: str, model: str, count: int = 1) -> None:
        """Attempts an SDK retried within one request, beyond its first (the request
        itself is counted once, by ``record_request``)."""
        validation.count("count", count)
        cell = self._book.retries(provider, model)
        with self._lock:
            cell[_VALUE] += count

    def record_events(self, *, accepted: int = 0, rejected: int = 0) -> None:
        """Count ingested events (the sidecar calls this for every event it answers)."""
        events = self._store.families["events"].series
        acc, rej = events[("accepted",)].values, events[("rejected",)].values
        with self._lock:
            acc[_VALUE] += accepted
            rej[_VALUE] += rejected

    def record_auth_failure(self, *, endpoint: str) -> None:
        """A request refused for its credentials (``ingest`` or ``metrics``)."""
        if endpoint not in catalog.AUTH_ENDPOINTS:
            raise validation.InvalidValue("endpoint", f"must be one of "
                                                      f"{', '.join(catalog.AUTH_ENDPOINTS)}")
        cell = self._store.families["auth_failures"].series[(endpoint,)].values
        with self._lock:
            cell[_VALUE] += 1

    def call_started(self, provider: str, model: str) -> list:
        """A call began (for track()): bump and return its in-flight gauge cell."""
        cell = self._book.in_flight(provider, model)
        with self._lock:
            cell[_VALUE] += 1
        return cell

    def call_ended(self, cell: list) -> None:
        with self._lock:
            cell[_VALUE] -= 1
