"""USD cost of a request: genai-prices' bundled catalog plus user overrides.

genai-prices' ``calc_price`` takes ~136 us a call, far too slow for the hot path, so a
:class:`PriceBook` resolves each (provider, model) once into :class:`Rates`: per-token
prices for each token type, the long-context tiers, a per-request fee, a GPU-second
price for self-hosted models, and the instant the rates stop being valid (a dated price
change or a time-of-day tariff). Costing a request is then a few multiplications.

The catalog is bundled with the package; nothing here touches the network.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Any

log = logging.getLogger(__name__)

#: Providers that run on the user's own hardware: never priced from another provider's
#: list by model name alone (a self-hosted llama costs what its GPUs cost).
SELF_HOSTED_PROVIDERS = frozenset(
    {"ollama", "vllm", "local", "llamacpp", "llama.cpp", "tgi", "lmstudio", "sglang",
     "triton", "localai", "self-hosted", "selfhosted"})

_PER_MTOK = 1_000_000.0
_MAX_WARNINGS = 50
_ZERO5 = (0.0, 0.0, 0.0, 0.0, 0.0)

Vector = tuple[float, float, float, float, float]
"""USD per token for (input, cache_read, cache_write, output, reasoning)."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Prices of one (provider, model), resolved ahead of time."""

    base: Vector = _ZERO5
    tiers: tuple[tuple[int, Vector], ...] = ()
    """(threshold, prices), highest threshold first: applied to every token of a request
    whose total input tokens exceed the threshold (the providers' cliff model)."""
    request_fee: float = 0.0
    per_second: float = 0.0
    """USD per second of request duration (self-hosted models priced per GPU-hour)."""
    expires: float | None = None
    """Unix time at which these rates stop being valid; None if they never change."""
    priced: bool = True
    source: str = "catalog"
    flat: tuple[float, float, float, float, float, float] | None = field(
        init=False, default=None, compare=False)
    """(five per-token prices, request fee) when costing is plain multiplication (no
    tiers, no GPU time), so the recorder can inline it; None otherwise."""

    def __post_init__(self) -> None:
        if not self.tiers and not self.per_second:
            object.__setattr__(self, "flat", (*self.base, self.request_fee))

    def costs(self, uncached: int, cache_read: int, cache_write: int, output: int,
              reasoning: int, input_total: int, duration: float | None) -> Vector:
        """Cost split like the token_type partition. Token counts are the partition's
        (uncached input, non-reasoning output); ``input_total`` picks the tier."""
        p = self.base
        for start, vec in self.tiers:
            if input_total > start:
                p = vec
                break
        c_in = uncached * p[0] + self.request_fee
        c_cr = cache_read * p[1]
        c_cw = cache_write * p[2]
        c_out = output * p[3]
        c_rs = reasoning * p[4]
        if self.per_second and duration:
            g = split_cost(self.per_second * duration,
                           (uncached, cache_read, cache_write, output, reasoning))
            return c_in + g[0], c_cr + g[1], c_cw + g[2], c_out + g[3], c_rs + g[4]
        return c_in, c_cr, c_cw, c_out, c_rs


UNPRICED = Rates(priced=False, source="none")


def split_cost(total: float, tokens: tuple[int, int, int, int, int]) -> Vector:
    """Spread a cost that is not per token (GPU time, a known bill) over the token types
    in proportion to their counts; all of it to ``output`` when there are no tokens."""
    n = tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4]
    if not n:
        return 0.0, 0.0, 0.0, total, 0.0
    share = total / n
    return (tokens[0] * share, tokens[1] * share, tokens[2] * share, tokens[3] * share,
            tokens[4] * share)


@dataclass(frozen=True)
class PriceOverride:
    """A user's price for a (provider, model); ``model="*"`` covers the provider."""

    provider: str
    model: str
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float | None = None
    """Defaults to the input price, as if the provider had no prompt cache discount."""
    cache_write_per_mtok: float | None = None
    reasoning_per_mtok: float | None = None
    """Defaults to the output price."""
    request_usd: float = 0.0
    gpu_hour_usd: float = 0.0
    gpus: float = 1.0

    _FIELDS = ("input_per_mtok", "output_per_mtok", "cache_read_per_mtok",
               "cache_write_per_mtok", "reasoning_per_mtok", "request_usd", "gpu_hour_usd",
               "gpus")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "prices") -> PriceOverride:
        """Validate one override from config, naming the bad field on error."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {type(raw).__name__}")
        unknown = set(raw) - {"provider", "model", *cls._FIELDS}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        from .cardinality import normalise_model, normalise_provider

        try:
            provider = normalise_provider(raw.get("provider"))
            model_raw = raw.get("model")
            model = "*" if model_raw == "*" else normalise_model(provider, model_raw)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        values: dict[str, float] = {}
        for name in cls._FIELDS:
            if name not in raw or raw[name] is None:
                continue
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}.{name}: must be a non-negative number, got {value!r}")
            values[name] = float(value)
        if not values:
            raise ValueError(f"{where}: give at least one price (e.g. input_per_mtok, "
                             "output_per_mtok or gpu_hour_usd)")
        return cls(provider=provider, model=model, **values)

    def rates(self) -> Rates:
        inp = self.input_per_mtok / _PER_MTOK
        out = self.output_per_mtok / _PER_MTOK
        cr = inp if self.cache_read_per_mtok is None else self.cache_read_per_mtok / _PER_MTOK
        cw = inp if self.cache_write_per_mtok is None else self.cache_write_per_mtok / _PER_MTOK
        rs = out if self.reasoning_per_mtok is None else self.reasoning_per_mtok / _PER_MTOK
        return Rates(base=(inp, cr, cw, out, rs), request_fee=self.request_usd,
                     per_second=self.gpu_hour_usd * self.gpus / 3600.0, source="override")


@dataclass
class PriceBook:
    """Resolves and caches :class:`Rates`; the only place that talks to genai-prices."""

    overrides: Iterable[PriceOverride] = ()
    use_catalog: bool = True
    cache_size: int = 4096
    """Distinct (provider, model) pairs resolved from the catalog, at most."""
    _overrides: dict[tuple[str, str], PriceOverride] = field(init=False)
    _cache: dict[tuple[str, str, str | None], Rates] = field(init=False, default_factory=dict)
    _warned: set[tuple[str, str]] = field(init=False, default_factory=set)
    _full_warned: bool = field(init=False, default=False)
    _providers: dict[str, str | None] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._overrides = {(o.provider, o.model): o for o in self.overrides}
        self._catalog = _load_catalog() if self.use_catalog else None

    def rates(self, provider: str, model: str, *, batch: bool = False,
              at: datetime | None = None) -> Rates:
        """Rates for a normalised (provider, model). ``batch`` selects the provider's
        batch-API prices where the catalog has them; ``at`` prices a past or future
        instant (default now) and is not cached."""
        if at is not None:
            return self._resolve(provider, model, batch, at)
        key = (provider, model, "batch" if batch else None)
        rates = self._cache.get(key)
        if rates is not None and (rates.expires is None or rates.expires > _now()):
            return rates
        if rates is None and len(self._cache) >= self.cache_size:
            # Model names are caller-supplied: past this many, stop growing our cache
            # (and the catalog's own lookup caches) and price only overrides.
            if not self._full_warned:
                self._full_warned = True
                log.warning("more than %d distinct models priced: new models are priced "
                            "from overrides only", self.cache_size)
            override = self._override(provider, model)
            return override.rates() if override is not None else UNPRICED
        rates = self._resolve(provider, model, batch, datetime.now(tz=timezone.utc))
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

    def _override(self, provider: str, model: str) -> PriceOverride | None:
        return self._overrides.get((provider, model)) or self._overrides.get((provider, "*"))

    def _resolve(self, provider: str, model: str, batch: bool, at: datetime) -> Rates:
        override = self._override(provider, model)
        if override is not None:
            return override.rates()
        if self._catalog is not None:
            rates = _catalog_rates(self._catalog, provider, model, batch, at)
            if rates is not None:
                return rates
        if (provider, model) not in self._warned:
            self._warned.add((provider, model))
            if len(self._warned) <= _MAX_WARNINGS:
                why = "" if self._catalog is not None else " (genai-prices is not installed)"
                log.warning("no price known for provider=%s model=%s%s: its cost counts as 0 "
                            "and llm_unpriced_requests_total counts it; add a price override",
                            provider, model, why)
            elif len(self._warned) == _MAX_WARNINGS + 1:
                log.warning("more than %d models without a price: no longer logging each "
                            "(llm_unpriced_requests_total still counts them)", _MAX_WARNINGS)
        return UNPRICED


def _now() -> float:
    import time as _time

    return _time.time()


def _load_catalog() -> Any:
    try:
        from genai_prices import data_snapshot
    except ImportError:
        log.warning("genai-prices is not installed: only price overrides are used "
                    "(pip install 'llm-exporter[pricing]')")
        return None
    return data_snapshot.get_snapshot()


_VECTOR_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok",
                "output_reasoning_mtok")


def _catalog_rates(snapshot: Any, provider: str, model: str, batch: bool,
                   at: datetime) -> Rates | None:
    try:
        prov, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        if provider in SELF_HOSTED_PROVIDERS:
            return None
        try:  # a proxy or gateway name the catalog does not know: match by model alone
            prov, info = snapshot.find_provider_model(model, None, None, None)
        except LookupError:
            return None
    context = {"processing": "batch"} if batch else None
    own_model = any(info is m for m in prov.models)
    mp = info.get_prices(at, context if own_model else None)
    prices = [getattr(mp, key, None) for key in _VECTOR_KEYS]
    fee = getattr(mp, "requests_kcount", None)
    if prices[0] is None and prices[3] is None and fee is None:
        return None
    # Unpriced sub-types cost what their parent costs (genai-prices' leaf rule).
    if prices[1] is None:
        prices[1] = prices[0]
    if prices[2] is None:
        prices[2] = prices[0]
    if prices[4] is None:
        prices[4] = prices[3]
    starts = sorted({t.start for p in prices if p is not None and hasattr(p, "tiers")
                     for t in p.tiers})
    base = _vector(prices, None)
    tiers = tuple((s, _vector(prices, s)) for s in reversed(starts))
    return Rates(base=base, tiers=tiers,
                 request_fee=float(fee) / 1000.0 if fee is not None else 0.0,
                 expires=_next_change(info, at, context if own_model else None),
                 source="genai-prices")


def _vector(prices: list[Any], threshold: int | None) -> Vector:
    out = []
    for p in prices:
        if p is None:
            out.append(0.0)
        elif hasattr(p, "tiers"):
            price = p.base
            if threshold is not None:
                for tier in p.tiers:  # ascending; the last one at or below the threshold
                    if tier.start <= threshold:
                        price = tier.price
            out.append(float(price) / _PER_MTOK)
        else:
            out.append(float(p) / _PER_MTOK)
    return out[0], out[1], out[2], out[3], out[4]


def _next_change(info: Any, at: datetime, context: Mapping[str, str] | None) -> float | None:
    """The first instant after ``at`` when the model's effective prices may change."""
    constraints = []
    if isinstance(info.prices, list):
        constraints += [cp.constraint for cp in info.prices if cp.constraint is not None]
    if context:
        constraints += [v.constraint for v in info.price_variants or () if v.constraint is not None]
    now = at.astimezone(timezone.utc) if at.tzinfo else at.replace(tzinfo=timezone.utc)
    upcoming: list[datetime] = []
    for c in constraints:
        if hasattr(c, "start_date"):
            start = datetime.combine(c.start_date, time(0), tzinfo=timezone.utc)
            if start > now:
                upcoming.append(start)
        else:  # a daily window: its next start or end
            for t in (c.start_time, c.end_time):
                t = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
                day = now.date()
                candidate = datetime.combine(day, t).astimezone(timezone.utc)
                if candidate <= now:
                    candidate = datetime.combine(day + timedelta(days=1), t).astimezone(
                        timezone.utc)
                upcoming.append(candidate)
    return min(upcoming).timestamp() if upcoming else None
