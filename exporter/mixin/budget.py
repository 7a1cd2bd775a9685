"""Budget rules: spend per team counted exactly per step, windows summed from the steps,
budgets (rolling days and months, and calendar months in a time zone), forecasts and burn
rates, and the budget alerts (two groups: the step group and the long-window group).

Their label handling is explicit rather than widened afterwards: the steps and windows
keep the aggregation labels (per cluster, for the dashboards), while a budget is one
amount for the team across them unless ``budget.per_aggregation_labels`` says otherwise.
"""

from __future__ import annotations

from typing import Any

from .config import PERIOD_HOURS, PERIOD_TEXT, AlertConfig, BurnRate, duration, seconds
from .names import MONEY, Names, alert, closed_open, dedup, link, query
from .timezone import local_time

#: Windows of a day and more go to the long budget group.
_DAY = 86400
#: A calendar month's spend sums the month-labelled steps of up to this window.
_MONTH_WINDOW = "31d"


def _by(labels: tuple[str, ...]) -> str:
    return ", ".join(labels)


class Scope:
    """The labels budget rules keep, and how they read the exporter's series."""

    def __init__(self, cfg: AlertConfig) -> None:
        kept = cfg.aggregation_labels
        self.cfg = cfg
        #: steps and windows: one series per team (and aggregation-label value)
        self.team = (*kept, "team")
        #: budgets, spend and burn rates: per team, or per team and cluster
        per = bool(cfg.get("budget", "per_aggregation_labels"))
        self.budget = (*kept, "team") if per else ("team",)
        self.kept = kept
        self.per_kept = per and bool(kept)

    def dedup(self, expr: str) -> str:
        return dedup(self.cfg, expr)

    def to_budget(self, expr: str) -> str:
        """A per-team window summed to the budget's labels (across clusters, unless budgets
        are per cluster)."""
        return expr if self.budget == self.team else f"sum by ({_by(self.budget)}) ({expr})"


def exact_step(cfg: AlertConfig, names: Names, scope: Scope) -> str:
    """Spend per team in the last step, exactly, counted from what was last counted.

    Per cost series (replicas merged): the highest sample in the step minus the value the
    previous evaluation counted up to (``names.counted``, written right after this rule).
    That base is read back over ``max_gap`` plus a step, so neither a scrape gap up to
    max_gap nor skipped evaluations (an overloaded or restarting Prometheus) lose the
    increments in between: the next step counts them. Successive steps telescope, so a
    sum of recorded steps is exactly what the exporter recorded.

    A counter only falls at a restart, and the exporter shows a restarted (or new) series
    at 0 for ``zero_hold_seconds``: with a hold at least as long as the step, every sample
    after a restart within its step is 0, so the highest sample is the last one before it
    and the next step counts from 0. A step whose highest sample is below the base saw only
    the restarted process: it counts from 0. A series with no base (new, or back after
    more than max_gap) counts from its lowest sample within max_gap (at most an hour): 0
    for a new series (the hold), its first value after a long gap (that gap's increments
    are lost, never counted twice).
    """
    cost = f"{names.metric('cost')}{{{cfg.selector}}}"
    step = names.step
    delay = cfg.get("budget", "evaluation_delay")
    off = f" offset {delay}" if seconds(delay) else ""
    high = scope.dedup(f"max_over_time({cost}[{step}]{off})")
    # a series without a base is new (or back after more than max_gap): count it from its
    # lowest sample since then, so that skipped evaluations right after its birth lose
    # nothing (the window is capped at an hour: no rule reads more of a raw series)
    since = duration(min(seconds(cfg.get("budget", "max_gap")), 3600))
    low = scope.dedup(f"min_over_time({cost}[{since}]{off})")
    base = f"last_over_time({names.counted}[{names.base_lookback}])"
    return (f"sum by ({_by(scope.team)}) (\n"
            f"    ({high} - ({base} <= {high}))\n"
            f"  or\n    ({high} and {base})\n"
            f"  or\n    ({high} - {low})\n)")


def counted(cfg: AlertConfig, names: Names, scope: Scope) -> str:
    """What a step counted up to, per cost series: its last sample in the step."""
    cost = f"{names.metric('cost')}{{{cfg.selector}}}"
    delay = cfg.get("budget", "evaluation_delay")
    off = f" offset {delay}" if seconds(delay) else ""
    return scope.dedup(f"last_over_time({cost}[{names.step}]{off})")


def _team_regex(teams: set[str]) -> str:
    """A PromQL matcher value for exactly ``teams`` (RE2 metacharacters escaped)."""
    def literal(team: str) -> str:
        return "".join(c if c.isalnum() or c in "_- " else "\\\\" + c for c in team)
    return "|".join(sorted(literal(t) for t in teams))


class Calendar:
    """Local dates of the budget time zone, as PromQL."""

    def __init__(self, cfg: AlertConfig) -> None:
        delay = seconds(cfg.get("budget", "evaluation_delay"))
        self.zone = cfg.get("budget", "timezone")
        self.now = local_time(self.zone, delay)
        self.month_id = f"year({self.now}) * 100 + month({self.now})"
        #: the current month, as a series {month="202612"}
        self.this_month = f'count_values("month", {self.month_id})'
        self.days = f"scalar(days_in_month({self.now}))"


def budget_vector(cfg: AlertConfig, names: Names, scope: Scope, usd: float) -> str:
    """A budget as a series: one, or one per value of the aggregation labels seen in the
    last day (so an exporter outage does not remove the budget and resolve its alert)."""
    if not scope.per_kept:
        return f"vector({usd:g})"
    return (f"count by ({_by(scope.kept)}) (last_over_time({names.targets}[1d])) * 0 "
            f"+ {usd:g}")


def period_seconds(period: str, cal: Calendar) -> str:
    """The period's length in seconds, as PromQL (a calendar month: its own days)."""
    if period == "calendar_month":
        return f"{cal.days} * 86400"
    return f"{PERIOD_HOURS[period] * 3600}"


def budget_rules(cfg: AlertConfig, names: Names) -> tuple[list[dict[str, Any]],
                                                          list[dict[str, Any]]]:
    """Two groups' rules. The step group (every ``budget.interval``): exact spend steps,
    windows up to 6 hours, budgets and the fast burn-rate alerts. The long group (every
    ``budget.long_interval``): windows of a day and more (a 30-day sum reads 43,200 steps
    per team, so it runs less often and only for teams whose budget needs it), spend,
    forecasts and the other budget alerts."""
    scope, cal = Scope(cfg), Calendar(cfg)
    step = names.step
    fast: list[dict[str, Any]] = [
        {"record": names.increase(step), "expr": exact_step(cfg, names, scope)},
        {"record": names.counted, "expr": counted(cfg, names, scope)}]
    if scope.kept:
        fast.append({"record": names.targets, "expr":
                     f"count by ({_by(scope.kept)}) "
                     f"({scope.dedup(f'up{{{cfg.selector}}}')})"})
    slow: list[dict[str, Any]] = []
    calendar_teams = {b.team for b in cfg.budgets if b.period == "calendar_month"}
    if calendar_teams:
        fast.append({"record": names.month_step, "expr":
                     f'{names.increase(step)}{{team=~"{_team_regex(calendar_teams)}"}}\n'
                     f"* on () group_left (month)\n{cal.this_month}"})
    # window -> the teams that need it (None: every team, for the dashboards)
    windows: dict[str, set[str] | None] = {"1h": None, "1d": None,
                                           names.forecast_window: None}
    for b in cfg.budgets:
        needed = set() if b.period == "calendar_month" else \
            {duration(PERIOD_HOURS[b.period] * 3600)}
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
        fast.append({"record": names.budget, "expr": budget_vector(cfg, names, scope, b.usd),
                     "labels": {"team": b.team, "period": b.period}})
    bs = _by(scope.budget)
    fw = names.forecast_window
    fw_s = seconds(fw)
    for period in cfg.periods():
        budget = f'{names.budget}{{period="{period}"}}'
        if period == "calendar_month":
            whole = (f"sum by ({bs}) (\n  sum_over_time({names.month_step}[{_MONTH_WINDOW}])"
                     f"\n  and on (month)\n  {cal.this_month}\n)")
        else:
            whole = scope.to_budget(names.increase(duration(PERIOD_HOURS[period] * 3600)))
        slow.append({"record": names.spend, "labels": {"period": period},
                     "expr": f"{whole}\nand on ({bs}) {budget}\nor on ({bs})\n{budget} * 0"})
        fast.append({"record": names.projected, "labels": {"period": period},
                     "expr": f"{scope.to_budget(names.increase(fw))} * "
                             f"{period_seconds(period, cal)} / {fw_s}\n"
                             f"and on ({bs}) {budget}"})
        for w in sorted({x for t in cfg.burn_rates_for(period) for x in (t.long, t.short)},
                        key=seconds):
            (fast if seconds(w) < _DAY else slow).append(
                {"record": names.burn(w), "labels": {"period": period},
                 "expr": f"{scope.to_budget(names.increase(w))} * "
                         f"{period_seconds(period, cal)} / {seconds(w)}\n"
                         f"/ on ({bs}) group_right\n{budget}"})
    slow += [
        {"record": names.budget_used,
         "expr": f"{names.spend} / on ({bs}, period) {names.budget}"},
        {"record": names.hours_left,
         "expr": f"clamp_min({names.budget} - on ({bs}, period) {names.spend}, 0)\n"
                 f"/ on ({bs}) group_left ()\n"
                 f"({scope.to_budget(names.increase(fw))} / {fw_s / 3600:g} > 0)"},
    ]
    fast_alerts, slow_alerts = budget_alerts(cfg, names, scope, cal)
    return fast + fast_alerts, slow + slow_alerts


def _threshold(tier: BurnRate, period: str, cal: Calendar) -> str:
    """A tier's threshold as a multiple of the period's even pace: fixed, or derived from
    the period's length (a calendar month's own number of days)."""
    if period == "calendar_month" and tier.exhausts_within is not None:
        return f"{cal.days} * 86400 / {seconds(tier.exhausts_within)}"
    return f"{tier.factor_for(period):g}"


def _top_models(cfg: AlertConfig, names: Names, scope: Scope, window: str) -> str:
    """A template listing the three models that cost the team most over ``window``."""
    cost = names.metric("cost")
    match = ",".join([cfg.selector.replace('"', "'").replace("%", "%%")] +
                     [f"{label}='%s'" for label in scope.budget])
    args = " ".join(f"$labels.{label}" for label in scope.budget)
    by = _by((*scope.kept, "provider", "model"))
    inner = scope.dedup(f"increase({cost}{{{match}}}[{window}])")
    where = "".join(f"{{{{ $s.Labels.{k} }}}} " for k in scope.kept if k not in scope.budget)
    return (f'{{{{ range $i, $s := printf "topk(3, sum by ({by}) ({inner}))" {args} | query }}}}'
            f"{{{{ if $i }}}}, {{{{ end }}}}{where}{{{{ $s.Labels.provider }}}}/"
            f'{{{{ $s.Labels.model }}}} ${{{{ $s.Value | printf "%.2f" }}}}{{{{ end }}}}')


def budget_alerts(cfg: AlertConfig, names: Names, scope: Scope, cal: Calendar
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Burn-rate alerts whose windows are all under a day run in the step group; the
    rest in the long group, beside the series they read."""
    bu = cfg.raw["budget"]
    fw = names.forecast_window
    variables = {label: label for label in scope.budget}
    cost_link = link(cfg, "cost", **variables)
    labels = tuple(scope.budget)
    budget_q = query(names.budget, *labels, "period")
    period_text = ("({{ $labels.period }}: " + "{{ if eq $labels.period \"day\" }}"
                   f"{PERIOD_TEXT['day']}{{{{ else if eq $labels.period \"month\" }}}}"
                   f"{PERIOD_TEXT['month']}{{{{ else }}}}calendar month in "
                   f"{cal.zone}{{{{ end }}}})")
    forecast = (f" At the pace of the last {fw} the team spends $"
                f"{query(names.projected, *labels, 'period')} per "
                "{{ $labels.period }}; the budget left lasts "
                + query(names.hours_left, *labels, "period", fmt="%.0f", unit=" hours",
                         otherwise="while nothing is spent") + ".")
    exceeded = ("Team {{ $labels.team }} has spent $" + MONEY + " of its $" + budget_q +
                " {{ $labels.period }} budget " + period_text + "." + forecast +
                f" Top models over the last {fw}: " + _top_models(cfg, names, scope, fw) + ".")
    on = f"on ({_by(scope.budget)}, period)"
    slow = [
        alert(cfg, "LLMBudgetExceeded",
               f"{names.spend} >= {on} {bu['warning_ratio']} * {names.budget}",
               bu["for"], "warning",
               f"Team {{{{ $labels.team }}}} used over {bu['warning_ratio']:.0%} of its "
               f"{{{{ $labels.period }}}} LLM budget", exceeded, cost_link),
        alert(cfg, "LLMBudgetExceeded", f"{names.spend} >= {on} {names.budget}",
               bu["for"], "critical",
               "Team {{ $labels.team }} is over its {{ $labels.period }} LLM budget",
               exceeded, cost_link),
    ]
    fast: list[dict[str, Any]] = []
    match = ",".join(f"{label}='%s'" for label in labels)
    args = " ".join(f"$labels.{label}" for label in labels)
    for period in cfg.periods():
        for tier in cfg.burn_rates_for(period):
            long_q = query(names.increase(tier.long), *labels, total=True)
            threshold = _threshold(tier, period, cal)
            shown = (f"{tier.factor_for(period):g}x" if tier.exhausts_within is None
                     else (f"{tier.factor_for(period):g}x, " if period != "calendar_month"
                           else "") + f"a pace that spends the whole budget within "
                     f"{tier.exhausts_within}")
            since = (f'{{{{ with printf "min_over_time(timestamp({names.burn(tier.short)}'
                     f"{{{match},period='{period}'}} > {threshold})[{tier.long}:{names.step}])"
                     f'" {args} | query }}}}{{{{ . | first | value | humanizeTimestamp }}}}'
                     "{{ end }}")
            (fast if seconds(tier.long) < _DAY else slow).append(alert(
                cfg, "LLMBudgetBurnRateHigh",
                f'{names.burn(tier.long)}{{period="{period}"}} > {threshold}\nand\n'
                f'{names.burn(tier.short)}{{period="{period}"}} > {threshold}',
                tier.for_, tier.severity,
                "Team {{ $labels.team }} burns its {{ $labels.period }} LLM budget "
                "at {{ $value | printf \"%.1f\" }}x the even pace",
                f"Team {{{{ $labels.team }}}} spent ${long_q} in the last {tier.long}: "
                f"{{{{ $value | printf \"%.1f\" }}}}x the even pace of its ${budget_q} "
                f"{{{{ $labels.period }}}} budget (threshold {shown}). The last {tier.short} "
                f"ran over the threshold too; it did from {since} on." + forecast +
                f" Top models over the last {tier.long}: " +
                _top_models(cfg, names, scope, tier.long) + ".",
                cost_link, window=tier.long, period=period))
    return fast, slow
