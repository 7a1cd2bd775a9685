"""The backends' read routes answered from a real Prometheus: every number equals what
was sent (plain ``increase()`` would extrapolate: 9 requests would read 9.4), and the
latency percentiles equal Prometheus's own ``histogram_quantile``."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
import urllib.request
from pathlib import Path

import pytest

from exporter import Settings
from exporter.read import report
from exporter.read.side import FRESH_SECONDS
from exporter.settings.load import ServerSettings

from ..compat.traffic import BASELINE, check_all_routes, send
from .conftest import Prometheus, wait_for


def _reader_once_scraped(sidecar_factory, prom: Prometheus, scraped, what: str,
                         settings: Settings | None = None):
    """A sidecar answering from ``prom``, once ``scraped()`` holds and one more scrape
    has given every family its last value."""
    wait_for(scraped, 30, what)
    time.sleep(1.5)
    base = settings or Settings()
    return sidecar_factory(dataclasses.replace(base, server=ServerSettings(
        prometheus_url=f"http://127.0.0.1:{prom.port}")))


@pytest.mark.seconds(13)
def test_read_routes_from_prometheus_equal_what_was_sent(sidecar_factory, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("LLM_EXPORTER_ZERO_HOLD_SECONDS", "2")
    ingest = sidecar_factory(Settings(baseline=BASELINE))
    prom = Prometheus(tmp_path, [ingest.port], [])
    try:
        sent = send(ingest.url)
        reader = _reader_once_scraped(
            sidecar_factory, prom, lambda: prom.value("sum(llm_requests_total)") == 9,
            "Prometheus to scrape all 9 requests", Settings(baseline=BASELINE))

        def get(path: str) -> object:
            with urllib.request.urlopen(reader.url + path, timeout=30) as response:
                return json.loads(response.read())

        check_all_routes(get, sent, ingest.llm.prices, "prometheus")
        d = get("/api/v1/dashboard/metrics?time_range_hours=1")
        for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            theirs = prom.value(f"histogram_quantile({q}, sum by (le) "
                                f"(increase(llm_request_duration_seconds_bucket[1h])))")
            assert d["latency_percentiles_ms"][key] == pytest.approx(theirs * 1000, rel=1e-9)
        # the report asks the same questions: its JSON is the routes' shapes
        out = io.StringIO()
        args = argparse.Namespace(prometheus=f"http://127.0.0.1:{prom.port}", range="1h",
                                  metrics_url=None, team=None, model=None, config=None,
                                  json=True)
        assert report.main(args, out) == 0
        mine = json.loads(out.getvalue())
        assert mine["/api/v1/dashboard/metrics"]["total_requests"] == 9
        assert mine["/api/v1/read/routing"]["matrix"] == get("/api/v1/read/routing")["matrix"]
        assert mine["by_team"]["search"]["requests"] == 2
        table = io.StringIO()
        assert report.main(argparse.Namespace(**{**vars(args), "json": False}), table) == 0
        text = table.getvalue()
        assert "By provider" in text and "gpt-4o-mini" in text and "simple" in text
        # Prometheus gone: a clear 502, not a crash
        prom.stop()
        time.sleep(FRESH_SECONDS)  # past the answer given to identical reads
        status, _, body = reader.request("GET", "/api/llm/costs")
        assert status == 502 and b"did not answer" in body
        assert report.main(args, io.StringIO()) == 2
    finally:
        if prom.proc.poll() is None:
            prom.stop()


@pytest.mark.seconds(10)
def test_seed_003_shapes_from_prometheus(sidecar_factory, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The tier routing backend's routes and WebSocket, answered from a real Prometheus:
    the same documented shapes and values as from the sidecar's own counters."""
    import os

    import psutil
    from websockets.sync.client import connect

    from ..compat import seed_003

    monkeypatch.setenv("LLM_EXPORTER_ZERO_HOLD_SECONDS", "2")
    ingest = sidecar_factory()
    prom = Prometheus(tmp_path, [ingest.port], [])
    try:
        sent_at = seed_003.send(ingest.url)
        reader = _reader_once_scraped(
            sidecar_factory, prom, lambda: prom.value("sum(llm_requests_total)") == 3 and
            prom.value("sum(llm_routing_decisions_total)") == 4,
            "Prometheus to scrape the 3 queries and 4 decisions")

        def get(path: str) -> object:
            with urllib.request.urlopen(reader.url + path, timeout=30) as response:
                return json.loads(response.read())

        cores, memory = os.cpu_count(), psutil.virtual_memory().total
        seed_003.check_queries(get("/api/metrics/queries"), sent_at)
        seed_003.check_tiers(get("/api/metrics/tiers"))
        seed_003.check_resources(get("/api/metrics/resources"), cores, memory)
        seed_003.check_routing(get("/api/metrics/routing"))
        ws_url = reader.url.replace("http://", "ws://") + "/api/metrics/ws"
        with connect(ws_url, open_timeout=10) as ws:
            seed_003.check_update(json.loads(ws.recv(timeout=30)), cores, memory, sent_at)
    finally:
        prom.stop()


@pytest.mark.seconds(10)
def test_seed_004_reads_from_prometheus(sidecar_factory, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider service's documented reads, from a sidecar that asks a Prometheus:
    the breaker that the recording sidecar derived arrives through its gauges."""
    from exporter.compat import LLMMetricsService

    from ..compat.test_seed_004 import check, traffic

    monkeypatch.setenv("LLM_EXPORTER_ZERO_HOLD_SECONDS", "2")
    ingest = sidecar_factory()
    prom = Prometheus(tmp_path, [ingest.port], [])
    try:
        traffic(LLMMetricsService(base_url=ingest.url))
        reader = _reader_once_scraped(
            sidecar_factory, prom, lambda: prom.value("sum(llm_requests_total)") == 8 and
            prom.value('sum(llm_provider_circuit_state{state="open"})') == 1,
            "Prometheus to scrape the 8 calls and the open circuit")
        check(LLMMetricsService(base_url=reader.url), ingest.llm, local=False)
    finally:
        prom.stop()
