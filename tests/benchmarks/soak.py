"""Soak: a sidecar under mixed load for minutes, with bad input and client restarts.

Run: python tests/benchmarks/soak.py [--minutes 10]

Not part of the test run. Starts ``llm-exporter serve`` on 127.0.0.1 (its defaults, plus
an ingest token) and, until the time is up: two SidecarClients record requests (about
400/s in all) and are closed and replaced every 30 s; a scraper reads ``/metrics`` every
second; a third thread posts bad input (malformed JSON, unknown fields, bad types, wrong
token, text/plain) five times a second. Every loop is bounded by the deadline. At the
end it compares what the clients were told with what the sidecar counted and prints RSS
over time, scrape p50/p99 and events accepted, rejected and lost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import re
import statistics
import sys
import threading
import time

from bench_sidecar import rss_mb, start

from exporter import SidecarClient

TOKEN = "soak-token-not-a-secret"
BAD = [
    (b"{not json", "application/json"),
    (json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o",
                 "colour": "red"}).encode(), "application/json"),
    (json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o",
                 "input_tokens": "12"}).encode(), "application/json"),
    (json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o",
                 "status": {"a": 1}}).encode(), "application/json"),
    (json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o"}).encode(),
     "text/plain"),
]


def get(port: int, path: str) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    start = time.perf_counter()
    conn.request("GET", path)
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    return reply.status, body, time.perf_counter() - start


def counter(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    found = re.search(rf"^{name}{{{re.escape(want)}}} (\S+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    proc, port = start([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"], True,
                       {"LLM_EXPORTER_ZERO_HOLD_SECONDS": "0",
                        "LLM_EXPORTER_INGEST_TOKEN": TOKEN})
    deadline = time.monotonic() + args.minutes * 60
    lock = threading.Lock()
    totals = {"handed": 0, "sent": 0, "dropped": 0, "unsent": 0, "bad": 0, "bad_4xx": 0,
              "restarts": 0}
    scrapes: list[float] = []
    rss: list[tuple[float, float]] = []

    def producer(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            client = SidecarClient(f"http://127.0.0.1:{port}", token=TOKEN,
                                   flush_interval=0.2)
            handed = 0
            until = min(deadline, time.monotonic() + 30)
            while time.monotonic() < until:
                client.record_request(
                    provider=rng.choice(["openai", "anthropic", "google"]),
                    model=rng.choice(["gpt-4o", "claude-sonnet-4-5", "gemini-2.5-flash"]),
                    team=f"team{rng.randrange(20)}", tier=rng.choice(["Q1", "Q2", "Q3"]),
                    input_tokens=rng.randrange(10, 5000), output_tokens=rng.randrange(1, 900),
                    duration_seconds=rng.uniform(0.1, 20))
                handed += 1
                time.sleep(0.005)
            client.close(timeout=10)
            with lock:
                totals["handed"] += handed
                totals["restarts"] += 1
                for key in ("sent", "dropped", "unsent"):
                    totals[key] += getattr(client.stats, key)

    def scraper() -> None:
        while time.monotonic() < deadline:
            status, _, took = get(port, "/metrics")
            if status == 200:
                scrapes.append(took)
            time.sleep(1.0)

    def attacker() -> None:
        rng = random.Random(9)
        while time.monotonic() < deadline:
            body, ctype = rng.choice(BAD)
            token = TOKEN if rng.random() < 0.8 else "wrong"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("POST", "/v1/events", body, {"Content-Type": ctype,
                                                      "Authorization": f"Bearer {token}"})
            status = conn.getresponse().status
            conn.close()
            with lock:
                totals["bad"] += 1
                totals["bad_4xx"] += 400 <= status < 500
            time.sleep(0.2)

    threads = [threading.Thread(target=producer, args=(i,)) for i in range(2)]
    threads += [threading.Thread(target=scraper), threading.Thread(target=attacker)]
    for t in threads:
        t.start()
    started = time.monotonic()
    while time.monotonic() < deadline:
        rss.append((time.monotonic() - started, rss_mb(proc.pid)))
        time.sleep(min(30.0, max(0.0, deadline - time.monotonic())))
    for t in threads:
        t.join(timeout=60)
    rss.append((time.monotonic() - started, rss_mb(proc.pid)))
    _, body, _ = get(port, "/metrics")
    text = body.decode()
    proc.terminate()
    proc.wait(timeout=30)
    accepted = counter(text, "llm_exporter_events_total", result="accepted")
    rejected = counter(text, "llm_exporter_events_total", result="rejected")
    auth = counter(text, "llm_exporter_auth_failures_total", endpoint="ingest")
    scrapes.sort()
    print(f"python {sys.version.split()[0]}, {args.minutes:g} minutes, "
          f"{totals['restarts']} client sessions")
    print("  RSS MB over time: " + ", ".join(f"{t / 60:.0f}m {mb:.0f}" for t, mb in rss))
    print(f"  scrapes: {len(scrapes)}, p50 {statistics.median(scrapes) * 1000:.1f} ms, "
          f"p99 {scrapes[int(len(scrapes) * 0.99) - 1] * 1000:.1f} ms")
    print(f"  clients: handed {totals['handed']:,}, sent {totals['sent']:,}, dropped "
          f"{totals['dropped']}, unsent {totals['unsent']}")
    print(f"  sidecar: accepted {accepted:,.0f}, rejected {rejected:,.0f}, auth failures "
          f"{auth:,.0f}; bad requests {totals['bad']:,}, all 4xx: "
          f"{totals['bad'] == totals['bad_4xx']}")
    lost = totals["handed"] - totals["sent"] - totals["dropped"] - totals["unsent"]
    print(f"  lost (handed - sent - dropped - unsent): {lost}; accepted - sent: "
          f"{accepted - totals['sent']:,.0f}")


if __name__ == "__main__":
    main()
