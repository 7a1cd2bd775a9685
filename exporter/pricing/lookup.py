"""``llm-exporter prices MODEL``: one model's resolved prices, where they come from and
how old they are, as a person (or a script, with ``--json``) wants to read them."""

from __future__ import annotations

import time
from typing import Any

from ..catalog import TOKEN_TYPES
from .book import P_WRITE_1H, PriceBook, Prices, Rates


def _per_mtok(p: Prices) -> dict[str, float]:
    out = {n: round(p[i] * 1e6, 9) for i, n in enumerate(TOKEN_TYPES)}
    out["cache_write_1h"] = round(p[P_WRITE_1H] * 1e6, 9)
    return out


def lookup(book: PriceBook, provider: str | None, model: str, *, batch: bool = False
           ) -> dict[str, Any]:
    """Everything the book knows of ``model`` (``provider`` None: the catalog's)."""
    from ..cardinality import normalise_model, normalise_provider

    provider = normalise_provider(provider or book.provider_for(model) or "unknown")
    model = normalise_model(provider, model)
    rates: Rates = book.rates(provider, model, batch=batch)
    info = book.info
    out: dict[str, Any] = {
        "provider": provider, "model": model, "batch": batch, "priced": rates.priced,
        "source": rates.source, "usd_per_million_tokens": _per_mtok(rates.row),
        "tiers": [{"above_input_tokens": start, "usd_per_million_tokens": _per_mtok(p)}
                  for start, p in reversed(rates.tiers)],
        "request_usd": rates.request_fee,
    }
    if rates.pool:
        pool = next(p for p in book.pools if p.name == rates.pool)
        out["pool"] = {"name": pool.name, "gpus": pool.gpus, "gpu_hour_usd": pool.gpu_hour_usd}
    if rates.source == "catalog" and info is not None:
        age = info.age_seconds(time.time())
        out["catalog"] = {"source": info.source, "version": info.version,
                          "data_date": info.data_date.isoformat() if info.data_date else None,
                          "age_days": None if age is None else int(age // 86400)}
    return out


def text(found: dict[str, Any]) -> str:
    """The lookup for a terminal."""
    head = f"{found['provider']}/{found['model']}" + (" (batch)" if found["batch"] else "")
    if not found["priced"]:
        return (f"{head}: no price known; add a price override, a GPU pool "
                "(pricing.pools) or free: true\n")
    lines = [f"{head}: source {found['source']}"]
    cat = found.get("catalog")
    if cat:
        dated = "of unknown date" if cat["data_date"] is None else \
            f"of {cat['data_date']}, {cat['age_days']} days old"
        lines[0] += f" ({cat['source']} {cat['version']}, data {dated})"
    pool = found.get("pool")
    if pool:
        lines.append(f"  served by GPU pool {pool['name']}: {pool['gpus']:g} GPU(s) at "
                     f"{pool['gpu_hour_usd']:g} USD/hour; requests cost 0 each, the pool's "
                     "hours are the cost (llm_pool_cost_usd_total)")
        return "\n".join(lines) + "\n"

    def row(p: dict[str, float]) -> str:
        return ", ".join(f"{n} {v:g}" for n, v in p.items())

    lines.append("  USD per million tokens: " + row(found["usd_per_million_tokens"]))
    for tier in found["tiers"]:
        lines.append(f"  above {tier['above_input_tokens']} input tokens: "
                     + row(tier["usd_per_million_tokens"]))
    if found["request_usd"]:
        lines.append(f"  per request: {found['request_usd']:g} USD")
    return "\n".join(lines) + "\n"
