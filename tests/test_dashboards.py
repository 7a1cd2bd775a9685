"""Dashboards as code: committed JSON in sync, stable uids, variables used."""

from __future__ import annotations

import json
from pathlib import Path

from dashboards.generate import DASHBOARDS, render

ROOT = Path(__file__).resolve().parents[1]


def committed() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in (ROOT / "dashboards/json").glob("*.json")}


def test_committed_json_is_current() -> None:
    fresh = render()
    on_disk = {p.name: p.read_text() for p in (ROOT / "dashboards/json").glob("*.json")}
    assert fresh == on_disk, "run `python -m dashboards` and commit dashboards/json/"


def test_uids_titles_and_variables() -> None:
    boards = committed()
    assert {b["uid"] for b in boards.values()} == set(DASHBOARDS)
    for name, board in boards.items():
        variables = [v["name"] for v in board["templating"]["list"]]
        assert variables[0] == "datasource" and "job" in variables, name
        for v in board["templating"]["list"][1:]:
            assert v["multi"] and v["includeAll"] and v["allValue"] == ".*", (name, v)
        exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
        assert exprs, name
        for var in variables[1:]:  # every variable filters something
            assert any(f'=~"${var}"' in e for e in exprs), (name, var)
        for e in exprs:
            assert "rate(" not in e or "$__rate_interval" in e, e
        assert all(p["datasource"] == "${datasource}" for p in board["panels"]), name


def test_the_cost_dashboard_links_from_alerts() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    assert "/d/llm-cost/" in config["dashboard_url"]
