"""The sidecar client against a real sidecar: batching, retry, never raising."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest

from exporter import Settings
from exporter.client import AsyncSidecarClient, SidecarClient
from exporter.settings.load import ServerSettings

EVENT = {"provider": "openai", "model": "gpt-4o", "input_tokens": 100, "output_tokens": 10,
         "team": "search"}
LABELS = {"provider": "openai", "model": "gpt-4o", "tier": "unknown", "team": "search"}


def quiet() -> Settings:
    return Settings(server=ServerSettings(collectors=()))


def test_sync_client_batches_and_tracks(sidecar_factory) -> None:
    sc = sidecar_factory(quiet())
    with SidecarClient(sc.url, batch_size=50, flush_interval=0.05) as client:
        for _ in range(230):
            client.record_request(**EVENT)
        client.track_request("claude-sonnet-4-5", prompt_tokens=10, output_tokens=2,
                             team_alias="search", user_id="alice", latency_ms=120)
        assert client.flush(20)
    assert client.stats.sent == 231 and client.stats.dropped == 0
    assert sc.value("llm_requests_total", **LABELS, status="success") == 230
    assert sc.value("llm_tokens_total", **LABELS, token_type="input") == 23_000
    assert sc.value("llm_requests_total", provider="anthropic", model="claude-sonnet-4-5",
                    tier="unknown", team="search", status="success") == 1


def test_client_refuses_bad_events_at_the_call(sidecar_factory) -> None:
    with SidecarClient("http://127.0.0.1:9", flush_interval=0.05) as client:
        with pytest.raises(ValueError, match="input_tokens"):
            client.record_request(provider="openai", model="gpt-4o", input_tokens=-1)
        with pytest.raises(ValueError, match="unknown argument"):
            client.track_request("gpt-4o", prompt_tokenz=3)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_never_raises_when_the_sidecar_is_down(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="exporter.client")
    port = free_port()  # nothing listens here
    client = SidecarClient(f"http://127.0.0.1:{port}", retries=2, backoff=0.01,
                           flush_interval=0.02)
    for _ in range(5):
        client.record_request(**EVENT)
    assert client.flush(10)
    client.close()
    assert client.stats.sent == 0 and client.stats.dropped == 5
    assert client.stats.retries == 2
    assert "ConnectionRefusedError" in (client.stats.last_error or "")
    assert any("unreachable" in r.getMessage() for r in caplog.records)


def test_retries_until_the_sidecar_comes_up(sidecar_factory) -> None:
    from exporter.server import bind, build_app, serve

    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    sock.close()  # refused until the server below starts on the same port
    client = SidecarClient(f"http://127.0.0.1:{port}", retries=6, backoff=0.1,
                           flush_interval=0.02)
    client.record_request(**EVENT)
    time.sleep(0.3)
    app = build_app(quiet())
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(app, bind("127.0.0.1", port)),
                              kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        assert client.flush(20)
        assert client.stats.sent == 1 and client.stats.retries >= 1
        assert app.llm.exposition().count(b'team="search",status="success"} 1') == 1
    finally:
        client.close()
        stop.set()
        thread.join(20)


def test_refused_by_the_sidecar_is_dropped_not_retried(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(collectors=(), ingest_token="t")))
    client = SidecarClient(sc.url, token="wrong", flush_interval=0.02, backoff=0.01)
    client.record_request(**EVENT)
    assert client.flush(10)
    client.close()
    assert client.stats.dropped == 1 and client.stats.retries == 0
    assert "HTTP 401" in (client.stats.last_error or "")
    good = SidecarClient(sc.url, token="t", flush_interval=0.02)
    good.record_request(**EVENT)
    good.close()
    assert good.stats.sent == 1


def test_async_client(sidecar_factory) -> None:
    sc = sidecar_factory(quiet())

    async def main() -> AsyncSidecarClient:
        async with AsyncSidecarClient(sc.url, batch_size=40, flush_interval=0.05) as client:
            for _ in range(100):
                client.record_request(**EVENT)
            client.track_request("gpt-4o", prompt_tokens=5, output_tokens=5,
                                 team_alias="search")
            assert await client.flush(20)
        return client

    client = asyncio.run(main())
    assert client.stats.sent == 101 and client.stats.dropped == 0
    assert sc.value("llm_requests_total", **LABELS, status="success") == 101

    async def down() -> AsyncSidecarClient:
        c = AsyncSidecarClient(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01,
                               flush_interval=0.02)
        c.record_request(**EVENT)
        assert await c.flush(10)
        await c.close()
        return c

    c = asyncio.run(down())
    assert c.stats.dropped == 1 and c.stats.sent == 0
