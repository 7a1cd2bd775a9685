"""Pages come while there is still money to save: day budgets page with more than half
left for any burn that spends them within 6 hours; working-day traffic stays silent while
a steady drift opens a ticket; calendar months reset on the 1st in their time zone and
page before the month's budget is gone; the spend anomaly survives a daylight-saving
shift.

Budgets of alerts/config.yml: search 500 USD a day, research 10,000 USD a rolling month,
platform 20,000 USD a calendar month."""

from __future__ import annotations

from pathlib import Path

import pytest

from .promtool import cost, counter, expect, firing, only, promtool, rules, silent, values

DAY_BUDGET = 500.0
#: The shipped tiers with their short windows at 15 minutes (the step of long scenarios)
SLOW_TIERS = [
    {"severity": "critical", "long": "1h", "short": "15m", "exhausts_within": "6h", "for": "1m"},
    {"severity": "critical", "long": "1h", "short": "15m", "factor": 14.4, "for": "1m"},
    {"severity": "critical", "long": "6h", "short": "30m", "factor": 6, "for": "15m"},
    {"severity": "warning", "long": "7d", "short": "1d", "factor": 1, "for": "1h"}]
PAGE = firing("LLMBudgetBurnRateHigh", team="search", severity="critical")


def spend_series(team: str, rate_of, n: int, interval_s: int) -> dict:
    return {"series": cost(team), "values": values(counter(rate_of, n, interval_s))}


@pytest.mark.parametrize("burn", [4.2, 12, 20, 100])
def test_a_day_budget_pages_while_half_is_left(tmp_path: Path, burn: float) -> None:
    """A burn of ``burn`` times the even pace from a quiet start: the page fires while the
    team has spent less than half of its day budget (checked one minute before half)."""
    per_s = burn * DAY_BUDGET / 86400
    half_s = DAY_BUDGET / 2 / per_s
    before_half = f"{int(half_s // 60) - 1}m"
    case = {"interval": "15s", "input_series": [
        spend_series("search", lambda t: per_s, int(half_s // 15) + 20, 15)],
        "promql_expr_test": [
            expect(f"count({PAGE})", before_half, ("{}", 1)),
            # still under half at that time
            expect(f'count(sum(team:llm_cost_usd:increase1d{{team="search"}}) < '
                   f'{DAY_BUDGET / 2})', before_half, ("{}", 1))]}
    promtool(tmp_path, rules(tmp_path), [case])


def test_a_burn_that_outlasts_six_hours_does_not_page(tmp_path: Path) -> None:
    """3.5x spends the day's budget in about 7 hours: the 80% warning of
    LLMBudgetExceeded covers it; no page in its first 3 hours."""
    per_s = 3.5 * DAY_BUDGET / 86400
    case = {"interval": "1m", "input_series": [
        spend_series("search", lambda t: per_s, 200, 60)],
        "promql_expr_test": [silent(f"count_over_time({PAGE}[3h])", "3h")]}
    promtool(tmp_path, rules(tmp_path), [case])


# promtool's time starts on Thursday 1970-01-01 00:00 UTC
def working_hours(t: int) -> bool:
    day, hour = (t // 86400 + 3) % 7, t % 86400 / 3600   # 0 = Monday
    return day < 5 and 9 <= hour < 17


def weekly_pace(pace: float, budget: float = 10_000.0):
    """USD/s spent only 09-17 on weekdays, at ``pace`` times the month's even pace."""
    per_s = pace * budget / (30 * 86400) * (168 / 40)
    return lambda t: per_s if working_hours(t) else 0.0


@pytest.mark.seconds(16)
def test_working_day_traffic_is_silent_and_a_drift_opens_a_ticket(tmp_path: Path) -> None:
    """research (10,000 USD a rolling month) spends 80% of its monthly pace, 09-17 on
    weekdays only: 3.36x while it works, nothing otherwise. No budget alert for three
    weeks, not even pending. The same team at 1.2x after two weeks gets the 7-day ticket
    within 5 days. Steps of 15 minutes, and only the budget groups (the property does not
    depend on the step; the short windows of the pages become 15 minutes)."""
    files = only(rules(tmp_path, budget={"interval": "15m", "long_interval": "15m",
                                         "burn_rates": SLOW_TIERS}),
                 "llm.budget", "llm.budget_long")
    n = 21 * 96
    quiet = {"interval": "15m", "input_series": [
        spend_series("research", weekly_pace(0.8), n + 1, 900)],
        "promql_expr_test": [
            silent('count_over_time(ALERTS{alertname=~"LLMBudget.*"}[21d])', "21d")]}
    drift = weekly_pace(0.8)
    steeper = weekly_pace(1.2)

    def drifting(t: int) -> float:
        return drift(t) if t < 14 * 86400 else steeper(t)

    ticket = firing("LLMBudgetBurnRateHigh", team="research", severity="warning",
                    window="7d")
    drifted = {"interval": "15m", "input_series": [
        spend_series("research", drifting, 20 * 96 + 1, 900)],
        "promql_expr_test": [
            silent(f"count_over_time({ticket}[14d])", "14d"),
            expect(f"count(count_over_time({ticket}[5d]))", "19d", ("{}", 1))]}
    promtool(tmp_path, files, [quiet, drifted], evaluation_interval="15m")


def test_a_calendar_month_resets_on_the_first_and_pages_before_it_is_gone(
        tmp_path: Path) -> None:
    """platform (20,000 USD a calendar month, UTC) spends 102.9% of it in January 1970
    at an even pace: the rolling 30 days never see the whole month, the calendar month
    raises the critical before January ends. On February 8 no warning is left (8 days
    of February are 26%). Hourly steps; no burn-rate tiers (tested below)."""
    per_s = 1.029 * 20_000 / (31 * 86400)
    files = only(rules(tmp_path, budget={"interval": "1h", "long_interval": "1h",
                                         "max_gap": "3h", "forecast_window": "6h",
                                         "burn_rates": []}), "llm.budget", "llm.budget_long")
    exceeded = firing("LLMBudgetExceeded", team="platform", severity="critical")
    case = {"interval": "1h", "input_series": [
        spend_series("platform", lambda t: per_s, 40 * 24, 3600)],
        "promql_expr_test": [
            silent(f"count({exceeded})", "30d"),
            expect(f"count({exceeded})", "30d12h", ("{}", 1)),
            silent('count(ALERTS{alertname="LLMBudgetExceeded",team="platform"})', "39d"),
            expect('round(team_period:llm_budget_used:ratio{team="platform"}, 0.01)', "39d",
                   ('{team="platform",period="calendar_month"}', 0.27))]}
    promtool(tmp_path, files, [case], evaluation_interval="1h")


def test_a_calendar_month_in_a_time_zone_starts_at_local_midnight(tmp_path: Path) -> None:
    """Asia/Tokyo (UTC+9): February 1970 starts at 15:00 UTC on January 31. 25 USD an
    hour; each hourly step belongs to the month its evaluation falls in."""
    files = only(rules(tmp_path, budget={"interval": "1h", "long_interval": "1h",
                                         "max_gap": "3h", "timezone": "Asia/Tokyo",
                                         "burn_rates": []}), "llm.budget", "llm.budget_long")
    spend = 'team_period:llm_cost_usd:spend{team="platform"}'
    labels = 'team_period:llm_cost_usd:spend{team="platform",period="calendar_month"}'
    case = {"interval": "1h", "input_series": [
        {"series": cost("platform"), "values": "0+25x800"}],
        "promql_expr_test": [
            # January 1970 in Tokyo began at 15:00 UTC on December 31, 1969 (before t=0)
            expect(spend, "734h", (labels, 734 * 25)),
            expect(spend, "738h", (labels, 4 * 25))]}
    promtool(tmp_path, files, [case], evaluation_interval="1h")


def test_a_calendar_month_budget_pages_a_fast_burn(tmp_path: Path) -> None:
    """The burn tiers follow the month's own length: a 40x burn against platform's
    20,000 USD pages within 25 minutes (14.4x over 1h and 5m: the hour holds 14.4x once
    40x ran 21.6 minutes), 1.3% of the month's budget spent."""
    per_s = 40 * 20_000 / (31 * 86400)
    case = {"interval": "15s", "input_series": [
        spend_series("platform", lambda t: per_s, 60 * 4, 15)],
        "promql_expr_test": [
            expect(f"count({firing('LLMBudgetBurnRateHigh', team='platform', window='1h')})",
                   "25m", ("{}", 1)),
            silent(f"count({firing('LLMBudgetBurnRateHigh', team='platform')})", "20m")]}
    promtool(tmp_path, rules(tmp_path), [case])
