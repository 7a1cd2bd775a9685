"""Exactly once means exactly once: an Idempotency-Key is scoped by route, bound to its
body, and claimed before the body is read, so concurrent retries apply once. Real
sockets against a sidecar on loopback."""

from __future__ import annotations

import http.client
import json
import socket
import time

from exporter import Settings
from exporter.settings.load import ServerSettings

EVENT = {"type": "request", "provider": "openai", "model": "gpt-4o", "input_tokens": 5}


def _post(port: int, path: str, body: object, key: str) -> tuple[int, dict[str, str], dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, json.dumps(body).encode(),
                     {"Content-Type": "application/json", "Idempotency-Key": key})
        reply = conn.getresponse()
        return reply.status, dict(reply.getheaders()), json.loads(reply.read())
    finally:
        conn.close()


def _requests(sc) -> float:
    return sum(v for k, v in _samples(sc, "llm_requests_total"))


def _samples(sc, name: str) -> list[tuple[str, float]]:
    out = []
    for line in sc.metrics().splitlines():
        if line.startswith(name + "{"):
            out.append((line.rsplit(" ", 1)[0], float(line.rsplit(" ", 1)[1])))
    return out


def test_the_same_key_with_another_body_is_a_conflict_not_a_silent_replay(sidecar_factory
                                                                          ) -> None:
    sc = sidecar_factory()
    assert _post(sc.port, "/v1/events", EVENT, "k-1")[0] == 200
    status, headers, body = _post(sc.port, "/v1/events", {**EVENT, "input_tokens": 9}, "k-1")
    assert status == 422, body
    assert body["field"] == "Idempotency-Key" and "k-1" in body["error"]
    assert "idempotent-replayed" not in headers
    status, headers, _ = _post(sc.port, "/v1/events", EVENT, "k-1")  # a true retry
    assert status == 200 and headers["idempotent-replayed"] == "true"
    assert _requests(sc) == 1


def test_a_key_is_scoped_by_route(sidecar_factory) -> None:
    """A key sent on /track got the /v1/events answer, and nothing was recorded."""
    sc = sidecar_factory()
    assert _post(sc.port, "/v1/events", EVENT, "shared")[0] == 200
    track = {"model": "gpt-4o", "prompt_tokens": 10, "output_tokens": 2,
             "latency_ms": 100, "team_alias": "search"}
    status, headers, body = _post(sc.port, "/api/v1/metrics/track", track, "shared")
    assert status == 200 and "idempotent-replayed" not in headers, body
    assert "accepted" not in body  # the route's own answer
    assert _requests(sc) == 2


def test_concurrent_uploads_with_one_key_apply_once(sidecar_factory) -> None:
    """Two uploads of one 136 kB batch with one key were both applied (2,000 of 1,000):
    the second, arriving while the first is still being read, gets 409 in progress, and
    its retry the replayed answer."""
    sc = sidecar_factory(Settings(server=ServerSettings(max_body_bytes=1 << 20,
                                                        collectors=())))
    events = {"events": [{**EVENT, "request_id": f"r-{i:04d}" + "x" * 80}
                         for i in range(1000)]}
    body = json.dumps(events).encode()
    assert len(body) > 130_000
    head = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nIdempotency-Key: batch-1\r\nContent-Length: %d\r\n\r\n" % len(body))
    with socket.create_connection(("127.0.0.1", sc.port), timeout=30) as first:
        first.sendall(head + body[: len(body) // 2])  # in flight: half its body sent
        deadline = time.monotonic() + 30
        while ("/v1/events", b"batch-1") not in sc.app.replays._running:
            assert time.monotonic() < deadline, "the first upload never claimed its key"
            time.sleep(0.01)
        status, headers, answer = _post(sc.port, "/v1/events", events, "batch-1")
        assert status == 409 and headers["retry-after"] == "1", answer
        assert "in progress" in answer["error"] and answer["field"] == "Idempotency-Key"
        first.sendall(body[len(body) // 2:])
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            reply += first.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200")
    status, headers, answer = _post(sc.port, "/v1/events", events, "batch-1")  # the retry
    assert status == 200 and headers["idempotent-replayed"] == "true"
    assert answer["accepted"] == 1000
    assert _requests(sc) == 1000


def test_a_refused_request_frees_its_key(sidecar_factory) -> None:
    """A 422 is not kept: the fixed retry with the same key is applied."""
    sc = sidecar_factory()
    status, _, _ = _post(sc.port, "/v1/events", {**EVENT, "input_tokens": -1}, "k-9")
    assert status == 422
    assert _post(sc.port, "/v1/events", EVENT, "k-9")[0] == 200
    assert _requests(sc) == 1
