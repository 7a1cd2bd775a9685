"""Render every dashboard to JSON for one alert config; the committed dashboards/json/
must equal this output for alerts/config.yml (a test checks)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grafanalib._gen import DashboardEncoder

from ..config import AlertConfig, load_alert_config
from . import insights, llm_cost, llm_performance, resources, routing

#: The dashboard schema we emit (Grafana 11.0's; later Grafanas migrate it on load).
#: grafanalib writes its own default (12, Grafana 5) and data sources as plain strings.
SCHEMA_VERSION = 39
#: Every data source reference, as an object (the form since Grafana 8.3).
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}

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
    out["schemaVersion"] = SCHEMA_VERSION
    return _references(out)


def _references(node: Any) -> Any:
    """Data sources named by string (``"${datasource}"``) become reference objects, and
    grafanalib's unset fields (null) are left out, as Grafana itself saves a dashboard;
    a threshold step's null ``value`` (the base step) stays."""
    if isinstance(node, dict):
        return {k: dict(DATASOURCE_REF) if k == "datasource" and v == "${datasource}"
                else _references(v) for k, v in node.items() if v is not None or k == "value"}
    if isinstance(node, list):
        return [_references(v) for v in node]
    return node


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
