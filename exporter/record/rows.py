"""The slow path of every recording: label admission, series lookup and pricing, done
once per distinct set of raw label values and cached.

A request's raw (provider, model, tier, team, status) becomes a :class:`Row` the first
time it is seen: labels normalised and capped (a folded value bumps the overflow
counter on every later use), the value lists of every series the request updates, and
its price rates resolved. The hot path then needs one dict lookup.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .. import catalog
from .._store import SeriesStore
from ..cardinality import OTHER, LabelCaps, normalise_model, normalise_optional, normalise_provider
from ..catalog import REQUEST_LABELS, TOKEN_TYPES
from ..pricing.book import PriceBook, Rates
from .validation import error_type as check_error_type
from .validation import status as check_status

#: Raw label keys cached per recorder; beyond this, new keys still work but take the
#: slow path every time (only reachable with label values that are being capped).
MAX_CACHED_KEYS = 50_000
#: Of those, keys whose labels a cap or a series budget folded (many raw values share
#: one overflow row): cached too, since a fold is for good (caps and budgets only
#: fill), and the row bumps its overflow counters on every use.
MAX_FOLDED_KEYS = 10_000


class Row:
    """Everything one (provider, model, tier, team, status) request or batch updates."""

    __slots__ = ("baseline", "batch", "duration", "errors", "expires", "flat", "hit",
                 "labels", "miss", "model", "overflow", "provider", "rates", "requests",
                 "tok_cr", "tok_cw", "tok_in", "tok_out", "tok_rs", "tpot", "ttft",
                 "unpriced", "unpriced_cell", "usage")

    requests: list
    """llm_requests_total (llm_batches_total for a batch row)."""
    usage: list
    """Tokens, costs and savings: see :mod:`exporter._store.layout`."""
    duration: list
    """llm_request_duration_seconds (llm_batch_size for a batch row)."""
    ttft: list
    tpot: list
    tok_in: list
    tok_out: list
    tok_cr: list
    tok_cw: list
    tok_rs: list
    """llm_request_tokens per token type."""
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


class RowBook:
    """Rows and cell tuples, built under one lock and cached by raw label values."""

    def __init__(self, store: SeriesStore, caps: LabelCaps, prices: PriceBook,
                 baseline: tuple[str, str] | None) -> None:
        self.store = store
        self.caps = caps
        self.prices = prices
        self.baseline = baseline
        self.rows: dict[tuple, Row] = {}
        self.batch_rows: dict[tuple, Row] = {}
        self.cell_cache: dict[tuple, tuple] = {}
        self._folded_keys = 0
        self.lock = threading.RLock()
        self._overflow_set = False
        """While set (under ``lock``), every capped label is admitted as "other"."""
        self.overflow = {label: store.series("label_overflow", (label,))
                         for label in sorted(caps.caps)}

    def new(self, key: str, /, **labels: str) -> Any:
        """A series' value list, its labels put in the family's order by name."""
        return self.store.series(key, catalog.BY_KEY[key].label_values(**labels))

    def admit(self, label: str, value: str, folded: list[str]) -> str:
        if self._overflow_set:
            return OTHER
        admitted, was_folded = self.caps.admit(label, value)
        if was_folded:
            folded.append(label)
        return admitted

    def _build(self, build: Callable[[list[str]], Any]) -> tuple[Any, list[str], list[str]]:
        """``build(folded)`` under the lock; when it met a family's series budget, again
        with every capped label "other", so all families of one recording agree. Returns
        the result, the labels caps folded and the families budgets folded."""
        folded: list[str] = []
        self.store.over.clear()
        result = build(folded)
        over = list(dict.fromkeys(self.store.over))
        if over:
            self._overflow_set = True
            try:
                result = build([])
            finally:
                self._overflow_set = False
        return result, folded, over

    def optional(self, label: str, raw: Any, folded: list[str]) -> str:
        return self.admit(label, normalise_optional(label, raw), folded)

    def request_row(self, provider: Any, model: Any, tier: Any, team: Any, status: Any, *,
                    batch: bool) -> Row:
        check_status(status)
        canonical_provider = normalise_provider(provider)
        canonical_model = normalise_model(canonical_provider, model)
        with self.lock:
            row, folded, over = self._build(lambda folded: self._build_row(
                canonical_provider, canonical_model, tier, team, status, batch, folded))
            row.overflow = self._overflow_cells(folded, over)
            rows = self.batch_rows if batch else self.rows
            if self._keep(len(rows), bool(folded or over)):
                rows[(provider, model, tier, team, status)] = row
        return row

    def _build_row(self, canonical_provider: str, canonical_model: str, tier_raw: Any,
                   team_raw: Any, status: str, batch: bool, folded: list[str]) -> Row:
        provider = self.admit("provider", canonical_provider, folded)
        model = self.admit("model", canonical_model, folded)
        tier = self.optional("tier", tier_raw, folded)
        team = self.optional("team", team_raw, folded)
        request = {"provider": provider, "model": model, "tier": tier, "team": team}
        row = Row()
        row.usage = self.store.usage(tuple(request[name] for name in REQUEST_LABELS))
        row.provider, row.model, row.batch = canonical_provider, canonical_model, batch
        row.labels = (provider, model)
        pm = {"provider": provider, "model": model}
        if not batch:
            row.requests = self.new("requests", **pm, tier=tier, team=team, status=status)
            row.duration = self.new("request_duration", **pm, tier=tier, status=status)
            row.ttft = self.new("ttft", **pm, tier=tier)
            row.tpot = self.new("tpot", **pm, tier=tier)
            row.tok_in, row.tok_cr, row.tok_cw, row.tok_out, row.tok_rs = (
                self.new("request_tokens", **pm, token_type=t) for t in TOKEN_TYPES)
            self.new("in_flight", **pm)  # 0 until track() is used
            row.hit = self.new("cache_lookups", cache="response", result="hit", team=team)
            row.miss = self.new("cache_lookups", cache="response", result="miss", team=team)
            row.errors = {}
        else:
            row.requests = self.new("batches", **pm, team=team, status=status)
            row.duration = self.new("batch_size", **pm)
        row.unpriced_cell = self.new("unpriced_requests", **pm)
        rates = self.refresh(row)
        info = self.store.gauge("model_price_info", catalog.BY_KEY["model_price_info"]
                                .label_values(**pm, source=rates.source, pool=rates.pool))
        info[0], info[1] = 1, time.time()
        row.baseline = None
        if self.baseline is not None:
            # The baseline model's own traffic costs the same on the reference: its rates
            # are the reference, so the reference counter adds up over every model.
            row.baseline = self.prices.rates(*self.baseline, batch=batch)
            if not row.baseline.priced:
                row.baseline = None
        return row

    def refresh(self, row: Row) -> Rates:
        """(Re-)resolve a row's rates: at creation, after a dated price change or when a
        time-of-day tariff window ends."""
        rates = row.rates = self.prices.rates(row.provider, row.model, batch=row.batch)
        row.flat, row.expires = rates.flat, rates.expires
        row.unpriced = None if rates.priced else row.unpriced_cell
        return rates

    def error_cell(self, row: Row, error_type: Any) -> list:
        """The error counter of a failed request (error_type None counts as "other")."""
        error_type = check_error_type(error_type, "error") or "other"
        provider, model = row.labels
        cell = self.new("request_errors", provider=provider, model=model,
                        error_type=error_type)
        row.errors[error_type] = cell
        return cell

    def cells(self, key: tuple, build: Callable[[list[str]], tuple]) -> tuple:
        """Value lists of a non-request recording plus its overflow cells, cached by the
        raw label values in ``key``. ``build(folded)`` admits labels, noting folds."""
        try:
            cached = self.cell_cache.get(key)
        except TypeError:  # an unhashable label value: build() names it
            cached = None
        if cached is not None:
            return cached
        with self.lock:
            built, folded, over = self._build(build)
            cells = (*built, self._overflow_cells(folded, over))
            if self._keep(len(self.cell_cache), bool(folded or over)):
                self.cell_cache[key] = cells
        return cells

    def _keep(self, cached: int, folded: bool) -> bool:
        """Whether to cache one more key (under ``lock``)."""
        if cached >= MAX_CACHED_KEYS:
            return False
        if folded:
            if self._folded_keys >= MAX_FOLDED_KEYS:
                return False
            self._folded_keys += 1
        return True

    def _overflow_cells(self, folded: list[str], over: list[str]) -> tuple[list, ...]:
        """The counters an event bumps: one per label a cap folded, one per family whose
        series budget folded it."""
        return (*(self.overflow[label] for label in folded),
                *(self.store.series("series_overflow",
                                    (catalog.BY_KEY[key].full_name(self.store.namespace),))
                  for key in over))

    def retries(self, provider: str, model: str) -> list:
        """The retry counter of a (provider, model)."""
        return self._per_model("request_retries", provider, model)

    def in_flight(self, provider: str, model: str) -> list:
        """The in-flight gauge of a (provider, model), for track()."""
        return self._per_model("in_flight", provider, model)

    def _per_model(self, key: str, provider: str, model: str) -> list:
        def build(folded: list[str]) -> tuple:
            canonical = normalise_provider(provider)
            return (self.new(key, provider=self.admit("provider", canonical, folded),
                             model=self.admit("model", normalise_model(canonical, model),
                                              folded)),)

        return self.cells((key, provider, model), build)[0]  # type: ignore[no-any-return]

