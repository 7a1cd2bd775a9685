"""The remote_write examples docs/fleet.md shows are real configs:
promtool accepts the edge Prometheus, and the central-ruler settings generate rules that
count each budget step behind real time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from exporter.mixin.config import load_alert_config
from exporter.mixin.rules import generate

from ..conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy/remote-write"


def test_edge_prometheus_config_is_valid() -> None:
    done = subprocess.run([require_binary("promtool"), "check", "config",
                           str(EXAMPLES / "edge-prometheus.yml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load((EXAMPLES / "edge-prometheus.yml").read_text())
    assert config["scrape_configs"][0]["job_name"] == "llm-exporter"
    assert load_alert_config(ROOT / "alerts/config.yml").selector == 'job="llm-exporter"'


def test_central_ruler_settings_delay_the_budget_steps(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    central = yaml.safe_load((EXAMPLES / "central-rules.yml").read_text())
    config["budget"].update(central["budget"])
    config["replica_labels"] = central["replica_labels"]
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    groups = generate(load_alert_config(tmp_path / "config.yml"))["llm.rules.yml"]["groups"]
    step = next(r["expr"] for g in groups for r in g["rules"]
                if r.get("record") == "team:llm_cost_usd:increase1m")
    # raw samples are read a minute late; what was counted is read back as recorded
    assert "[1m] offset 1m))" in step
    assert "last_over_time(series:llm_cost_usd:counted[1h1m])" in step
    assert "max without (prometheus_replica) (max_over_time(" in step
