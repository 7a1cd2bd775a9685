"""Benchmark: a sidecar flooded with distinct label sets, each label within its cap.

Run: python tests/benchmarks/bench_flood.py [--events 200000] [--seconds 120]

Starts ``llm-exporter serve`` on its embedded defaults (series budget included) and posts
batches of 1,000 request events whose (provider, model, team, tier) walk 50 x 100 x 200 x
20 values, every one within the default caps, so only the series budget bounds the
output. Reports the sidecar's RSS, the size of ``/metrics`` and the time of a scrape as
the flood goes on. Loopback only; bounded in events and in time. Not a test.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time

from bench_sidecar import rss_mb, start


def scrape(port: int) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    conn.request("GET", "/metrics")
    body = conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.close()
    return len(body), elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=120.0)
    args = ap.parse_args()
    proc, port = start([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"], True,
                       {"LLM_EXPORTER_ZERO_HOLD_SECONDS": "0",
                        "LLM_EXPORTER_COLLECTORS": "system"})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        print(f"python {sys.version.split()[0]}, default series budget, 1,000 events a batch")
        print(f"  {'events':>9} {'RSS MB':>8} {'/metrics MB':>12} {'scrape s':>9}")
        sent, n = 0, 0
        end = time.monotonic() + args.seconds
        report = 20_000
        while sent < args.events and time.monotonic() < end:
            events = []
            for _ in range(1000):
                events.append({"type": "request", "provider": f"p{n % 50}",
                               "model": f"m{(n // 50) % 100}",
                               "team": f"team{(n // 5000) % 200}",
                               "tier": f"t{(n // 1_000_000) % 20}",
                               "input_tokens": 100, "output_tokens": 10,
                               "duration_seconds": 1.0})
                n += 1
            body = json.dumps({"events": events}).encode()
            conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                raise RuntimeError(f"POST answered {reply.status}")
            sent += 1000
            if sent % report == 0:
                size, took = scrape(port)
                print(f"  {sent:>9,} {rss_mb(proc.pid):>8.1f} {size / 1e6:>12.2f} {took:>9.3f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
