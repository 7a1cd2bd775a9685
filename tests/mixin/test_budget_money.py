"""Money is never lost or counted twice: scrape gaps up to the documented max_gap,
skipped or late rule evaluations, HA pairs of Prometheus without deduplication, and what
held before (restarts in a step, two restarts, two exporter replicas, a new series).

The team ``search`` has a 500 USD day budget in alerts/config.yml. Scraped every 15 s:
1.25 USD a sample is 300 USD an hour. promtool compares floats exactly; every figure
here is a sum of multiples of 0.25, exact in binary floating point."""

from __future__ import annotations

from pathlib import Path

from .promtool import cost, expect, firing, promtool, rules, silent

SPEND = 'sum(team_period:llm_cost_usd:spend{team="search",period="day"})'
EXCEEDED = f'count({firing("LLMBudgetExceeded", team="search", severity="critical")})'
WARNED = f'count({firing("LLMBudgetExceeded", team="search")})'


def gap_case(blank_samples: int) -> dict:
    """300 USD in the first hour, then the exporter unreachable (Prometheus writes a stale
    marker, then nothing) while 300 USD more are spent: when scraping resumes the counter
    shows 600."""
    return {"interval": "15s", "input_series": [
        {"series": cost("search"),
         "values": f"0+1.25x240 stale _x{blank_samples} 600x300"}],
        "promql_expr_test": [expect(SPEND, "3h", ("{}", 600)),
                             expect(EXCEEDED, "3h", ("{}", 1))]}


def test_a_scrape_gap_loses_no_money(tmp_path: Path) -> None:
    """A 20-minute gap and a 1-hour gap (the default budget.max_gap): the gap's spend is
    counted when scraping resumes, and the 500 USD budget is exceeded."""
    files = rules(tmp_path)
    promtool(tmp_path, files, [gap_case(20 * 4 - 1), gap_case(60 * 4 - 1)])


def test_a_gap_longer_than_max_gap_is_counted_from_its_first_value(tmp_path: Path) -> None:
    """Past max_gap the spend of the gap is lost (documented), never counted twice: a
    series back after 2 hours counts from its first value."""
    files = rules(tmp_path)
    promtool(tmp_path, files, [{"interval": "15s", "input_series": [
        {"series": cost("search"), "values": "0+1.25x240 stale _x479 600+1.25x240"}],
        "promql_expr_test": [expect(SPEND, "5h", ("{}", 600))]}])


def test_skipped_evaluations_lose_no_money(tmp_path: Path) -> None:
    """Every other (and two of every three) budget evaluation skipped: an overloaded or
    restarting Prometheus. Each step counts from what was last counted, so the spend is
    exact: 600 USD in two hours; a series born between two evaluations counts from its
    first (zero) sample, not from the last step's window."""
    files = rules(tmp_path)
    case = {"interval": "15s", "input_series": [
        {"series": cost("search"), "values": "0+1.25x480 600x100"},
        # born at 3:15 (0 through the exporter's 1-minute hold), between two evaluations
        {"series": cost("newborn"), "values": "_x13 0x3 0+1.25x100 125x300"}],
        "promql_expr_test": [expect(SPEND, "2h12m", ("{}", 600)),
                             expect(EXCEEDED, "2h12m", ("{}", 1)),
                             expect('sum(team:llm_cost_usd:increase1h{team="newborn"})',
                                    "45m", ("{}", 125))]}
    promtool(tmp_path, files, [case], evaluation_interval="2m", name="every-2m")
    promtool(tmp_path, files, [case], evaluation_interval="3m", name="every-3m")


def test_an_ha_pair_without_deduplication_counts_once(tmp_path: Path) -> None:
    """Two Prometheus replicas remote-write the same series with different replica labels
    into a store that does not deduplicate: 300 USD (60%) is counted once, and no
    budget alert fires (the warning is at 80%). Replica b scrapes 7 s after a and
    missed one scrape: the highest of the two is what the exporter counted."""
    files = rules(tmp_path, replica_labels=["prometheus_replica", "replica"])
    a = cost("search", prometheus_replica="prom-a")
    b = cost("search", replica="prom-b")
    case = {"interval": "15s", "input_series": [
        {"series": a, "values": "0+1.25x240 300x200"},
        {"series": b, "values": "0+1.25x100 _ 127.5+1.25x138 300x200"}],
        "promql_expr_test": [
            expect(SPEND, "2h", ("{}", 300)),
            expect('sum(team:llm_cost_usd:increase1h{team="search"})', "1h", ("{}", 300)),
            expect('round(sum(team:llm_cost_usd_per_hour:rate5m{team="search"}), 0.001)', "30m",
                   ("{}", 300)),
            silent(WARNED, "2h")]}
    promtool(tmp_path, files, [case])


def test_what_held_before_still_holds(tmp_path: Path) -> None:
    """With the zero-first hold (a new or restarted series reads 0 for a minute): a
    restart mid-step counts what came before it and everything after; two restarts in
    one step; two exporter replicas add up; a new series' first increment counts."""
    files = rules(tmp_path)
    promtool(tmp_path, files, [{"interval": "15s", "input_series": [
        # 3 then 4, restart within the step (0 for the hold), then 6: 4 + 6 = 10
        {"series": cost("midstep"), "values": "0 0 3x4 4 0x8 6x20"},
        # 5, restart, 0s, restart again (still 0s), then 7: 12
        {"series": cost("twice"), "values": "0 5x4 0 0 0 0x4 7x20"},
        # two exporter replicas of one team: 10 + 20
        {"series": cost("replicas", "a"), "values": "0+1x10 10x20"},
        {"series": cost("replicas", "b"), "values": "0+2x10 20x20"},
        # a new series whose first scraped value (after the hold) is 600
        {"series": cost("newteam"), "values": "_x8 0x4 600x20"}],
        "promql_expr_test": [
            expect('team:llm_cost_usd:increase1h{team=~"midstep|twice|replicas|newteam"}',
                   "8m", ('team:llm_cost_usd:increase1h{team="midstep"}', 10),
                   ('team:llm_cost_usd:increase1h{team="twice"}', 12),
                   ('team:llm_cost_usd:increase1h{team="replicas"}', 30),
                   ('team:llm_cost_usd:increase1h{team="newteam"}', 600))]}])
