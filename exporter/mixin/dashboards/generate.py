"""Render every dashboard to JSON for one alert config; the committed dashboards/json/
must equal this output for alerts/config.yml (a test checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafanalib._gen import DashboardEncoder

from ..config import AlertConfig, load_alert_config
from . import insights, llm_cost, llm_performance, resources, routing

DASHBOARDS = {"llm-cost": llm_cost, "llm-performance": llm_performance,
              "llm-routing": routing, "llm-resources": resources, "llm-insights": insights}


def data(cfg: AlertConfig, name: str) -> dict[str, Any]:
    """One dashboard as the JSON object Grafana loads."""
    dashboard = DASHBOARDS[name].build(cfg)  # type: ignore[attr-defined]
    out: dict[str, Any] = json.loads(json.dumps(dashboard.to_json_data(),
                                                cls=DashboardEncoder))
    for var in out["templating"]["list"]:
        if var.get("includeAll"):  # Grafana's "All" is the value $__all
            var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return out


def render(cfg: AlertConfig) -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {f"{name}.json": json.dumps(data(cfg, name), indent=2, sort_keys=True) + "\n"
            for name in DASHBOARDS}


def write(config_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Regenerate the dashboards' JSON files from the alert config at ``config_path``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(load_alert_config(config_path)).items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
