"""What a recorder says about its prices at scrape time: the bundled catalog's
provenance and age, and what each self-hosted GPU pool has cost so far.

These change with the clock, not with requests, so they are computed when scraped
rather than stored. A pool accrues from the recorder's start (in multiprocess mode, from
``multiprocess.prepare``, the same instant in every worker, so any worker's scrape
agrees).
"""

from __future__ import annotations

import time

from ..catalog import family
from ..collectors import Samples
from .book import PriceBook

_INFO, _AGE, _POOL = family("price_catalog_info"), family("price_catalog_age"), \
    family("pool_cost")


class PriceReadout:
    """The scrape-time pricing families of one recorder."""

    def __init__(self, book: PriceBook, started: float) -> None:
        self.started = started
        self._catalog = info = book.info
        self._labels = ("", "", "") if info is None else (
            info.source, info.version, info.data_date.isoformat() if info.data_date else "")
        self._pools = tuple((p.name, p.usd_per_second) for p in book.pools)

    def samples(self, now: float | None = None) -> Samples:
        now = time.time() if now is None else now
        out: Samples = []
        if self._catalog is not None:
            out.append((_INFO, [(self._labels, 1.0)]))
            age = self._catalog.age_seconds(now)
            if age is not None:
                out.append((_AGE, [((), age)]))
        if self._pools:
            elapsed = max(now - self.started, 0.0)
            out.append((_POOL, [((name, ), rate * elapsed) for name, rate in self._pools]))
        return out
