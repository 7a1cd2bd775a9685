"""The recording API's front: :class:`LLMMetrics`.

``record_request`` is the hot path. It validates numbers with a handful of integer
operations, finds the request's row with one dict lookup keyed by the raw label values
(the row was built, with labels normalised, capped and priced, the first time that key
was seen: :mod:`exporter.record.rows`), computes the cost with pre-resolved rates and bumps
list slots (named in :mod:`exporter._store.layout`) under one lock. It never calls the
price catalog, never builds label strings, never allocates a metric object. The other
recordings live in :mod:`exporter.record.recordings`, the series in :mod:`exporter._store`.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import weakref
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .._store import SeriesStore, layout
from .._store.memory import wait_for
from .._store.render import SampleKey, render_samples
from .._version import __version__
from ..cardinality import LabelCaps
from ..catalog import BY_KEY, DURATION_BUCKETS, TOKEN_TYPES, TPOT_BUCKETS, TTFT_BUCKETS
from ..collectors import as_metrics, sample_values
from ..pricing.book import (
    P_CACHE_READ,
    P_CACHE_WRITE,
    P_FEE,
    P_INPUT,
    P_OUTPUT,
    P_READ_SAVES,
    P_REASONING,
    P_WRITE_1H,
    P_WRITE_1H_PREMIUM,
    P_WRITE_PREMIUM,
    PriceBook,
)
from ..pricing.scrape import PriceReadout
from . import validation
from .buckets import MAX_SECONDS, SMALL, TOKEN_INDEX, token_index
from .call import Call, current_trace_id
from .recordings import Recordings
from .rows import RowBook

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from ..settings.load import Settings

__all__ = ["Call", "LLMMetrics", "current_trace_id"]

log = logging.getLogger(__name__)

_DEFAULT = object()
# The slots record_request writes, by name (_store.layout and the price row's order).
_V = layout.VALUE
_U_IN, _U_CR, _U_CW, _U_OUT, _U_RS = (layout.TOKEN_SLOT[t] for t in TOKEN_TYPES)
_C_IN, _C_CR, _C_CW, _C_OUT, _C_RS = (layout.COST_SLOT[t] for t in TOKEN_TYPES)
_U_SAVED, _U_REFERENCE = layout.SAVINGS_SLOT, layout.REFERENCE_SLOT
_U_CACHE_SAVED, _U_PREMIUM = layout.CACHE_SAVINGS_SLOT, layout.WRITE_PREMIUM_SLOT
_U_TEAM_DURATION, _U_TIMED = layout.TEAM_DURATION_SLOT, layout.TIMED_SLOT
_TOK_SUM = layout.sum_slot(BY_KEY["request_tokens"])
_DUR_SUM = layout.sum_slot(BY_KEY["request_duration"])
_TTFT_SUM = layout.sum_slot(BY_KEY["ttft"])
_TPOT_SUM = layout.sum_slot(BY_KEY["tpot"])

def _restart(ref: weakref.ref) -> None:
    """After a fork: give a live multiprocess recorder its own files in the child."""
    metrics = ref()
    if metrics is not None:
        try:
            metrics._init_state()
        except Exception:  # e.g. the directory is gone; never break the child process
            log.exception("llm-exporter could not start its multiprocess files after fork")


class LLMMetrics(Recordings):
    """Records LLM requests, cache lookups, routing and batches as Prometheus series.

    One instance per process is the norm. It registers itself on ``registry`` (the
    default prometheus_client registry unless told otherwise; ``registry=None`` skips
    registration) as a collector, and can also render its own series with
    :meth:`exposition`. The methods other than ``record_request`` and ``track`` come
    from :class:`~exporter.record.recordings.Recordings`. ``clock`` (monotonic seconds)
    times the zero-first hold; a test injects one instead of sleeping through the hold.
    """

    def __init__(self, registry: CollectorRegistry | None | object = _DEFAULT, *,
                 namespace: str | None = None, config: Settings | str | Path | None = None,
                 prices: PriceBook | None = None,
                 label_caps: Mapping[str, int] | None = None,
                 created_series: bool = False, otel_exemplars: bool = False,
                 multiprocess_dir: str | Path | None = None,
                 zero_hold_seconds: float | None = None,
                 series_budget: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from ..settings.load import Settings

        settings = self.settings = Settings.of(config)
        self.namespace = validation.namespace(namespace or settings.namespace)
        self._prices = prices if prices is not None else settings.price_book()
        self._baseline = settings.baseline
        if self._baseline is not None and not self._prices.rates(*self._baseline).priced:
            log.warning("savings baseline %s/%s has no price: llm_cost_savings_usd_total "
                        "stays 0", *self._baseline)
        self._caps = LabelCaps({**settings.label_caps, **(label_caps or {})})
        self._created_series = created_series
        self._otel_exemplars = otel_exemplars
        self._zero_hold, self._series_budget = settings.limits(zero_hold_seconds,
                                                               series_budget)
        multiprocess_dir = multiprocess_dir or os.environ.get("LLM_EXPORTER_MULTIPROC_DIR")
        self._multiprocess_dir, self._clock = multiprocess_dir, clock
        self._init_state()
        if multiprocess_dir:
            # Created before a fork (gunicorn --preload), every worker would write into
            # the same shared mappings and lose updates: a child starts afresh instead.
            os.register_at_fork(after_in_child=functools.partial(_restart, weakref.ref(self)))
        if registry is _DEFAULT:
            from prometheus_client import REGISTRY as registry
        self._registry = registry
        if registry is not None:
            registry.register(self)  # type: ignore[attr-defined]

    def _init_state(self) -> None:
        """Empty series state (and, in multiprocess mode, this process's own files)."""
        store = self._store = SeriesStore(
            self.namespace, created=self._created_series, zero_hold=self._zero_hold,
            directory=self._multiprocess_dir, budget=self._series_budget,
            foldable=frozenset(self._caps.caps), clock=self._clock)
        self._lock, self._mutex, self._exemplars = store.lock, store.lock.mutex, store.exemplars
        self._book = RowBook(store, self._caps, self._prices, self._baseline)
        self._readout = PriceReadout(self._prices, store.started)
        self._rows = self._book.rows
        store.seed(__version__)

    def record_request(self, *, provider: str, model: str, input_tokens: int = 0,
                       output_tokens: int = 0, cache_read_tokens: int = 0,
                       cache_write_tokens: int = 0, cache_write_1h_tokens: int = 0,
                       reasoning_tokens: int = 0, duration_seconds: float | None = None,
                       ttft_seconds: float | None = None, status: str = "success",
                       error_type: str | None = None, cache_hit: bool | None = None,
                       team: str | None = None, tier: str | None = None,
                       trace_id: str | None = None) -> float:
        """Record one finished LLM request and return its cost in USD.

        Tokens as OpenAI's usage and the GenAI conventions count them: ``input_tokens``
        is all input, cached included, ``cache_read_tokens``/``cache_write_tokens`` (of
        which ``cache_write_1h_tokens`` to a 1-hour cache) hit or filled the prompt
        cache; ``output_tokens`` is all output, ``reasoning_tokens`` the reasoning.
        ``cache_hit`` is your own response cache (cache="response"). ``trace_id`` (or the
        OpenTelemetry span, with ``otel_exemplars=True``) becomes an exemplar on latency
        and cost. Raises ValueError for a programmer error (negative tokens, bad status)."""
        try:
            uncached = input_tokens - cache_read_tokens - cache_write_tokens
            visible = output_tokens - reasoning_tokens
            bad = (uncached | visible | cache_read_tokens | cache_write_tokens
                   | reasoning_tokens) < 0
            # A bool is 0 or 1, so a bool input or output leaves uncached or visible < 2;
            # only then are the classes looked at (an attribute load costs 1% a call).
            if (uncached < 2 or visible < 2) and (input_tokens.__class__ is not int
                                                  or output_tokens.__class__ is not int):
                bad = True
            i_in = TOKEN_INDEX[uncached] if uncached < SMALL else token_index(uncached)
            i_out = TOKEN_INDEX[visible] if visible < SMALL else token_index(visible)
            # The optional counts: False is not the int 0 and True not the int 1.
            if cache_read_tokens:
                if cache_read_tokens is True:
                    bad = True
                i_cr = TOKEN_INDEX[cache_read_tokens] if cache_read_tokens < SMALL \
                    else token_index(cache_read_tokens)
            else:
                if cache_read_tokens is False:
                    bad = True
                i_cr = -1
            if cache_write_tokens:
                if cache_write_tokens is True:
                    bad = True
                i_cw = TOKEN_INDEX[cache_write_tokens] if cache_write_tokens < SMALL \
                    else token_index(cache_write_tokens)
                w1h = cache_write_1h_tokens
                if w1h and (w1h.__class__ is not int or not 0 < w1h <= cache_write_tokens):
                    bad = True
            else:
                if cache_write_tokens is False or cache_write_1h_tokens:  # 1h writes are writes
                    bad = True
                i_cw = -1
            if reasoning_tokens:
                if reasoning_tokens is True:
                    bad = True
                i_rs = TOKEN_INDEX[reasoning_tokens] if reasoning_tokens < SMALL \
                    else token_index(reasoning_tokens)
            else:
                if reasoning_tokens is False:
                    bad = True
                i_rs = -1
            if duration_seconds is None:
                i_dur = -1
            else:
                if not 0.0 <= duration_seconds <= MAX_SECONDS \
                        or duration_seconds.__class__ is bool:
                    bad = True
                i_dur = bisect_left(DURATION_BUCKETS, duration_seconds)
            if ttft_seconds is not None and (not 0.0 <= ttft_seconds <= MAX_SECONDS
                                             or ttft_seconds.__class__ is bool):
                bad = True
        except (TypeError, AttributeError, IndexError):
            bad = True
        if bad:
            validation.refuse_request(input_tokens, output_tokens, cache_read_tokens,
                                      cache_write_tokens, reasoning_tokens,
                                      cache_write_1h_tokens, duration_seconds, ttft_seconds)
        try:
            row = self._rows.get((provider, model, tier, team, status))
        except TypeError:  # an unhashable label value: the slow path names it
            row = None
        if row is None:
            row = self._book.request_row(provider, model, tier, team, status, batch=False)
        if row.expires is not None and self._prices.clock() >= row.expires:
            self._book.refresh(row)
        p = row.flat
        if p is None:
            p = row.rates.prices(input_tokens)
        c0 = uncached * p[P_INPUT] + p[P_FEE]
        c1 = cache_read_tokens * p[P_CACHE_READ]
        c2 = cache_write_tokens * p[P_CACHE_WRITE]
        premium_1h = 0.0
        if cache_write_1h_tokens:
            c2 += cache_write_1h_tokens * (p[P_WRITE_1H] - p[P_CACHE_WRITE])
            premium_1h = cache_write_1h_tokens * (p[P_WRITE_1H_PREMIUM] - p[P_WRITE_PREMIUM])
        c3 = visible * p[P_OUTPUT]
        c4 = reasoning_tokens * p[P_REASONING]
        cost = c0 + c1 + c2 + c3 + c4
        saved = reference = 0.0
        if row.baseline is not None:
            reference = sum(row.baseline.costs(uncached, cache_read_tokens, cache_write_tokens,
                                               cache_write_1h_tokens, visible,
                                               reasoning_tokens, input_tokens))
            saved = reference - cost
        errors = None
        if status == "error":
            errors = row.errors.get(error_type or "other")
            if errors is None:
                errors = self._book.error_cell(row, error_type)
        elif error_type is not None:
            validation.error_type(error_type, status)
        hit_or_miss = None
        if cache_hit is not None:
            if cache_hit is True:
                hit_or_miss = row.hit
            elif cache_hit is False:
                hit_or_miss = row.miss
            else:
                validation.flag("cache_hit", cache_hit)
        # Every bucket index is found before taking the lock: a C call inside the locked
        # region is a point where CPython may hand the GIL to a thread that then blocks
        # on this lock, and 4 threads would convoy (12 us instead of 3 us per call).
        i_ttft = i_tpot = -1
        tpot = 0.0
        if ttft_seconds is not None:
            i_ttft = bisect_left(TTFT_BUCKETS, ttft_seconds)
            if output_tokens > 1 and duration_seconds is not None \
                    and duration_seconds >= ttft_seconds:
                tpot = (duration_seconds - ttft_seconds) / (output_tokens - 1)
                i_tpot = bisect_left(TPOT_BUCKETS, tpot)

        lock = self._mutex
        if not lock.acquire(False):
            wait_for(lock)
        try:
            row.requests[_V] += 1
            u = row.usage
            u[_U_IN] += uncached
            u[_U_OUT] += visible
            u[_C_IN] += c0
            u[_C_OUT] += c3
            if reference:  # a baseline is configured and the request used tokens
                u[_U_REFERENCE] += reference
                if saved > 0.0:
                    u[_U_SAVED] += saved
            h = row.tok_in
            h[i_in] += 1
            h[_TOK_SUM] += uncached
            h = row.tok_out
            h[i_out] += 1
            h[_TOK_SUM] += visible
            if i_cr >= 0:  # zero-token types cost nothing to skip
                u[_U_CR] += cache_read_tokens
                u[_C_CR] += c1
                u[_U_CACHE_SAVED] += cache_read_tokens * p[P_READ_SAVES]
                h = row.tok_cr
                h[i_cr] += 1
                h[_TOK_SUM] += cache_read_tokens
            if i_cw >= 0:
                u[_U_CW] += cache_write_tokens
                u[_C_CW] += c2
                u[_U_PREMIUM] += cache_write_tokens * p[P_WRITE_PREMIUM] + premium_1h
                h = row.tok_cw
                h[i_cw] += 1
                h[_TOK_SUM] += cache_write_tokens
            if i_rs >= 0:
                u[_U_RS] += reasoning_tokens
                u[_C_RS] += c4
                h = row.tok_rs
                h[i_rs] += 1
                h[_TOK_SUM] += reasoning_tokens
            if i_dur >= 0:
                h = row.duration
                h[i_dur] += 1
                h[_DUR_SUM] += duration_seconds
                u[_U_TEAM_DURATION] += duration_seconds
                u[_U_TIMED] += 1
            if i_ttft >= 0:
                h = row.ttft
                h[i_ttft] += 1
                h[_TTFT_SUM] += ttft_seconds
                if i_tpot >= 0:
                    h = row.tpot
                    h[i_tpot] += 1
                    h[_TPOT_SUM] += tpot
            if hit_or_miss is not None:
                hit_or_miss[_V] += 1
            if row.unpriced is not None:
                row.unpriced[_V] += 1
            if errors is not None:
                errors[_V] += 1
            if row.overflow:
                for cell in row.overflow:
                    cell[_V] += 1
        finally:
            lock.release()
        if trace_id is None and self._otel_exemplars:
            trace_id = current_trace_id()
        if trace_id is not None:
            self._exemplars.note(trace_id, row, (c0, c1, c2, c3, c4), i_dur, duration_seconds,
                                 i_ttft, ttft_seconds)
        return cost

    def track(self, *, provider: str, model: str, team: str | None = None,
              tier: str | None = None, cache_hit: bool | None = None,
              trace_id: str | None = None) -> Call:
        """Time one call (in-flight, duration, TTFT via ``first_token()``, tokens via
        ``usage()``; an exception is status="error", mapped, and propagates): a context
        manager, sync or async."""
        return Call(self, provider, model, team, tier, cache_hit, trace_id)

    @property
    def prices(self) -> PriceBook:
        """The price book this recorder costs requests with."""
        return self._prices

    def exposition(self, openmetrics: bool = False, eof: bool = True) -> bytes:
        """Our series in Prometheus text, or OpenMetrics (ending in ``# EOF`` unless
        ``eof=False``); in multiprocess mode summed over every worker (exemplars are
        single-process). Each call counts as a scrape for the zero-first hold."""
        return self._store.render(openmetrics, eof=False) + render_samples(
            self._readout.samples(), self.namespace, openmetrics=openmetrics, eof=eof)

    def collect(self, scrape: bool = True) -> Iterator:
        """prometheus_client's collector protocol (exposition()'s samples and exemplars);
        ``scrape=False``: values as recorded, no zero-first hold started or applied."""
        yield from self._store.collect(scrape)
        yield from as_metrics(self._readout.samples(), self.namespace)

    def values(self) -> dict[SampleKey, float]:
        """``collect(scrape=False)``'s samples as {(name, sorted label pairs): value}."""
        return {**self._store.values(), **sample_values(self._readout.samples(), self.namespace)}

    def describe(self) -> list:  # prometheus_client's collector protocol
        return self._store.describe()

    def close(self) -> None:
        """Unregister from the registry given at construction (tests, reconfiguration)."""
        if self._registry is not None:
            self._registry.unregister(self)  # type: ignore[attr-defined]
            self._registry = None
