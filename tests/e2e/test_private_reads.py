"""Private by default: reads need credentials whenever any is configured, and the
Prometheus connection's credentials (basic, in the URL or apart, or a bearer token) work
against a real Prometheus with basic auth, and never show in a reply, a WebSocket message
or ``llm-exporter report``'s errors."""

from __future__ import annotations

import argparse
import base64
import io
import json
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from exporter import Settings
from exporter.read import report
from exporter.read.side import FRESH_SECONDS
from exporter.settings.load import ServerSettings

from .conftest import Prometheus

PASSWORD = "hunter2-s3cret"


class GuardedPrometheus(Prometheus):
    """A real Prometheus whose web API needs basic auth (--web.config.file)."""

    def __init__(self, tmp: Path) -> None:
        web = tmp / "web.yml"
        with warnings.catch_warnings():  # the stdlib's bcrypt, deprecated but enough here
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        hashed = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH))
        web.write_text(f"basic_auth_users:\n  ops: {hashed}\n")
        super().__init__(tmp, [], [], extra_args=(f"--web.config.file={web}",))

    def _ready(self) -> bool:
        assert self.proc.poll() is None, "Prometheus exited; see prometheus.log"
        auth = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/-/ready",
                                         headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(request, timeout=2) as r:
            return r.status == 200


def test_an_ingest_token_alone_makes_reads_private(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(ingest_token="ingest-tok")))
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    for path in ("/", "/api/llm/costs", "/api/v1/requests/recent", "/_qs/metrics"):
        status, _, body = sc.request("GET", path)
        assert status == 401, path
        assert b"public_reads" in body  # says how to open them
        # the ingest token is no read credential
        assert sc.request("GET", path, headers={"Authorization": "Bearer ingest-tok"})[0] \
            == 401
    with pytest.raises(InvalidStatus), connect(ws_url, open_timeout=10):
        pass
    assert sc.request("GET", "/static/page.js")[0] == 200  # assets hold no data
    assert sc.request("GET", "/-/ready")[0] == 200
    opened = sidecar_factory(Settings(server=ServerSettings(ingest_token="ingest-tok",
                                                            public_reads=True)))
    assert opened.request("GET", "/api/llm/costs")[0] == 200


def test_a_read_token_opens_reads_and_nothing_else(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(ingest_token="ingest-tok",
                                                        read_token="read-tok")))
    good = {"Authorization": "Bearer read-tok"}
    assert sc.request("GET", "/api/llm/costs", headers=good)[0] == 200
    assert sc.request("GET", "/", headers=good)[0] == 200
    assert sc.request("GET", "/api/llm/costs",
                      headers={"Authorization": "Bearer nope"})[0] == 401
    status, _ = sc.post("/v1/events", {"type": "request", "provider": "openai",
                                       "model": "gpt-4o"}, headers=good)
    assert status == 401  # not an ingest credential
    ws_url = sc.url.replace("http://", "ws://") + "/api/metrics/ws"
    with connect(ws_url, open_timeout=10, additional_headers=good) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "metrics_update"
    assert sc.value("llm_exporter_auth_failures_total", endpoint="read") >= 1


def test_prometheus_credentials_connect_and_never_show(sidecar_factory, tmp_path: Path
                                                       ) -> None:
    prom = GuardedPrometheus(tmp_path)
    try:
        in_url = sidecar_factory(Settings(server=ServerSettings(
            prometheus_url=f"http://ops:{PASSWORD}@127.0.0.1:{prom.port}")))
        assert in_url.request("GET", "/api/llm/costs")[0] == 200  # it connects
        apart = sidecar_factory(Settings.load(env={
            "LLM_EXPORTER_PROMETHEUS_URL": f"http://127.0.0.1:{prom.port}",
            "LLM_EXPORTER_PROMETHEUS_USER": "ops",
            "LLM_EXPORTER_PROMETHEUS_PASSWORD": PASSWORD, "LLM_EXPORTER_COLLECTORS": ""}))
        assert apart.request("GET", "/api/llm/costs")[0] == 200
        wrong = sidecar_factory(Settings(server=ServerSettings(
            prometheus_url=f"http://ops:wrong-{PASSWORD}@127.0.0.1:{prom.port}")))
        status, _, body = wrong.request("GET", "/api/llm/costs")
        assert status == 502 and b"refused the credentials" in body
        assert PASSWORD.encode() not in body
        assert "wrong" not in repr(wrong.app.settings)
    finally:
        prom.stop()
    time.sleep(FRESH_SECONDS)
    status, _, body = in_url.request("GET", "/api/llm/costs")  # Prometheus gone
    assert status == 502 and b"did not answer" in body and PASSWORD.encode() not in body
    ws_url = in_url.url.replace("http://", "ws://") + "/api/metrics/ws"
    with connect(ws_url, open_timeout=10) as ws:
        message = ws.recv(timeout=10)
    assert "did not answer" in message and PASSWORD not in message
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(prometheus=f"http://ops:{PASSWORD}@127.0.0.1:{prom.port}",
                              range="1h", metrics_url=None, team=None, model=None,
                              config=None, json=True)
    sys_stderr, sys.stderr = sys.stderr, err
    try:
        assert report.main(args, out) == 2
    finally:
        sys.stderr = sys_stderr
    assert "did not answer" in err.getvalue() and PASSWORD not in err.getvalue()


def test_report_reads_http_only(tmp_path: Path) -> None:
    """--metrics-url file:///etc/passwd printed a line of the file."""
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    for url in (f"file://{secret}", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/"):
        result = subprocess.run([sys.executable, "-m", "exporter.cli", "report",
                                 "--metrics-url", url], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, result
        assert "--metrics-url: must be an http:// or https:// URL" in result.stderr
        assert "root:" not in result.stderr + result.stdout
