"""A real Prometheus (Debian's package) scrapes a real sidecar on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from exporter import Settings
from exporter.settings.load import ServerSettings

from ..conftest import require_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port: int, promql: str) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_prometheus_scrapes_the_sidecar(sidecar_factory, tmp_path: Path) -> None:
    prometheus = require_binary("prometheus")
    sc = sidecar_factory(Settings(server=ServerSettings(collectors=("system",))))
    for _ in range(3):
        status, _ = sc.post("/v1/events", {
            "type": "request", "provider": "openai", "model": "gpt-4o", "team": "search",
            "input_tokens": 1200, "cache_read_tokens": 1000, "output_tokens": 350,
            "duration_seconds": 2.4})
        assert status == 200
    config = tmp_path / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: llm-exporter
    static_configs: [{{targets: ["127.0.0.1:{sc.port}"]}}]
""")
    port = free_port()
    proc = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        result: list = []
        while time.monotonic() < deadline:
            try:
                result = query(port, 'llm_tokens_total{team="search",token_type="cache_read"}')
                if result:
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.5)
        assert result, "Prometheus never scraped the sidecar"
        assert float(result[0]["value"][1]) == 3000
        assert result[0]["metric"]["job"] == "llm-exporter"
        cost = query(port, 'sum(llm_cost_usd_total{model="gpt-4o"})')
        assert abs(float(cost[0]["value"][1]) - 3 * 0.00525) < 1e-12
        up = query(port, 'up{job="llm-exporter"}')
        assert up[0]["value"][1] == "1"
        assert query(port, 'llm_exporter_collector_success{collector="system"}')[0]["value"][1] \
            == "1"
        assert float(query(port, "system_cpu_count")[0]["value"][1]) >= 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
