"""The tier routing backend's WebSocket: a metrics_update every second with the routing
matrix as recorded; another site's page cannot open it."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from exporter.compat import MetricsCollector


def test_pushes_metrics_update_at_one_hertz(sidecar_factory) -> None:
    sc = sidecar_factory()
    router = MetricsCollector(url=sc.url)
    router.record_routing_decision(complexity="Simple", tier="LOCAL", score=0.5,
                                   decision_time_ms=1.0)
    assert router.flush(10)
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with connect(ws_url, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        t0 = time.monotonic()
        second = json.loads(ws.recv(timeout=10))
        gap = time.monotonic() - t0
    assert first["type"] == second["type"] == "metrics_update"
    assert 0.7 < gap < 2.5, gap
    assert first["routing"]["matrix"]["simple"]["local"]["count"] == 1
    assert {"queries", "tiers", "resources", "routing", "timestamp"} <= set(first)


def test_another_sites_page_is_refused(sidecar_factory) -> None:
    sc = sidecar_factory()
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with pytest.raises(InvalidStatus) as refused, \
            connect(ws_url, origin="https://evil.example", open_timeout=10):
        pass
    assert refused.value.response.status_code == 403
    with connect(ws_url, origin=sc.url, open_timeout=10) as ws:  # the page's own origin
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics_update"
