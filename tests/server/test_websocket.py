"""The tier routing backend's WebSocket: a metrics_update every second with the routing
matrix as recorded; another site's page cannot open it."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import time

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from exporter.compat import MetricsCollector
from exporter.read.side import FRESH_SECONDS
from exporter.server.page import MAX_SOCKETS, WS_PING_SECONDS


def test_pushes_metrics_update_at_one_hertz(sidecar_factory) -> None:
    sc = sidecar_factory()
    router = MetricsCollector(url=sc.url)
    router.record_routing_decision(complexity="Simple", tier="LOCAL", score=0.5,
                                   decision_time_ms=1.0)
    assert router.flush(10)
    time.sleep(FRESH_SECONDS)  # a message shows the counters as of at most this long ago
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with connect(ws_url, open_timeout=10) as ws:
        first = json.loads(ws.recv(timeout=10))
        t0 = time.monotonic()
        second = json.loads(ws.recv(timeout=10))
        gap = time.monotonic() - t0
    assert first["type"] == second["type"] == "metrics_update"
    assert 0.7 < gap < 2.5, gap
    assert first["routing"]["decisionMatrix"] == [
        {"complexity": "SIMPLE", "tier": "LOCAL", "count": 1, "avgScore": 0.5}]
    assert set(first) == {"type", "timestamp", "queries", "resources", "routing"}


def test_another_sites_page_is_refused(sidecar_factory) -> None:
    sc = sidecar_factory()
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with pytest.raises(InvalidStatus) as refused, \
            connect(ws_url, origin="https://evil.example", open_timeout=10):
        pass
    assert refused.value.response.status_code == 403
    with connect(ws_url, origin=sc.url, open_timeout=10) as ws:  # the page's own origin
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics_update"


def _idle_client(port: int) -> socket.socket:
    """A WebSocket client that completes the handshake, then never reads again."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET /api/metrics/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket"
              f"\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    return s


@pytest.mark.seconds(10)
def test_clients_that_stop_reading_are_closed_and_free_their_slot(sidecar_factory) -> None:
    """A full house of clients that never read once locked every other client out for
    25 s and more: they are closed (no pong within WS_PING_SECONDS, or a message not out
    within SEND_TIMEOUT) and a reading client gets in."""
    sc = sidecar_factory()
    page = sc.app.reading.page
    idle = [_idle_client(sc.port) for _ in range(MAX_SOCKETS)]
    try:
        ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
        with pytest.raises(InvalidStatus) as full, connect(ws_url, open_timeout=10):
            pass
        assert full.value.response.status_code == 403  # refused before the handshake
        deadline = time.monotonic() + 4 * WS_PING_SECONDS + 10
        while page.sockets >= MAX_SOCKETS:
            assert time.monotonic() < deadline, f"{page.sockets} idle clients still held"
            time.sleep(0.2)
        with connect(ws_url, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["type"] == "metrics_update"
    finally:
        for s in idle:
            s.close()


def test_one_message_is_computed_per_interval_for_every_client(sidecar_factory) -> None:
    """Each client once cost its own computation (41 snapshots each); now the feed
    computes once per second and every client gets that message."""
    sc = sidecar_factory()
    calls = []
    update = sc.app.read.update
    sc.app.read.update = lambda: calls.append(1) or update()
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(ws_url, open_timeout=10)) for _ in range(20)]
        got = [[json.loads(c.recv(timeout=10))["timestamp"] for _ in range(3)] for c in clients]
    assert all(len(g) == 3 for g in got)
    # 20 clients x 3 messages, from a few computations (one per second), not 60
    assert len(calls) <= 8, len(calls)
