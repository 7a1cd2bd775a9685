"""The xdist schedule in conftest: each worker's first slice starts with its share of the
long tests, so no worker waits through them all while the others idle."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .conftest import expected_seconds, spread


@dataclass
class _Item:
    nodeid: str
    seconds: float | None = None
    e2e: bool = False

    def get_closest_marker(self, name: str) -> object | None:
        if name == "seconds" and self.seconds is not None:
            return pytest.mark.seconds(self.seconds).mark
        if name == "e2e" and self.e2e:
            return pytest.mark.e2e.mark
        return None


def _slices(order: list, workers: int) -> list[list]:
    """How worksteal first cuts the collection: equal slices, in order."""
    out, left, start = [], len(order), 0
    for i in range(workers):
        size = left // (workers - i)
        out.append(order[start:start + size])
        start, left = start + size, left - size
    return out


def test_long_tests_start_on_different_workers_and_loads_even_out() -> None:
    long = [_Item(f"e2e::t{s}", s, True) for s in (150, 115, 76, 59, 46, 46, 42, 20)]
    items = long + [_Item(f"unit::t{i}") for i in range(400)]
    order = spread(items, 4)
    assert sorted(i.nodeid for i in order) == sorted(i.nodeid for i in items)
    slices = _slices(order, 4)
    firsts = sorted(s[0].seconds for s in slices)
    assert firsts == [59, 76, 115, 150]  # the four longest start at once
    loads = [sum(expected_seconds(i) for i in s) for s in slices]  # type: ignore[arg-type]
    assert max(loads) - min(loads) <= 60  # LPT: within one long test of each other


def test_a_modules_tests_stay_in_order_within_a_slice() -> None:
    items = [_Item(f"m{m}::t{i}") for m in range(5) for i in range(10)]
    order = spread(items, 2)
    assert [i.nodeid for i in order] == [i.nodeid for i in items]
