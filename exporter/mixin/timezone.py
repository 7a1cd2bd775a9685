"""Local time in PromQL for calendar budgets.

PromQL's date functions (``month()``, ``days_in_month()``) read UTC. A calendar month in a
time zone starts at local midnight, whose UTC instant moves with daylight saving time.
The generator knows the zone's rules (the IANA database, through :mod:`zoneinfo`), so it
writes the zone's UTC offset as a step function of ``time()``: the offset before the first
transition of ``YEARS``, plus each transition's change from its instant on. The rules are
the same whenever they are generated; after ``YEARS`` the last offset holds (regenerate
the rules with a newer llm-exporter).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The years whose transitions are written into the rules.
YEARS = range(2020, 2046)


def check_timezone(name: str) -> ZoneInfo:
    """The zone, or ValueError naming what is wrong."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an IANA time zone name such as Europe/Berlin, got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as UTC or "
                         "Europe/Berlin)") from None


def _offset(zone: ZoneInfo, t: int) -> int:
    delta = datetime.fromtimestamp(t, timezone.utc).astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta is not None else 0


@lru_cache(maxsize=32)
def transitions(name: str) -> tuple[int, tuple[tuple[int, int], ...]]:
    """(offset before YEARS' first transition, ((unix time, new offset), ...))."""
    zone = check_timezone(name)
    start = int(datetime(YEARS.start, 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(YEARS.stop, 1, 1, tzinfo=timezone.utc).timestamp())
    first = _offset(zone, start)
    found: list[tuple[int, int]] = []
    current, t, step = first, start, int(timedelta(hours=6).total_seconds())
    while t < end:
        nxt = min(t + step, end)
        if _offset(zone, nxt) != current:
            lo, hi = t, nxt  # the change happens in (lo, hi]
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(zone, mid) == current:
                    lo = mid
                else:
                    hi = mid
            current = _offset(zone, hi)
            found.append((hi, current))
        t = nxt
    return first, tuple(found)


def offset_expr(name: str, now: str = "time()") -> str:
    """A PromQL scalar expression: the zone's UTC offset in seconds at ``now``."""
    first, changes = transitions(name)
    terms = [str(first)]
    previous = first
    for instant, offset in changes:
        terms.append(f"({now} >= bool {instant}) * {offset - previous}")
        previous = offset
    return terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"


def local_time(name: str, delay_seconds: int = 0) -> str:
    """A PromQL instant vector (no labels): local wall-clock time, as Unix seconds that
    the UTC date functions read as local, ``delay_seconds`` in the past."""
    now = f"(time() - {delay_seconds})" if delay_seconds else "time()"
    offset = offset_expr(name, now)
    return f"vector({now})" if offset == "0" else f"vector({now} + {offset})"
