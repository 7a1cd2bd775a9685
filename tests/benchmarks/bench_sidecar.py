"""Benchmark: sidecar ingest throughput and scrape time, against a minimal FastAPI app.

Run: python tests/benchmarks/bench_sidecar.py [--seconds 5]

The server runs in its own process (uvicorn, as `llm-exporter serve` runs it); the load
generator runs here, on the same 2 cores, over keep-alive connections on 127.0.0.1.
Every loop is bounded in count and time. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REQUEST = {"type": "request", "provider": "openai", "model": "gpt-4o", "team": "search",
           "tier": "Q2", "input_tokens": 1200, "cache_read_tokens": 1000, "output_tokens": 350,
           "duration_seconds": 2.4, "ttft_seconds": 0.3}

FASTAPI_APP = '''
from fastapi import FastAPI, Request
app = FastAPI()

@app.post("/v1/events")
async def events(request: Request):
    await request.json()
    return {"accepted": 1}
'''


async def _connection(port: int, body: bytes, deadline: float, limit: int,
                      counter: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    try:
        while counter[0] < limit and time.perf_counter() < deadline:
            writer.write(request)
            status = await reader.readline()
            if b" 200 " not in status:
                raise RuntimeError(f"unexpected reply: {status!r}")
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counter[0] += 1
    finally:
        writer.close()


def load(port: int, body: bytes, seconds: float, limit: int, connections: int = 16) -> float:
    """POSTs per second: ``connections`` keep-alive clients, no pipelining."""
    counter = [0]

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, body, deadline, limit, counter)
                               for _ in range(connections)))

    start = time.perf_counter()
    asyncio.run(main())
    return counter[0] / (time.perf_counter() - start)


def start(cmd: list[str], port_from_stdout: bool, env: dict[str, str],
          port: int = 0) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={**os.environ, **env})
    if port_from_stdout:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy"
                                   if port_from_stdout else f"http://127.0.0.1:{port}/docs",
                                   timeout=2).close()
            return proc, port
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run_child(code: str, args: list[str], root: Path, env: dict[str, str] | None = None
              ) -> dict:
    """``python -c code args`` importing ``root``'s exporter (another checkout, to measure
    before and after in one sitting); the JSON object its last line prints."""
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         timeout=1800, env={**os.environ, **(env or {}),
                                            "PYTHONPATH": str(root.resolve())})
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return {"root": str(root), **json.loads(out.stdout.strip().splitlines()[-1])}


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def scrape_time(port: int, repeat: int = 5) -> tuple[float, int]:
    best, lines = float("inf"), 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            body = r.read()
        best = min(best, time.perf_counter() - t0)
        lines = sum(1 for ln in body.splitlines() if ln and not ln.startswith(b"#"))
    return best, lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    opts = ap.parse_args()
    env = {"LLM_EXPORTER_COLLECTORS": "system", "LLM_EXPORTER_CAP_TEAM": "5000"}
    single = json.dumps(REQUEST).encode()
    batch = json.dumps({"events": [REQUEST] * 100}).encode()

    proc, port = start([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"], True, env)
    try:
        load(port, single, 1.0, 5000)  # warm up
        singles = load(port, single, opts.seconds, 500_000)
        batches = load(port, batch, opts.seconds, 50_000)
        # fill the sidecar: each new team under one model adds 12 counter series
        teams = [{**REQUEST, "team": f"team-{i}"} for i in range(850)]
        for i in range(0, len(teams), 100):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/events",
                                         data=json.dumps({"events": teams[i:i + 100]}).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=30).close()
        scrape, lines = scrape_time(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    fastapi_rate = None
    try:
        import fastapi  # noqa: F401

        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "minimal_app.py").write_text(FASTAPI_APP)
            fport = 18000 + os.getpid() % 1000
            fproc, _ = start([sys.executable, "-m", "uvicorn", "minimal_app:app", "--port",
                              str(fport), "--log-level", "warning", "--no-access-log",
                              "--app-dir", tmp], False, {}, fport)
            try:
                load(fport, single, 1.0, 5000)
                fastapi_rate = load(fport, single, opts.seconds, 500_000)
            finally:
                fproc.terminate()
                fproc.wait(timeout=30)
    except ImportError:
        pass

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, 16 keep-alive "
          f"connections, {opts.seconds:g} s per run")
    print(f"  single-event POSTs        {singles:10,.0f} /s   (target >= 10,000)")
    print(f"  events in batches of 100  {batches * 100:10,.0f} /s   (target >= 100,000)")
    print(f"  /metrics scrape           {scrape * 1000:10.1f} ms  for {lines:,} series "
          "(target < 150 ms for 10,000)")
    if fastapi_rate is not None:
        print(f"  minimal FastAPI endpoint  {fastapi_rate:10,.0f} /s   (only parses JSON); "
              f"sidecar / FastAPI = {singles / fastapi_rate:.2f}")
    else:
        print("  (pip install fastapi for the minimal FastAPI comparison)")


if __name__ == "__main__":
    main()
