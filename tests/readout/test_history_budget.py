"""The in-memory history is bounded by memory, not only by points: at 300 label sets a
point cost 2.8 MB, 4 GB at the default day of points. Past its budget the older points
merge (coarser resolution); the totals at every kept point stay exact."""

from __future__ import annotations

import tracemalloc

from exporter.read.history import History


def _state(step: int, series: int = 1000) -> dict:
    """Every series changing every point: the worst case for the history."""
    return {(f"llm_family_{i % 16}_total",
             (("model", f"m{i % 10}"), ("team", f"team{i // 10 % 30}"), ("x", str(i)))):
            float(step * (i + 1)) for i in range(series)}


def test_memory_stays_within_the_budget_whatever_the_points() -> None:
    budget = 3 << 20
    history = History(interval=60, points=1440, max_bytes=budget)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for step in range(1, 161):
        history.record(step * 60.0, _state(step))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert history.bytes <= budget
    assert used < budget * 1.5, f"{used / 1e6:.1f} MB for an {budget / 1e6:.1f} MB budget"
    assert history.merged > 0  # it degraded resolution, and says so
    # the newest points are kept at full resolution and exact
    latest, = history.states_at([160 * 60.0])
    assert latest is not None and latest == _state(160)
    # an older time answers with the state of the nearest kept point at or before it
    (at, old), = history.points_at([100 * 60.0 + 1])
    assert at <= 100 * 60.0 + 1 and old == _state(round(at / 60))
    assert history.start is not None and history.start <= 10 * 60.0  # coverage kept


def test_a_quiet_history_costs_nothing_and_never_merges() -> None:
    history = History(interval=60, points=100, max_bytes=1 << 20)
    state = _state(1, series=200)
    for step in range(1, 201):
        history.record(step * 60.0, state)  # nothing changes
    assert history.merged == 0 and history.bytes < 200_000


def test_the_sidecar_reports_its_history_memory(sidecar_factory) -> None:
    from exporter import Settings

    sc = sidecar_factory(Settings.load(env={"LLM_EXPORTER_HISTORY_MAX_BYTES": "2000000",
                                            "LLM_EXPORTER_COLLECTORS": ""}))
    assert sc.app.read.history is not None and sc.app.read.history.max_bytes == 2_000_000
    text = sc.metrics()
    assert "# TYPE llm_exporter_history_bytes gauge" in text
    assert "llm_exporter_history_points_merged_total 0.0" in text
