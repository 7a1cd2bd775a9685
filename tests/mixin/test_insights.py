"""The insight rules' configuration, and GPU energy priced into a pool's cost per million
tokens, from the built-in GPU collector and from DCGM exporter (promtool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mixin.config import load_alert_config
from exporter.mixin.rules import write
from exporter.settings.load import ConfigError

from ..conftest import require_binary
from .test_rules import ALERTS, run

POOL = 'llm_pool_cost_usd_total{job="llm-exporter",%s,pool="a100"}'
INFO = ('llm_model_price_info{job="llm-exporter",%s,provider="vllm",model="llama-3.1-70b",'
        'source="pool",pool="a100"}')
TOKENS = ('llm_tokens_total{job="llm-exporter",%s,provider="vllm",model="llama-3.1-70b",'
          'tier="unknown",team="a",token_type="output"}')


def config(tmp_path: Path, **self_hosted: Any) -> Path:
    raw = yaml.safe_load((ALERTS / "config.yml").read_text())
    raw["self_hosted"] = {**raw.get("self_hosted", {}), **self_hosted}
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


# 2.40 USD/hour of GPU time and 400 W (0.4 kWh an hour at 0.15 USD = 0.06 USD/hour) for
# 600,000 tokens an hour: (2.40 + 0.06) / 0.6 = 4.10 USD per million tokens. A second
# GPU host serving no pool draws power too: it is no pool's cost.
@pytest.mark.parametrize("source", ["collector", "dcgm"])
def test_energy_is_part_of_the_pool_cost(tmp_path: Path, source: str) -> None:
    if source == "collector":
        ours, theirs = 'instance="gpu-1"', 'instance="gpu-2"'
        energy = 'gpu_energy_joules_total{job="llm-exporter",instance="%s",gpu="0"}'
        settings = {"energy_metric": 'gpu_energy_joules_total{job="llm-exporter"}',
                    "energy_joules_per_unit": 1, "energy_join_labels": ["instance"]}
        per_5m = 120_000          # joules
        energy_series = [energy % "gpu-1", energy % "gpu-2"]
    else:  # DCGM exporter, mapping GPUs to the pods using them; millijoules
        ours, theirs = 'namespace="ml",pod="vllm-0"', 'namespace="ml",pod="trainer-0"'
        energy = ('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{job="dcgm",instance="node-1:9400",'
                  'gpu="%s",%s}')
        settings = {"energy_metric": 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{job="dcgm"}',
                    "energy_joules_per_unit": 0.001, "energy_join_labels": ["namespace", "pod"]}
        per_5m = 120_000_000      # millijoules
        energy_series = [energy % ("0", ours), energy % ("1", theirs)]
    _, insights = write(config(tmp_path, usd_per_kwh=0.15, **settings), tmp_path / "rules")
    test = {"rule_files": [str(insights)], "evaluation_interval": "5m", "tests": [{
        "interval": "5m",
        "input_series": [
            {"series": POOL % ours, "values": "0+0.2x24"},
            {"series": INFO % ours, "values": "1x24"},
            {"series": TOKENS % ours, "values": "0+50000x24"},
            *({"series": s, "values": f"0+{per_5m}x24"} for s in energy_series)],
        "promql_expr_test": [
            {"expr": "round(pool:llm_pool_energy_cost_usd:rate1h * 3600 * 1e6) / 1e6",
             "eval_time": "2h", "exp_samples": [{"labels": '{pool="a100"}', "value": 0.06}]},
            {"expr": "round(pool:llm_cost_usd_per_million_tokens:ratio_rate1h * 1e6) / 1e6",
             "eval_time": "2h", "exp_samples": [{"labels": '{pool="a100"}', "value": 4.1}]}],
    }]}
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    out = run(require_binary("promtool"), "test", "rules", str(tmp_path / "test.yml"))
    assert "SUCCESS" in out, out


def test_configs_from_before_the_insights_still_load(tmp_path: Path) -> None:
    raw = yaml.safe_load((ALERTS / "config.yml").read_text())
    for section in ("insights", "self_hosted", "price_catalog", "spend_anomaly",
                    "inference_servers"):
        raw.pop(section, None)
    path = tmp_path / "old.yml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_alert_config(path)
    assert cfg.raw["spend_anomaly"]["factor"] == 3
    assert cfg.raw["price_catalog"]["max_age_days"] == 60
    assert cfg.raw["inference_servers"]["servers"] == ["vllm", "sglang", "tgi"]


def test_a_config_reads_only_the_servers_it_lists(tmp_path: Path) -> None:
    raw = yaml.safe_load((ALERTS / "config.yml").read_text())
    for servers, present, absent in ((["vllm"], "vllm:", "sglang:"), ([], None, "vllm:")):
        raw["inference_servers"] = {"servers": servers, "pool_label": "gpu_pool"}
        (tmp_path / "c.yml").write_text(yaml.safe_dump(raw))
        text = "".join(f.read_text() for f in write(tmp_path / "c.yml", tmp_path / "r"))
        assert absent not in text
        if present:
            assert present in text and "sum by (gpu_pool, model_name)" in text
        else:
            assert "inference_tokens" not in text


@pytest.mark.parametrize("section,values,message", [
    ("spend_anomaly", {"factor": 1}, "spend_anomaly.factor: must be > 1"),
    ("spend_anomaly", {"weeks": 9}, "spend_anomaly.weeks: 1 to 8"),
    ("spend_anomaly", {"min_weeks": 5}, r"spend_anomaly.min_weeks: 1 to weeks \(4\)"),
    ("spend_anomaly", {"minimum": 5}, "spend_anomaly: unknown key"),
    ("price_catalog", {"max_age_days": "old"}, "price_catalog.max_age_days: expected a number"),
    ("self_hosted", {"energy_join_labels": []}, "self_hosted.energy_join_labels"),
    ("self_hosted", {"window": "an hour"}, "self_hosted.window: expected a duration"),
    ("inference_servers", {"servers": ["vllm", "ollama"]}, "inference_servers.servers"),
    ("inference_servers", {"servers": ["vllm", "vllm"]}, "each once"),
    ("inference_servers", {"pool_label": "gpu pool"}, "inference_servers.pool_label"),
])
def test_bad_insight_settings_name_the_key(tmp_path: Path, section: str, values: dict,
                                           message: str) -> None:
    raw = yaml.safe_load((ALERTS / "config.yml").read_text())
    raw[section] = {**raw.get(section, {}), **values}
    path = tmp_path / "bad.yml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_alert_config(path)


def hourly_spend(rate_of, end_s: int, step_s: int = 300) -> str:
    """The budget group's recorded hourly spend (the last hour's, every ``step_s``) for a
    team spending ``rate_of(t)`` USD/h, in promtool notation."""
    from .promtool import values

    minute = [rate_of(m * 60) / 60 for m in range(end_s // 60 + 1)]
    out = []
    for t in range(0, end_s + 1, step_s):
        m = t // 60
        out.append(round(sum(minute[max(0, m - 59):m + 1]), 6))
    return values(out)


@pytest.mark.seconds(7)
def test_the_spend_anomaly_survives_a_daylight_saving_shift(tmp_path: Path) -> None:
    """search works 09:00-17:00 local time on weekdays (100 USD/h, 5 otherwise). From
    week 4 on daylight saving time moves it an hour earlier in UTC: the first working
    hour is compared with a quiet one a week before. Before the usual level took the
    hours on either side into account, that hour raised LLMSpendAnomaly every weekday
    (20x). Now weeks 4 to 6 are quiet, and a 5x spike in week 6 still fires."""
    from .promtool import expect, firing, promtool, rules, silent

    def rate(t: int) -> float:
        shift = 3600 if t >= 21 * 86400 else 0        # local 09:00 = 08:00 UTC
        local = t + shift
        day, hour = (local // 86400 + 3) % 7, local % 86400 / 3600
        if 39 * 86400 + 11 * 3600 <= t < 39 * 86400 + 13 * 3600:
            return 500.0                              # Monday of week 6, 12:00-14:00
        return 100.0 if day < 5 and 9 <= hour < 17 else 5.0

    files = rules(tmp_path)
    insights = [f for f in files if f.name == "llm-insights.rules.yml"]
    case = {"interval": "5m", "input_series": [
        {"series": 'team:llm_cost_usd:increase1h{team="search"}',
         "values": hourly_spend(rate, 41 * 86400)}],
        "promql_expr_test": [
            silent('count_over_time(ALERTS{alertname="LLMSpendAnomaly"}[18d])', "39d"),
            expect(f"count({firing('LLMSpendAnomaly', team='search')})", "39d13h",
                   ("{}", 1))]}
    promtool(tmp_path, insights, [case], evaluation_interval="15m")
