"""Connection limits, with real sockets on loopback: an endless header, a request that
never finishes, a connection that sends nothing, idle keep-alive, too many connections."""

from __future__ import annotations

import socket
import time
from dataclasses import replace

from exporter import Settings


def _sidecar(sidecar_factory, **server: object):
    s = Settings()
    return sidecar_factory(replace(s, server=replace(s.server, collectors=(), **server)))


def _read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks)


def test_an_endless_header_gets_431_and_the_connection_closes(sidecar_factory) -> None:
    sc = _sidecar(sidecar_factory, max_header_bytes=4096)
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for _ in range(200):  # 200 x 1 KiB, bounded; the server cuts it at 4 KiB
                s.sendall(b"X-Pad: " + b"a" * 1024 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
    assert b"max_header_bytes=4096" in reply
    status, _, _ = sc.request("GET", "/metrics")  # the sidecar serves on
    assert status == 200


def test_a_request_that_never_finishes_gets_408(sidecar_factory) -> None:
    sc = _sidecar(sidecar_factory, request_timeout_seconds=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"ty")
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
    assert 0.9 < time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # head unfinished
        assert _read_all(s).startswith(b"HTTP/1.1 408")


def test_a_silent_connection_is_closed(sidecar_factory) -> None:
    sc = _sidecar(sidecar_factory, request_timeout_seconds=1)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - started < 5


def test_an_idle_keep_alive_connection_is_closed(sidecar_factory) -> None:
    sc = _sidecar(sidecar_factory, keepalive_timeout_seconds=1, request_timeout_seconds=30)
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 200") and b"OK" in reply
    assert time.monotonic() - started < 5  # closed by the server after about 1 s idle


def test_connections_past_the_cap_get_503(sidecar_factory) -> None:
    sc = _sidecar(sidecar_factory, max_connections=5, request_timeout_seconds=30)
    held = [socket.create_connection(("127.0.0.1", sc.port), timeout=10) for _ in range(5)]
    try:
        time.sleep(0.3)
        with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
            reply = _read_all(s)
        assert reply.startswith(b"HTTP/1.1 503") and b"max_connections=5" in reply
    finally:
        for s in held:
            s.close()
    time.sleep(0.3)
    status, _, _ = sc.request("GET", "/-/healthy")
    assert status == 200


def test_a_large_body_is_not_mistaken_for_a_large_head(sidecar_factory) -> None:
    """A head and 100 KB of body in one read: only the head counts against the limit."""
    sc = _sidecar(sidecar_factory, max_header_bytes=2048)
    events = [{"type": "request", "provider": "openai", "model": "gpt-4o",
               "input_tokens": 1, "request_id": "x" * 64} for _ in range(800)]
    status, body = sc.post("/v1/events", {"events": events})
    assert status == 200 and body["accepted"] == 800


def test_a_large_head_in_one_write_gets_431_too(sidecar_factory) -> None:
    """Refused only when trickled, once: a whole 20 KiB head in one write got a 200."""
    sc = _sidecar(sidecar_factory)  # the default 16 KiB
    head = (b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 1000) for i in range(20)) + b"\r\n")
    assert len(head) > 16 * 1024
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(head)
        reply = _read_all(s)
    assert reply.startswith(b"HTTP/1.1 431"), reply[:80]
    # a head under the limit in one write, with its body, is served
    status, _, _ = sc.request("GET", "/metrics", headers={"X-Pad": "a" * 15000})
    assert status == 200


def test_a_head_whose_blank_line_straddles_two_writes_is_not_mistaken(sidecar_factory
                                                                       ) -> None:
    sc = _sidecar(sidecar_factory, max_header_bytes=2048)
    body = b'{"type": "request", "provider": "openai", "model": "gpt-4o", "pad": "' \
        + b"x" * 60_000 + b'"}'
    head = (b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            b"\r\nContent-Length: %d\r\n\r" % len(body))
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(head)
        time.sleep(0.2)  # two reads on the server: "...\r" then "\n" + the body
        s.sendall(b"\n" + body)
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    assert not reply.startswith(b"HTTP/1.1 431"), reply[:80]
