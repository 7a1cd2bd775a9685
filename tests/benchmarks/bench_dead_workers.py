"""Benchmark: a multi-worker app's scrape after many workers came and went (a benchmark,
not a test). ``--workers`` forked workers record 50 requests each over 5 models and 20
teams; every ``--killed-every``-th is SIGKILLed. Reports the files left and the time of
one merged exposition (best of 5). ``--root`` measures another checkout::

    python tests/benchmarks/bench_dead_workers.py --workers 88 --killed-every 5
    python tests/benchmarks/bench_dead_workers.py --workers 88 --killed-every 5 --root /tmp/before
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_sidecar import run_child

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, os, signal, sys, tempfile, time
from pathlib import Path
from prometheus_client import CollectorRegistry
from exporter import LLMMetrics, multiprocess

workers, every = int(sys.argv[1]), int(sys.argv[2])
directory = multiprocess.prepare(Path(tempfile.mkdtemp()) / "mp")
llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
llm.record_request(provider="openai", model="gpt-4o", input_tokens=1)
for i in range(workers):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for k in range(50):
            llm.record_request(provider="openai", model=f"m{k % 5}", team=f"t{(i + k) % 20}",
                               input_tokens=10, output_tokens=5, duration_seconds=1.0)
        os.write(w, b"x")
        if i % every == 0:
            time.sleep(60)
        os._exit(0)
    os.read(r, 1)
    if i % every == 0:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
files = len(list(Path(directory).glob("llm_*.db")))
best = float("inf")
for _ in range(5):
    t0 = time.perf_counter()
    text = llm.exposition()
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"workers": workers, "killed": len(range(0, workers, every)),
                  "files_before_scrape": files,
                  "files_after": len(list(Path(directory).glob("llm_*.db"))),
                  "scrape_ms": round(best * 1000, 1), "lines": text.count(b"\n")}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=88)
    ap.add_argument("--killed-every", type=int, default=5)
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    print(json.dumps(run_child(CHILD, [str(args.workers), str(args.killed_every)], args.root,
                               {"LLM_EXPORTER_ZERO_HOLD_SECONDS": "0"})))


if __name__ == "__main__":
    main()
