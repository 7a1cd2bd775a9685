"""Every read route of the four backends, without a Prometheus: the sidecar answers from
its own counters, and each number equals what was sent."""

from __future__ import annotations

import json

from exporter import Settings
from exporter.settings.load import ServerSettings

from .traffic import BASELINE, check_all_routes, recorded, send


def test_every_read_route_equals_what_was_sent(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(baseline=BASELINE, server=ServerSettings()))
    sent = send(sc.url)

    def get(path: str) -> object:
        status, _, body = sc.request("GET", path)
        assert status == 200, (path, body)
        return json.loads(body)

    check_all_routes(get, sent, sc.llm.prices, "sidecar")


def test_bad_parameters_get_400_naming_them(sidecar_factory) -> None:
    sc = sidecar_factory()
    for path, field in (("/api/v1/dashboard/metrics?time_range_hours=abc", "time_range_hours"),
                        ("/api/v1/dashboard/metrics?time_range_hours=-1", "time_range_hours"),
                        ("/_qs/metrics?from=yesterday", "from"),
                        ("/_qs/metrics?from=2025-01-01T00:00:00Z&to=2024-01-01T00:00:00Z",
                         "from"),
                        ("/api/llm/costs?days=nan", "days"),
                        ("/api/v1/requests/recent?limit=0", "limit"),
                        ("/api/v1/requests/recent?limit=1.5", "limit")):
        status, _, body = sc.request("GET", path)
        assert status == 400, (path, body)
        assert json.loads(body)["details"] == {"field": field}


def test_read_routes_and_page_need_the_metrics_credentials(sidecar_factory) -> None:
    import base64

    sc = sidecar_factory(Settings(server=ServerSettings(metrics_user="ops",
                                                        metrics_password="s3cret")))
    for path in ("/", "/api/v1/dashboard/metrics", "/_qs/metrics", "/api/llm/costs"):
        status, headers, _ = sc.request("GET", path)
        assert status == 401 and headers["www-authenticate"].startswith("Basic"), path
    good = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
    assert sc.request("GET", "/_qs/metrics", headers=good)[0] == 200
    assert sc.request("GET", "/static/page.js")[0] == 200  # assets hold no data
    assert recorded(sc.llm, "llm_exporter_auth_failures_total", endpoint="read") == 4


def test_the_proxys_env_names_set_the_basic_auth() -> None:
    settings = Settings.load(env={"METRICS_BASIC_AUTH_USER": "proxy",
                                  "METRICS_BASIC_AUTH_PASS": "pw"})
    assert (settings.server.metrics_user, settings.server.metrics_password) == ("proxy", "pw")
    ours = Settings.load(env={"METRICS_BASIC_AUTH_USER": "proxy", "METRICS_BASIC_AUTH_PASS": "pw",
                              "LLM_EXPORTER_METRICS_USER": "ops",
                              "LLM_EXPORTER_METRICS_PASSWORD": "x"})
    assert (ours.server.metrics_user, ours.server.metrics_password) == ("ops", "x")


def test_recent_requests_ring_keeps_ids_out_of_labels(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(recent_requests=3)))
    for i in range(5):
        sc.post("/api/v1/metrics/track", {"model": "gpt-4o", "prompt_tokens": i,
                                          "output_tokens": 1, "user_id": f"user-{i}",
                                          "request_id": f"req-{i}", "latency_ms": 10 * i})
    sc.post("/v1/events", {"type": "request", "provider": "openai", "model": "gpt-4o",
                           "input_tokens": 7, "request_id": "ev-1"})
    status, _, body = sc.request("GET", "/api/v1/requests/recent?limit=3")
    rows = json.loads(body)
    assert status == 200 and [r["request_id"] for r in rows] == ["ev-1", "req-4", "req-3"]
    assert rows[1]["user_id"] == "user-4" and rows[1]["latency_ms"] == 40
    assert rows[1]["cost"] > 0 and rows[1]["timestamp"].endswith("+00:00")
    assert "req-4" not in sc.metrics() and "user-4" not in sc.metrics()
    off = sidecar_factory(Settings(server=ServerSettings(recent_requests=0)))
    off.post("/api/v1/metrics/track", {"model": "gpt-4o", "prompt_tokens": 1})
    assert json.loads(off.request("GET", "/api/v1/requests/recent")[2]) == []


def test_each_request_can_be_a_json_log_line(sidecar_factory, caplog) -> None:
    import logging

    sc = sidecar_factory(Settings(server=ServerSettings(recent_requests=0, request_log=True)))
    with caplog.at_level(logging.INFO, logger="llm_exporter.requests"):
        sc.post("/api/v1/metrics/track", {"model": "gpt-4o", "prompt_tokens": 10,
                                          "request_id": "log-1", "team_alias": "search"})
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "llm_exporter.requests"]
    assert len(lines) == 1
    assert lines[0]["request_id"] == "log-1" and lines[0]["team_alias"] == "search"
    assert lines[0]["prompt_tokens"] == 10 and lines[0]["cost"] > 0


def test_a_model_filter_that_is_no_model_is_a_400(sidecar_factory) -> None:
    sc = sidecar_factory()
    status, _, body = sc.request("GET", "/api/v1/dashboard/metrics?model_filter=%1C")
    assert status == 400 and json.loads(body)["details"] == {"field": "model_filter"}
