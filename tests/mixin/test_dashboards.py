"""Dashboards as code: committed JSON in sync, variables defined where used, every
step read whole, thresholds equal to the alerts', descriptions, heatmaps, namespace."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporter.mixin.config import load_alert_config
from exporter.mixin.dashboards.generate import DASHBOARDS, render
from exporter.mixin.names import DASHBOARDS as LINKED

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_alert_config(ROOT / "alerts/config.yml")
GRAFANA_VARIABLES = {"__rate_interval", "__range", "__interval"}


def committed() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (ROOT / "dashboards/json").glob("*.json")}


def panels(board: dict) -> list[dict]:
    return board["panels"]


def panel(board: dict, title: str) -> dict:
    return next(p for p in board["panels"] if p["title"] == title)


def test_committed_json_is_current() -> None:
    fresh = render(CONFIG)
    on_disk = {p.name: p.read_text() for p in (ROOT / "dashboards/json").glob("*.json")}
    assert fresh == on_disk, "run `llm-exporter dashboards` and commit dashboards/json/"


def test_every_variable_a_query_uses_is_defined_and_every_one_defined_is_used() -> None:
    for name, board in committed().items():
        defined = {v["name"] for v in board["templating"]["list"]}
        assert {"datasource", "job"} <= defined, name
        used: set[str] = set()
        for p in panels(board):
            assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, \
                (name, p["title"])
            for t in p["targets"]:
                found = set(re.findall(r"\$\{?(\w+)", t["expr"]))
                undefined = found - defined - GRAFANA_VARIABLES
                assert not undefined, (name, p["title"], undefined)
                used |= found
        assert defined - {"datasource"} <= used, (name, defined - used)
        for v in board["templating"]["list"][1:]:
            assert v["multi"] and v["includeAll"] and v["allValue"] == ".*", (name, v)


def test_every_step_reads_its_whole_interval() -> None:
    """grafanalib's defaults (intervalFactor 2, maxDataPoints 100) made each point's step
    twice the interval that $__rate_interval covers."""
    for name, board in committed().items():
        for p in panels(board):
            assert p.get("maxDataPoints") is None, (name, p["title"])
            for t in p["targets"]:
                assert t["intervalFactor"] == 1, (name, p["title"])
                assert "rate(" not in t["expr"] or "$__rate_interval" in t["expr"] \
                    or "[24h]" in t["expr"], t["expr"]


def test_every_panel_has_a_description() -> None:
    for name, board in committed().items():
        for p in panels(board):
            assert len(p.get("description") or "") > 20, (name, p["title"])


def steps_of(p: dict) -> list[float]:
    return [s["value"] for s in p["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]]


def test_stat_thresholds_are_the_alerts_thresholds() -> None:
    boards = committed()
    raw = CONFIG.raw
    cost, perf = boards["llm-cost"], boards["llm-performance"]
    assert steps_of(panel(cost, "Spend rate now")) == [
        raw["spend_rate"]["warning_usd_per_hour"], raw["spend_rate"]["critical_usd_per_hour"]]
    assert steps_of(panel(perf, "Error ratio")) == [
        raw["error_rate"]["warning_ratio"], raw["error_rate"]["critical_ratio"]]
    assert steps_of(panel(perf, "Slowest p95 latency")) == [
        raw["latency_p95"]["warning_seconds"], raw["latency_p95"]["critical_seconds"]]
    assert steps_of(panel(cost, "Budget used per team")) == [raw["budget"]["warning_ratio"], 1]
    used = panel(cost, "Budget per team")["fieldConfig"]["overrides"][0]["properties"]
    levels = next(p["value"]["steps"] for p in used if p["id"] == "thresholds")
    assert [s["value"] for s in levels[1:]] == [raw["budget"]["warning_ratio"], 1.0]
    for p in panels(cost) + panels(perf):
        if p["type"] == "stat":
            assert p["fieldConfig"]["defaults"]["thresholds"]["steps"], p["title"]


def test_panels_read_the_recorded_series_their_alerts_use() -> None:
    boards = committed()
    exprs = {b: " ".join(t["expr"] for p in panels(board) for t in p["targets"])
             for b, board in boards.items()}
    for series in ("team:llm_cost_usd:increase1d", "team:llm_cost_usd_per_hour:rate5m",
                   "team_period:llm_cost_usd:spend", "team_period:llm_budget_usd:configured",
                   "team_period:llm_cost_usd:projected", "team_period:llm_budget_left:hours",
                   "team_period:llm_budget_burn:rate1h"):
        assert series in exprs["llm-cost"], series
    for series in ("model:llm_request_errors:ratio_rate5m", "model:llm_requests:rate5m",
                   "model:llm_request_duration_seconds:p95_rate5m",
                   "model:llm_time_to_first_token_seconds:p99_rate5m",
                   "cache:llm_cache_hits:ratio_rate5m"):
        assert series in exprs["llm-performance"], series
    assert "histogram_quantile" not in " ".join(
        t["expr"] for p in panels(boards["llm-performance"]) if "p50 / p95" in p["title"]
        for t in p["targets"])
    assert "provider:llm_provider_unhealthy:max_ratio_avg10m" in exprs["llm-routing"]
    assert "provider:llm_provider_unhealthy:min_ratio_avg10m" in exprs["llm-routing"]
    assert "model:llm_request_duration_seconds:slow_ratio_rate5m" in exprs["llm-performance"]
    budget = panel(boards["llm-cost"], "Budget per team")
    assert len(budget["targets"]) == 5 and budget["transformations"][0]["id"] == "merge"
    heatmaps = {p["title"] for p in panels(boards["llm-performance"]) if p["type"] == "heatmap"}
    assert heatmaps == {"Request duration", "Time to first token"}
    for p in panels(boards["llm-performance"]):
        if p["type"] == "heatmap":
            assert p["targets"][0]["format"] == "heatmap" and "_bucket" in p["targets"][0]["expr"]


def test_alert_links_open_a_dashboard_that_has_their_variables() -> None:
    """Alerts link to /d/<uid>/<slug>?var-team=...: the uid exists, the slug is its title,
    and each variable the link sets is defined on that dashboard."""
    boards = committed()
    for path in LINKED.values():
        uid, slug = path.split("/")
        assert uid in boards, uid
        assert re.sub(r"[^a-z0-9]+", "-", boards[uid]["title"].lower()).strip("-") == slug
    rules = yaml.safe_load((ROOT / "alerts/generated/llm.rules.yml").read_text())
    links = {r["annotations"]["dashboard_url"] for g in rules["groups"] for r in g["rules"]
             if "alert" in r}
    for link in links:
        found = re.match(r"http://localhost:3000/d/([^/]+)/[^?]+(\?(.*))?$", link)
        assert found, link
        defined = {v["name"] for v in boards[found.group(1)]["templating"]["list"]}
        for var in re.findall(r"var-(\w+)=", found.group(3) or ""):
            assert var in defined, (link, var)
    assert any("var-team={{ $labels.team }}" in link for link in links)


def test_dashboards_follow_the_configured_namespace(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["namespace"] = "acme"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    subprocess.run([sys.executable, "-m", "exporter.cli", "dashboards", "--config",
                    str(tmp_path / "config.yml"), "--out", str(tmp_path / "json")],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    text = "\n".join(p.read_text() for p in (tmp_path / "json").glob("*.json"))
    assert "acme_cost_usd_total" in text and "team:acme_cost_usd:increase1d" in text
    assert not re.search(r"\bllm_[a-z_]+(total|bucket|seconds|bytes|ratio)\b", text)
    assert ":llm_" not in text


def test_uids_and_provisioning() -> None:
    assert set(committed()) == set(DASHBOARDS)
    assert {b["uid"] for b in committed().values()} == set(DASHBOARDS)


def _walk(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}", k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{path}[{i}]")


def test_dashboards_load_in_grafanas_own_sdk_with_a_current_schema() -> None:
    """Grafana's foundation SDK reads every committed dashboard: a current schemaVersion,
    data sources as references (objects, not the pre-8.3 strings), no legacy nulls; and
    what it reads back keeps every panel's queries."""
    import json

    pytest.importorskip("grafana_foundation_sdk", reason="pip install -e '.[dev]'")
    from grafana_foundation_sdk.models.dashboard import Dashboard

    for path in sorted((ROOT / "dashboards/json").glob("*.json")):
        raw = json.loads(path.read_text())
        assert raw["schemaVersion"] >= 39, path.name
        refs = [(p, v) for p, k, v in _walk(raw) if k == "datasource"]
        assert refs, path.name
        for where, ref in refs:
            assert ref == {"type": "prometheus", "uid": "${datasource}"}, (path.name, where)
        model = Dashboard.from_json(raw)
        back = json.loads(json.dumps(model.to_json(), default=lambda o: o.to_json()))
        exprs = sorted(t["expr"] for p in raw["panels"] for t in p.get("targets", []))
        assert exprs and sorted(t["expr"] for p in back["panels"]
                                for t in p.get("targets", [])) == exprs, path.name
        assert len(back["panels"]) == len(raw["panels"])
