"""The bundled price catalog (genai-prices): loading it, reading one model's rates out of
it, and saying how old its data is.

Only :mod:`exporter.pricing.book` calls this module, once per (provider, model); nothing here
touches the network.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

log = logging.getLogger(__name__)

_PER_MTOK = 1_000_000.0
_VECTOR_KEYS = ("input_mtok", "cache_read_mtok", "cache_write_mtok", "output_mtok",
                "output_reasoning_mtok", "cache_write_1h_mtok")
#: How the catalog's maintainers date what they checked ("checked on 2026-11-03", "as of
#: 2026-10-14"): genai-prices records no data date of its own, so the newest of these is
#: its data date. Dates of scheduled price changes are not matched (they may lie ahead).
_CHECKED = re.compile(r"\b(?:checked|as of|updated|verified|retrieved)(?: on)? "
                      r"(20\d\d-\d\d-\d\d)\b", re.IGNORECASE)


@dataclass(frozen=True)
class CatalogInfo:
    """Provenance of the bundled prices: which package, which version, how recent."""

    source: str
    version: str
    data_date: date | None
    """The newest date the catalog's maintainers say they checked prices, or the date
    configured as ``pricing.catalog_date``; None when neither is known."""

    def age_seconds(self, now: float) -> float | None:
        if self.data_date is None:
            return None
        start = datetime.combine(self.data_date, time(0), tzinfo=timezone.utc).timestamp()
        return max(now - start, 0.0)


def load() -> tuple[Any, CatalogInfo | None]:
    """The catalog snapshot and its provenance, or (None, None) without genai-prices."""
    try:
        from genai_prices import data_snapshot
    except ImportError:
        log.warning("genai-prices is not installed: only price overrides are used "
                    "(pip install 'llm-exporter[pricing]')")
        return None, None
    from importlib.metadata import PackageNotFoundError, version

    snapshot = data_snapshot.get_snapshot()
    try:
        release = version("genai-prices")
    except PackageNotFoundError:  # pragma: no cover - vendored without metadata
        release = "unknown"
    return snapshot, CatalogInfo("genai-prices", release, data_date(snapshot))


def data_date(snapshot: Any) -> date | None:
    """The newest "checked on" date in the catalog's price comments."""
    newest: date | None = None
    for provider in snapshot.providers:
        texts = [provider.price_comments] + [m.price_comments for m in provider.models]
        for text in texts:
            for found in _CHECKED.findall(text or ""):
                try:
                    day = date.fromisoformat(found)
                except ValueError:
                    continue
                if newest is None or day > newest:
                    newest = day
    return newest


@dataclass(frozen=True)
class CatalogPrices:
    """One model's prices as the catalog gives them: per token, tier rows, fee, and the
    instant they may change."""

    base: tuple[float, ...]
    """input, cache_read, cache_write, output, reasoning, cache_write_1h per token."""
    tiers: tuple[tuple[int, tuple[float, ...]], ...]
    request_fee: float
    expires: float | None


def lookup(snapshot: Any, provider: str, model: str, batch: bool, at: datetime,
           by_model_alone: bool) -> CatalogPrices | None:
    """The catalog's prices of (provider, model) at ``at``; ``by_model_alone`` also
    matches the model under any provider (a gateway name the catalog does not know)."""
    try:
        prov, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        if not by_model_alone:
            return None
        try:
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
    for child, parent in ((1, 0), (2, 0), (4, 3), (5, 2)):
        if prices[child] is None:
            prices[child] = prices[parent]
    starts = sorted({t.start for p in prices if p is not None and hasattr(p, "tiers")
                     for t in p.tiers})
    return CatalogPrices(
        base=_vector(prices, None),
        tiers=tuple((s, _vector(prices, s)) for s in reversed(starts)),
        request_fee=float(fee) / 1000.0 if fee is not None else 0.0,
        expires=_next_change(info, at, context if own_model else None))


def _vector(prices: list[Any], threshold: int | None) -> tuple[float, ...]:
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
    return tuple(out)


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
