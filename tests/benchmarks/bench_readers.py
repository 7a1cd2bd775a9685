"""Benchmark: do readers slow scrapes or ingest? (a benchmark, not a test)

Starts ``llm-exporter serve`` (its default collectors, the in-memory history, no
Prometheus) with 300 label sets recorded, then, for ``--seconds`` each:

1. ``alone``: an ingest flood (batches of 100 events on keep-alive connections, from a
   process of its own) and a scrape of ``/metrics`` every second;
2. ``readers``: the same, plus 16 readers looping over the read routes and 16 WebSocket
   clients (a process of their own);
3. ``idle``: 16 WebSocket clients that never read, then a 17th: seconds until its first
   message;
4. ``burst``: 200 WebSocket connection attempts at once, and the slowest scrape meanwhile.

Reports ingest events/s (and the ratio with readers to without), scrape p50/p99/max,
each WebSocket client's longest wait between messages. ``--root`` runs another checkout's
sidecar (``git worktree add /tmp/before COMMIT``) to measure before and after in one
sitting::

    python tests/benchmarks/bench_readers.py
    python tests/benchmarks/bench_readers.py --root /tmp/before

Loopback only; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench_sidecar import start

ROOT = Path(__file__).resolve().parents[2]
ROUTES = ("/api/v1/dashboard/metrics", "/_qs/metrics", "/api/metrics/queries",
          "/api/metrics/tiers", "/api/metrics/resources", "/api/metrics/routing",
          "/api/llm/providers", "/api/llm/metrics", "/api/llm/costs", "/api/llm/trends")


def events(n: int, offset: int = 0) -> bytes:
    return json.dumps({"events": [
        {"type": "request", "provider": "openai", "model": f"m{(offset + i) % 10}",
         "team": f"team{(offset + i) // 10 % 30}", "input_tokens": 100, "output_tokens": 10,
         "duration_seconds": 0.5} for i in range(n)]}).encode()


def post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/v1/events", body, {"Content-Type": "application/json"})
    reply = conn.getresponse()
    reply.read()
    return reply.status


# ------------------------------------------------------------------ child roles

def role_ingest(port: int, seconds: float) -> None:
    """Batches of 100 from two threads; prints events accepted per second."""
    body = events(100)
    counts = [0, 0]
    end = time.monotonic() + seconds

    def flood(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < end:
            if post(conn, body) == 200:
                counts[k] += 100
    threads = [threading.Thread(target=flood, args=(k,)) for k in range(2)]
    start_t = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"events_per_s": sum(counts) / (time.monotonic() - start_t)}))


def role_readers(port: int, seconds: float) -> None:
    """16 readers over the routes and 16 WebSocket clients; prints reads/s and each
    client's messages and longest gap."""
    from websockets.sync.client import connect

    end = time.monotonic() + seconds
    reads, failed = [0], [0]
    gaps: list[tuple[int, float]] = []

    def reader(k: int) -> None:
        i = k
        while time.monotonic() < end:
            conn = http.client.HTTPConnection("127.0.0.1", port,
                                              timeout=max(0.5, end - time.monotonic()))
            try:
                while time.monotonic() < end:
                    conn.request("GET", ROUTES[i % len(ROUTES)])
                    reply = conn.getresponse()
                    reply.read()
                    reads[0] += reply.status == 200
                    failed[0] += reply.status != 200
                    i += 1
            except OSError:  # a timeout or a closed connection: counted, then again
                failed[0] += 1
            finally:
                conn.close()

    def watcher() -> None:
        got, longest = 0, 0.0
        last = time.monotonic()
        try:
            with connect(f"ws://127.0.0.1:{port}/api/metrics/ws", open_timeout=30) as ws:
                last = time.monotonic()
                while time.monotonic() < end:
                    try:
                        ws.recv(timeout=max(0.1, end - time.monotonic()))
                    except TimeoutError:
                        break
                    now = time.monotonic()
                    longest, last, got = max(longest, now - last), now, got + 1
        except Exception:  # refused or closed: what it got until then counts
            pass
        longest = max(longest, min(time.monotonic(), end) - last)
        gaps.append((got, longest))
    threads = [threading.Thread(target=reader, args=(k,)) for k in range(16)]
    threads += [threading.Thread(target=watcher) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"reads_per_s": reads[0] / seconds, "failed_reads": failed[0],
                      "ws": gaps}))


# ------------------------------------------------------------------ the parent

def child(role: str, port: int, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--role", role, "--port", str(port),
                             "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parent)


def scrapes(port: int, seconds: float) -> list[float]:
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", "/metrics")
            conn.getresponse().read()
            out.append(time.perf_counter() - t0)
        except OSError:
            out.append(float("inf"))
        finally:
            conn.close()
        time.sleep(max(0.0, 1.0 - (time.perf_counter() - t0)))
    return out


def p99(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.99 * len(values)) - 1)]


def idle_then_one(port: int) -> float:
    from websockets.sync.client import connect

    idle = []
    for _ in range(16):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(f"GET /api/metrics/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                  f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        idle.append(s)
    time.sleep(2)
    t0 = time.monotonic()
    deadline = t0 + 60
    try:
        while time.monotonic() < deadline:
            try:
                with connect(f"ws://127.0.0.1:{port}/api/metrics/ws", open_timeout=10) as ws:
                    ws.recv(timeout=10)
                    return time.monotonic() - t0
            except Exception:  # refused while full: try again
                time.sleep(0.5)
        return float("inf")
    finally:
        for s in idle:
            s.close()


def burst(port: int) -> float:
    socks = []
    result: list[float] = []
    t = threading.Thread(target=lambda: result.extend(scrapes(port, 10)))
    t.start()
    for _ in range(200):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall(f"GET /api/metrics/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                      f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
                      f"{key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
            socks.append(s)
        except OSError:
            pass
    t.join()
    for s in socks:
        s.close()
    return max(result)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout whose sidecar runs")
    ap.add_argument("--role", choices=("ingest", "readers"), help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "ingest":
        return role_ingest(args.port, args.seconds)
    if args.role == "readers":
        return role_readers(args.port, args.seconds)
    proc, port = start([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"], True,
                       {"PYTHONPATH": str(args.root.resolve())})
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for k in range(3):  # 300 label sets (10 models x 30 teams)
            post(conn, events(100, 100 * k))
        time.sleep(2)
        out: dict[str, object] = {"root": str(args.root)}
        for phase in ("alone", "readers"):
            kids = [child("ingest", port, args.seconds)]
            if phase == "readers":
                kids.append(child("readers", port, args.seconds))
            took = scrapes(port, args.seconds)
            got = [json.loads(k.communicate(timeout=args.seconds + 120)[0]) for k in kids]
            out[phase] = {"ingest_events_per_s": round(got[0]["events_per_s"]),
                          "scrape_p50_s": round(statistics.median(took), 3),
                          "scrape_p99_s": round(p99(took), 3),
                          "scrape_max_s": round(max(took), 3)}
            if phase == "readers":
                ws = got[1]["ws"]
                out[phase].update({  # type: ignore[union-attr]
                    "reads_per_s": round(got[1]["reads_per_s"]),
                    "failed_reads": got[1]["failed_reads"],
                    "ws_messages_min": min(n for n, _ in ws) if ws else 0,
                    "ws_clients": len(ws),
                    "ws_longest_gap_s": round(max(g for _, g in ws), 2) if ws else None})
            print(phase, json.dumps(out[phase]), flush=True)
        ratio = out["readers"]["ingest_events_per_s"] / out["alone"]["ingest_events_per_s"]  # type: ignore[index]
        out["ingest_ratio"] = round(ratio, 2)
        out["idle_then_17th_first_message_s"] = round(idle_then_one(port), 2)
        out["burst_200_slowest_scrape_s"] = round(burst(port), 3)
        print(json.dumps(out, indent=1))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
