"""Budget rules: spend per team counted exactly per step, windows summed from the steps,
budgets, forecasts and burn rates, and the budget alerts (two groups: the step group and
the long-window group)."""

from __future__ import annotations

from typing import Any

from .config import PERIOD_HOURS, AlertConfig, duration, seconds
from .names import MONEY, Names, alert, closed_open, link, query

#: How far back the step rule looks for a series' previous sample: a scrape gap longer
#: than this costs the increments within the gap, never counts a value twice.
_BASE_LOOKBACK = "10m"
#: Windows of a day and more go to the long budget group.
_DAY = 86400
#: Windows of a day and more go to the long budget group.
_DAY = 86400


def exact_step(cost: str, step: str, delay: str = "0s") -> str:
    """Spend per team in the last ``step``, exactly: per cost series, (highest sample in
    the step) - (last sample before it).

    Successive steps telescope, so a sum over recorded steps is exactly what the exporter
    recorded, where increase() extrapolates to its window's edges. A counter only falls
    at a restart, and the exporter shows a restarted (or new) series at 0 for
    ``zero_hold_seconds``: with a hold at least as long as the step, every sample of a
    restarted process within its first step is 0, so the highest sample is the last one
    before the restart and the 0s add nothing; the next step counts from 0. A series with
    no sample in the 10 minutes before the step (new, or back after a gap) counts from its
    lowest sample in the step: 0 for a new series, its first value after a gap (a gap's
    increments are lost, never counted twice).

    ``delay`` shifts every step into the past, for a central ruler fed by remote_write:
    samples arrive there seconds after their timestamps, and a step evaluated before its
    last samples arrived would miss them for good.
    """
    off = f" offset {delay}" if seconds(delay) else ""
    base = f"last_over_time({cost}[{_BASE_LOOKBACK}] offset " \
           f"{duration(seconds(step) + seconds(delay))})"
    return (f"sum by (team) (\n  clamp_min(\n    max_over_time({cost}[{step}]{off})\n"
            f"    - ({base} or min_over_time({cost}[{step}]{off})),\n    0\n  )\n)")


def budget_vector(cfg: AlertConfig, names: Names, usd: float) -> str:
    """A budget as a series: one, or one per value of the aggregation labels (every
    cluster that runs an exporter has the budget)."""
    labels = cfg.raw.get("aggregation_labels") or []
    if not labels:
        return f"vector({usd:g})"
    present = f"{names.metric('build_info')}{{{cfg.selector}}}"
    return f"count by ({', '.join(labels)}) ({present}) * 0 + {usd:g}"


def _team_regex(teams: set[str]) -> str:
    """A PromQL matcher value for exactly ``teams`` (RE2 metacharacters escaped)."""
    def literal(team: str) -> str:
        return "".join(c if c.isalnum() or c in "_- " else "\\\\" + c for c in team)
    return "|".join(sorted(literal(t) for t in teams))


def budget_rules(cfg: AlertConfig, names: Names) -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """Two groups' rules. The step group (every ``budget.interval``): exact spend steps,
    windows up to 6 hours, budgets and the fast burn-rate alerts. The long group (every
    ``budget.long_interval``): windows of a day and more (a 30-day sum reads 43,200 steps
    per team, so it runs less often and only for teams whose budget needs it), spend,
    forecasts and the other budget alerts."""
    cost = f"{names.metric('cost')}{{{cfg.selector}}}"
    step = names.step
    fast: list[dict[str, Any]] = [
        {"record": names.increase(step),
         "expr": exact_step(cost, step, cfg.get("budget", "evaluation_delay"))}]
    slow: list[dict[str, Any]] = []
    # window -> the teams that need it (None: every team, for the dashboards)
    windows: dict[str, set[str] | None] = {"1h": None, "1d": None,
                                           names.forecast_window: None}
    for b in cfg.budgets:
        needed = {duration(PERIOD_HOURS[b.period] * 3600)}
        for tier in cfg.burn_rates_for(b.period):
            needed.update((tier.long, tier.short))
        for w in needed:
            if w not in windows or windows[w] is not None:
                windows[w] = (windows.get(w) or set()) | {b.team}
    for w, teams in sorted(windows.items(), key=lambda item: seconds(item[0])):
        if w == step:
            continue
        matcher = "" if teams is None else f'{{team=~"{_team_regex(teams)}"}}'
        rule = {"record": names.increase(w),
                "expr": f"sum_over_time({names.increase(step)}{matcher}[{closed_open(w)}])"}
        (fast if seconds(w) < _DAY else slow).append(rule)
    if not cfg.budgets:
        return fast, slow
    for b in cfg.budgets:
        fast.append({"record": names.budget, "expr": budget_vector(cfg, names, b.usd),
                     "labels": {"team": b.team, "period": b.period}})
    fw_hours = seconds(names.forecast_window) / 3600
    for period in cfg.periods():
        hours = PERIOD_HOURS[period]
        budget = f'{names.budget}{{period="{period}"}}'
        whole = names.increase(duration(hours * 3600))
        slow.append({"record": names.spend, "labels": {"period": period},
                     "expr": f"{whole} and on (team) {budget}\nor on (team)\n{budget} * 0"})
        fast.append({"record": names.projected, "labels": {"period": period},
                     "expr": f"{names.increase(names.forecast_window)} * {hours / fw_hours:g}"
                             f" and on (team) {budget}"})
        for w in sorted({x for t in cfg.burn_rates_for(period) for x in (t.long, t.short)},
                        key=seconds):
            (fast if seconds(w) < _DAY else slow).append(
                {"record": names.burn(w), "labels": {"period": period},
                 "expr": f"{names.increase(w)} * {hours * 3600 / seconds(w):g}\n"
                         f"/ on (team) group_right\n{budget}"})
    slow += [
        {"record": names.budget_used, "expr": f"{names.spend} / on (team, period) {names.budget}"},
        {"record": names.hours_left,
         "expr": f"clamp_min({names.budget} - on (team, period) {names.spend}, 0)\n"
                 f"/ on (team) group_left ()\n"
                 f"({names.increase(names.forecast_window)} / {fw_hours:g} > 0)"},
    ]
    fast_alerts, slow_alerts = budget_alerts(cfg, names)
    return fast + fast_alerts, slow + slow_alerts


def budget_alerts(cfg: AlertConfig, names: Names) -> tuple[list[dict[str, Any]],
                                                           list[dict[str, Any]]]:
    """Burn-rate alerts whose windows are all under a day run in the step group; the
    rest in the long group, beside the series they read."""
    bu = cfg.raw["budget"]
    fw = names.forecast_window
    cost_link = link(cfg, "cost", team="team")
    budget_q = query(names.budget, "team", "period")
    period_text = ('({{ $labels.period }}: rolling {{ if eq $labels.period "day" }}24 hours'
                   '{{ else }}30 days{{ end }})')
    forecast = (f" At the pace of the last {fw} the team spends $"
                f"{query(names.projected, 'team', 'period')} per "
                "{{ $labels.period }}; the budget left lasts "
                + query(names.hours_left, "team", "period", fmt="%.0f", unit=" hours",
                         otherwise="while nothing is spent") + ".")
    exceeded = ("Team {{ $labels.team }} has spent $" + MONEY + " of its $" + budget_q +
                " {{ $labels.period }} budget " + period_text + "." + forecast)
    slow = [
        alert(cfg, "LLMBudgetExceeded",
               f"{names.spend} >= on (team, period) {bu['warning_ratio']} * {names.budget}",
               bu["for"], "warning",
               f"Team {{{{ $labels.team }}}} used over {bu['warning_ratio']:.0%} of its "
               f"{{{{ $labels.period }}}} LLM budget", exceeded, cost_link),
        alert(cfg, "LLMBudgetExceeded", f"{names.spend} >= on (team, period) {names.budget}",
               bu["for"], "critical",
               "Team {{ $labels.team }} is over its {{ $labels.period }} LLM budget",
               exceeded, cost_link),
    ]
    fast: list[dict[str, Any]] = []
    for period in cfg.periods():
        for tier in cfg.burn_rates_for(period):
            long_q = query(names.increase(tier.long), "team")
            short_q = query(names.increase(tier.short), "team")
            (fast if seconds(tier.long) < _DAY else slow).append(alert(
                cfg, "LLMBudgetBurnRateHigh",
                f'{names.burn(tier.long)}{{period="{period}"}} > {tier.factor:g}\nand\n'
                f'{names.burn(tier.short)}{{period="{period}"}} > {tier.factor:g}',
                tier.for_, tier.severity,
                "Team {{ $labels.team }} burns its {{ $labels.period }} LLM budget "
                "at {{ $value | printf \"%.1f\" }}x the even pace",
                f"Team {{{{ $labels.team }}}} spent ${long_q} in the last {tier.long} and "
                f"${short_q} in the last {tier.short}: "
                f"{{{{ $value | printf \"%.1f\" }}}}x the even pace of its ${budget_q} "
                f"{{{{ $labels.period }}}} budget (threshold {tier.factor:g}x)." + forecast,
                cost_link, window=tier.long, period=period))
    return fast, slow
