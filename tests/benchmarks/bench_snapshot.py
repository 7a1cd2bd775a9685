"""Benchmark: what one shared read-side snapshot costs (a benchmark, not a test)

Records ``--label-sets`` request label sets (provider, 10 models, teams), then times the
two ways to read every sample as {(name, sorted labels): value}: through
prometheus_client ``Metric`` objects (``state_of(llm.collect(scrape=False))``, what the
read side did before) and straight from the series (``llm.values()``)::

    python tests/benchmarks/bench_snapshot.py --label-sets 300
"""

from __future__ import annotations

import argparse
import json
import time

from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.read.sources import state_of


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label-sets", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()
    llm = LLMMetrics(CollectorRegistry())
    for i in range(args.label_sets):
        llm.record_request(provider="openai", model=f"m{i % 10}", team=f"team{i // 10}",
                           input_tokens=100, output_tokens=10, duration_seconds=0.5,
                           ttft_seconds=0.1)
    out = {}
    for name, read in (("metric_objects_ms", lambda: state_of(llm.collect(scrape=False))),
                       ("direct_ms", llm.values)):
        samples = read()  # warm: the direct path keeps each series' keys
        start = time.perf_counter()
        for _ in range(args.repeat):
            read()
        out[name] = round((time.perf_counter() - start) / args.repeat * 1000, 2)
        out["samples"] = len(samples)
    print(json.dumps({"label_sets": args.label_sets, **out}))


if __name__ == "__main__":
    main()
