"""Price provenance and freshness: the catalog's version and data date, its age, the
typo guard on overrides, and ``llm-exporter prices``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from importlib.metadata import version
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, PriceBook, PriceOverride
from exporter.pricing.genai_prices import data_date

from .conftest import value


def snapshot(*comments: str | None) -> SimpleNamespace:
    models = [SimpleNamespace(price_comments=c) for c in comments]
    return SimpleNamespace(providers=[SimpleNamespace(price_comments=None, models=models)])


def test_data_date_is_the_newest_checked_date_not_a_scheduled_change() -> None:
    assert data_date(snapshot(
        "Prices checked on 2026-01-05 against the pricing page.",
        "Batch variants as of 2025-12-01.",
        "Rates change from 2027-01-01 (announced).",   # ahead: not a check
        "Released 2026-03-10.",                          # a release, not a check
        None)) == date(2026, 1, 5)
    assert data_date(snapshot("no dates here", "verified 2026-02-30 (not a date)")) is None


def test_catalog_info_and_age_are_exposed(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry)
    info = llm.prices.info
    assert info is not None and info.source == "genai-prices"
    assert info.version == version("genai-prices")
    assert info.data_date is not None and info.data_date <= datetime.now(timezone.utc).date()
    assert value(registry, "llm_price_catalog_info", source="genai-prices",
                 version=info.version, date=info.data_date.isoformat()) == 1
    start = datetime.combine(info.data_date, datetime.min.time(), tzinfo=timezone.utc)
    age = value(registry, "llm_price_catalog_age_seconds")
    assert age == pytest.approx(time.time() - start.timestamp(), abs=5)


def test_a_configured_data_date_wins(registry: CollectorRegistry) -> None:
    LLMMetrics(registry, prices=PriceBook(catalog_date=date(2020, 1, 1)))
    age = value(registry, "llm_price_catalog_age_seconds")
    assert age is not None and age > 5 * 365 * 86400
    assert value(registry, "llm_price_catalog_info", source="genai-prices",
                 version=version("genai-prices"), date="2020-01-01") == 1


def test_no_catalog_no_catalog_series(registry: CollectorRegistry) -> None:
    LLMMetrics(registry, prices=PriceBook(use_catalog=False))
    assert value(registry, "llm_price_catalog_age_seconds") is None


def test_an_override_far_from_the_catalog_is_logged_once_with_both_prices(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.pricing.book")
    # gpt-4o input is $2.50: 25 is a slipped decimal point; output 12 is a fair discount
    book = PriceBook([PriceOverride(provider="openai", model="gpt-4o", input_per_mtok=25,
                                    output_per_mtok=12)])
    for _ in range(3):
        book.rates("openai", "gpt-4o")
    warned = [r.getMessage() for r in caplog.records if "price override" in r.getMessage()]
    assert warned == ["price override openai/gpt-4o: input 25 USD per million tokens, the "
                      "catalog says 2.5 (more than 3x apart; a typo?)"]
    caplog.clear()
    PriceBook([PriceOverride(provider="openai", model="gpt-4o", input_per_mtok=2.0,
                             output_per_mtok=8.0)])
    PriceBook([PriceOverride(provider="openai", model="gpt-4o", input_per_mtok=25)],
              override_warn_ratio=20)
    assert not [r for r in caplog.records if "price override" in r.getMessage()]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporter.cli", "prices", *args],
                          capture_output=True, text=True, timeout=60)


def test_prices_command_shows_rates_source_and_date(tmp_path) -> None:
    info = PriceBook().info
    assert info is not None and info.data_date is not None
    out = cli("claude-sonnet-4-5")
    assert out.returncode == 0, out.stderr
    first, base, tier = out.stdout.splitlines()
    assert first.startswith(f"anthropic/claude-sonnet-4-5: source catalog (genai-prices "
                            f"{info.version}, data of {info.data_date.isoformat()}, ")
    assert base == ("  USD per million tokens: input 3, cache_read 0.3, cache_write 3.75, "
                    "output 15, reasoning 15, cache_write_1h 6")
    assert tier.startswith("  above 200000 input tokens: input 6, cache_read 0.6")
    found = json.loads(cli("openai", "gpt-4o-mini", "--batch", "--json").stdout)
    assert found["usd_per_million_tokens"]["input"] == 0.075 and found["batch"]
    settings = tmp_path / "s.yml"
    settings.write_text("pricing:\n  pools: [{name: h100, provider: vllm, gpus: 2, "
                        "gpu_hour_usd: 2.5}]\n  overrides: [{provider: openai, "
                        "model: gpt-4o, input_per_mtok: 2, output_per_mtok: 8}]\n")
    pooled = cli("vllm", "llama-3.1-8b", "--config", str(settings))
    assert pooled.returncode == 0
    assert "served by GPU pool h100: 2 GPU(s) at 2.5 USD/hour" in pooled.stdout
    override = json.loads(cli("openai", "gpt-4o", "--config", str(settings), "--json").stdout)
    assert override["source"] == "override" and "catalog" not in override
    unknown = cli("ollama", "llama3")
    assert unknown.returncode == 1 and "no price known" in unknown.stdout
