"""promtool unit tests built in Python: rules generated from the shipped alerts/config.yml
with a few settings changed, and test files written from scenario dicts. One promtool
run per file, however many scenarios it holds."""

from __future__ import annotations

import copy
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from exporter.mixin.rules import write

from ..conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "alerts"
ORDER = ["llm.recording", "llm.budget", "llm.budget_long", "llm.alerts", "llm.meta",
         "llm.insights"]

COST = ('llm_cost_usd_total{job="llm-exporter",instance="%s",provider="openai",'
        'model="gpt-4o",tier="Q2",team="%s",token_type="output"%s}')


def cost(team: str, instance: str = "a", **extra: str) -> str:
    """A cost series of the exporter, with extra labels (replica, cluster, ...)."""
    more = "".join(f',{k}="{v}"' for k, v in extra.items())
    return COST % (instance, team, more)


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: mappings merge key by key, the rest replaces."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def rules(tmp: Path, **changes: Any) -> list[Path]:
    """The rule files generated from alerts/config.yml with ``changes``."""
    raw = merge(yaml.safe_load((ALERTS / "config.yml").read_text()), changes)
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return write(path, tmp / "rules")


def promtool(tmp: Path, rule_files: list[Path], tests: list[dict[str, Any]],
             evaluation_interval: str = "1m", name: str = "test") -> str:
    """Run promtool on one file holding ``tests``; fail with its output unless it passes."""
    doc = {"rule_files": [str(p) for p in rule_files], "evaluation_interval":
           evaluation_interval, "group_eval_order": ORDER, "tests": tests}
    path = tmp / f"{name}.test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))
    result = subprocess.run([require_binary("promtool"), "test", "rules", str(path)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ})
    out = result.stdout + result.stderr
    assert result.returncode == 0 and "SUCCESS" in out, out[-6000:]
    return out


def firing(alertname: str, **labels: str) -> str:
    """A PromQL selector for a firing alert."""
    more = "".join(f',{k}="{v}"' for k, v in labels.items())
    return f'ALERTS{{alertname="{alertname}",alertstate="firing"{more}}}'


def expect(expr: str, at: str, *samples: tuple[str, float]) -> dict[str, Any]:
    """A promql_expr_test: ``expr`` at ``at`` gives exactly ``samples``."""
    return {"expr": expr, "eval_time": at,
            "exp_samples": [{"labels": labels, "value": value} for labels, value in samples]}


def silent(expr: str, at: str) -> dict[str, Any]:
    return {"expr": expr, "eval_time": at, "exp_samples": []}


def values(samples: list[float | None]) -> str:
    """promtool's series notation for ``samples`` (None: no sample), runs of a constant
    step written as ``start+stepxN``."""
    out: list[str] = []
    i = 0
    while i < len(samples):
        if samples[i] is None:
            j = i
            while j < len(samples) and samples[j] is None:
                j += 1
            out.append(f"_x{j - i}")
            i = j
            continue
        j = i + 1
        step = None
        while j < len(samples) and samples[j] is not None:
            d = samples[j] - samples[j - 1]  # type: ignore[operator]
            if step is None:
                step = d
            elif abs(d - step) > 1e-6:
                break
            j += 1
        n = j - i - 1
        start = samples[i]
        sign = "-" if step is not None and step < 0 else "+"
        out.append(f"{start!r}" if n == 0 else f"{start!r}{sign}{abs(step)!r}x{n}")
        i = j
    return " ".join(out)


def counter(rate_of: Callable[[int], float], n: int, interval_s: int) -> list[float]:
    """A counter's samples: sample k adds ``rate_of(t)`` USD/s over the interval ending at
    t = k * interval_s."""
    total, out = 0.0, [0.0]
    for k in range(1, n):
        total += rate_of(k * interval_s) * interval_s
        out.append(round(total, 9))
    return out


def only(files: list[Path], *groups: str) -> list[Path]:
    """A rule file holding only ``groups`` of ``files``: promtool evaluates every group
    at every step, and a scenario over weeks pays for each."""
    kept = [g for f in files for g in yaml.safe_load(f.read_text())["groups"]
            if g["name"] in groups]
    path = files[0].parent / ("only-" + "-".join(groups) + ".rules.yml")
    path.write_text(yaml.safe_dump({"groups": kept}, sort_keys=False, width=1000))
    return [path]
