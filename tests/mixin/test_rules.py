"""Rules generated from alerts/config.yml: in sync, valid, unit-tested by promtool;
Alertmanager and Prometheus configs valid; compose file valid."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from exporter.mixin.config import load_alert_config
from exporter.mixin.rules import generate, render, write
from exporter.settings.load import ConfigError

from ..conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"


def run(*cmd: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120,
                            env={**os.environ, **(env or {})})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_generated_rules_are_committed_and_current(tmp_path: Path) -> None:
    write(ALERTS / "config.yml", tmp_path)
    fresh = {p.name: p.read_text() for p in tmp_path.glob("*.rules.yml")}
    committed = {p.name: p.read_text() for p in (ALERTS / "generated").glob("*.rules.yml")}
    assert fresh == committed, "run `llm-exporter rules` and commit alerts/generated/"


ALERTS_EXPECTED = {
    "LLMSpendRateHigh", "LLMBudgetExceeded", "LLMBudgetBurnRateHigh", "LLMErrorRateHigh",
    "LLMLatencyHigh", "LLMProviderDown", "LLMUnpricedModel", "LLMLabelOverflow",
    "LLMSeriesBudgetExceeded",
    "LLMIngestRejected", "GPUMemoryNearlyFull", "GPUTemperatureHigh", "LLMExporterDown",
    "LLMExporterCollectorFailed", "Watchdog", "PrometheusRuleEvaluationFailures",
    "PrometheusRuleGroupIterationsMissed", "PrometheusAlertmanagerUnreachable",
    "AlertmanagerNotificationsFailing", "PrometheusConfigReloadFailed",
    "AlertmanagerConfigReloadFailed", "LLMPriceCatalogStale", "LLMSpendAnomaly"}


def groups() -> dict[str, dict]:
    files = generate(load_alert_config(ALERTS / "config.yml"))
    return {g["name"]: g for f in files.values() for g in f["groups"]}


def test_every_alert_has_the_required_parts() -> None:
    rules = [r for g in groups().values() for r in g["rules"]]
    alerts = [r for r in rules if "alert" in r]
    assert {a["alert"] for a in alerts} == ALERTS_EXPECTED
    for a in alerts:
        if a["alert"] == "Watchdog":  # always firing, by design
            assert a["labels"]["severity"] == "none" and "for" not in a
            continue
        assert a["for"] and a["labels"]["severity"] in ("warning", "critical"), a
        assert set(a["annotations"]) == {"summary", "description", "runbook_url",
                                         "dashboard_url"}, a
        assert a["annotations"]["runbook_url"].endswith("#" + a["alert"].lower())
    for name in ("LLMSpendRateHigh", "LLMBudgetExceeded", "LLMErrorRateHigh",
                 "LLMLatencyHigh", "GPUMemoryNearlyFull", "GPUTemperatureHigh",
                 "LLMBudgetBurnRateHigh"):
        assert {a["labels"]["severity"] for a in alerts if a["alert"] == name} == \
            {"warning", "critical"}, name
    recording = [r["record"] for r in rules if "record" in r]
    assert all(len(r.split(":")) == 3 for r in recording)  # level:metric:operations


def test_every_alert_has_its_runbook() -> None:
    """Each alert's runbook_url lands on its own heading of docs/runbooks.md."""
    page = (ROOT / "docs/runbooks.md").read_text()
    for name in ALERTS_EXPECTED:
        assert f"\n## {name}\n" in page, name
        assert f"[{name}](#{name.lower()})" in page, name


def test_groups_budget_rules_apart_and_in_order() -> None:
    """Budget rules run in their own group at their own interval, so the other alerts'
    evaluation does not grow with budget periods; within a group, every recorded series
    is written before a later rule reads it."""
    by_name = groups()
    assert list(by_name) == ["llm.recording", "llm.alerts", "llm.budget", "llm.budget_long",
                             "llm.meta", "llm.insights"]
    assert by_name["llm.budget"]["interval"] == "1m"
    assert by_name["llm.budget_long"]["interval"] == "5m"
    assert by_name["llm.insights"]["interval"] == "5m"
    assert all("interval" not in g for n, g in by_name.items()
               if "budget" not in n and n != "llm.insights")
    # other groups read no spend window, only the constant budgets (to leave budgeted
    # teams out of the per-team spend-rate alert)
    budget_names = {r.get("record") for n in ("llm.budget", "llm.budget_long")
                    for r in by_name[n]["rules"]} - {"team_period:llm_budget_usd:configured"}
    for name in ("llm.recording", "llm.alerts", "llm.meta"):
        for rule in by_name[name]["rules"]:
            assert not any(b and b in rule["expr"] for b in budget_names), rule
    for g in by_name.values():
        # the step reads what the previous evaluation counted up to, then records anew
        written: set[str] = {"series:llm_cost_usd:counted"}
        for rule in g["rules"]:
            for record in {r["record"] for r in g["rules"] if "record" in r} - written:
                assert not re.search(re.escape(record) + r"\b", rule["expr"]) or \
                    rule.get("record") == record, (g["name"], rule)
            if "record" in rule:
                written.add(rule["record"])


# a raw exporter series (no colon) followed by a range or a subquery: name{...}[range]
_RANGE = re.compile(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\[([0-9a-z]+)(:[0-9a-z]*)?\]")


def test_no_rule_reads_more_than_an_hour_of_a_raw_series() -> None:
    """A range over a raw series costs per sample on every evaluation: 30 days at 15 s
    is 172,800 samples per series. Long windows are sums over recorded series."""
    from exporter.mixin.config import seconds

    checked = 0
    for g in groups().values():
        for rule in g["rules"]:
            for name, _, window, sub in _RANGE.findall(rule["expr"]):
                assert not sub, f"subquery in {rule}"
                if ":" in name or name in ("by", "on"):
                    continue
                checked += 1
                assert seconds(window) <= 3600, (name, window, rule)
    assert checked > 20
    # and the budget windows up to 31 days do exist, read from recorded steps
    exprs = "\n".join(r["expr"] for r in groups()["llm.budget_long"]["rules"])
    assert 'sum_over_time(team:llm_cost_usd:increase1m{team=~"platform|research"}[6d23h59m59s])' \
        in exprs
    assert "sum_over_time(team_month:llm_cost_usd:increase1m[31d])" in exprs
    assert 'sum_over_time(team:llm_cost_usd:increase1m{team=~"research"}[29d23h59m59s])' \
        in exprs


def test_namespace_renames_every_metric(tmp_path: Path) -> None:
    config = yaml.safe_load((ALERTS / "config.yml").read_text())
    config["namespace"] = "acme"
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    text = render(generate(load_alert_config(path)))["llm.rules.yml"]
    assert "llm_" not in text.replace("llm-exporter", "").replace("#llm", "")
    assert "acme_cost_usd_total" in text and "team:acme_cost_usd:increase1h" in text


def test_no_budget_no_series(tmp_path: Path) -> None:
    config = yaml.safe_load((ALERTS / "config.yml").read_text())
    config["budgets"] = []
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    text = render(generate(load_alert_config(path)))["llm.rules.yml"]
    assert "llm_budget" not in text and "LLMBudget" not in text
    # exact spend per team still exists for the dashboards
    assert "team:llm_cost_usd:increase1d" in text


def test_burn_rate_tiers_that_cannot_warn_in_time_are_skipped() -> None:
    cfg = load_alert_config(ALERTS / "config.yml")
    # of the two 1h/5m pages the lower factor is kept: 14.4x beats 120x for a month
    for period in ("month", "calendar_month"):
        assert [(t.long, t.factor_for(period)) for t in cfg.burn_rates_for(period)] == [
            ("1h", 14.4), ("6h", 6), ("7d", 1)]
    # a day budget: 4x (all of it within 6h) over 1h; 14.4x over 1h would fire with 40%
    # left, 6x for 6h after 150%, any 7-day window after it is gone
    assert [(t.long, t.factor_for("day")) for t in cfg.burn_rates_for("day")] == [("1h", 4)]


@pytest.mark.parametrize("change,message", [
    ({"budgets": [{"team": "a", "usd": -1, "period": "day"}]}, r"budgets\[0\]\.usd"),
    ({"budgets": [{"team": "a", "usd": 5, "period": "week"}]}, r"budgets\[0\]\.period"),
    ({"budgets": [{"team": "a", "usd": 5, "period": "day"}] * 2}, "a second day budget"),
    ({"error_rate": {"warning_ratio": 0.1, "critical_ratio": 0.2, "for": "ten",
                     "min_errors": 10, "slow_window": "30m"}},
     "error_rate.for: expected a duration"),
    ({"latency_p95": {"warning_seconds": "x", "critical_seconds": 1, "for": "1m",
                      "min_requests": 10}},
     "latency_p95.warning_seconds: expected a number"),
    ({"latency_p95": {"warning_seconds": 30, "critical_seconds": 81.92, "for": "1m",
                      "min_requests": 10}},
     r"latency_p95.warning_seconds: must be a bucket bound .*20.48, 40.96"),
    ({"error_rate": {"warning_ratio": 0.1, "critical_ratio": 0.2, "for": "10m"}},
     "error_rate: missing key.*min_errors"),
    ({"error_rate": {"warning_ratio": 0.1, "critical_ratio": 0.2, "for": "10m",
                     "min_requests_per_second": 0.1}},
     "error_rate.min_requests_per_second: replaced by min_errors"),
    ({"provider_down": {"window": "10m", "unhealthy_ratio": 0.5, "for": "5m"}},
     "provider_down.unhealthy_ratio: replaced by warning_ratio"),
    ({"replica_labels": ["team"]}, "replica_labels: a list of label names"),
    ({"budgets": [{"team": "a", "usd": 5, "period": "calendar_month"}],
      "budget": {"timezone": "Mars/Olympus"}}, "budget.timezone: unknown time zone"),
    ({"budget": {"max_gap": "1m"}}, "budget.max_gap: between twice budget.interval"),
    ({"budget": {"per_aggregation_labels": "yes"}},
     "budget.per_aggregation_labels: expected true or false"),
    ({"budget": {"burn_rates": [{"severity": "critical", "long": "1h", "short": "5m",
                                 "for": "1m"}]}},
     r"budget.burn_rates\[0\]: needs exactly one of factor .* or exhausts_within"),
    ({"colour": "red"}, "unknown key"),
    ({"aggregation_labels": ["team"]}, "aggregation_labels: a list of label names"),
    ({"aggregation_labels": "cluster"}, "aggregation_labels: a list of label names"),
    ({"namespace": "9lives"}, "namespace: must match"),
    ({"budget": {"interval": "7m", "long_interval": "10m", "burn_rates": []}},
     "budget.interval: must divide an hour"),
    ({"budget": {"burn_rates": [{"severity": "critical", "long": "5m", "short": "1h",
                                 "factor": 14.4, "for": "1m"}]}},
     r"budget.burn_rates\[0\].short: must be shorter"),
    ({"budget": {"warning_ratio": 1.5}}, "budget.warning_ratio: a ratio"),
    ({"budget": {"long_interval": "2h"}}, "budget.long_interval"),
])
def test_bad_alert_config_names_the_key(tmp_path: Path, change: dict, message: str) -> None:
    from .promtool import merge

    config = yaml.safe_load((ALERTS / "config.yml").read_text())
    # whole sections replace; a budget section given in part is merged
    config.update({k: v for k, v in change.items() if k != "budget"})
    config = merge(config, {k: v for k, v in change.items() if k == "budget"})
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=message):
        load_alert_config(path)


@pytest.mark.seconds(59)
def test_promtool_checks_and_unit_tests_pass() -> None:
    promtool = require_binary("promtool")
    out = run(promtool, "check", "rules", *map(str, (ALERTS / "generated").glob("*.yml")))
    assert "SUCCESS" in out and "FAILED" not in out
    # group_eval_order in each file fixes the order promtool evaluates groups in (without
    # it, promtool's map order made results vary from run to run)
    files = sorted((ALERTS / "tests").glob("*.yml"))
    assert {f.name for f in files} == {"alerts.test.yml", "recording.test.yml",
                                       "scenarios.test.yml", "insights.test.yml",
                                       "inference.test.yml"}
    out = run(promtool, "test", "rules", *map(str, files))
    assert out.count("SUCCESS") == 5, out
    out = run(promtool, "check", "config", str(ROOT / "prometheus.yml"))
    assert "SUCCESS: 2 rule files found" in out
    config = yaml.safe_load((ROOT / "prometheus.yml").read_text())
    jobs = {j["job_name"] for j in config["scrape_configs"]}
    assert jobs == {"llm-exporter", "prometheus", "alertmanager"}  # meta-monitoring


def test_alertmanager_config_and_routes(tmp_path: Path) -> None:
    amtool = require_binary("amtool")
    out = run(amtool, "check-config", str(ALERTS / "alertmanager.yml"))
    assert "SUCCESS" in out and "3 receivers" in out
    for severity, receiver in (("warning", "slack-warning"), ("critical", "slack-critical")):
        for alert in ("LLMBudgetExceeded", "LLMSpendRateHigh", "LLMBudgetBurnRateHigh",
                      "PrometheusRuleEvaluationFailures"):
            out = run(amtool, "config", "routes", "test",
                      f"--config.file={ALERTS / 'alertmanager.yml'}",
                      f"--verify.receivers={receiver}", f"alertname={alert}", "team=search",
                      f"severity={severity}")
            assert receiver in out
    run(amtool, "config", "routes", "test", f"--config.file={ALERTS / 'alertmanager.yml'}",
        "--verify.receivers=heartbeat", "alertname=Watchdog", "severity=none")
    # budget alerts have their own route: a month-long overrun reminds daily, not hourly
    routes = yaml.safe_load((ALERTS / "alertmanager.yml").read_text())["route"]["routes"]
    budget = next(r for r in routes if "LLMBudgetExceeded" in r["matchers"][0])
    exceeded = [r for r in budget["routes"]
                if 'alertname="LLMBudgetExceeded"' in r.get("matchers", [])]
    assert exceeded and all(r["repeat_interval"] == "24h" for r in exceeded)
    assert budget["group_by"] == ["alertname", "cluster", "team", "period"]
    text = (ALERTS / "alertmanager.yml").read_text()
    assert "hooks.slack.com" not in text and "api_url_file" in text
    # every aggregation label groups and inhibits (an eu-1 critical never silences us-1)
    config = yaml.safe_load(text)
    assert "cluster" in config["route"]["group_by"] and "cluster" in budget["group_by"]
    assert "cluster" in config["inhibit_rules"][0]["equal"]


def test_the_paging_config_pages_criticals_and_slacks_the_rest() -> None:
    amtool = require_binary("amtool")
    paging = str(ALERTS / "alertmanager.paging.yml")
    out = run(amtool, "check-config", paging)
    assert "SUCCESS" in out and "4 receivers" in out
    for labels, receivers in (
            (["alertname=LLMBudgetExceeded", "severity=critical", "team=search"],
             "pagerduty,slack-critical"),
            (["alertname=LLMProviderDown", "severity=critical", "provider=openai"],
             "pagerduty,slack-critical"),
            (["alertname=LLMBudgetExceeded", "severity=warning"], "slack-warning"),
            (["alertname=LLMErrorRateHigh", "severity=warning"], "slack-warning"),
            (["alertname=Watchdog", "severity=none"], "heartbeat")):
        run(amtool, "config", "routes", "test", f"--config.file={paging}",
            f"--verify.receivers={receivers}", *labels)
    text = (ALERTS / "alertmanager.paging.yml").read_text()
    assert "routing_key_file" in text and "routing_key:" not in text
    assert "hooks.slack.com" not in text and "events.pagerduty.com" not in text


def test_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        require_binary("docker-compose")  # skips on a laptop, fails in CI
    run(compose or "docker-compose", "-f", "docker-compose.yml", "config", "-q",
        env={"GRAFANA_ADMIN_PASSWORD": "test-only"})
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = data["services"]
    for name, service in services.items():
        for port in service.get("ports", []):  # published on loopback unless told
            assert port.startswith("${BIND_ADDRESS:-127.0.0.1}:"), (name, port)
        assert "healthcheck" in service, name
    assert not any("enable-lifecycle" in str(arg)
                   for arg in services["prometheus"]["command"])
    sidecar = services["sidecar"]
    assert sidecar["environment"]["LLM_EXPORTER_INGEST_TOKEN_FILE"] == "/run/secrets/ingest_token"
    assert "./alerts/secrets/ingest_token:/run/secrets/ingest_token:ro" in sidecar["volumes"]
    assert "missing or empty" in services["alertmanager"]["command"][0]
    text = (ROOT / "docker-compose.yml").read_text()
    assert "TOKEN:" not in text.replace("TOKEN_FILE:", "")  # no literal secrets
    assert data["services"]["prometheus"]["image"] == "prom/prometheus:v2.42.0"
    assert data["services"]["alertmanager"]["image"] == "prom/alertmanager:v0.25.0"
    assert (ROOT / "Dockerfile").exists()


def test_evaluation_delay_shifts_every_budget_step(tmp_path: Path) -> None:
    """A central ruler fed by remote_write counts each step behind real time; the steps
    still telescope (the base of a step is the end of the one before)."""
    config = yaml.safe_load((ALERTS / "config.yml").read_text())
    config["budget"]["evaluation_delay"] = "1m"
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    budget = generate(load_alert_config(path))["llm.rules.yml"]["groups"]
    step = next(r for g in budget if g["name"] == "llm.budget" for r in g["rules"]
                if r.get("record") == "team:llm_cost_usd:increase1m")
    cost = 'llm_cost_usd_total{job="llm-exporter"}'
    assert f"max_over_time({cost}[1m] offset 1m)" in step["expr"]
    # a new series counts from its lowest value within min(max_gap, 1h)
    assert f"min_over_time({cost}[1h] offset 1m)" in step["expr"]
    # what was counted is read back as it was recorded: no offset on the base
    assert "last_over_time(series:llm_cost_usd:counted[1h1m])" in step["expr"]
    counted = next(r for g in budget if g["name"] == "llm.budget" for r in g["rules"]
                   if r.get("record") == "series:llm_cost_usd:counted")
    assert counted["expr"] == f"last_over_time({cost}[1m] offset 1m)"
    config["budget"]["evaluation_delay"] = "1h"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match="budget.evaluation_delay: at most 10m"):
        load_alert_config(path)


def test_aggregation_labels_keep_each_cluster_apart(tmp_path: Path) -> None:
    """With aggregation_labels: [cluster], every sum and join keeps the cluster: a central
    store fed by several clusters alerts on each by itself (promtool, two clusters)."""
    config = yaml.safe_load((ALERTS / "config.yml").read_text())
    config["aggregation_labels"] = ["cluster"]
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    rules, insights = write(tmp_path / "config.yml", tmp_path / "rules")
    groups = yaml.safe_load(rules.read_text())["groups"] + \
        yaml.safe_load(insights.read_text())["groups"]
    for g in groups:
        if g["name"] == "llm.meta":
            continue
        for r in g["rules"]:
            for clause in re.findall(r"\b(?:by|on) \(([^)]*)\)", r["expr"]):
                # a budget is one amount across clusters: joins with it are on team, and
                # the current month is one for all
                if clause in ("team", "team, period", "month", ""):
                    continue
                assert clause.startswith("cluster"), (r.get("record") or r["alert"], clause)
    cost = ('llm_cost_usd_total{job="llm-exporter",cluster="%s",team="ads",provider="openai",'
            'model="gpt-4o",tier="unknown",token_type="output"}')
    test = {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": cost % "a", "values": "0+1x40"},      # 60 USD/hour
            {"series": cost % "b", "values": "0+0.25x40"},   # 15 USD/hour
            *({"series": f'llm_exporter_build_info{{job="llm-exporter",cluster="{c}",'
                         f'version="1"}}', "values": "1x40"} for c in "ab")],
        "promql_expr_test": [
            {"expr": "team:llm_cost_usd_per_hour:rate5m", "eval_time": "10m",
             "exp_samples": [{"labels": 'team:llm_cost_usd_per_hour:rate5m{cluster="a",'
                                        'team="ads"}', "value": 60},
                             {"labels": 'team:llm_cost_usd_per_hour:rate5m{cluster="b",'
                                        'team="ads"}', "value": 15}]},
            # one budget for the team across clusters (budget.per_aggregation_labels)
            {"expr": 'team_period:llm_budget_usd:configured{team="search"}',
             "eval_time": "2m",
             "exp_samples": [{"labels": 'team_period:llm_budget_usd:configured{'
                                        'team="search",period="day"}', "value": 500}]}],
        # cluster a alone is over both thresholds (60 > 50 all teams, 60 > 20 a team)
        "alert_rule_test": [{"eval_time": "25m", "alertname": "LLMSpendRateHigh",
                             "exp_alerts": [
                                 {"exp_labels": {"severity": "warning", "scope": "global",
                                                 "cluster": "a", "job": "llm-exporter"},
                                  "exp_annotations": _annotations(groups, "global")},
                                 {"exp_labels": {"severity": "warning", "scope": "team",
                                                 "cluster": "a", "team": "ads"},
                                  "exp_annotations": _annotations(groups, "team")}]}],
    }]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    out = run(require_binary("promtool"), "test", "rules", str(tmp_path / "test.yml"))
    assert "SUCCESS" in out, out


def _annotations(groups: list[dict], scope: str) -> dict[str, str]:
    """LLMSpendRateHigh's warning annotations (team ads) at 60 USD/hour."""
    rule = next(r for g in groups for r in g["rules"]
                if r.get("alert") == "LLMSpendRateHigh" and r["labels"]["scope"] == scope
                and r["labels"]["severity"] == "warning")
    return {k: v.replace("{{ $labels.team }}", "ads")
             .replace('{{ $value | printf "%.2f" }}', "60.00")
            for k, v in rule["annotations"].items()}
