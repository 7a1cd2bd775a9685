"""Seed 003's routes and WebSocket from the sidecar's own counters (no Prometheus): the
documented shapes, field for field (tests/e2e/test_read_routes.py asks a Prometheus)."""

from __future__ import annotations

import json
import os

import psutil
from websockets.sync.client import connect

from exporter import Settings
from exporter.read.side import FRESH_SECONDS
from exporter.settings.load import ServerSettings

from . import seed_003


def test_the_documented_shapes_from_the_sidecars_counters(sidecar_factory) -> None:
    import time

    sc = sidecar_factory()
    sent_at = seed_003.send(sc.url)
    assert sc.request("GET", "/metrics")[0] == 200  # the collectors have run
    time.sleep(FRESH_SECONDS)

    def get(path: str) -> object:
        status, headers, body = sc.request("GET", path)
        assert status == 200 and headers["content-type"] == "application/json", (path, body)
        return json.loads(body)

    cores, memory = os.cpu_count(), psutil.virtual_memory().total
    seed_003.check_queries(get("/api/metrics/queries"), sent_at)
    seed_003.check_tiers(get("/api/metrics/tiers"))
    seed_003.check_resources(get("/api/metrics/resources"), cores, memory)
    seed_003.check_routing(get("/api/metrics/routing"))
    with connect(sc.url.replace("http://", "ws://") + "/api/metrics/ws", open_timeout=10) as ws:
        seed_003.check_update(json.loads(ws.recv(timeout=10)), cores, memory, sent_at)


def test_errors_come_in_the_documented_format(sidecar_factory) -> None:
    """``{"error": "ErrorType", "message": "...", "details": {}}`` on every read route."""
    sc = sidecar_factory(Settings(server=ServerSettings(read_token="r-token")))
    for path in ("/api/metrics/queries", "/api/metrics/tiers", "/api/metrics/resources",
                 "/api/metrics/routing"):
        status, _, body = sc.request("GET", path)
        reply = json.loads(body)
        assert status == 401 and set(reply) == {"error", "message", "details"}, reply
        assert reply["error"] == "Unauthorized" and reply["details"] == {}
        assert isinstance(reply["message"], str) and reply["message"]
    status, _, body = sc.request("GET", "/api/v1/read/tiers?minutes=0",
                                 headers={"Authorization": "Bearer r-token"})
    assert status == 400 and json.loads(body) == {
        "error": "InvalidParameter", "message": json.loads(body)["message"],
        "details": {"field": "minutes"}}
