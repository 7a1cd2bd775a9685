"""What a request costs in USD: the rates (:mod:`.book`), the bundled genai-prices data
(:mod:`.genai_prices`), self-hosted GPU pools (:mod:`.pools`), the ``prices`` command
(:mod:`.lookup`) and what a recorder says about its prices at scrape time
(:mod:`.scrape`). Parsing the ``pricing:`` settings lives in :mod:`exporter.settings`,
so this package never imports the settings."""

from .book import PriceBook, PriceOverride, Rates
from .pools import Pool

__all__ = ["Pool", "PriceBook", "PriceOverride", "Rates"]
