"""Benchmark: what kept Idempotency-Key answers cost the sidecar (a benchmark, not a test)

Posts ``--keys`` batches of 1,000 request events to ``llm-exporter serve`` (embedded
defaults: 10,000 keys, 600 s, 16 MB of answers), each with its own key, and reports the
sidecar's RSS before and after, and per key. ``--root`` runs another checkout's sidecar
(``git worktree add /tmp/before COMMIT``) to measure before and after in one sitting::

    python tests/benchmarks/bench_replays.py --keys 7222
    python tests/benchmarks/bench_replays.py --keys 7222 --root /tmp/before

Loopback only; bounded in keys and in time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import time
from pathlib import Path

from bench_sidecar import rss_mb, start

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=7222)
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args()
    proc, port = start([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"], True,
                       {"PYTHONPATH": str(args.root.resolve()), "LLM_EXPORTER_COLLECTORS": "",
                        "LLM_EXPORTER_RECENT_REQUESTS": "0"})
    rng = random.Random(1)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def post(key: str) -> int:
            events = [{"type": "request", "provider": "openai", "model": "gpt-4o",
                       "input_tokens": rng.randrange(1, 5000),
                       "output_tokens": rng.randrange(1, 2000)} for _ in range(1000)]
            conn.request("POST", "/v1/events", json.dumps({"events": events}).encode(),
                         {"Content-Type": "application/json", "Idempotency-Key": key})
            reply = conn.getresponse()
            reply.read()
            return reply.status
        for i in range(20):  # warm: the series exist, the allocator settled
            post(f"warm-{i}")
        before = rss_mb(proc.pid)
        end = time.monotonic() + args.seconds
        sent = 0
        while sent < args.keys and time.monotonic() < end:
            assert post(f"key-{sent}") == 200
            sent += 1
        after = rss_mb(proc.pid)
        print(json.dumps({"root": str(args.root), "keys": sent, "rss_before_mb": round(before),
                          "rss_after_mb": round(after),
                          "kb_per_key": round((after - before) * 1024 / max(sent, 1), 2)}))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
