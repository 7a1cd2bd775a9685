"""Benchmark: memory of the sidecar's in-memory history (a benchmark, not a test)

A sidecar's read side (no Prometheus) with ``--label-sets`` request label sets, every one
of them recording between two history points (the worst case: every series changes),
for ``--points`` points (the default day is 1,440). Reports the history's memory
(tracemalloc) and, after the change, what it counts and how many points it merged.
``--root`` measures another checkout (``git worktree add /tmp/before COMMIT``)::

    python tests/benchmarks/bench_history.py --points 200
    python tests/benchmarks/bench_history.py --points 200 --root /tmp/before
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_sidecar import run_child

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys, time, tracemalloc
from exporter import Settings
from exporter.server import build_app

label_sets, points = int(sys.argv[1]), int(sys.argv[2])
app = build_app(Settings.load(env={"LLM_EXPORTER_COLLECTORS": ""}))
read, llm = app.read, app.llm
def traffic():
    for i in range(label_sets):
        llm.record_request(provider="openai", model=f"m{i % 10}", team=f"team{i // 10}",
                           input_tokens=100, output_tokens=10, duration_seconds=0.5)
traffic()
tracemalloc.start()
before = tracemalloc.get_traced_memory()[0]
for p in range(points):
    traffic()
    read._snapshot_at = float("-inf")  # a fresh snapshot per point (as a minute apart)
    read.sample()
used = tracemalloc.get_traced_memory()[0] - before
h = read.history
print(json.dumps({"points": points, "label_sets": label_sets, "traced_mb": round(used / 1e6, 1),
                  "mb_per_point": round(used / 1e6 / points, 3),
                  "counted_mb": round(getattr(h, "bytes", 0) / 1e6, 1),
                  "merged": getattr(h, "merged", None)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--label-sets", type=int, default=300)
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    print(json.dumps(run_child(CHILD, [str(args.label_sets), str(args.points)], args.root)))


if __name__ == "__main__":
    main()
