"""What the rules cost Prometheus to evaluate (a benchmark, not a test).

Backfills 30 days of ``llm_cost_usd_total`` for N cost series (100 teams; a coarse
sample interval for the history, 15 s for the last hour and the next 40 minutes so that
the step rule reads what a live scrape would give it) plus the recorded exact-spend
steps of those 30 days, loads it into a real Prometheus (Debian's 2.42) and reports
``prometheus_rule_group_last_duration_seconds`` per rule group for:

- ``before``: the rules of the first release (one group; ``increase(...[30d])`` over raw
  series every 15 s), taken from git;
- ``baseline`` (``--baseline COMMIT``): the rules that commit's generator makes with a
  budget for every team (a third per day, two thirds per rolling month), so that a
  change to the generator is measured against the code before it in one sitting;
- ``after``: the rules generated from alerts/config.yml with a budget for every one of the
  100 teams (a third each per day, rolling month and calendar month), so that every
  window is summed for them (and the long group evaluated every minute instead of every
  5, to measure faster), and the insights group (an hour of tokens per series; the
  hourly spend 1 to 4 weeks back, backfilled with the steps). The recorded series the
  budget group reads back are backfilled too: the steps (per team, and per team and
  month), and the last two hours of what each step counted up to, per cost series.

    python tests/benchmarks/bench_rules.py                 # 100, 1000 and 10000 series
    python tests/benchmarks/bench_rules.py --series 1000 --baseline 7c79c4d

Everything runs on 127.0.0.1 with bounded waits; data goes to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
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
    # the insight rules read an hour of tokens: the cost series' labels, the last hours;
    # the budget step reads back what was counted per cost series over max_gap (1 h)
    path = work / "tokens.om"
    total += write_tokens(path, series, rates, end_of_history(t0) - 3600, end)
    total += write_counted(path.with_suffix(".counted.om"), series, rates, now - 7200, now,
                           t0)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q",
                    str(path.with_suffix(".counted.om")), str(data)], check=True, timeout=3600)
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", str(path),
                    str(data)], check=True, timeout=3600)
    path.unlink()
    return total


def write_counted(path: Path, series: list[str], rates: list[float], start: int, end: int,
                  t0: int) -> int:
    """What each budget step counted up to, per cost series, every minute."""
    n = 0
    with path.open("w") as f:
        f.write("# TYPE series:llm_cost_usd:counted gauge\n")
        for t in range(start - (start - t0) % STEP, end, STEP):
            f.writelines(f"series:llm_cost_usd:counted{{{lab}}} {rate * (t - t0):.6f} {t}\n"
                         for lab, rate in zip(series, rates))
            n += len(series)
        f.write("# EOF\n")
    return n


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


def period(i: int) -> str:
    """The budget period of team i in the benchmark."""
    return ("day", "month", "calendar_month")[i % 3]


def write_steps(path: Path, rates: list[float], start: int, end: int, t0: int) -> int:
    """The recorded exact-spend steps per team (and per team and month, for the teams
    with a calendar-month budget), and the hourly spend the spend-anomaly rule reads at
    weekly offsets, every minute (what the budget group would have written over the 30
    days)."""
    import datetime

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
        f.write("# TYPE team_month:llm_cost_usd:increase1m gauge\n")
        t = start - (start - t0) % STEP
        while t < end:
            if t >= start:
                month = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
                label = f"{month.year}{month.month:02d}"
                f.writelines(f'team_month:llm_cost_usd:increase1m{{team="team-{i:03d}",'
                             f'month="{label}"}} {v:.6f} {t}\n'
                             for i, v in enumerate(per_team) if period(i) == "calendar_month")
                n += TEAMS // 3
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


def bench_config(source: Path, periods: tuple[str, ...]) -> str:
    """``source`` (an alerts/config.yml) with a budget for every team of the benchmark,
    and the long group evaluated every minute (an evaluation costs the same at any
    interval, and a few of them take minutes, not a quarter of an hour)."""
    import yaml

    config = yaml.safe_load(source.read_text())
    config["budgets"] = [{"team": f"team-{i:03d}", "usd": 100 if period(i) == "day" else 1000,
                          "period": period(i) if period(i) in periods else "month"}
                         for i in range(TEAMS)]
    config["budget"]["long_interval"] = "1m"
    return yaml.safe_dump(config)


def combine(files: list[Path], out: Path) -> Path:
    import yaml

    groups = [g for path in files for g in yaml.safe_load(path.read_text())["groups"]]
    out.write_text(yaml.safe_dump({"groups": groups}))
    return out


def after_rules(work: Path) -> Path:
    """The current generator's rules, with a budget for every team of the benchmark."""
    from exporter.mixin.rules import write

    (work / "config.yml").write_text(bench_config(ROOT / "alerts/config.yml",
                                                  ("day", "month", "calendar_month")))
    return combine(write(work / "config.yml", work / "after"), work / "after.rules.yml")


def baseline_rules(work: Path, commit: str) -> Path:
    """What the generator at ``commit`` makes of the same budgets (its own periods)."""
    tree = work / f"tree-{commit}"
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT,
                       check=True, capture_output=True)
    (work / "baseline.yml").write_text(bench_config(tree / "alerts/config.yml",
                                                    ("day", "month")))
    out = work / "baseline"
    subprocess.run([sys.executable, "-c", "import sys; from exporter.mixin.rules import "
                    "write; write(sys.argv[1], sys.argv[2])", str(work / "baseline.yml"),
                    str(out)], cwd=tree, check=True)
    return combine(sorted(out.glob("*.rules.yml")), work / "baseline.rules.yml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default="100,1000,10000")
    parser.add_argument("--evaluations", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: temp)")
    parser.add_argument("--baseline", help="a commit whose generator to measure too")
    parser.add_argument("--no-before", action="store_true",
                        help="skip the first release's rules")
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
    rule_sets = [] if args.no_before else [("before", before)]
    if args.baseline:
        rule_sets.append(("baseline", baseline_rules(work, args.baseline)))
    rule_sets.append(("after", after))
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
            for name, rules in rule_sets:
                got = measure(data, rules, args.evaluations, deadline_s=900)
                results[(n, name)] = got
                for group, values in sorted(got.items()):
                    print(f"  {name:6s} {group:14s} max {max(values) * 1000:9.1f} ms  "
                          f"min {min(values) * 1000:9.1f} ms  over {len(values)} "
                          "evaluations", flush=True)
    finally:
        for tree in work.glob("tree-*"):
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           capture_output=True)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({f"{n}/{name}": {g: max(v) for g, v in groups.items()}
                      for (n, name), groups in results.items()}, indent=1))


if __name__ == "__main__":
    main()
