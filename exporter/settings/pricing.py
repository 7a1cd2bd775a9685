"""The ``pricing:`` section of the settings: catalog on or off, overrides (inline and
from files), GPU pools, the savings baseline, the catalog's data date and the override
typo guard; each error names its key."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ..cardinality import normalise_model, normalise_provider
from ..pricing.book import PriceOverride
from ..pricing.pools import Pool
from ._parse import ConfigError, boolean, read_document

log = logging.getLogger(__name__)


def pricing_settings(pricing: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Settings' pricing fields from the ``pricing:`` mapping and the environment."""
    catalog = pricing.get("catalog", True)
    if "LLM_EXPORTER_PRICE_CATALOG" in env:
        catalog = boolean(env["LLM_EXPORTER_PRICE_CATALOG"], "LLM_EXPORTER_PRICE_CATALOG")
    if not isinstance(catalog, bool):
        raise ConfigError(f"pricing.catalog: must be true or false, got {catalog!r}")

    overrides_raw = pricing.get("overrides", [])
    files = [f for f in (pricing.get("overrides_file"),
                         env.get("LLM_EXPORTER_PRICES_FILE")) if f]
    if not isinstance(overrides_raw, list):
        raise ConfigError("pricing.overrides: must be a list")
    entries = [(o, f"pricing.overrides[{i}]") for i, o in enumerate(overrides_raw)]
    for f in files:
        data = read_document(Path(f), "prices file")
        items = data.get("prices", data.get("overrides")) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConfigError(f"{f}: expected a list of prices (or a 'prices:' list)")
        entries += [(o, f"{f}[{i}]") for i, o in enumerate(items)]
    overrides, pools = _prices(entries, pricing.get("pools", []))

    baseline_raw = env.get("LLM_EXPORTER_BASELINE") or pricing.get("baseline")

    return {"price_overrides": tuple(overrides), "pools": pools,
            "catalog_date": _date(pricing.get("catalog_date"), "pricing.catalog_date"),
            "override_warn_ratio": _ratio(pricing.get("override_warn_ratio", 3.0)),
            "price_catalog": catalog, "baseline": _baseline(baseline_raw)}


def _prices(entries: list[tuple[Any, str]], pools_raw: Any
            ) -> tuple[list[PriceOverride], tuple[Pool, ...]]:
    """Price overrides and GPU pools; an override with a GPU-hour price (the form before
    pools) becomes a pool of its own, with a warning."""
    if not isinstance(pools_raw, list):
        raise ConfigError("pricing.pools: must be a list")
    overrides, pools = [], []
    try:
        pools = [Pool.from_mapping(p, f"pricing.pools[{i}]") for i, p in enumerate(pools_raw)]
        for raw, where in entries:
            if isinstance(raw, Mapping) and "gpu_hour_usd" in raw:
                pool = Pool.from_legacy_override(raw, where)
                log.warning("%s: a GPU-hour price is now a pool's (pricing.pools); read as "
                            "pool %r", where, pool.name)
                pools.append(pool)
            else:
                overrides.append(PriceOverride.from_mapping(raw, where))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    names = [p.name for p in pools]
    if len(set(names)) != len(names):
        raise ConfigError(f"pricing.pools: pool names must be unique, got {names}")
    return overrides, tuple(pools)


def _date(raw: Any, where: str) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise ConfigError(f"{where}: a date like 2026-11-03, got {raw!r}") from None


def _ratio(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not raw >= 1:
        raise ConfigError(f"pricing.override_warn_ratio: a number >= 1, got {raw!r}")
    return float(raw)


def _baseline(raw: Any) -> tuple[str, str] | None:
    if raw is None:
        return None
    provider: Any
    model: Any
    if isinstance(raw, str):
        provider, sep, model = raw.partition("/")
        if not sep:
            raise ConfigError(f"pricing.baseline: expected provider/model, got {raw!r}")
    elif isinstance(raw, Mapping):
        provider, model = raw.get("provider"), raw.get("model")
    else:
        raise ConfigError(f"pricing.baseline: expected provider/model, got {raw!r}")
    try:
        p = normalise_provider(provider)
        return p, normalise_model(p, model)
    except ValueError as exc:
        raise ConfigError(f"pricing.baseline: {exc}") from None
