"""Exactly-once delivery: a sidecar that stalls past the client's timeout (SIGSTOP) gets
each batch's retries with the same Idempotency-Key and applies it once; close() with a
deadline counts what it could not send. A real sidecar process on loopback."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from exporter import SidecarClient

from ..conftest import Sidecar


@pytest.fixture
def sidecar_process():
    env = {**os.environ, "LLM_EXPORTER_ZERO_HOLD_SECONDS": "0", "LLM_EXPORTER_COLLECTORS": ""}
    proc = subprocess.Popen([sys.executable, "-m", "exporter.cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    port = 0
    deadline = time.monotonic() + 30
    while not port and time.monotonic() < deadline:
        found = re.search(r"127\.0\.0\.1:(\d+)/metrics", proc.stdout.readline())
        if found:
            port = int(found.group(1))
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2)
            break
        except OSError:
            time.sleep(0.05)
    yield proc, port
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    proc.wait(timeout=30)


def _recorded(port: int) -> tuple[float, float]:
    sc = Sidecar(type("App", (), {"llm": None})(), port)
    return (sc.value("llm_exporter_events_total", result="accepted") or 0.0,
            sc.value("llm_tokens_total", provider="openai", model="gpt-4o", tier="unknown",
                     team="unknown", token_type="input") or 0.0)


def test_a_stall_longer_than_the_timeout_records_each_event_once(sidecar_process) -> None:
    proc, port = sidecar_process
    client = SidecarClient(f"http://127.0.0.1:{port}", batch_size=100, flush_interval=0.05,
                           timeout=1.0, retries=8, backoff=0.2)
    try:
        os.kill(proc.pid, signal.SIGSTOP)
        for _ in range(400):
            client.record_request(provider="openai", model="gpt-4o", input_tokens=7)
        time.sleep(3.0)  # three client timeouts: retries pile up behind the stall
        os.kill(proc.pid, signal.SIGCONT)
        assert client.flush(60.0)
    finally:
        client.close(10.0)
    assert client.stats.retries > 0, "the stall should have made the client retry"
    assert (client.stats.sent, client.stats.dropped, client.stats.unsent) == (400, 0, 0)
    assert _recorded(port) == (400, 400 * 7)


def test_close_counts_what_it_could_not_send(sidecar_process) -> None:
    proc, port = sidecar_process
    client = SidecarClient(f"http://127.0.0.1:{port}", batch_size=100, flush_interval=0.05,
                           timeout=5.0, retries=3)
    os.kill(proc.pid, signal.SIGSTOP)
    for _ in range(250):
        client.record_request(provider="openai", model="gpt-4o", input_tokens=7)
    started = time.monotonic()
    client.close(timeout=1.0)
    assert time.monotonic() - started < 3.0
    stats = client.stats
    assert stats.unsent > 0
    assert stats.sent + stats.dropped + stats.unsent == 250
    os.kill(proc.pid, signal.SIGCONT)
    time.sleep(0.5)
    accepted, _ = _recorded(port)
    assert accepted <= 100  # at most the batch in flight when close gave up


def test_a_replayed_key_is_answered_not_applied_again(sidecar_process) -> None:
    import http.client
    import json

    _, port = sidecar_process
    body = json.dumps({"type": "request", "provider": "openai", "model": "gpt-4o",
                       "input_tokens": 5}).encode()
    answers = []
    for key in ("k-1", "k-1", "k-2"):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/v1/events", body, {"Content-Type": "application/json",
                                                  "Idempotency-Key": key})
        reply = conn.getresponse()
        answers.append((reply.status, reply.getheader("Idempotent-Replayed"), reply.read()))
        conn.close()
    assert [a[0] for a in answers] == [200, 200, 200]
    assert answers[1][1] == "true" and answers[1][2] == answers[0][2]
    assert _recorded(port) == (2, 10)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/v1/events", body, {"Content-Type": "application/json",
                                              "Idempotency-Key": "has space"})
    assert conn.getresponse().status == 400


def test_a_killed_sidecar_loses_nothing_it_acknowledged_and_the_client_counts_all(
        tmp_path) -> None:
    """SIGKILL mid-stream, then a new sidecar on the same port: every event the client
    was handed is sent, dropped or unsent, and each sidecar recorded exactly what it
    acknowledged."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "LLM_EXPORTER_ZERO_HOLD_SECONDS": "0", "LLM_EXPORTER_COLLECTORS": ""}

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", "exporter.cli", "serve", "--port",
                                 str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2)
                return proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError("sidecar did not start")

    first = start()
    client = SidecarClient(f"http://127.0.0.1:{port}", batch_size=50, flush_interval=0.05,
                           timeout=2.0, retries=6, backoff=0.2)
    second = None
    try:
        for _ in range(300):
            client.record_request(provider="openai", model="gpt-4o", input_tokens=7)
        assert client.flush(30)
        acknowledged_first = client.stats.sent
        assert _recorded(port)[0] == acknowledged_first == 300
        first.kill()
        first.wait(timeout=10)
        for _ in range(200):  # sent while no sidecar listens: retried until one does
            client.record_request(provider="openai", model="gpt-4o", input_tokens=7)
        time.sleep(0.5)
        second = start()
        assert client.flush(60)
        stats = client.stats
        assert stats.sent + stats.dropped + stats.unsent == 500
        assert _recorded(port)[0] == stats.sent - acknowledged_first
    finally:
        client.close(5)
        if second is not None:
            second.terminate()
            second.wait(timeout=30)
