"""Writes only from clients: Host, Origin and Content-Type checks, CORS for configured
origins, and auth failures counted apart from rejected events. Real sidecar, loopback."""

from __future__ import annotations

from dataclasses import replace

from exporter import Settings
from exporter.server.guard import default_hosts, hostname

REQ = {"type": "request", "provider": "openai", "model": "gpt-4o", "input_tokens": 1000,
       "output_tokens": 100}


def _settings(**server: object) -> Settings:
    s = Settings()
    return replace(s, server=replace(s.server, collectors=(), **server))


def _tokens(sc) -> float:
    return sc.value("llm_tokens_total", provider="openai", model="gpt-4o", tier="unknown",
                    team="unknown", token_type="input") or 0.0


def test_a_cross_site_text_plain_post_is_refused(sidecar_factory) -> None:
    """What a web page can send without a CORS preflight: no spend is recorded."""
    sc = sidecar_factory(_settings())
    import json

    status, body = sc.post("/v1/events", raw=json.dumps(REQ).encode(),
                           headers={"Content-Type": "text/plain"})
    assert status == 415 and body["field"] == "Content-Type"
    status, body = sc.post("/api/v1/metrics/track", raw=b'{"model": "gpt-4o"}',
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    status, body = sc.post("/v1/events", REQ, headers={"Origin": "https://evil.example"})
    assert status == 403 and "allowed_origins" in body["error"]
    assert _tokens(sc) == 0
    assert sc.value("llm_exporter_events_total", result="rejected") == 3
    status, _ = sc.post("/v1/events", REQ)  # a client (no Origin) still gets through
    assert status == 200 and _tokens(sc) == 1000


def test_dns_rebinding_hosts_are_refused(sidecar_factory) -> None:
    sc = sidecar_factory(_settings())
    for path in ("/metrics", "/", "/docs"):
        status, _, body = sc.request("GET", path, headers={"Host": "attacker.example"})
        assert status == 400 and b"allowed_hosts" in body
    status, _ = sc.post("/v1/events", REQ, headers={"Host": "attacker.example"})
    assert status == 400 and _tokens(sc) == 0
    status, _, _ = sc.request("GET", "/-/ready", headers={"Host": "10.0.0.7:9473"})
    assert status == 200  # probes come by pod IP and reveal nothing
    for host in (f"127.0.0.1:{sc.port}", f"localhost:{sc.port}", "LOCALHOST"):
        status, _, _ = sc.request("GET", "/metrics", headers={"Host": host})
        assert status == 200, host


def test_configured_names_and_origins_work_with_cors(sidecar_factory) -> None:
    sc = sidecar_factory(_settings(allowed_hosts=("llm.internal",),
                                   allowed_origins=("https://app.example",)))
    status, _, _ = sc.request("GET", "/metrics", headers={"Host": "llm.internal:9473"})
    assert status == 200
    status, _, _ = sc.request("GET", "/metrics", headers={"Host": "127.0.0.1"})
    assert status == 200  # the configured names add to the bind address and localhost
    status, _, _ = sc.request("GET", "/metrics", headers={"Host": "other.internal"})
    assert status == 400
    origin = {"Host": "llm.internal", "Origin": "https://app.example"}
    status, headers, _ = sc.request("OPTIONS", "/v1/events", headers={
        **origin, "Access-Control-Request-Method": "POST"})
    assert status == 204
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert "content-type" in headers["access-control-allow-headers"]
    status, headers, _ = sc.request("POST", "/v1/events", REQ, headers=origin)
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    status, _, _ = sc.request("POST", "/v1/events", REQ, headers={
        "Host": "llm.internal", "Origin": "https://other.example"})
    assert status == 403


def test_auth_failures_are_not_rejected_events(sidecar_factory) -> None:
    sc = sidecar_factory(_settings(ingest_token="t0ken", metrics_user="prom",
                                   metrics_password="pw"))
    auth = {"Authorization": "Basic cHJvbTpwdw=="}
    status, _ = sc.post("/v1/events", REQ)
    assert status == 401
    status, _ = sc.post("/v1/events", REQ, headers={"Authorization": "Bearer nope"})
    assert status == 401
    status, _, _ = sc.request("GET", "/metrics")
    assert status == 401
    status, _, body = sc.request("GET", "/metrics", headers=auth)
    text = body.decode()
    assert 'llm_exporter_auth_failures_total{endpoint="ingest"} 2' in text
    assert 'llm_exporter_auth_failures_total{endpoint="metrics"} 1' in text
    assert 'llm_exporter_events_total{result="rejected"} 0' in text


def test_host_names() -> None:
    assert hostname("[::1]:9473") == "::1"
    assert hostname("Example.COM:80") == "example.com"
    assert hostname("::1") == "::1"
    assert default_hosts("0.0.0.0") is None and default_hosts("::") is None
    assert default_hosts("10.1.2.3") == {"10.1.2.3", "localhost", "127.0.0.1", "::1"}
