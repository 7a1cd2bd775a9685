"""The sidecar over real HTTP on 127.0.0.1: every route, auth, limits, bad input."""

from __future__ import annotations

import base64
import gzip
import json
import signal
import socket
import time
from dataclasses import replace

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter import Settings
from exporter.settings.load import ServerSettings

from ..conftest import start_cli

REQ = {"type": "request", "provider": "openai", "model": "gpt-4o", "input_tokens": 1200,
       "cache_read_tokens": 1000, "output_tokens": 350, "duration_seconds": 2.4,
       "ttft_seconds": 0.3, "team": "search", "tier": "q2", "cache_hit": False,
       "user_id": "u-123", "request_id": "r-9"}
GPT = {"provider": "openai", "model": "gpt-4o", "tier": "q2", "team": "search"}


def settings(**server: object) -> Settings:
    return Settings(server=replace(ServerSettings(collectors=("system",)), **server))


def test_single_event_and_batch(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    status, body = sc.post("/v1/events", REQ)
    assert status == 200
    assert body == {"accepted": 1, "cost_usd": [pytest.approx(0.00525)],
                    "total_cost_usd": pytest.approx(0.00525)}
    batch = {"events": [REQ, {"type": "cache_lookup", "cache": "semantic", "hit": True,
                              "duration_seconds": 0.002, "similarity": 0.93},
                        {"type": "routing", "complexity": "simple", "tier": "q2", "score": 1.8,
                         "duration_seconds": 0.01, "fallback": False},
                        {"type": "tier_models", "tier": "q2", "available": 2, "total": 3},
                        {"type": "provider_state", "provider": "ollama", "up": True,
                         "circuit": "closed"},
                        {"type": "batch", "provider": "openai", "model": "gpt-4o-mini",
                         "team": "etl", "size": 50, "input_tokens": 40000,
                         "output_tokens": 9000},
                        {"type": "cache_size", "cache": "semantic", "size_bytes": 1e6},
                        {"type": "vector_index_size", "index": "docs", "size_bytes": 2e6},
                        {"type": "worker_pool", "pool": "p", "active": 1, "queued": 2}]}
    status, body = sc.post("/v1/events", batch)
    assert status == 200 and body["accepted"] == 9
    assert body["cost_usd"][1:5] == [None] * 4
    assert body["cost_usd"][5] == pytest.approx(40000 * 0.075e-6 + 9000 * 0.3e-6)
    assert sc.value("llm_requests_total", **GPT, status="success") == 2
    assert sc.value("llm_tokens_total", **GPT, token_type="cache_read") == 2000
    assert sc.value("llm_cache_lookups_total", cache="semantic", result="hit",
                    team="unknown") == 1
    assert sc.value("llm_routing_decisions_total", complexity="simple", tier="q2",
                    fallback="false") == 1
    assert sc.value("llm_tier_models", tier="q2") == 3
    assert sc.value("llm_provider_circuit_state", provider="ollama", state="closed") == 1
    assert sc.value("llm_batches_total", provider="openai", model="gpt-4o-mini", team="etl",
                    status="success") == 1
    assert sc.value("llm_worker_pool_queued", pool="p") == 2
    assert sc.value("llm_exporter_events_total", result="accepted") == 10
    text = sc.metrics()
    assert "u-123" not in text and "r-9" not in text  # free-form fields never become labels


def test_the_same_series_as_the_library(sidecar_factory, registry) -> None:
    """An event posted over HTTP and a call made in process produce the same series."""
    from exporter import LLMMetrics

    sc = sidecar_factory(settings())
    sc.post("/v1/events", REQ)
    llm = LLMMetrics(registry)
    llm.record_request(**{k: v for k, v in REQ.items()
                          if k not in ("type", "user_id", "request_id")})
    ours = [ln for ln in llm.exposition().decode().splitlines()
            if ln.startswith("llm_") and "events_total" not in ln
            and not ln.startswith("llm_price_catalog_age")]  # the clock moved on
    served = set(sc.metrics().splitlines())
    assert ours and all(ln in served for ln in ours)


@pytest.mark.parametrize("payload,status,field", [
    ({**REQ, "input_tokens": -1}, 422, "event.input_tokens"),
    ({**REQ, "input_tokens": 1.5}, 422, "event.input_tokens"),
    ({**REQ, "input_tokens": "12"}, 422, "event.input_tokens"),
    ({**REQ, "input_tokens": True}, 422, "event.input_tokens"),
    ({**REQ, "cache_read_tokens": 5000}, 422, "event.cache_read_tokens"),
    ({**REQ, "status": "ok"}, 422, "event.status"),
    ({**REQ, "error_type": "timeout"}, 422, "event.error_type"),
    ({**REQ, "duration_seconds": -3}, 422, "event.duration_seconds"),
    ({**REQ, "model": ""}, 422, "event.model"),
    ({**REQ, "team": 7}, 422, "event.team"),
    ({**REQ, "input_token": 5}, 422, "event.input_token"),
    ({k: v for k, v in REQ.items() if k != "provider"}, 422, "event.provider"),
    ({**REQ, "type": "nope"}, 422, "event.type"),
    ({"provider": "openai"}, 422, "event.type"),
    ({"type": "cache_lookup", "cache": "c", "hit": "yes"}, 422, "event.hit"),
    ({"type": "cache_lookup", "cache": "c", "hit": True, "similarity": 2}, 422,
     "event.similarity"),
    ({"type": "tier_models", "tier": "q1", "available": 3, "total": 2}, 422, "event.available"),
    ({"type": "provider_state", "provider": "x", "circuit": "ajar"}, 422, "event.circuit"),
    ({"events": "many"}, 422, "events"),
    ([REQ], 422, "body"),
])
def test_bad_events_are_422_naming_the_field(sidecar_factory, payload, status, field) -> None:
    sc = sidecar_factory(settings())
    got, body = sc.post("/v1/events", payload)
    assert got == status, body
    assert body["field"] == field
    assert body["reason"]
    assert sc.value("llm_exporter_events_total", result="accepted") == 0
    assert sc.value("llm_exporter_events_total", result="rejected") == 1


def test_a_bad_event_rejects_its_whole_batch(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    events = [REQ, REQ, {**REQ, "output_tokens": -5}, REQ]
    status, body = sc.post("/v1/events", {"events": events})
    assert status == 422
    assert body["index"] == 2 and body["field"] == "events[2].output_tokens"
    assert sc.value("llm_requests_total", **GPT, status="success") is None
    assert sc.value("llm_exporter_events_total", result="rejected") == 4


def test_null_in_a_required_field_is_a_422_and_applies_nothing(sidecar_factory) -> None:
    """A null required number once passed validation, failed half-way through the batch
    with a 500 and left the events before it recorded (and counted again on retry)."""
    sc = sidecar_factory(settings())
    size = {"type": "cache_size", "cache": "semantic", "size_bytes": None}
    status, body = sc.post("/v1/events", {"events": [REQ, size]})
    assert status == 422 and body["field"] == "events[1].size_bytes", body
    assert "is required" in body["reason"]
    assert sc.value("llm_requests_total", **GPT, status="success") is None
    for event, field in (({**REQ, "provider": None}, "event.provider"),
                         ({"type": "tier_models", "tier": "q1", "available": None,
                           "total": 3}, "event.available"),
                         ({"type": "batch", "provider": "openai", "model": "gpt-4o",
                           "size": None}, "event.size")):
        status, body = sc.post("/v1/events", event)
        assert status == 422 and body["field"] == field, body


def test_malformed_json_and_limits(sidecar_factory) -> None:
    sc = sidecar_factory(settings(max_body_bytes=2048, max_batch_events=3))
    status, body = sc.post("/v1/events", raw=b'{"type": "request", ')
    assert status == 400 and "malformed JSON" in body["error"]
    status, body = sc.post("/v1/events", raw=b"\xff\xfe")
    assert status == 400
    status, body = sc.post("/v1/events", {"events": [REQ] * 4})
    assert status == 413 and "max_batch_events=3" in body["error"]
    status, body = sc.post("/v1/events", raw=b" " * 5000)
    assert status == 413 and "max_body_bytes=2048" in body["error"]
    # a chunked body that grows past the limit is refused too
    with socket.create_connection(("127.0.0.1", sc.port), timeout=10) as s:
        s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            s.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
        s.sendall(b"0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 413")
    assert sc.value("llm_exporter_events_total", result="rejected") == 4 + 4


def test_bearer_token_on_ingest(sidecar_factory) -> None:
    sc = sidecar_factory(settings(ingest_token="s3cret-t0ken"))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-t0ken"}):
        status, body = sc.post("/v1/events", REQ, headers=headers)
        assert status == 401 and body["error"]
        assert "s3cret" not in json.dumps(body)
        status, _ = sc.post("/api/v1/metrics/track", {"model": "gpt-4o"}, headers=headers)
        assert status == 401
    status, _ = sc.post("/v1/events", REQ, headers={"Authorization": "Bearer s3cret-t0ken"})
    assert status == 200
    assert sc.request("GET", "/metrics")[0] == 200  # no basic auth configured


def test_basic_auth_on_metrics(sidecar_factory) -> None:
    sc = sidecar_factory(settings(metrics_user="prom", metrics_password="pa:ss"))

    def basic(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode())
                .decode()}

    for headers in ({}, basic("prom", "nope"), basic("other", "pa:ss"),
                    {"Authorization": "Basic !!!"}):
        status, h, _ = sc.request("GET", "/metrics", headers=headers)
        assert status == 401 and h["www-authenticate"].startswith("Basic")
    status, _, body = sc.request("GET", "/metrics", headers=basic("prom", "pa:ss"))
    assert status == 200 and b"llm_exporter_build_info" in body
    assert sc.post("/v1/events", REQ)[0] == 200  # ingest needs no token here


def test_secrets_from_files_never_in_repr(tmp_path) -> None:
    token, password = tmp_path / "token", tmp_path / "password"
    token.write_text("tok-from-file\n")
    password.write_text("pw-from-file\n")
    s = Settings.load(env={"LLM_EXPORTER_INGEST_TOKEN_FILE": str(token),
                           "LLM_EXPORTER_METRICS_USER": "prom",
                           "LLM_EXPORTER_METRICS_PASSWORD_FILE": str(password)})
    assert s.server.ingest_token == "tok-from-file"
    assert s.server.metrics_password == "pw-from-file"
    assert "from-file" not in repr(s)


def test_compatible_track_route(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    status, body = sc.post("/api/v1/metrics/track", {
        "model": "gpt-4o", "prompt_tokens": 1000, "output_tokens": 200, "total_tokens": 1200,
        "latency_ms": 1500, "user_id": "alice", "team_alias": "search", "cache_hit": False,
        "query_type": "simple", "request_id": "req-42", "status": "success"})
    assert status == 200
    assert body == {"status": "success", "message": "Metrics tracked successfully",
                    "request_id": "req-42", "cost": pytest.approx(1000 * 2.5e-6 + 200 * 1e-5),
                    "tokens": 1200}
    labels = {"provider": "openai", "model": "gpt-4o", "tier": "simple", "team": "search"}
    assert sc.value("llm_requests_total", **labels, status="success") == 1
    assert sc.value("llm_request_duration_seconds_sum", provider="openai", model="gpt-4o",
                    tier="simple", status="success") == 1.5
    assert sc.value("llm_cache_lookups_total", cache="response", result="miss",
                    team="search") == 1
    assert "alice" not in sc.metrics()
    status, body = sc.post("/api/v1/metrics/track", {"model": "gpt-4o", "prompt_tokens": 1,
                                                     "output_tokens": 1, "total_tokens": 5})
    assert status == 422 and body["field"] == "body.total_tokens"
    assert body["status"] == "error" and "total_tokens" in body["message"]


def test_compatible_cache_batch_and_record_routes(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    status, body = sc.post("/api/v1/metrics/cache", {"cache_hit": 30, "cache_miss": 70,
                                                     "avg_lookup_time_ms": 2.0,
                                                     "team_alias": "search"})
    assert status == 200 and body == {"status": "success",
                                      "message": "Cache metrics recorded successfully",
                                      "cache_hit": 30, "cache_miss": 70}
    assert sc.value("llm_cache_lookups_total", cache="response", result="hit",
                    team="search") == 30
    assert sc.value("llm_cache_lookup_duration_seconds_count", cache="response") == 100
    status, body = sc.post("/api/v1/metrics/batch", {
        "batch_id": "b-1", "batch_size": 25, "total_tokens": 5000, "batch_cost": 0.42,
        "batch_latency_ms": 90000, "team_alias": "etl"})
    assert status == 200 and body == {"status": "success",
                                      "message": "Batch metrics recorded successfully",
                                      "batch_id": "b-1", "cost": 0.42, "tokens": 5000}
    assert sc.value("llm_batches_total", provider="unknown", model="unknown", team="etl",
                    status="success") == 1
    assert sc.value("llm_cost_usd_total", provider="unknown", model="unknown", tier="unknown",
                    team="etl", token_type="input") == 0.42
    status, body = sc.post("/api/llm/record", {
        "provider_name": "anthropic", "model": "claude-sonnet-4-5", "status": "failed",
        "prompt_tokens": 100, "completion_tokens": 0, "duration_seconds": 0.5,
        "error_message": "429 rate limit exceeded for key sk-abc", "endpoint": "/v1/messages"})
    assert status == 200 and body["status"] == "success" and body["tokens"] == 100
    assert sc.value("llm_request_errors_total", provider="anthropic", model="claude-sonnet-4-5",
                    error_type="rate_limit") == 1
    status, body = sc.post("/api/llm/record", {"model": "claude-sonnet-4-5",
                                               "status": "success", "prompt_tokens": 10})
    assert status == 200  # provider inferred from the model
    assert sc.value("llm_requests_total", provider="anthropic", model="claude-sonnet-4-5",
                    tier="unknown", team="unknown", status="success") == 1
    status, body = sc.post("/api/llm/record", {"model": "x", "status": "meh"})
    assert status == 422 and body["field"] == "body.status"
    assert "sk-abc" not in sc.metrics()


def test_metrics_negotiation_gzip_and_collectors(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    sc.post("/v1/events", REQ)
    status, headers, body = sc.request("GET", "/metrics")
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    assert "system_cpu_time_seconds_total{mode=\"user\"}" in text
    assert 'llm_exporter_collector_success{collector="system"} 1.0' in text
    status, headers, body = sc.request("GET", "/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"})
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert headers["content-encoding"] == "gzip"
    om = gzip.decompress(body).decode()
    assert om.endswith("# EOF\n") and om.count("# EOF") == 1
    names = {m.name for m in text_string_to_metric_families(om)}
    assert {"llm_tokens", "system_cpu_time_seconds", "llm_exporter_collector_success"} <= names


def test_health_landing_docs_and_errors(sidecar_factory) -> None:
    sc = sidecar_factory(settings())
    assert sc.request("GET", "/-/healthy")[0] == 200
    assert sc.request("GET", "/-/ready")[0] == 200
    status, headers, body = sc.request("GET", "/")
    assert status == 200 and b'href="/metrics"' in body and b'href="/docs"' in body
    status, _, body = sc.request("GET", "/docs")
    assert status == 200 and b"type: request" in body and b"/api/v1/metrics/track" in body
    status, _, body = sc.request("GET", "/openapi.json")
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.") and "/v1/events" in doc["paths"]
    assert set(doc["components"]["schemas"]) >= {"request", "cache_lookup", "batch"}
    status, headers, _ = sc.request("GET", "/v1/events")
    assert status == 405 and headers["allow"] == "POST"
    assert sc.request("GET", "/nope")[0] == 404


def test_sigterm_finishes_requests_in_flight_and_exits_0() -> None:
    proc, port = start_cli("serve", "--port", "0", env={"LLM_EXPORTER_COLLECTORS": ""})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        body = json.dumps(REQ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:20])
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            s.sendall(body[20:])  # the request in flight completes after SIGTERM
            reply = b""
            while chunk := s.recv(4096):  # the server closes the connection after it
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200"), reply
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["accepted"] == 1
        assert proc.wait(timeout=20) == 0
        with pytest.raises(OSError):  # and it no longer accepts connections
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    finally:
        proc.kill()
        proc.wait()


def test_binds_loopback_by_default() -> None:
    s = Settings.load(env={})
    assert s.server.host == "127.0.0.1" and s.server.port == 9473
