"""Calendar-month budgets read local time in PromQL: the generator writes a zone's UTC
offset as a step function of time(). A real Prometheus evaluates it on each side of
daylight-saving transitions and of local midnights on the 1st, and the local date and
hour agree with Python's time-zone database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exporter.mixin.timezone import local_time, transitions

from .conftest import Prometheus

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def instants(zone: str) -> list[int]:
    """A second before and after each transition of 2026-2027, and of each local
    midnight on the 1st of a month in 2026."""
    _, changes = transitions(zone)
    out = [t + d for t, _ in changes if 2026 <= datetime.fromtimestamp(t, timezone.utc).year
           <= 2027 for d in (-1, 0, 1)]
    tz = ZoneInfo(zone)
    for month in range(1, 13):
        midnight = int(datetime(2026, month, 1, tzinfo=tz).timestamp())
        out += [midnight - 1, midnight, midnight + 1]
    return sorted(out)


@pytest.mark.parametrize("zone", ZONES)
def test_local_dates_agree_with_the_time_zone_database(zone: str, tmp_path: Path) -> None:
    prom = Prometheus(tmp_path, [], [])
    try:
        now = local_time(zone)
        expr = (f"year({now}) * 1000000 + month({now}) * 10000 + day_of_month({now}) * 100 "
                f"+ hour({now})")
        tz = ZoneInfo(zone)
        points = instants(zone)
        assert len(points) >= 36
        for t in points:
            local = datetime.fromtimestamp(t, timezone.utc).astimezone(tz)
            want = local.year * 1000000 + local.month * 10000 + local.day * 100 + local.hour
            assert prom.value(expr, at=float(t)) == want, (zone, t, local)
        # days in the local month, the calendar budget's period
        for t in points[::3]:
            local = datetime.fromtimestamp(t, timezone.utc).astimezone(tz)
            nxt = (local.replace(day=28) + timedelta(days=4)).replace(day=1)
            assert prom.value(f"days_in_month({now})", at=float(t)) == \
                (nxt - local.replace(day=1)).days
    finally:
        prom.stop()
