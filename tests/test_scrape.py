"""One scrape path: negotiation by the RFC's rules, and the library's server and the
sidecar answering a scrape with the same headers."""

from __future__ import annotations

import gzip
import http.client
from dataclasses import replace

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, Settings, start_metrics_server
from exporter._scrape import Negotiated, weights

PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


def test_weights_parse_q_values() -> None:
    assert weights("gzip;q=0.5, br, deflate;q=oops") == {"gzip": 0.5, "br": 1.0,
                                                         "deflate": 0.0}
    assert weights("") == {}
    assert weights("GZIP ; Q=0.3") == {"gzip": 0.3}


@pytest.mark.parametrize("accept_encoding,gz", [
    ("gzip", True), ("gzip, deflate, br", True), ("br;q=1.0, gzip;q=0.8", True),
    ("gzip;q=0", False), ("gzip;q=0.000", False), ("*", True), ("*;q=0", False),
    ("gzip;q=0, *", False), ("identity", False), ("", False), ("x-gzip", True),
    ("deflate, gzip;q=0", False),
])
def test_gzip_only_when_acceptable(accept_encoding: str, gz: bool) -> None:
    assert Negotiated.of("", accept_encoding).gzip is gz


@pytest.mark.parametrize("accept,om", [
    (PROMETHEUS_ACCEPT, True), ("application/openmetrics-text", True),
    ("application/openmetrics-text;q=0, text/plain", False), ("text/plain", False),
    ("*/*", False), ("", False), ("text/plain;q=0.9, application/openmetrics-text;q=0.5",
                                  False),
])
def test_openmetrics_only_when_preferred(accept: str, om: bool) -> None:
    assert Negotiated.of(accept, "").openmetrics is om


def _get(port: int, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/metrics", headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


SHARED = ("content-type", "content-encoding", "vary", "www-authenticate")


@pytest.mark.parametrize("headers", [
    {}, {"Accept-Encoding": "gzip;q=0"}, {"Accept-Encoding": "gzip"},
    {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"},
])
def test_library_server_and_sidecar_answer_alike(sidecar_factory, headers: dict) -> None:
    settings = Settings()
    settings = replace(settings, server=replace(settings.server, collectors=()))
    sidecar = sidecar_factory(settings)
    llm = LLMMetrics(CollectorRegistry())
    server = start_metrics_server(llm, 0)
    try:
        llm.record_request(provider="openai", model="gpt-4o", input_tokens=10)
        sidecar.llm.record_request(provider="openai", model="gpt-4o", input_tokens=10)
        ours = _get(server.server_address[1], headers)
        theirs = _get(sidecar.port, headers)
    finally:
        server.shutdown()
    assert ours[0] == theirs[0] == 200
    assert {k: ours[1].get(k) for k in SHARED} == {k: theirs[1].get(k) for k in SHARED}
    gz = ours[1].get("content-encoding") == "gzip"
    assert gz is ("gzip" in headers.get("Accept-Encoding", "") and "q=0" not in
                  headers["Accept-Encoding"])
    for _, got, body in (ours, theirs):
        text = (gzip.decompress(body) if gz else body).decode()
        assert int(got["content-length"]) == len(body)
        assert 'llm_tokens_total{provider="openai",model="gpt-4o"' in text


def test_basic_auth_is_the_same_on_both_servers(sidecar_factory) -> None:
    settings = Settings()
    settings = replace(settings, server=replace(settings.server, collectors=(),
                                                metrics_user="prom",
                                                metrics_password="s3cret"))
    sidecar = sidecar_factory(settings)
    server = start_metrics_server(LLMMetrics(CollectorRegistry()), 0, username="prom",
                                  password="s3cret")
    try:
        for port in (server.server_address[1], sidecar.port):
            status, got, body = _get(port, {})
            assert status == 401 and got["www-authenticate"].startswith("Basic")
            assert b"s3cret" not in body
            status, _, _ = _get(port, {"Authorization": "Basic cHJvbTpzM2NyZXQ="})
            assert status == 200
            status, _, _ = _get(port, {"Authorization": "Basic cHJvbTp3cm9uZw=="})
            assert status == 401
    finally:
        server.shutdown()
    with pytest.raises(ValueError, match="username and password go together"):
        start_metrics_server(LLMMetrics(CollectorRegistry()), 0, username="prom")
