"""Seeds 000/001 (the FastAPI + PostgreSQL cost backend) and 002 (CLIProxyAPI's usage
metrics), their documented calls verbatim, compared field for field.

From 001, quoted::

    result = client.track_request(model="models/gemini-2.5-flash", prompt_tokens=100,
        output_tokens=1746, total_tokens=1846, latency_ms=13596.617,
        user_id="krrish@berri.ai", team_alias="internal-chatbot-team", cache_hit=False,
        query_type="reasoning")
    # {"status": "success", "message": "Metrics tracked successfully",
    #  "request_id": "550e8400-e29b-41d4-a716-446655440000", "cost": 0.000567, "tokens": 1846}
    curl -X POST http://localhost:8000/api/v1/metrics/track -H "Content-Type: application/json" \\
      -d '{"model":"gemini-2.5-flash","prompt_tokens":10,"output_tokens":100,
           "total_tokens":110,"latency_ms":1000,"user_id":"test"}'
    curl "http://localhost:8000/api/v1/dashboard/metrics?team_alias=internal-chatbot-team"
    curl "http://localhost:8000/api/v1/dashboard/metrics?model_filter=gpt-4"
    # Dashboard: http://localhost:8000/static/dashboard.html
    # metrics table: ... latency_ms, time_to_first_token_ms, cache_hit,
    #   cache_similarity_score, is_batched, batch_id, batch_size, user_id, team_alias,
    #   end_user, status, error_message
    # CORS errors: Backend has CORS enabled for all origins.

From 002, quoted (the Go struct the proxy records)::

    metric := metrics.UsageMetric{ Timestamp: time.Now(), Model: modelName,
        PromptTokens: usage.PromptTokens, CompletionTokens: usage.CompletionTokens,
        TotalTokens: usage.TotalTokens, RequestID: requestID,
        Status: fmt.Sprintf("%d", statusCode), LatencyMs: latency.Milliseconds(),
        APIKeyHash: hashAPIKey(apiKey) }
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta, timezone

from exporter import Settings
from exporter.compat import SyncMetricsClient
from exporter.read.side import FRESH_SECONDS
from exporter.settings.load import ServerSettings

from .traffic import recorded


def test_track_answers_as_documented_with_a_server_made_request_id(sidecar_factory) -> None:
    sc = sidecar_factory()
    client = SyncMetricsClient(base_url=sc.url)
    result = client.track_request(
        model="models/gemini-2.5-flash", prompt_tokens=100, output_tokens=1746,
        total_tokens=1846, latency_ms=13596.617, user_id="krrish@berri.ai",
        team_alias="internal-chatbot-team", cache_hit=False, query_type="reasoning")
    assert set(result) == {"status", "message", "request_id", "cost", "tokens"}
    assert (result["status"], result["message"]) == ("success", "Metrics tracked successfully")
    assert str(uuid.UUID(result["request_id"])) == result["request_id"]
    assert type(result["cost"]) is float and result["cost"] > 0
    assert type(result["tokens"]) is int and result["tokens"] == 1846
    status, reply = sc.post("/api/v1/metrics/track", {
        "model": "gemini-2.5-flash", "prompt_tokens": 10, "output_tokens": 100,
        "total_tokens": 110, "latency_ms": 1000, "user_id": "test"})
    assert status == 200 and reply["tokens"] == 110 and reply["request_id"] != \
        result["request_id"]
    recent = json.loads(sc.request("GET", "/api/v1/requests/recent?limit=2")[2])
    assert [r["request_id"] for r in recent] == [reply["request_id"], result["request_id"]]


def test_the_metrics_table_columns_are_accepted_and_recorded(sidecar_factory) -> None:
    sc = sidecar_factory()
    row = {"id": 7, "model": "gpt-4o", "prompt_tokens": 100, "output_tokens": 50,
           "total_tokens": 150, "response_cost": 0.5, "prompt_cost": 0.2, "output_cost": 0.3,
           "latency_ms": 1200, "time_to_first_token_ms": 300, "cache_hit": True,
           "cache_similarity_score": 0.93, "is_batched": False, "batch_id": None,
           "batch_size": 1, "user_id": "u1", "team_alias": "search", "end_user": "e1",
           "status": "failed", "error_message": "429 rate limit exceeded"}
    status, reply = sc.post("/api/v1/metrics/track", row)
    assert status == 200, reply
    llm = sc.llm
    assert recorded(llm, "llm_time_to_first_token_seconds_count", provider="openai",
                    model="gpt-4o", tier="unknown") == 1
    assert recorded(llm, "llm_cache_similarity_count", cache="response") == 1
    assert recorded(llm, "llm_cache_lookups_total", cache="response", result="hit",
                    team="search") == 1  # the lookup once, with its score
    assert recorded(llm, "llm_request_errors_total", provider="openai", model="gpt-4o",
                    error_type="rate_limit") == 1
    status, reply = sc.post("/api/v1/metrics/track", {"model": "gpt-4o",
                                                      "cache_similarity_score": 0.5})
    assert status == 422 and reply["field"] == "body.cache_similarity_score"
    status, reply = sc.post("/api/v1/metrics/track", {"model": "gpt-4o", "end_user": 5})
    assert status == 422 and reply["field"] == "body.end_user"


def test_dashboard_filters_as_its_users_send_them(sidecar_factory) -> None:
    sc = sidecar_factory()
    client = SyncMetricsClient(base_url=sc.url)
    client.track_request(model="models/gemini-2.5-flash", prompt_tokens=100, output_tokens=10,
                         total_tokens=110, latency_ms=3000, team_alias="a")
    client.track_request(model="gpt-4o", prompt_tokens=10, output_tokens=1, total_tokens=11,
                         latency_ms=1000, team_alias="b")
    time.sleep(FRESH_SECONDS)

    def get(path: str) -> dict:
        status, _, body = sc.request("GET", path)
        assert status == 200, body
        return json.loads(body)

    g = get("/api/v1/dashboard/metrics?model_filter=models/gemini-2.5-flash")
    assert list(g["model_usage"]) == ["gemini-2.5-flash"] and g["total_requests"] == 1
    assert get("/api/v1/dashboard/metrics?team_alias=b")["avg_latency_ms"] == 1000.0
    assert get("/api/v1/dashboard/metrics?team_alias=a")["avg_latency_ms"] == 3000.0
    hourly = get("/api/v1/dashboard/metrics?time_range_hours=24")["hourly_trend"]
    assert all(datetime.strptime(k, "%Y-%m-%d %H:00") for k in hourly)
    assert sum(v["count"] for v in hourly.values()) == 2
    assert all(type(v["count"]) is int for v in hourly.values())
    costs = [r["cost"] for r in get("/api/v1/requests/recent")]
    dear = get(f"/api/v1/requests/recent?min_cost={max(costs)}")
    assert [r["cost"] for r in dear] == [max(costs)]  # min_cost filters single requests


def test_the_dashboard_url_and_a_cross_origin_frontend(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(
        allowed_origins=("http://frontend.example",))))
    status, headers, body = sc.request("GET", "/static/dashboard.html")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b"/static/page.js" in body
    origin = {"Origin": "http://frontend.example"}
    status, headers, _ = sc.request("GET", "/api/v1/dashboard/metrics", headers=origin)
    assert status == 200 and headers["access-control-allow-origin"] == "http://frontend.example"
    status, headers, _ = sc.request("OPTIONS", "/api/v1/dashboard/metrics", headers={
        **origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization"})
    assert status == 204 and headers["access-control-allow-methods"] == "GET"
    assert "authorization" in headers["access-control-allow-headers"]
    status, _, _ = sc.request("GET", "/api/v1/dashboard/metrics",
                              headers={"Origin": "http://evil.example"})
    assert status == 403


def test_proxy_records_in_the_go_structs_names(sidecar_factory) -> None:
    sc = sidecar_factory()
    now = datetime.now(timezone.utc)
    go = {"Timestamp": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
          "Model": "gpt-4o-mini", "PromptTokens": 200, "CompletionTokens": 50,
          "TotalTokens": 250, "RequestID": "chatcmpl-1", "Status": "200", "LatencyMs": 400,
          "APIKeyHash": "9f86d081884c7d65"}
    status, reply = sc.post("/_qs/usage", [go, {**go, "Status": "429"}])
    assert status == 200 and reply["recorded"] == 2, reply
    assert recorded(sc.llm, "llm_requests_total", provider="openai", model="gpt-4o-mini",
                    tier="unknown", team="unknown", status="error") == 1
    old = {**go, "Timestamp": (now - timedelta(days=2)).isoformat()}
    status, reply = sc.post("/_qs/usage", old)
    assert status == 422 and reply["field"] == "body.Timestamp", reply
    status, reply = sc.post("/_qs/usage", {**go, "PromptTokens": -1})
    assert status == 422 and reply["field"] == "body.PromptTokens", reply
    status, reply = sc.post("/_qs/usage", {**go, "model": "gpt-4o"})
    assert status == 422 and reply["field"] == "body.model", reply
    time.sleep(FRESH_SECONDS)
    q = json.loads(sc.request("GET", "/_qs/metrics?model=gpt-4o-mini")[2])
    assert q["totals"] == {"total_tokens": 500, "total_requests": 2}
    assert all(type(v) is int for v in q["totals"].values())
    assert q["by_model"] == [{"model": "gpt-4o-mini", "tokens": 500, "requests": 2,
                              "avg_latency_ms": 400.0}]


def test_the_documented_cache_and_batch_calls(sidecar_factory) -> None:
    """001's examples, verbatim::

        client.track_cache_metrics(cache_hit=150, cache_miss=50, avg_lookup_time_ms=2.5,
                                   team_alias="internal-chatbot-team")
        client.track_batch(batch_id="batch_123", batch_size=10, total_tokens=5000,
                           batch_cost=0.125, batch_latency_ms=3500,
                           team_alias="internal-chatbot-team")
    """
    sc = sidecar_factory()
    client = SyncMetricsClient(base_url=sc.url)
    cache = client.track_cache_metrics(cache_hit=150, cache_miss=50, avg_lookup_time_ms=2.5,
                                       team_alias="internal-chatbot-team")
    assert cache == {"status": "success", "message": "Cache metrics recorded successfully",
                     "cache_hit": 150, "cache_miss": 50}
    batch = client.track_batch(batch_id="batch_123", batch_size=10, total_tokens=5000,
                               batch_cost=0.125, batch_latency_ms=3500,
                               team_alias="internal-chatbot-team")
    assert batch == {"status": "success", "message": "Batch metrics recorded successfully",
                     "batch_id": "batch_123", "cost": 0.125, "tokens": 5000}
    assert recorded(sc.llm, "llm_cache_lookups_total", cache="response", result="hit",
                    team="internal-chatbot-team") == 150
    assert recorded(sc.llm, "llm_batches_total", provider="unknown", model="unknown",
                    team="internal-chatbot-team", status="success") == 1
