"""Settings: YAML file, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter import ConfigError, LLMMetrics, Settings

from .conftest import value

CONFIG = """
namespace: acme_llm
labels:
  caps:
    model: 50
    team: 20
pricing:
  catalog: true
  baseline: openai/gpt-4o
  pools:
    - {name: vllm-a100, provider: vllm, gpus: 4, gpu_hour_usd: 2.0}
  overrides:
    - {provider: ollama, model: "*", free: true}
"""


def write(tmp_path: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_file_is_loaded(tmp_path: Path) -> None:
    s = Settings.load(write(tmp_path, CONFIG), env={})
    assert s.namespace == "acme_llm"
    assert s.label_caps == {"model": 50, "team": 20}
    assert s.baseline == ("openai", "gpt-4o")
    assert s.pools[0].usd_per_second == pytest.approx(4 * 2.0 / 3600)
    assert s.price_overrides[0].free and s.price_overrides[0].model == "*"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    prices = write(tmp_path, "prices:\n  - {provider: tgi, model: llama3, input_per_mtok: 1}\n",
                   "prices.yml")
    env = {"LLM_EXPORTER_CONFIG": str(write(tmp_path, CONFIG)),
           "LLM_EXPORTER_NAMESPACE": "other_ns", "LLM_EXPORTER_CAP_MODEL": "7",
           "LLM_EXPORTER_BASELINE": "anthropic/claude-sonnet-4-5",
           "LLM_EXPORTER_PRICE_CATALOG": "false", "LLM_EXPORTER_PRICES_FILE": str(prices)}
    s = Settings.load(env=env)
    assert s.namespace == "other_ns"
    assert s.label_caps["model"] == 7 and s.label_caps["team"] == 20
    assert s.baseline == ("anthropic", "claude-sonnet-4-5")
    assert s.price_catalog is False
    assert [(o.provider, o.model) for o in s.price_overrides] == [("ollama", "*"),
                                                                   ("tgi", "llama3")]


def test_recorder_uses_the_settings(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, config=write(tmp_path, CONFIG))
    usd = llm.record_request(provider="vllm", model="qwen3-32b", input_tokens=100_000,
                             duration_seconds=9.0)
    assert usd == 0  # the pool's hours are the cost, not the request
    assert value(registry, "acme_llm_reference_cost_usd_total", provider="vllm",
                 model="qwen3-32b", tier="unknown", team="unknown") == \
        pytest.approx(100_000 * 2.5e-6)


@pytest.mark.parametrize("text,message", [
    ("namespce: x\n", "unknown setting.*namespce"),
    ("labels:\n  caps:\n    user_id: 5\n", r"labels\.caps\.user_id: unknown label"),
    ("labels:\n  caps:\n    model: 0\n", r"labels\.caps\.model: must be a positive integer"),
    ("pricing:\n  catalog: maybe\n", "pricing.catalog: must be true or false"),
    ("pricing:\n  baseline: gpt-4o\n", "pricing.baseline: expected provider/model"),
    ("pricing:\n  overrides:\n    - {provider: a, model: b, output_per_mtok: -3}\n",
     r"pricing\.overrides\[0\]\.output_per_mtok: must be a non-negative number"),
    ("pricing:\n  overrides: {}\n", "pricing.overrides: must be a list"),
    ("pricing: [1]\n", "pricing: must be a mapping"),
    ("namespace: 9lives\n", "namespace must match"),
    ("key: [unclosed\n", "invalid YAML"),
])
def test_bad_settings_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.load(write(tmp_path, text), env={})


def test_bad_environment_values_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LLM_EXPORTER_CAP_MODEL: must be an integer"):
        Settings.load(env={"LLM_EXPORTER_CAP_MODEL": "lots"})
    with pytest.raises(ConfigError, match="cannot read config"):
        Settings.load(env={"LLM_EXPORTER_CONFIG": str(tmp_path / "missing.yml")})


def test_json_config_needs_no_yaml(tmp_path: Path) -> None:
    s = Settings.load(write(tmp_path, '{"namespace": "j"}', "c.json"), env={})
    assert s.namespace == "j"
