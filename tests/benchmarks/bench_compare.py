"""Benchmark: two source trees of llm-exporter side by side, for a before/after figure.

Run: python tests/benchmarks/bench_compare.py OLD_TREE NEW_TREE [--runs 5]
(e.g. ``git worktree add /tmp/old <commit>`` for OLD_TREE, ``.`` for NEW_TREE)

Each measurement runs in a fresh interpreter with the tree first on ``sys.path`` and a
fixed ``PYTHONHASHSEED`` (dict layouts, hence lookup costs, otherwise differ per run),
alternating between the trees, so drift of a shared machine hits both alike. Measured:
``record_request`` alone (the bench_recorder mix) and one single-event POST through the
sidecar's ASGI app in process (no HTTP). Best of each run, then the range over runs.
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = r'''
import asyncio, json, sys, time
tree, what = sys.argv[1], sys.argv[2]
sys.path[:0] = [tree, HERE]
from prometheus_client import CollectorRegistry
from exporter import LLMMetrics, Settings
def record():
    from bench_recorder import calls
    cs = calls(5000)
    rec = LLMMetrics(CollectorRegistry()).record_request
    for c in cs:
        rec(**c)
    best = 1e9
    for _ in range(20):
        t = time.perf_counter()
        for c in cs:
            rec(**c)
        best = min(best, (time.perf_counter() - t) / len(cs))
    return best
if what == "record":
    best = record()
else:
    from exporter.server import build_app
    app = build_app(Settings())
    body = json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o",
                       "team": "search", "tier": "Q2", "input_tokens": 1200,
                       "cache_read_tokens": 1000, "output_tokens": 350,
                       "duration_seconds": 2.4, "ttft_seconds": 0.3}).encode()
    scope = {"type": "http", "path": "/v1/events", "method": "POST",
             "headers": [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}
    async def send(message):
        pass
    async def main():
        best = 1e9
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(5000):
                await app(scope, receive, send)
            best = min(best, (time.perf_counter() - t) / 5000)
        return best
    best = asyncio.run(main())
print(best * 1e6)
'''.replace("HERE", repr(str(HERE)))


def measure(tree: str, what: str, seed: int) -> float:
    env = {**os.environ, "PYTHONHASHSEED": str(seed), "LLM_EXPORTER_ZERO_HOLD_SECONDS": "0",
           "PYTHONPATH": ""}
    out = subprocess.run([sys.executable, "-c", CHILD, tree, what], env=env, check=True,
                         capture_output=True, text=True, timeout=600)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    trees = {"old": str(Path(args.old).resolve()), "new": str(Path(args.new).resolve())}
    print(f"python {sys.version.split()[0]}, {args.runs} alternating runs per tree")
    for what, label in (("record", "record_request, us per call"),
                        ("asgi", "single-event request in process, us")):
        got: dict[str, list[float]] = {"old": [], "new": []}
        for run in range(1, args.runs + 1):
            for name, tree in trees.items():
                got[name].append(measure(tree, what, run))
        print(f"  {label}:")
        for name in trees:
            values = sorted(got[name])
            print(f"    {name}: best {values[0]:.2f}, median {values[len(values) // 2]:.2f}")


if __name__ == "__main__":
    main()
