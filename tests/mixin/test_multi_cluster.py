"""Multi-cluster mode (aggregation_labels: [cluster]) is safe: a budget is one amount for
the team across clusters unless the config says per cluster; an exporter outage does not
clear a budget alert; a cluster that goes dark is reported by itself."""

from __future__ import annotations

from pathlib import Path

from .promtool import cost, expect, firing, promtool, rules, silent

UP = 'up{job="llm-exporter",instance="%s",cluster="%s"}'
CRITICAL = firing("LLMBudgetExceeded", team="search", severity="critical")


def two_clusters(a: str, b: str) -> list[dict]:
    """search's spend in clusters a and b (values in promtool notation), and their
    exporters' `up`."""
    return [{"series": cost("search", "exp-a", cluster="a"), "values": a},
            {"series": cost("search", "exp-b", cluster="b"), "values": b},
            {"series": UP % ("exp-a", "a"), "values": "1x480"},
            {"series": UP % ("exp-b", "b"), "values": "1x480"}]


def test_a_budget_spans_clusters_unless_told_otherwise(tmp_path: Path) -> None:
    """search (500 USD a day) spends 300 USD in each of two clusters: 120% in all. One
    budget across clusters: the critical fires. With per_aggregation_labels, each cluster
    has the whole budget and is at 60%: nothing fires."""
    spend = two_clusters("0+1.25x240 300x240", "0+1.25x240 300x240")
    across = {"interval": "15s", "input_series": spend, "promql_expr_test": [
        expect('team_period:llm_cost_usd:spend{team="search"}', "1h30m",
               ('team_period:llm_cost_usd:spend{team="search",period="day"}', 600)),
        expect(f"count({CRITICAL})", "1h30m", ("{}", 1))]}
    promtool(tmp_path / "across", rules(tmp_path / "across", aggregation_labels=["cluster"]),
             [across])
    each = {"interval": "15s", "input_series": spend, "promql_expr_test": [
        expect('team_period:llm_cost_usd:spend{team="search"}', "1h30m",
               *((f'team_period:llm_cost_usd:spend{{cluster="{c}",team="search",'
                  'period="day"}', 300) for c in "ab")),
        silent('count(ALERTS{alertname="LLMBudgetExceeded"})', "1h30m")]}
    promtool(tmp_path / "each", rules(tmp_path / "each", aggregation_labels=["cluster"],
                                      budget={"per_aggregation_labels": True}), [each])


def test_an_exporter_outage_does_not_clear_a_budget_alert(tmp_path: Path) -> None:
    """Cluster a is over search's budget (600 USD), then its exporter is unreachable for
    30 minutes (no cost and no `up` samples): the critical stays firing all along, with
    the budget per cluster and across clusters."""
    outage = [
        {"series": cost("search", "exp-a", cluster="a"),
         "values": "0+2.5x240 stale _x119 600x240"},
        {"series": UP % ("exp-a", "a"), "values": "1x240 stale _x119 1x240"},
        {"series": UP % ("exp-b", "b"), "values": "1x600"}]
    checks = [expect(f"count({CRITICAL})", t, ("{}", 1))
              for t in ("1h10m", "1h15m", "1h20m", "1h25m", "1h30m", "1h35m", "1h45m")]
    for name, changes in (("each", {"budget": {"per_aggregation_labels": True}}),
                          ("across", {})):
        files = rules(tmp_path / name, aggregation_labels=["cluster"], **changes)
        promtool(tmp_path / name, files, [{"interval": "15s", "input_series": outage,
                                           "promql_expr_test": checks}])


def test_a_cluster_going_dark_fires_its_own_alert(tmp_path: Path) -> None:
    """Cluster b's exporters stop reporting at minute 30 (its Prometheus stops sending):
    LLMExporterDown for cluster b, while a reports on."""
    files = rules(tmp_path, aggregation_labels=["cluster"])
    case = {"interval": "15s", "input_series": [
        {"series": UP % ("exp-a", "a"), "values": "1x480"},
        {"series": UP % ("exp-b", "b"), "values": "1x120 stale"}],
        "promql_expr_test": [
            silent(f"count({firing('LLMExporterDown')})", "30m"),
            expect(firing("LLMExporterDown"), "50m",
                   ('ALERTS{alertname="LLMExporterDown",alertstate="firing",cluster="b",'
                    'scope="aggregation",severity="critical"}', 1))]}
    promtool(tmp_path, files, [case])
