"""Benchmark: what a fleet costs Prometheus, per exporter replica and centrally.

Run: python tests/benchmarks/bench_fleet.py [--replicas 10 100 1000] [--seconds 45]

1. One replica at the default series budget: a recorder fed until every request family
   holds 1,000 label combinations (50 models x 20 teams), its exposition's size (plain
   and gzip) and render time.
2. That exposition served on 127.0.0.1 to an edge Prometheus in agent mode scraping N
   simulated replicas (N targets, one `replica` label each, 15 s interval), sending by
   remote_write to a central Prometheus with the receiver: the central ingest rate
   (samples appended per second) and the edge's scrape duration per replica.

Not a test: it asserts nothing. Every loop is bounded in count and time; loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from prometheus_client import CollectorRegistry

from exporter import LLMMetrics


def full_replica() -> LLMMetrics:
    """A recorder whose request families hold the default budget of label combinations."""
    llm = LLMMetrics(CollectorRegistry(), zero_hold_seconds=0)
    for m in range(50):
        for t in range(20):
            llm.record_request(provider="openai", model=f"model-{m}", team=f"team-{t}",
                               tier="default", input_tokens=1000, output_tokens=200,
                               cache_read_tokens=100, duration_seconds=1.5, ttft_seconds=0.2)
    return llm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(body: bytes) -> tuple[asyncio.AbstractEventLoop, int]:
    """The exposition from a keep-alive asyncio server with the response prebuilt (a
    Python stand-in for the sidecar that costs Prometheus' scrapes nothing)."""
    zipped = gzip.compress(body, 1)
    response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                b"Content-Encoding: gzip\r\nContent-Length: " + str(len(zipped)).encode()
                + b"\r\n\r\n" + zipped)
    loop = asyncio.new_event_loop()
    port = free_port()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def run() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: loop.run_until_complete(run()), daemon=True).start()
    return loop, port


def appended(port: int) -> float:
    """A Prometheus' own count of samples appended to its head (from its /metrics)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("prometheus_tsdb_head_samples_appended_total"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def query(port: int, expr: str) -> float | None:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=30) as r:
        result = json.load(r)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def start(tmp: Path, name: str, config: str, args: list[str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    (tmp / f"{name}.yml").write_text(config)
    proc = subprocess.Popen([shutil.which("prometheus") or "prometheus",
                             f"--config.file={tmp / f'{name}.yml'}",
                             f"--web.listen-address=127.0.0.1:{port}", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                return proc, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not start")


def fleet(tmp: Path, target_port: int, replicas: int, seconds: float) -> tuple[float, float]:
    """(central samples appended per second, edge scrape seconds per replica)."""
    central, cport = start(tmp, f"central{replicas}", "global: {scrape_interval: 15s}\n",
                           [f"--storage.tsdb.path={tmp / f'c{replicas}'}",
                            "--web.enable-remote-write-receiver"])
    targets = "".join(f"      - targets: ['127.0.0.1:{target_port}']\n"
                      f"        labels: {{replica: 'r{i}'}}\n" for i in range(replicas))
    edge_config = ("global: {scrape_interval: 15s}\nscrape_configs:\n"
                   "  - job_name: llm-exporter\n    static_configs:\n" + targets +
                   f"remote_write:\n  - url: http://127.0.0.1:{cport}/api/v1/write\n"
                   "    queue_config: {max_shards: 50, capacity: 20000, "
                   "max_samples_per_send: 5000}\n")
    edge, _ = start(tmp, f"edge{replicas}", edge_config,
                        ["--enable-feature=agent", f"--storage.agent.path={tmp / f'e{replicas}'}"])
    try:
        time.sleep(30)  # every target scraped twice; the queue warmed up
        before = appended(cport)
        t0 = time.monotonic()
        time.sleep(seconds)
        after = appended(cport)
        rate = (after - before) / (time.monotonic() - t0)
        scrape = query(cport, "avg(scrape_duration_seconds)") or 0.0  # sent by the agent
        return rate, scrape
    finally:
        for proc in (edge, central):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:  # an overloaded agent still flushing its queue
                proc.kill()
                proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replicas", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--seconds", type=float, default=45.0)
    args = parser.parse_args()

    logging.getLogger("exporter").setLevel(logging.ERROR)  # 50 made-up, unpriced models
    llm = full_replica()
    body = llm.exposition()
    t0 = time.perf_counter()
    for _ in range(20):
        llm.exposition()
    render = (time.perf_counter() - t0) / 20
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    print(f"one replica at the default series budget: {samples:,} samples, "
          f"{len(body) / 1024:,.0f} KiB ({len(gzip.compress(body)) / 1024:,.0f} KiB gzipped), "
          f"rendered in {render * 1000:.1f} ms")
    _, port = serve(body)  # a daemon thread: it ends with the process
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.replicas:
            rate, scrape = fleet(Path(tmp), port, n, args.seconds)
            print(f"{n:>5} replicas: central ingest {rate:,.0f} samples/s "
                  f"(expected {n * samples / 15:,.0f}), edge scrape "
                  f"{scrape * 1000:.0f} ms per replica")


if __name__ == "__main__":
    main()
