"""What the rules cost Prometheus to evaluate (a benchmark, not a test).

Backfills 30 days of ``llm_cost_usd_total`` for N cost series (100 teams; a coarse
sample interval for the history, 15 s for the last hour and the next 40 minutes so that
the step rule reads what a live scrape would give it) plus the recorded exact-spend
steps of those 30 days, loads it into a real Prometheus (Debian's 2.42) and reports
``prometheus_rule_group_last_duration_seconds`` per rule group for:

- ``before``: the rules of the first release (one group; ``increase(...[30d])`` over raw
  series every 15 s), taken from git;
- ``after``: the rules generated from alerts/config.yml with a budget for every one of the
  100 teams (half per day, half per month), so that every window is summed for them
  (and the long group evaluated every minute instead of every 5, to measure faster),
  and the insights group (an hour of tokens per series; the hourly spend 1 to 4 weeks
  back, backfilled with the steps).

    python tests/benchmarks/bench_rules.py                 # 100, 1000 and 10000 series
    python tests/benchmarks/bench_rules.py --series 1000 --keep /tmp/bench-rules

Everything runs on 127.0.0.1 with bounded waits; data goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BEFORE_COMMIT = "878be0a"  # the first release's rules
TEAMS = 100
TOKEN_TYPES = ("input", "cache_read", "cache_write", "output", "reasoning")
DAY = 86400
HISTORY = {100: 60, 1000: 300, 10000: 3600}  # sample interval of the 30-day history, s
RECENT = 15  # scrape interval of the last hour (and of the measurement)
STEP = 60  # the budget group's interval: recorded steps every minute


def labels(k: int) -> str:
    team, model, tt = k // 5 % TEAMS, k // (5 * TEAMS), TOKEN_TYPES[k % 5]
    return (f'job="llm-exporter",instance="app:9473",provider="openai",model="model-{model}",'
            f'tier="Q{model % 3 + 1}",team="team-{team:03d}",token_type="{tt}"')


def write_day(path: Path, series: list[str], rates: list[float], start: int, end: int,
              interval: int, t0: int) -> int:
    """One OpenMetrics file of samples in [start, end), time-major (promtool needs it)."""
    n = 0
    with path.open("w") as f:
        f.write("# TYPE llm_cost_usd counter\n")
        t = start
        while t < end:
            f.writelines(f"llm_cost_usd_total{{{lab}}} {rate * (t - t0):.6f} {t}\n"
                         for lab, rate in zip(series, rates))
            n += len(series)
            t += RECENT if t >= end_of_history(t0) else interval
        f.write("# EOF\n")
    return n


def end_of_history(t0: int) -> int:
    return t0 + 30 * DAY - 3600


def backfill(data: Path, n_series: int, t0: int, now: int) -> int:
    """Blocks for [t0, now + 40 min): one promtool run per day (promtool re-reads its
    input once per 2-hour block, so small files keep it linear)."""
    series = [labels(k) for k in range(n_series)]
    rates = [0.00001 * (1 + k % 7) for k in range(n_series)]  # USD per second
    interval = HISTORY.get(n_series, 300)
    work = data.parent / "om"
    work.mkdir(exist_ok=True)
    total = 0
    end = now + 2400
    day = t0
    while day < end:
        path = work / f"{day}.om"
        total += write_day(path, series, rates, day, min(day + DAY, end), interval, t0)
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                        str(path), str(data)], check=True, timeout=3600)
        path.unlink()
        steps = work / f"{day}.steps.om"
        total += write_steps(steps, rates, day, min(day + DAY, now), t0)
        for path in (steps, steps.with_suffix(".hourly.om")):
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                            str(path), str(data)], check=True, timeout=3600)
            path.unlink()
        day += DAY
    # the insight rules read an hour of tokens: the cost series' labels, the last hours
    path = work / "tokens.om"
    total += write_tokens(path, series, rates, end_of_history(t0) - 3600, end)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                    str(data)], check=True, timeout=3600)
    path.unlink()
    return total


def write_tokens(path: Path, series: list[str], rates: list[float], start: int,
                 end: int) -> int:
    n = 0
    with path.open("w") as f:
        f.write("# TYPE llm_tokens counter\n")
        for t in range(start, end, RECENT):
            f.writelines(f"llm_tokens_total{{{lab}}} {rate * 1e5 * (t - start):.0f} {t}\n"
                         for lab, rate in zip(series, rates))
            n += len(series)
        f.write("# EOF\n")
    return n


def write_steps(path: Path, rates: list[float], start: int, end: int, t0: int) -> int:
    """The recorded exact-spend steps per team, and the hourly spend the spend-anomaly
    rule reads at weekly offsets, every minute (what the budget group would have written
    over the 30 days)."""
    per_team = [0.0] * TEAMS
    for k, rate in enumerate(rates):
        per_team[k // 5 % TEAMS] += rate * STEP
    n = 0
    with path.open("w") as f:
        f.write("# TYPE team:llm_cost_usd:increase1m gauge\n")
        t = start - (start - t0) % STEP
        while t < end:
            if t >= start:
                f.writelines(f'team:llm_cost_usd:increase1m{{team="team-{i:03d}"}} {v:.6f} {t}\n'
                             for i, v in enumerate(per_team))
                n += TEAMS
            t += STEP
        f.write("# EOF\n")
    # the hourly spend (60 steps), which the spend-anomaly rule reads at weekly offsets
    with path.with_suffix(".hourly.om").open("w") as f:
        f.write("# TYPE team:llm_cost_usd:increase1h gauge\n")
        t = start - (start - t0) % STEP
        while t < end:
            if t >= start:
                f.writelines(f'team:llm_cost_usd:increase1h{{team="team-{i:03d}"}} '
                             f"{v * 60:.6f} {t}\n" for i, v in enumerate(per_team))
                n += TEAMS
            t += STEP
        f.write("# EOF\n")
    return n


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return r.read().decode()


def gauge(text: str, name: str) -> dict[str, float]:
    """rule_group -> value of a per-group metric in Prometheus' own /metrics."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            group = re.search(r'rule_group="[^"]*;([^"]+)"', line)
            if group:
                out[group.group(1)] = float(line.rsplit(" ", 1)[1])
    return out


def measure(data: Path, rules: Path, evaluations: int, deadline_s: float) -> dict[str, list[float]]:
    """Start Prometheus on the backfilled data, let it compact, load ``rules``, and
    collect each group's evaluation durations over ``evaluations`` evaluations."""
    port = free_port()
    rule_file = data.parent / "rules.yml"
    rule_file.write_text("groups: []\n")
    config = data.parent / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {RECENT}s, evaluation_interval: 15s}}\n"
                      f"rule_files: [{rule_file}]\n")
    log = (data.parent / "prometheus.log").open("w")
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-lifecycle",
         "--storage.tsdb.retention.time=60d"], stdout=log, stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + deadline_s
        while True:
            try:
                get(port, "/-/ready")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < end, "Prometheus failed"
                time.sleep(0.5)
        # compaction of the backfilled 2-hour blocks settles before we measure
        last = None
        while time.monotonic() < end:
            text = get(port, "/metrics")
            state = (re.search(r"^prometheus_tsdb_blocks_loaded (\S+)", text, re.M).group(1),
                     re.search(r"^prometheus_tsdb_compactions_total (\S+)", text, re.M).group(1))
            if state == last:
                break
            last = state
            time.sleep(70)  # the compactor runs once a minute
        shutil.copy(rules, rule_file)
        urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}/-/reload", method="POST"), timeout=60)
        seen: dict[str, list[float]] = {}
        stamps: dict[str, float] = {}
        while time.monotonic() < end:
            text = get(port, "/metrics")
            durations = gauge(text, "prometheus_rule_group_last_duration_seconds")
            evaluated = gauge(text, "prometheus_rule_group_last_evaluation_timestamp_seconds")
            for group, stamp in evaluated.items():
                if stamp > 0 and stamps.get(group) != stamp:
                    stamps[group] = stamp
                    seen.setdefault(group, []).append(durations[group])
            if seen and all(len(v) >= evaluations for v in seen.values()) \
                    and len(seen) == len(evaluated):
                break
            time.sleep(0.5)
        return seen
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()


def after_rules(work: Path) -> Path:
    """The current generator's rules, with a budget for every team of the benchmark."""
    import yaml

    from exporter.mixin.rules import write

    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budgets"] = [{"team": f"team-{i:03d}", "usd": 1000 if i % 2 else 100,
                          "period": "month" if i % 2 else "day"} for i in range(TEAMS)]
    # an evaluation costs the same at any interval: evaluate the long group every minute
    # too, so that a few evaluations take minutes, not a quarter of an hour
    config["budget"]["long_interval"] = "1m"
    (work / "config.yml").write_text(yaml.safe_dump(config))
    files = write(work / "config.yml", work / "after")
    groups = [g for path in files for g in yaml.safe_load(path.read_text())["groups"]]
    combined = work / "after.rules.yml"
    combined.write_text(yaml.safe_dump({"groups": groups}))
    return combined


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default="100,1000,10000")
    parser.add_argument("--evaluations", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: temp)")
    args = parser.parse_args()
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install prometheus")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-rules-"))
    work.mkdir(parents=True, exist_ok=True)
    before = work / "before.rules.yml"
    before.write_text(subprocess.run(
        ["git", "show", f"{BEFORE_COMMIT}:alerts/generated/llm.rules.yml"], cwd=ROOT,
        check=True, capture_output=True, text=True).stdout)
    after = after_rules(work)
    results = {}
    try:
        for n in (int(x) for x in args.series.split(",")):
            now = int(time.time())
            t0 = now - 30 * DAY
            data = work / f"n{n}" / "data"
            data.mkdir(parents=True, exist_ok=True)
            done = data.parent / "backfilled"
            if not done.exists():  # a kept work directory is reused
                started = time.monotonic()
                samples = backfill(data, n, t0, now)
                done.write_text(str(samples))
                print(f"{n} series: backfilled {samples:,} samples (history every "
                      f"{HISTORY.get(n, 300)} s, last hour every {RECENT} s, steps every "
                      f"{STEP} s) in {time.monotonic() - started:.0f} s", flush=True)
            for name, rules in (("before", before), ("after", after)):
                got = measure(data, rules, args.evaluations, deadline_s=900)
                results[(n, name)] = got
                for group, values in sorted(got.items()):
                    print(f"  {name:6s} {group:14s} max {max(values) * 1000:9.1f} ms  "
                          f"min {min(values) * 1000:9.1f} ms  over {len(values)} "
                          "evaluations", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({f"{n}/{name}": {g: max(v) for g, v in groups.items()}
                      for (n, name), groups in results.items()}, indent=1))


if __name__ == "__main__":
    main()
