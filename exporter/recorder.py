"""The recording API: :class:`LLMMetrics` and its ``track()`` context manager.

``record_request`` is the hot path. It validates numbers with a handful of integer
operations, finds the request's row with one dict lookup keyed by the raw label values
(the row was built, with labels normalised, capped and priced, the first time that key
was seen), computes the cost with pre-resolved rates and bumps list slots under one
lock. It never calls the price catalog, never builds label strings, never allocates a
metric object.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from bisect import bisect_left
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from . import catalog
from .cardinality import LabelCaps, normalise_model, normalise_optional, normalise_provider
from .catalog import (
    DURATION_BUCKETS,
    ERROR_TYPES,
    STATUSES,
    TOKEN_BUCKETS,
    TOKEN_TYPES,
    TPOT_BUCKETS,
    TTFT_BUCKETS,
)
from .errors import classify
from .exposition import describe, metric_families, render
from .multiprocess import NAN, SegmentStore, merged_states
from .pricing import PriceBook, Rates, split_cost
from .state import Exemplars, FamilyState, Series, UpdateLock, ZeroHold, wait_for

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from .config import Settings

log = logging.getLogger(__name__)

_DEFAULT = object()
_INF = float("inf")
#: Raw label keys cached per recorder; beyond this, new keys still work but take the
#: slow path every time (only reachable with label values that are being capped).
_MAX_CACHED_KEYS = 50_000
_CIRCUIT_STATES = catalog.CIRCUIT_STATES
#: Slots of histogram lists (buckets, +Inf, sum): positive indices keep CPython's
#: specialised list subscript on the fast path.
_TOK_INF = len(TOKEN_BUCKETS)
_TOK_SUM = _TOK_INF + 1
_DURATION_SUM = len(DURATION_BUCKETS) + 1
#: request_tokens bucket index of every token count below _SMALL, looked up instead of
#: bisected (a tuple subscript is ~6x cheaper than bisect_left; 128 KiB once).
_SMALL = 16384
_TOKEN_INDEX = tuple(bisect_left(TOKEN_BUCKETS, n) for n in range(_SMALL))
_TTFT_SUM = len(TTFT_BUCKETS) + 1
_TPOT_SUM = len(TPOT_BUCKETS) + 1


class _Row:
    """Everything one (provider, model, tier, team, status) request updates."""

    __slots__ = (
        "baseline",
        "batch",
        "duration",
        "errors",
        "expires",
        "flat",
        "hit",
        "labels",
        "miss",
        "model",
        "overflow",
        "provider",
        "rates",
        "requests",
        "tok_cr",
        "tok_cw",
        "tok_in",
        "tok_out",
        "tok_rs",
        "tpot",
        "ttft",
        "unpriced",
        "unpriced_cell",
        "usage",
    )

    requests: list
    usage: list
    duration: list
    ttft: list
    tpot: list
    tok_in: list
    tok_out: list
    tok_cr: list
    tok_cw: list
    tok_rs: list
    hit: list
    miss: list
    unpriced: list | None
    """The unpriced-requests counter while the model has no price, else None."""
    unpriced_cell: list
    errors: dict[str, list]
    rates: Rates
    baseline: Rates | None
    overflow: tuple[list, ...]
    provider: str
    model: str
    batch: bool
    labels: tuple[str, str]
    """The admitted (provider, model) label values."""
    flat: tuple[float, ...] | None
    expires: float | None
    """Copies of rates.flat and rates.expires, one attribute load closer."""


def _restart(ref: weakref.ref) -> None:
    """After a fork: give a live multiprocess recorder its own files in the child."""
    metrics = ref()
    if metrics is not None:
        try:
            metrics._init_state()
        except Exception:  # e.g. the directory is gone; never break the child process
            log.exception("llm-exporter could not start its multiprocess files after fork")


def current_trace_id() -> str | None:
    """The trace id of the current OpenTelemetry span, if one is recording."""
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _token_index(n: int) -> int:
    """request_tokens bucket of a large count (buckets are powers of 4: arithmetic)."""
    return min(((n - 1).bit_length() + 1) >> 1, _TOK_INF)


def check_tokens(**tokens: Any) -> None:
    """Raise ValueError naming the argument if token counts are not a valid usage."""
    for name, value in tokens.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an int, got {value!r}")
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if tokens["cache_read_tokens"] + tokens["cache_write_tokens"] > tokens["input_tokens"]:
        raise ValueError(
            "cache_read_tokens + cache_write_tokens must not exceed input_tokens "
            f"({tokens['cache_read_tokens']} + {tokens['cache_write_tokens']} > "
            f"{tokens['input_tokens']}): input_tokens counts all input, cached included "
            "(convert Anthropic usage with exporter.usage.from_anthropic)")
    if tokens["reasoning_tokens"] > tokens["output_tokens"]:
        raise ValueError(
            f"reasoning_tokens must not exceed output_tokens ({tokens['reasoning_tokens']} > "
            f"{tokens['output_tokens']}): output_tokens counts all output, reasoning included")


def check_seconds(name: str, value: Any) -> None:
    """Raise ValueError naming the argument unless ``value`` is finite seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < _INF:
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")


class LLMMetrics:
    """Records LLM requests, cache lookups, routing and batches as Prometheus series.

    One instance per process is the norm. It registers itself on ``registry`` (the
    default prometheus_client registry unless told otherwise; ``registry=None`` skips
    registration) and can also render its own series with :meth:`exposition`.
    """

    def __init__(self, registry: CollectorRegistry | None | object = _DEFAULT, *,
                 namespace: str | None = None, config: Settings | str | Path | None = None,
                 prices: PriceBook | None = None,
                 label_caps: Mapping[str, int] | None = None,
                 created_series: bool = False, otel_exemplars: bool = False,
                 multiprocess_dir: str | Path | None = None,
                 zero_hold_seconds: float | None = None) -> None:
        from .config import Settings

        if config is None or isinstance(config, (str, Path)):
            settings = Settings.load(config)
        else:
            settings = config
        self.settings = settings
        self.namespace = namespace or settings.namespace
        if not self.namespace.replace("_", "a").isalnum() or self.namespace[0].isdigit():
            raise ValueError(f"namespace must match [a-zA-Z_][a-zA-Z0-9_]*, got {self.namespace!r}")
        self._prices = prices if prices is not None else settings.price_book()
        self._baseline = settings.baseline
        if self._baseline is not None and not self._prices.rates(*self._baseline).priced:
            log.warning("savings baseline %s/%s has no price: llm_cost_savings_usd_total "
                        "stays 0", *self._baseline)
        self._caps = LabelCaps({**settings.label_caps, **(label_caps or {})})
        self._created_series = created_series
        self._otel_exemplars = otel_exemplars
        hold = settings.zero_hold_seconds if zero_hold_seconds is None else zero_hold_seconds
        if isinstance(hold, bool) or not isinstance(hold, (int, float)) or not 0 <= hold < _INF:
            raise ValueError(f"zero_hold_seconds must be a finite number >= 0, got {hold!r}")
        self._zero_hold = float(hold)
        multiprocess_dir = multiprocess_dir or os.environ.get("LLM_EXPORTER_MULTIPROC_DIR")
        self._multiprocess_dir = multiprocess_dir
        self._store: SegmentStore | None = None
        self._init_state()
        if multiprocess_dir:
            # Created before a fork (gunicorn --preload), every worker would write into
            # the same shared mappings and lose updates: a child starts afresh instead.
            os.register_at_fork(after_in_child=functools.partial(_restart, weakref.ref(self)))
        self._registry = None
        if registry is _DEFAULT:
            from prometheus_client import REGISTRY

            registry = REGISTRY
        if registry is not None:
            registry.register(self)  # type: ignore[attr-defined]
            self._registry = registry

    def _init_state(self) -> None:
        """Empty series state (and, in multiprocess mode, this process's own files)."""
        if self._multiprocess_dir:
            self._store = SegmentStore(self._multiprocess_dir)
        self._lock = UpdateLock()
        self._mutex = self._lock.mutex
        self._build_lock = threading.RLock()
        self._families = {f.key: FamilyState(f, self.namespace, 5 if f.key == "cost" else 0)
                          for f in catalog.LLM_FAMILIES + catalog.EXPORTER_FAMILIES
                          if f.key not in ("collector_success", "collector_duration")}
        if self._created_series:
            for st in self._families.values():
                st.created = {}
        self._rows: dict[tuple, _Row] = {}
        self._batch_rows: dict[tuple, _Row] = {}
        self._cells: dict[tuple, tuple] = {}
        self._exemplars = Exemplars()
        from . import __version__

        self._series("build_info", (__version__,))[0] = 1
        for result in catalog.EVENT_RESULTS:
            self._series("events", (result,))
        self._overflow = {label: self._series("label_overflow", (label,))
                          for label in sorted(self._caps.caps)}

    # ----------------------------------------------------------------- hot path

    def record_request(self, *, provider: str, model: str, input_tokens: int = 0,
                       output_tokens: int = 0, cache_read_tokens: int = 0,
                       cache_write_tokens: int = 0, reasoning_tokens: int = 0,
                       duration_seconds: float | None = None,
                       ttft_seconds: float | None = None, status: str = "success",
                       error_type: str | None = None, cache_hit: bool | None = None,
                       team: str | None = None, tier: str | None = None,
                       trace_id: str | None = None) -> float:
        """Record one finished LLM request and return its cost in USD.

        Token counts follow OpenAI's usage and the GenAI semantic conventions:
        ``input_tokens`` is all input, cached included; ``cache_read_tokens`` and
        ``cache_write_tokens`` say how many of them hit or filled the prompt cache;
        ``output_tokens`` is all output, ``reasoning_tokens`` how many were reasoning.
        ``cache_hit`` is your own response cache (counted under cache="response").
        ``trace_id`` (or the current OpenTelemetry span, with ``otel_exemplars=True``)
        becomes an exemplar on the latency histograms and the cost counter.
        Raises ValueError for a programmer error (negative tokens, unknown status).
        """
        try:
            uncached = input_tokens - cache_read_tokens - cache_write_tokens
            visible = output_tokens - reasoning_tokens
            bad = (uncached | visible | cache_read_tokens | cache_write_tokens
                   | reasoning_tokens) < 0
            i_in = _TOKEN_INDEX[uncached] if uncached < _SMALL else _token_index(uncached)
            i_out = _TOKEN_INDEX[visible] if visible < _SMALL else _token_index(visible)
            if duration_seconds is None:
                i_dur = -1
            else:
                if not 0.0 <= duration_seconds < _INF:
                    bad = True
                i_dur = bisect_left(DURATION_BUCKETS, duration_seconds)
            if ttft_seconds is not None and not 0.0 <= ttft_seconds < _INF:
                bad = True
        except (TypeError, AttributeError, IndexError):
            bad = True
        if bad:
            check_tokens(input_tokens=input_tokens, output_tokens=output_tokens,
                         cache_read_tokens=cache_read_tokens,
                         cache_write_tokens=cache_write_tokens,
                         reasoning_tokens=reasoning_tokens)
            for name, value in (("duration_seconds", duration_seconds),
                                ("ttft_seconds", ttft_seconds)):
                if value is not None:
                    check_seconds(name, value)
            raise ValueError("token counts must be ints")  # an int-like we cannot index with
        row = self._rows.get((provider, model, tier, team, status))
        if row is None:
            row = self._request_row(provider, model, tier, team, status, batch=False)
        if row.expires is not None and time.time() >= row.expires:
            self._refresh(row)
        p = row.flat
        if p is not None:
            c0 = uncached * p[0] + p[5]
            c1 = cache_read_tokens * p[1]
            c2 = cache_write_tokens * p[2]
            c3 = visible * p[3]
            c4 = reasoning_tokens * p[4]
        else:
            c0, c1, c2, c3, c4 = row.rates.costs(uncached, cache_read_tokens, cache_write_tokens,
                                                 visible, reasoning_tokens, input_tokens,
                                                 duration_seconds)
        cost = c0 + c1 + c2 + c3 + c4
        saved = 0.0
        if row.baseline is not None:
            saved = sum(row.baseline.costs(uncached, cache_read_tokens, cache_write_tokens,
                                           visible, reasoning_tokens, input_tokens,
                                           duration_seconds)) - cost
        errors = None
        if status == "error":
            errors = row.errors.get(error_type or "other")
            if errors is None:
                errors = self._error_cell(row, error_type)
        elif error_type is not None:
            raise ValueError("error_type is only valid with status='error'")
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
        i_cr = -1 if not cache_read_tokens else _TOKEN_INDEX[cache_read_tokens] \
            if cache_read_tokens < _SMALL else _token_index(cache_read_tokens)
        i_cw = -1 if not cache_write_tokens else _TOKEN_INDEX[cache_write_tokens] \
            if cache_write_tokens < _SMALL else _token_index(cache_write_tokens)
        i_rs = -1 if not reasoning_tokens else _TOKEN_INDEX[reasoning_tokens] \
            if reasoning_tokens < _SMALL else _token_index(reasoning_tokens)
        lock = self._mutex
        if not lock.acquire(False):
            wait_for(lock)
        try:
            row.requests[0] += 1
            u = row.usage
            u[0] += uncached
            u[3] += visible
            u[5] += c0
            u[8] += c3
            if saved > 0.0:
                u[10] += saved
            h = row.tok_in
            h[i_in] += 1
            h[_TOK_SUM] += uncached
            h = row.tok_out
            h[i_out] += 1
            h[_TOK_SUM] += visible
            if i_cr >= 0:  # zero-token types cost nothing to skip
                u[1] += cache_read_tokens
                u[6] += c1
                h = row.tok_cr
                h[i_cr] += 1
                h[_TOK_SUM] += cache_read_tokens
            if i_cw >= 0:
                u[2] += cache_write_tokens
                u[7] += c2
                h = row.tok_cw
                h[i_cw] += 1
                h[_TOK_SUM] += cache_write_tokens
            if i_rs >= 0:
                u[4] += reasoning_tokens
                u[9] += c4
                h = row.tok_rs
                h[i_rs] += 1
                h[_TOK_SUM] += reasoning_tokens
            if i_dur >= 0:
                h = row.duration
                h[i_dur] += 1
                h[_DURATION_SUM] += duration_seconds
            if i_ttft >= 0:
                h = row.ttft
                h[i_ttft] += 1
                h[_TTFT_SUM] += ttft_seconds
                if i_tpot >= 0:
                    h = row.tpot
                    h[i_tpot] += 1
                    h[_TPOT_SUM] += tpot
            if cache_hit is not None:
                (row.hit if cache_hit else row.miss)[0] += 1
            if row.unpriced is not None:
                row.unpriced[0] += 1
            if errors is not None:
                errors[0] += 1
            if row.overflow:
                for cell in row.overflow:
                    cell[0] += 1
        finally:
            lock.release()
        if trace_id is None and self._otel_exemplars:
            trace_id = current_trace_id()
        if trace_id is not None:
            self._exemplars.note(trace_id, row, (c0, c1, c2, c3, c4), i_dur, duration_seconds,
                                 i_ttft, ttft_seconds)
        return cost

    def _refresh(self, row: _Row) -> Rates:
        """(Re-)resolve a row's rates: at creation, after a dated price change or when a
        time-of-day tariff window ends."""
        rates = row.rates = self._prices.rates(row.provider, row.model, batch=row.batch)
        row.flat, row.expires = rates.flat, rates.expires
        row.unpriced = None if rates.priced else row.unpriced_cell
        return rates

    # ---------------------------------------------------------------- slow path

    def _series(self, key: str, labels: tuple[str, ...], values: Any = None,
                index: int = 0) -> Any:
        """The value list behind a series, created (zero) on first use."""
        st = self._families[key]
        s = st.series.get(labels)
        if s is None:
            with self._lock:
                s = st.series.get(labels)
                if s is None:
                    if values is None:
                        values = st.new_values() if self._store is None else \
                            self._store.new((key, *labels), len(st.new_values()))
                    s = Series(labels, values, index)
                    st.series[labels] = s
                    if st.created is not None:
                        st.created[labels] = time.time()
        return s.values

    def _usage(self, r: tuple[str, ...]) -> list:
        """The list behind the tokens, cost and savings series of one label set R."""
        tok = self._families["tokens"].series.get(r + ("input",))
        if tok is not None:
            return tok.values
        usage: Any = [0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] if self._store is None \
            else self._store.new(("usage", *r), 11)
        tokens, cost = self._families["tokens"], self._families["cost"]
        now = time.time()
        with self._lock:
            for i, token_type in enumerate(TOKEN_TYPES):
                labels = r + (token_type,)
                # one Series for both families: the cost family reads five slots further
                tokens.series[labels] = cost.series[labels] = Series(labels, usage, i)
                for st in (tokens, cost):
                    if st.created is not None:
                        st.created[labels] = now
        self._series("cost_savings", r, usage, 10)
        return usage

    def _admit(self, label: str, value: str, folded: list[str]) -> str:
        admitted, was_folded = self._caps.admit(label, value)
        if was_folded:
            folded.append(label)
        return admitted

    def _request_row(self, provider_raw: Any, model_raw: Any, tier_raw: Any, team_raw: Any,
                     status: Any, *, batch: bool) -> _Row:
        with self._build_lock:
            return self._build_row(provider_raw, model_raw, tier_raw, team_raw, status, batch)

    def _build_row(self, provider_raw: Any, model_raw: Any, tier_raw: Any, team_raw: Any,
                   status: Any, batch: bool) -> _Row:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        canonical_provider = normalise_provider(provider_raw)
        canonical_model = normalise_model(canonical_provider, model_raw)
        folded: list[str] = []
        provider = self._admit("provider", canonical_provider, folded)
        model = self._admit("model", canonical_model, folded)
        tier = self._admit("tier", normalise_optional("tier", tier_raw), folded)
        team = self._admit("team", normalise_optional("team", team_raw), folded)
        row = _Row()
        row.provider, row.model, row.batch = canonical_provider, canonical_model, batch
        row.labels = (provider, model)
        r = (provider, model, tier, team)
        row.usage = self._usage(r)
        if not batch:
            row.requests = self._series("requests", r + (status,))
            row.duration = self._series("request_duration", (provider, model, tier, status))
            row.ttft = self._series("ttft", (provider, model, tier))
            row.tpot = self._series("tpot", (provider, model, tier))
            row.tok_in, row.tok_cr, row.tok_cw, row.tok_out, row.tok_rs = (
                self._series("request_tokens", (provider, model, t)) for t in TOKEN_TYPES)
            self._series("in_flight", (provider, model))  # 0 until track() is used
            row.hit = self._series("cache_lookups", ("response", "hit"))
            row.miss = self._series("cache_lookups", ("response", "miss"))
            row.errors = {}
        else:
            row.requests = self._series("batches", (provider, model, team, status))
            row.duration = self._series("batch_size", (provider, model))
        row.unpriced_cell = self._series("unpriced_requests", (provider, model))
        self._refresh(row)
        row.baseline = None
        if self._baseline is not None and self._baseline != (canonical_provider, canonical_model):
            row.baseline = self._prices.rates(*self._baseline, batch=batch)
            if not row.baseline.priced:
                row.baseline = None
        row.overflow = tuple(self._overflow[label] for label in folded)
        rows = self._batch_rows if batch else self._rows
        if not folded and len(rows) < _MAX_CACHED_KEYS:
            rows[(provider_raw, model_raw, tier_raw, team_raw, status)] = row
        return row

    def _error_cell(self, row: _Row, error_type: str | None) -> list:
        error_type = error_type or "other"
        if error_type not in ERROR_TYPES:
            raise ValueError(f"error_type must be one of {', '.join(ERROR_TYPES)}, "
                             f"got {error_type!r}")
        cell = self._series("request_errors", row.labels + (error_type,))
        row.errors[error_type] = cell
        return cell

    def _labels(self, key: tuple, build: Any) -> tuple:
        """Cells for a non-request recording, cached by its raw label values."""
        cached = self._cells.get(key)
        if cached is not None:
            return cached
        with self._build_lock:
            folded: list[str] = []
            cells = (*build(folded), tuple(self._overflow[label] for label in folded))
            if not folded and len(self._cells) < _MAX_CACHED_KEYS:
                self._cells[key] = cells
        return cells

    def _optional(self, label: str, raw: Any, folded: list[str]) -> str:
        return self._admit(label, normalise_optional(label, raw), folded)

    # ------------------------------------------------------- the rest of the API

    def track(self, *, provider: str, model: str, team: str | None = None,
              tier: str | None = None, cache_hit: bool | None = None,
              trace_id: str | None = None) -> Call:
        """Time one call: in-flight gauge, duration, TTFT via ``first_token()``, tokens via
        ``usage()``, and on an exception status="error" with a mapped error_type (the
        exception propagates untouched). Usable with ``with`` and ``async with``."""
        return Call(self, provider, model, team, tier, cache_hit, trace_id)

    def record_cache_lookup(self, *, cache: str, hit: bool,
                            duration_seconds: float | None = None,
                            similarity: float | None = None, count: int = 1) -> None:
        """One lookup in a cache of yours (e.g. cache="semantic"). ``similarity`` is the
        score the cache computed for its best candidate, 0..1. ``count`` records that
        many identical lookups at once (e.g. from a periodic report)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        if duration_seconds is not None:
            check_seconds("duration_seconds", duration_seconds)
        if similarity is not None and (isinstance(similarity, bool)
                                       or not isinstance(similarity, (int, float))
                                       or not 0.0 <= similarity <= 1.0):
            raise ValueError(f"similarity must be a number in 0..1, got {similarity!r}")
        if not isinstance(hit, bool):
            raise ValueError(f"hit must be a bool, got {hit!r}")

        def build(folded: list[str]) -> tuple:
            name = self._optional("cache", cache, folded)
            return (self._series("cache_lookups", (name, "hit")),
                    self._series("cache_lookups", (name, "miss")),
                    self._series("cache_lookup_duration", (name,)),
                    self._series("cache_similarity", (name,)))

        hits, misses, durations, similarities, overflow = self._labels(("cache", cache), build)
        i_dur = -1 if duration_seconds is None else \
            bisect_left(catalog.CACHE_LOOKUP_BUCKETS, duration_seconds)
        i_sim = -1 if similarity is None else bisect_left(catalog.SIMILARITY_BUCKETS, similarity)
        with self._lock:
            (hits if hit else misses)[0] += count
            if i_dur >= 0:
                durations[i_dur] += count
                durations[-1] += duration_seconds * count  # type: ignore[operator]
            if i_sim >= 0:
                similarities[i_sim] += count
                similarities[-1] += similarity * count  # type: ignore[operator]
            for cell in overflow:
                cell[0] += count

    def record_routing(self, *, complexity: str, tier: str, score: float | None = None,
                       duration_seconds: float | None = None, fallback: bool = False) -> None:
        """One routing decision: which tier a query of this complexity went to."""
        if duration_seconds is not None:
            check_seconds("duration_seconds", duration_seconds)
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))
                                  or not -_INF < score < _INF):
            raise ValueError(f"score must be a finite number, got {score!r}")
        if not isinstance(fallback, bool):
            raise ValueError(f"fallback must be a bool, got {fallback!r}")

        def build(folded: list[str]) -> tuple:
            c = self._optional("complexity", complexity, folded)
            t = self._optional("tier", tier, folded)
            return (self._series("routing_decisions", (c, t, "true")),
                    self._series("routing_decisions", (c, t, "false")),
                    self._series("routing_duration", (t,)),
                    self._series("routing_score", (c,)))

        yes, no, durations, scores, overflow = self._labels(("route", complexity, tier), build)
        with self._lock:
            (yes if fallback else no)[0] += 1
            if duration_seconds is not None:
                durations[bisect_left(catalog.ROUTING_DURATION_BUCKETS, duration_seconds)] += 1
                durations[-1] += duration_seconds
            if score is not None:
                scores[bisect_left(catalog.COMPLEXITY_SCORE_BUCKETS, score)] += 1
                scores[-1] += score
            for cell in overflow:
                cell[0] += 1

    def set_tier_models(self, *, tier: str, available: int, total: int) -> None:
        """How many models of a tier are available now, out of how many configured."""
        for name, value in (("available", available), ("total", total)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if available > total:
            raise ValueError(f"available ({available}) must not exceed total ({total})")

        def build(folded: list[str]) -> tuple:
            t = self._optional("tier", tier, folded)
            return self._series("tier_available", (t,)), self._series("tier_total", (t,))

        avail, tot, overflow = self._labels(("tier", tier), build)
        now = time.time()
        with self._lock:
            avail[0], avail[1] = available, now
            tot[0], tot[1] = total, now
            for cell in overflow:
                cell[0] += 1

    def set_provider_state(self, *, provider: str, up: bool | None = None,
                           circuit: str | None = None) -> None:
        """Health of a provider and its circuit breaker state (closed, half_open, open)."""
        if up is not None and not isinstance(up, bool):
            raise ValueError(f"up must be a bool, got {up!r}")
        if circuit is not None and circuit not in _CIRCUIT_STATES:
            raise ValueError(f"circuit must be one of {', '.join(_CIRCUIT_STATES)}, "
                             f"got {circuit!r}")

        def build(folded: list[str]) -> tuple:
            p = self._admit("provider", normalise_provider(provider), folded)
            up_cell = self._new_gauge("provider_up", (p,))
            states = tuple(self._new_gauge("provider_circuit", (p, st)) for st in _CIRCUIT_STATES)
            return up_cell, states

        up_cell, states, overflow = self._labels(("provider", provider), build)
        now = time.time()
        with self._lock:
            if up is not None:
                up_cell[0], up_cell[1] = int(up), now
            if circuit is not None:
                for st, cell in zip(_CIRCUIT_STATES, states):
                    cell[0], cell[1] = int(st == circuit), now
            for cell in overflow:
                cell[0] += 1

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
            self._set_gauge("pool_active", "pool", pool, active, "active")
        if queued is not None:
            self._set_gauge("pool_queued", "pool", pool, queued, "queued")

    def _new_gauge(self, key: str, labels: tuple[str, ...]) -> list:
        """A gauge series that stays hidden until first set (its value is None, or NaN in
        multiprocess files). Gauges are [value, time written]."""
        st = self._families[key]
        s = st.series.get(labels)
        if s is not None:
            return s.values
        values: Any = self._store.new((key, *labels), 2, NAN) if self._store is not None \
            else [None, 0.0]
        return self._series(key, labels, values)

    def _set_gauge(self, key: str, label: str, raw: Any, value: Any, field: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value < _INF:
            raise ValueError(f"{field} must be a finite number >= 0, got {value!r}")

        def build(folded: list[str]) -> tuple:
            return (self._new_gauge(key, (self._optional(label, raw, folded),)),)

        cell, overflow = self._labels((key, raw), build)
        now = time.time()
        with self._lock:
            cell[0], cell[1] = value, now
            for c in overflow:
                c[0] += 1

    def record_batch(self, *, provider: str, model: str, size: int, team: str | None = None,
                     tier: str | None = None, input_tokens: int = 0, output_tokens: int = 0,
                     cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                     reasoning_tokens: int = 0, duration_seconds: float | None = None,
                     status: str = "success", cost_usd: float | None = None) -> float:
        """One batch job of ``size`` requests; its tokens and cost (at the provider's
        batch price where the catalog has one, or ``cost_usd`` when you know it from the
        bill) go to the request counters too. Returns the cost in USD."""
        check_tokens(input_tokens=input_tokens, output_tokens=output_tokens,
                      cache_read_tokens=cache_read_tokens,
                      cache_write_tokens=cache_write_tokens, reasoning_tokens=reasoning_tokens)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"size must be an int >= 0, got {size!r}")
        if duration_seconds is not None:
            check_seconds("duration_seconds", duration_seconds)
        row = self._batch_rows.get((provider, model, tier, team, status))
        if row is None:
            row = self._request_row(provider, model, tier, team, status, batch=True)
        rates = row.rates
        if row.expires is not None and time.time() >= row.expires:
            rates = self._refresh(row)
        uncached = input_tokens - cache_read_tokens - cache_write_tokens
        visible = output_tokens - reasoning_tokens
        tokens = (uncached, cache_read_tokens, cache_write_tokens, visible, reasoning_tokens)
        if cost_usd is not None:
            if isinstance(cost_usd, bool) or not isinstance(cost_usd, (int, float)) \
                    or not 0 <= cost_usd < _INF:
                raise ValueError(f"cost_usd must be a finite number >= 0, got {cost_usd!r}")
            costs = split_cost(float(cost_usd), tokens)
        else:
            costs = rates.costs(uncached, cache_read_tokens, cache_write_tokens, visible,
                                reasoning_tokens, input_tokens, duration_seconds)
        cost = sum(costs)
        saved = 0.0
        if row.baseline is not None:
            saved = sum(row.baseline.costs(uncached, cache_read_tokens, cache_write_tokens,
                                           visible, reasoning_tokens, input_tokens,
                                           duration_seconds)) - cost
        with self._lock:
            row.requests[0] += 1
            h = row.duration
            h[bisect_left(catalog.BATCH_SIZE_BUCKETS, size)] += 1
            h[-1] += size
            u = row.usage
            for i in range(5):
                u[i] += tokens[i]
                u[5 + i] += costs[i]
            if saved > 0.0:
                u[10] += saved
            if row.unpriced is not None and cost_usd is None:
                row.unpriced[0] += 1
            for cell in row.overflow:
                cell[0] += 1
        return cost

    def record_events(self, *, accepted: int = 0, rejected: int = 0) -> None:
        """Count ingested events (the sidecar calls this for every event it answers)."""
        acc = self._families["events"].series[("accepted",)].values
        rej = self._families["events"].series[("rejected",)].values
        with self._lock:
            acc[0] += accepted
            rej[0] += rejected

    def call_started(self, provider: str, model: str) -> list:
        """A call began (for track()): bump and return its in-flight gauge cell."""
        def build(folded: list[str]) -> tuple:
            canonical = normalise_provider(provider)
            p = self._admit("provider", canonical, folded)
            m = self._admit("model", normalise_model(canonical, model), folded)
            return (self._series("in_flight", (p, m)),)

        cell, _ = self._labels(("in_flight", provider, model), build)
        with self._lock:
            cell[0] += 1
        return cell

    def call_ended(self, cell: list) -> None:
        with self._lock:
            cell[0] -= 1

    @property
    def prices(self) -> PriceBook:
        """The price book this recorder costs requests with."""
        return self._prices

    # ------------------------------------------------------------- exposition

    def _hold(self) -> ZeroHold | None:
        """This scrape's zero-first rule (see :class:`~exporter.state.ZeroHold`)."""
        return ZeroHold(self._zero_hold) if self._zero_hold else None

    def _merged(self) -> list:
        """Multiprocess mode: every worker's series merged, new ones already held at 0."""
        assert self._store is not None
        return merged_states(self._store, self.namespace, self._hold())

    def exposition(self, openmetrics: bool = False, eof: bool = True) -> bytes:
        """Our series in Prometheus text format, or OpenMetrics (ending in ``# EOF``
        unless ``eof=False``, for a caller that appends more families). In multiprocess
        mode, the sums over every worker (exemplars are single-process). Every call
        counts as a scrape for the zero-first hold of new series."""
        if self._store is not None:
            return render(self._merged(), UpdateLock(), openmetrics=openmetrics, eof=eof)
        return render(self._families.values(), self._lock, openmetrics=openmetrics,
                      created=self._created_series, eof=eof,
                      exemplars=self._exemplars.by_list if openmetrics else None,
                      hold=self._hold())

    def collect(self) -> Any:
        """prometheus_client's collector protocol: the same samples as exposition()."""
        if self._store is not None:
            return metric_families(self._merged(), UpdateLock())
        return metric_families(self._families.values(), self._lock, self._created_series,
                               self._hold())

    def describe(self) -> list:
        return describe(self._families.values())

    def close(self) -> None:
        """Unregister from the registry given at construction (tests, reconfiguration)."""
        if self._registry is not None:
            self._registry.unregister(self)  # type: ignore[attr-defined]
            self._registry = None


class Call:
    """One tracked LLM call; see :meth:`LLMMetrics.track`."""

    __slots__ = (
        "_in_flight",
        "_metrics",
        "_start",
        "_ttft",
        "_usage",
        "cache_hit",
        "cost",
        "error_type",
        "model",
        "provider",
        "team",
        "tier",
        "trace_id",
    )

    def __init__(self, metrics: Any, provider: str, model: str, team: str | None,
                 tier: str | None, cache_hit: bool | None,
                 trace_id: str | None = None) -> None:
        """``metrics`` is an :class:`LLMMetrics` or anything with its ``record_request``,
        ``call_started`` and ``call_ended`` (the OpenTelemetry recorder)."""
        self._metrics = metrics
        self.provider, self.model, self.team, self.tier = provider, model, team, tier
        self.cache_hit = cache_hit
        self.trace_id = trace_id
        self._ttft: float | None = None
        self._usage: dict[str, int] = {}
        self.error_type: str | None = None
        self.cost: float | None = None
        """The call's cost in USD, set when the call ends."""

    def first_token(self) -> None:
        """Mark the first streamed token; later calls are ignored."""
        if self._ttft is None:
            self._ttft = time.perf_counter() - self._start

    def usage(self, *, input_tokens: int = 0, output_tokens: int = 0,
              cache_read_tokens: int = 0, cache_write_tokens: int = 0,
              reasoning_tokens: int = 0) -> None:
        """The call's token usage (same meaning as in record_request); a later call
        replaces an earlier one, so a stream can report its final usage chunk."""
        check_tokens(input_tokens=input_tokens, output_tokens=output_tokens,
                      cache_read_tokens=cache_read_tokens,
                      cache_write_tokens=cache_write_tokens, reasoning_tokens=reasoning_tokens)
        self._usage = {"input_tokens": input_tokens, "output_tokens": output_tokens,
                       "cache_read_tokens": cache_read_tokens,
                       "cache_write_tokens": cache_write_tokens,
                       "reasoning_tokens": reasoning_tokens}

    def fail(self, error_type: str = "other") -> None:
        """Mark the call failed without raising (e.g. an error returned in a response)."""
        if error_type not in ERROR_TYPES:
            raise ValueError(f"error_type must be one of {', '.join(ERROR_TYPES)}, "
                             f"got {error_type!r}")
        self.error_type = error_type

    def __enter__(self) -> Call:
        self._in_flight = self._metrics.call_started(self.provider, self.model)
        self._start = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        duration = time.perf_counter() - self._start
        m = self._metrics
        m.call_ended(self._in_flight)
        if exc is not None and self.error_type is None:
            try:
                self.error_type = classify(exc)
            except Exception:  # never mask the caller's exception
                self.error_type = "other"
        try:
            self.cost = m.record_request(
                provider=self.provider, model=self.model, team=self.team, tier=self.tier,
                duration_seconds=duration, ttft_seconds=self._ttft,
                status="error" if self.error_type is not None else "success",
                error_type=self.error_type, cache_hit=self.cache_hit, **self._usage,
                **({"trace_id": self.trace_id} if self.trace_id is not None else {}))
        except Exception:
            if exc is None:
                raise
            log.exception("could not record a failed LLM call")

    async def __aenter__(self) -> Call:
        return self.__enter__()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.__exit__(exc_type, exc, tb)
