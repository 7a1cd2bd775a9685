"""``llm-exporter report``'s time ranges (the answers themselves are checked against a
real Prometheus in tests/e2e/test_read_routes.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from exporter.read.report import window_hours


def test_ranges() -> None:
    assert window_hours("30m") == 0.5
    assert window_hours("24h") == 24
    assert window_hours("7d") == 168
    now = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc).timestamp()
    assert window_hours("month", now) == 22 * 24 + 12  # since Nov 1st, 00:00 UTC
    for bad in ("", "24", "h", "yesterday", "-1h"):
        with pytest.raises(ValueError, match="--range"):
            window_hours(bad)
