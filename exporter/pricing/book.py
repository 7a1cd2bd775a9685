"""USD cost of a request: genai-prices' bundled catalog, user overrides and GPU pools.

genai-prices' ``calc_price`` takes ~136 us a call, far too slow for the hot path, so a
:class:`PriceBook` resolves each (provider, model) once into :class:`Rates`: per-token
prices for each token type, the long-context tiers, a per-request fee, what a cached
token saves and what a cache write costs above the uncached price, where the prices
came from, and the instant they stop being valid (a dated price change or a time-of-day
tariff). Costing a request is then a few multiplications.

Where a price comes from, first match wins: a user override (or ``free: true``), a
self-hosted GPU pool (:mod:`exporter.pricing.pools`: the request costs 0, the pool's hours
are the cost), the catalog (:mod:`exporter.pricing.genai_prices`), else unpriced.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from . import genai_prices
from .genai_prices import CatalogInfo
from .pools import Pool

log = logging.getLogger(__name__)

#: Providers that run on the user's own hardware: never priced from another provider's
#: list by model name alone (a self-hosted llama costs what its GPUs cost).
SELF_HOSTED_PROVIDERS = frozenset(
    {"ollama", "vllm", "local", "llamacpp", "llama.cpp", "tgi", "lmstudio", "sglang",
     "triton", "localai", "self-hosted", "selfhosted"})

#: Where a cost's prices came from (the ``source`` label of llm_model_price_info).
SOURCES = ("catalog", "override", "free", "pool", "none")

_PER_MTOK = 1_000_000.0
_MAX_WARNINGS = 50
_ZERO5 = (0.0, 0.0, 0.0, 0.0, 0.0)

Vector = tuple[float, float, float, float, float]
"""(input, cache_read, cache_write, output, reasoning): per-token prices or costs."""
Prices = tuple[float, float, float, float, float, float, float, float, float, float]
"""One price row, laid out for the recorder's hot path: the five per-token prices of
Vector, then the request fee, the 1-hour cache-write price, what a cache read saves
(input minus cache_read), and what a 5-minute and a 1-hour cache write cost above the
input price (each never below 0)."""
# A Prices row's slots, by name (price_row writes them in this order).
P_INPUT, P_CACHE_READ, P_CACHE_WRITE, P_OUTPUT, P_REASONING = range(5)
P_FEE, P_WRITE_1H, P_READ_SAVES, P_WRITE_PREMIUM, P_WRITE_1H_PREMIUM = range(5, 10)


def price_row(vector: tuple[float, ...], request_fee: float = 0.0,
              cache_write_1h: float | None = None) -> Prices:
    """A :data:`Prices` row from per-token prices (a 1-hour write price missing: the
    5-minute one)."""
    inp, cr, cw, out, rs = vector[:5]
    w1h = cw if cache_write_1h is None else cache_write_1h
    return (inp, cr, cw, out, rs, request_fee, w1h, max(inp - cr, 0.0), max(cw - inp, 0.0),
            max(w1h - inp, 0.0))


def costs(p: Prices, uncached: int, cache_read: int, cache_write: int, cache_write_1h: int,
          output: int, reasoning: int) -> Vector:
    """Cost split like the token_type partition (``cache_write_1h`` of the cache writes
    went to the 1-hour cache)."""
    return (uncached * p[P_INPUT] + p[P_FEE], cache_read * p[P_CACHE_READ],
            (cache_write - cache_write_1h) * p[P_CACHE_WRITE] + cache_write_1h * p[P_WRITE_1H],
            output * p[P_OUTPUT], reasoning * p[P_REASONING])


def cache_effect(p: Prices, cache_read: int, cache_write: int,
                 cache_write_1h: int) -> tuple[float, float]:
    """(what cache reads saved against the input price, what cache writes cost above
    it)."""
    return (cache_read * p[P_READ_SAVES],
            (cache_write - cache_write_1h) * p[P_WRITE_PREMIUM]
            + cache_write_1h * p[P_WRITE_1H_PREMIUM])


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices of one (provider, model), resolved ahead of time."""

    base: Vector = _ZERO5
    """USD per token, the :data:`Vector` order."""
    tiers: tuple[tuple[int, Prices], ...] = ()
    """(threshold, price row), highest threshold first: applied to every token of a
    request whose total input tokens exceed the threshold (the providers' cliff model)."""
    request_fee: float = 0.0
    cache_write_1h: float | None = None
    """USD per token written to a 1-hour prompt cache; None: the cache_write price."""
    expires: float | None = None
    """Unix time at which these rates stop being valid; None if they never change."""
    priced: bool = True
    source: str = "catalog"
    """One of :data:`SOURCES`."""
    pool: str = ""
    """The GPU pool whose hours are this model's cost (source "pool")."""
    row: Prices = field(init=False, compare=False)
    """The base price row."""
    flat: Prices | None = field(init=False, default=None, compare=False)
    """The price row when it does not depend on the request (no tiers), so the recorder
    can inline the arithmetic; None otherwise."""

    def __post_init__(self) -> None:
        if self.source not in SOURCES:  # a label value: from a bounded set
            raise ValueError(f"source: one of {', '.join(SOURCES)}, got {self.source!r}")
        row = price_row(self.base, self.request_fee, self.cache_write_1h)
        object.__setattr__(self, "row", row)
        object.__setattr__(self, "flat", None if self.tiers else row)

    def prices(self, input_total: int) -> Prices:
        """The price row of a request with ``input_total`` input tokens."""
        for start, p in self.tiers:
            if input_total > start:
                return p
        return self.row

    def costs(self, uncached: int, cache_read: int, cache_write: int, cache_write_1h: int,
              output: int, reasoning: int, input_total: int) -> Vector:
        """Cost split like the token_type partition; ``input_total`` picks the tier."""
        return costs(self.prices(input_total), uncached, cache_read, cache_write,
                     cache_write_1h, output, reasoning)


UNPRICED = Rates(priced=False, source="none")


def split_cost(total: float, tokens: tuple[int, int, int, int, int]) -> Vector:
    """Spread a cost that is not per token (a known bill) over the token types in
    proportion to their counts; all of it to ``output`` when there are no tokens."""
    n = tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4]
    if not n:
        return 0.0, 0.0, 0.0, total, 0.0
    share = total / n
    return (tokens[0] * share, tokens[1] * share, tokens[2] * share, tokens[3] * share,
            tokens[4] * share)


@dataclass(frozen=True)
class PriceOverride:
    """A user's price for a (provider, model); ``model="*"`` covers the provider;
    ``free=True`` says it costs nothing (a model you do not pay for per token)."""

    provider: str
    model: str
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float | None = None
    """Defaults to the input price, as if the provider had no prompt cache discount."""
    cache_write_per_mtok: float | None = None
    cache_write_1h_per_mtok: float | None = None
    """Defaults to the cache_write price."""
    reasoning_per_mtok: float | None = None
    """Defaults to the output price."""
    request_usd: float = 0.0
    free: bool = False

    _FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
               "cache_write_per_mtok", "cache_write_1h_per_mtok", "reasoning_per_mtok",
               "request_usd")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "prices") -> PriceOverride:
        """Validate one override from config, naming the bad field on error."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {type(raw).__name__}")
        unknown = set(raw) - {"provider", "model", "free", *cls._FIELDS}
        if unknown:
            hint = (" (a GPU-hour price belongs to a pool: pricing.pools)"
                    if unknown & {"gpu_hour_usd", "gpus"} else "")
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}{hint}")
        from ..cardinality import normalise_model, normalise_provider

        try:
            provider = normalise_provider(raw.get("provider"))
            model_raw = raw.get("model")
            model = "*" if model_raw == "*" else normalise_model(provider, model_raw)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        free = raw.get("free", False)
        if not isinstance(free, bool):
            raise ValueError(f"{where}.free: must be true or false, got {free!r}")
        values: dict[str, float] = {}
        for name in cls._FIELDS:
            if name not in raw or raw[name] is None:
                continue
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}.{name}: must be a non-negative number, got {value!r}")
            values[name] = float(value)
        if free and values:
            raise ValueError(f"{where}: free: true takes no prices")
        if not values and not free:
            raise ValueError(f"{where}: give at least one price (e.g. input_per_mtok or "
                             "output_per_mtok), or free: true")
        return cls(provider=provider, model=model, free=free, **values)

    def rates(self) -> Rates:
        if self.free:
            return Rates(source="free")
        inp = self.input_per_mtok / _PER_MTOK
        out = self.output_per_mtok / _PER_MTOK
        cr = inp if self.cache_read_per_mtok is None else self.cache_read_per_mtok / _PER_MTOK
        cw = inp if self.cache_write_per_mtok is None else self.cache_write_per_mtok / _PER_MTOK
        rs = out if self.reasoning_per_mtok is None else self.reasoning_per_mtok / _PER_MTOK
        w1h = None if self.cache_write_1h_per_mtok is None else \
            self.cache_write_1h_per_mtok / _PER_MTOK
        return Rates(base=(inp, cr, cw, out, rs), request_fee=self.request_usd,
                     cache_write_1h=w1h, source="override")


@dataclass
class PriceBook:
    """Resolves and caches :class:`Rates`; the only place that talks to the catalog."""

    overrides: Sequence[PriceOverride] = ()
    use_catalog: bool = True
    cache_size: int = 4096
    """Distinct (provider, model) pairs resolved from the catalog, at most."""
    pools: Sequence[Pool] = ()
    catalog_date: date | None = None
    """The catalog's data date when you know better than its comments say."""
    override_warn_ratio: float = 3.0
    """An override whose input or output price is this many times the catalog's (or
    that fraction of it) is logged at start with both prices: a typo guard."""
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)
    """Wall-clock seconds: dated price changes and tariffs are read at this time (tests
    inject a clock instead of sleeping past a price change)."""
    _overrides: dict[tuple[str, str], PriceOverride] = field(init=False)
    _cache: dict[tuple[str, str, str | None], Rates] = field(init=False, default_factory=dict)
    _warned: set[tuple[str, str]] = field(init=False, default_factory=set)
    _full_warned: bool = field(init=False, default=False)
    _providers: dict[str, str | None] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.overrides = tuple(self.overrides)
        self.pools = tuple(self.pools)
        self._overrides = {(o.provider, o.model): o for o in self.overrides}
        self._catalog: Any
        self._catalog, info = genai_prices.load() if self.use_catalog else (None, None)
        if info is not None and self.catalog_date is not None:
            info = CatalogInfo(info.source, info.version, self.catalog_date)
        self.info: CatalogInfo | None = info
        self._check_overrides()

    def _at(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=timezone.utc)

    def rates(self, provider: str, model: str, *, batch: bool = False,
              at: datetime | None = None) -> Rates:
        """Rates for a normalised (provider, model). ``batch`` selects the provider's
        batch-API prices where the catalog has them; ``at`` prices a past or future
        instant (default now) and is not cached."""
        if at is not None:
            return self._resolve(provider, model, batch, at)
        key = (provider, model, "batch" if batch else None)
        rates = self._cache.get(key)
        if rates is not None and (rates.expires is None or rates.expires > self.clock()):
            return rates
        if rates is None and len(self._cache) >= self.cache_size:
            # Model names are caller-supplied: past this many, stop growing our cache
            # (and the catalog's own lookup caches) and price only overrides and pools.
            if not self._full_warned:
                self._full_warned = True
                log.warning("more than %d distinct models priced: new models are priced "
                            "from overrides and pools only", self.cache_size)
            return self._configured(provider, model) or UNPRICED
        rates = self._resolve(provider, model, batch, self._at())
        with self._lock:
            self._cache[key] = rates
        return rates

    def provider_for(self, model: str) -> str | None:
        """The catalog provider whose model names match ``model`` (for payloads that name
        no provider), or None. Bounded like the rates cache."""
        if model in self._providers:
            return self._providers[model]
        if self._catalog is None or len(self._providers) >= self.cache_size:
            return None
        try:
            provider: str | None = self._catalog.find_provider(model, None, None).id
        except LookupError:
            provider = None
        self._providers[model] = provider
        return provider

    def _configured(self, provider: str, model: str) -> Rates | None:
        """An override's rates, else a pool's, else None."""
        override = self._overrides.get((provider, model)) or self._overrides.get((provider, "*"))
        if override is not None:
            return override.rates()
        for pool in self.pools:
            if pool.serves(provider, model):
                return Rates(source="pool", pool=pool.name)
        return None

    def _from_catalog(self, provider: str, model: str, batch: bool, at: datetime
                      ) -> Rates | None:
        if self._catalog is None:
            return None
        found = genai_prices.lookup(self._catalog, provider, model, batch, at,
                                     by_model_alone=provider not in SELF_HOSTED_PROVIDERS)
        if found is None:
            return None
        v = found.base
        return Rates(base=(v[0], v[1], v[2], v[3], v[4]), cache_write_1h=v[5],
                     tiers=tuple((start, price_row(tier, found.request_fee, tier[5]))
                                 for start, tier in found.tiers),
                     request_fee=found.request_fee, expires=found.expires, source="catalog")

    def _resolve(self, provider: str, model: str, batch: bool, at: datetime) -> Rates:
        rates = self._configured(provider, model) or self._from_catalog(provider, model,
                                                                        batch, at)
        if rates is not None:
            return rates
        if (provider, model) not in self._warned:
            self._warned.add((provider, model))
            if len(self._warned) <= _MAX_WARNINGS:
                why = "" if self._catalog is not None else " (genai-prices is not installed)"
                hint = ("a GPU pool (pricing.pools) or free: true"
                        if provider in SELF_HOSTED_PROVIDERS else "a price override")
                log.warning("no price known for provider=%s model=%s%s: its cost counts as 0 "
                            "and llm_unpriced_requests_total counts it; add %s",
                            provider, model, why, hint)
            elif len(self._warned) == _MAX_WARNINGS + 1:
                log.warning("more than %d models without a price: no longer logging each "
                            "(llm_unpriced_requests_total still counts them)", _MAX_WARNINGS)
        return UNPRICED

    def _check_overrides(self) -> None:
        """Log, once, every override far from the catalog's price for the same model."""
        if self._catalog is None or self.override_warn_ratio <= 1:
            return
        now = self._at()
        for o in self.overrides:
            if o.model == "*" or o.free:
                continue
            found = self._from_catalog(o.provider, o.model, False, now)
            if found is None:
                continue
            mine = o.rates().base
            for i, name in ((0, "input"), (3, "output")):
                ours, theirs = mine[i], found.base[i]
                if ours > 0 and theirs > 0 and max(ours / theirs, theirs / ours) \
                        > self.override_warn_ratio:
                    log.warning("price override %s/%s: %s %g USD per million tokens, the "
                                "catalog says %g (more than %gx apart; a typo?)", o.provider,
                                o.model, name, ours * _PER_MTOK, theirs * _PER_MTOK,
                                self.override_warn_ratio)
