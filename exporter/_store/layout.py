"""Where each number of a series lives in its value list, named from the catalog.

A series' numbers are a plain list (or, in multiprocess mode, a memoryview of doubles in
a shared file) so the hot path updates them by index. This module is the one place that
says which index means what; the recorder, the renderer and the multiprocess merge all
read it here.

- a counter: ``[value]``; a gauge: ``[value, written]`` (``written`` is the time it was
  last set, so multiprocess mode can take the most recent one; an unset gauge's value is
  None in memory, NaN in files, and is not exposed);
- a histogram: ``[count per bucket..., count above the last bucket (+Inf), sum]``,
  not cumulative (cumulative counts are summed at scrape time, as client_python does);
- a request label set's *usage*: one list backing the tokens and the cost of each token
  type, the savings, the prompt-cache effects and the per-team duration sum and count,
  so a request updates them after one lookup.
"""

from __future__ import annotations

from typing import Any

from ..catalog import BY_KEY, REQUEST_LABELS, TOKEN_TYPES, Family

VALUE = 0
"""The value of a counter or gauge."""
WRITTEN = 1
"""When a gauge was last set (time.time())."""

USAGE_KEY = "usage"
"""The storage key of a usage list (multiprocess files name their records by key)."""
TOKEN_SLOT = {t: i for i, t in enumerate(TOKEN_TYPES)}
COST_SLOT = {t: len(TOKEN_TYPES) + i for i, t in enumerate(TOKEN_TYPES)}
SAVINGS_SLOT = 2 * len(TOKEN_TYPES)
REFERENCE_SLOT = SAVINGS_SLOT + 1
CACHE_SAVINGS_SLOT = REFERENCE_SLOT + 1
WRITE_PREMIUM_SLOT = CACHE_SAVINGS_SLOT + 1
TEAM_DURATION_SLOT = WRITE_PREMIUM_SLOT + 1
TIMED_SLOT = TEAM_DURATION_SLOT + 1
USAGE_SIZE = TIMED_SLOT + 1
USAGE_OFFSETS = {"tokens": 0, "cost": len(TOKEN_TYPES)}
"""Families that read one usage list per token type: slot = offset + token type index
(the two share their Series objects, one per token type, so label text is kept once)."""
USAGE_SCALARS = {"cost_savings": SAVINGS_SLOT, "reference_cost": REFERENCE_SLOT,
                 "prompt_cache_savings": CACHE_SAVINGS_SLOT,
                 "prompt_cache_write_premium": WRITE_PREMIUM_SLOT,
                 "team_duration": TEAM_DURATION_SLOT, "timed_requests": TIMED_SLOT}
"""Families that read one slot of a usage list, labelled by the request labels alone."""
USAGE_FOLD = "cost_savings"
"""The scalar family whose series budget decides a usage list's fold."""

# A usage list is keyed by the request labels; its series add token_type last.
for _key in USAGE_OFFSETS:
    if BY_KEY[_key].labels != REQUEST_LABELS + ("token_type",):
        raise ImportError(f"catalog: {_key} labels must be REQUEST_LABELS + token_type")
for _key in USAGE_SCALARS:
    if BY_KEY[_key].labels != REQUEST_LABELS:
        raise ImportError(f"catalog: {_key} labels must be REQUEST_LABELS")


def inf_slot(family: Family) -> int:
    """A histogram's count above its last bucket."""
    return len(family.buckets)


def sum_slot(family: Family) -> int:
    return len(family.buckets) + 1


def size(family: Family) -> int:
    if family.kind == "histogram":
        return len(family.buckets) + 2
    return 2 if family.kind == "gauge" else 1


def new_values(family: Family) -> list[Any]:
    """A fresh in-memory value list for one series of ``family``."""
    if family.kind == "histogram":
        return [0] * (len(family.buckets) + 1) + [0.0]
    if family.kind == "gauge":
        return [0, 0.0]
    return [0]


def new_usage() -> list[Any]:
    return [0] * len(TOKEN_TYPES) + [0.0] * (len(TOKEN_TYPES) + len(USAGE_SCALARS))
