"""Render every dashboard to JSON; the committed json/ must equal this output."""

from __future__ import annotations

import json
from pathlib import Path

from grafanalib._gen import DashboardEncoder

from . import llm_cost, llm_performance, resources, routing

DASHBOARDS = {"llm-cost": llm_cost, "llm-performance": llm_performance,
              "llm-routing": routing, "llm-resources": resources}
OUT = Path(__file__).parent / "json"


def _data(module: object) -> dict:
    data = json.loads(json.dumps(module.dashboard_.to_json_data(),  # type: ignore[attr-defined]
                                 cls=DashboardEncoder))
    for var in data["templating"]["list"]:
        if var.get("includeAll"):  # Grafana's "All" is the value $__all
            var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return data


def render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(_data(module), indent=2, sort_keys=True) + "\n"
            for name, module in DASHBOARDS.items()}


def write(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render().items():
        path = out / name
        path.write_text(text)
        paths.append(path)
    return paths
