"""The drop-in clients keep the home-grown backends' signatures and answers, and give
the same series in process as through a sidecar."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.compat import (
    DeliveryError,
    LLMMetricsService,
    MetricsClient,
    MetricsCollector,
    SyncMetricsClient,
    get_metrics_collector,
)
from exporter.compat import routing as routing_module

from .traffic import recorded

DOCUMENTED = {
    (SyncMetricsClient, "track_request"): ["model", "prompt_tokens", "output_tokens",
                                           "total_tokens", "latency_ms", "user_id",
                                           "request_id", "team_alias", "cache_hit",
                                           "query_type", "status"],
    (SyncMetricsClient, "track_cache_metrics"): ["cache_hit", "cache_miss",
                                                 "avg_lookup_time_ms", "team_alias"],
    (SyncMetricsClient, "track_batch"): ["batch_id", "batch_size", "total_tokens",
                                         "batch_cost", "batch_latency_ms", "team_alias"],
    (MetricsCollector, "record_query"): ["tier", "latency_ms", "tokens_generated",
                                         "generation_time_ms", "is_error"],
    (MetricsCollector, "record_routing_decision"): ["complexity", "tier", "score",
                                                    "decision_time_ms", "is_fallback"],
    (MetricsCollector, "update_model_availability"): ["tier", "available", "total"],
    (LLMMetricsService, "record_request"): ["provider_name", "model", "status",
                                            "prompt_tokens", "completion_tokens",
                                            "duration_seconds", "error_message", "endpoint"],
}


@pytest.mark.parametrize("owner,method", list(DOCUMENTED), ids=lambda x: getattr(x, "__name__", x))
def test_signatures_are_the_home_grown_ones(owner: type, method: str) -> None:
    params = list(inspect.signature(getattr(owner, method)).parameters)[1:]
    assert params == DOCUMENTED[(owner, method)]
    if owner is SyncMetricsClient:  # the async client mirrors the sync one
        assert list(inspect.signature(getattr(MetricsClient, method)).parameters)[1:] == params


FAMILIES = ("llm_requests_total", "llm_tokens_total", "llm_cost_usd_total",
            "llm_routing_decisions_total", "llm_routing_complexity_score_sum",
            "llm_tier_models_available", "llm_cache_lookups_total", "llm_batches_total",
            "llm_request_errors_total", "llm_time_to_first_token_seconds_sum")


def _calls(cost: object, router: MetricsCollector, service: LLMMetricsService) -> list:
    replies = [
        cost.track_request(model="gpt-4o", prompt_tokens=1000, output_tokens=200,  # type: ignore[attr-defined]
                           total_tokens=1200, latency_ms=1500, user_id="u1", request_id="r1",
                           team_alias="search", cache_hit=True, query_type="Simple"),
        cost.track_cache_metrics(cache_hit=3, cache_miss=7, avg_lookup_time_ms=1.5,  # type: ignore[attr-defined]
                                 team_alias="search"),
        cost.track_batch(batch_id="b1", batch_size=4, total_tokens=900, batch_cost=0.5,  # type: ignore[attr-defined]
                         batch_latency_ms=1000, team_alias="etl"),
        service.record_request(provider_name="anthropic", model="claude-sonnet-4-5",
                               status="failed", prompt_tokens=10, completion_tokens=0,
                               duration_seconds=1.0, error_message="429 Too Many Requests",
                               endpoint="/v1/messages"),
    ]
    router.record_query(tier="Local", latency_ms=900, tokens_generated=120,
                        generation_time_ms=600, is_error=False)
    router.record_routing_decision(complexity="MEDIUM", tier="Local", score=2.5,
                                   decision_time_ms=3, is_fallback=False)
    router.update_model_availability(tier="local", available=1, total=2)
    assert router.flush(10)
    return replies


def _samples(llm: LLMMetrics) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in llm.collect(scrape=False) for s in fam.samples
            if s.name in FAMILIES and s.value}


def test_in_process_and_through_a_sidecar_give_the_same_series_and_answers(
        sidecar_factory) -> None:
    sc = sidecar_factory()
    local = LLMMetrics(CollectorRegistry())
    remote_replies = _calls(SyncMetricsClient(base_url=sc.url), MetricsCollector(url=sc.url),
                            LLMMetricsService(base_url=sc.url))
    local_replies = _calls(SyncMetricsClient(metrics=local), MetricsCollector(local),
                           LLMMetricsService(metrics=local))
    assert remote_replies == local_replies
    assert remote_replies[0]["status"] == "success" and remote_replies[0]["request_id"] == "r1"
    assert remote_replies[0]["tokens"] == 1200 and remote_replies[0]["cost"] > 0
    assert _samples(sc.llm) == _samples(local) != {}
    assert recorded(local, "llm_request_errors_total", provider="anthropic",
                    model="claude-sonnet-4-5", error_type="rate_limit") == 1
    # latency 900 ms, generation 600 ms: 300 ms to the first token
    assert recorded(local, "llm_time_to_first_token_seconds_sum", provider="local",
                    model="local", tier="local") == pytest.approx(0.3)
    # a batch whose cost is given is priced, though it names no model
    assert recorded(local, "llm_unpriced_requests_total", provider="unknown",
                    model="unknown") == 0


def test_the_async_client_answers_like_the_sync_one(sidecar_factory) -> None:
    sc = sidecar_factory()

    async def run() -> dict:
        async with MetricsClient(base_url=sc.url) as client:
            return await client.track_request(model="gpt-4o-mini", prompt_tokens=100,
                                              output_tokens=10, request_id="a1")
    reply = asyncio.run(run())
    sync = SyncMetricsClient(base_url=sc.url).track_request(
        model="gpt-4o-mini", prompt_tokens=100, output_tokens=10, request_id="a1")
    assert reply == sync and reply["request_id"] == "a1"


def test_a_refused_payload_raises_naming_the_field(sidecar_factory) -> None:
    sc = sidecar_factory()
    with pytest.raises(DeliveryError) as err:
        SyncMetricsClient(base_url=sc.url).track_request(model="gpt-4o", prompt_tokens=-5)
    assert err.value.status == 422 and err.value.reply["field"] == "body.prompt_tokens"
    with pytest.raises(ValueError, match="prompt_tokens"):
        SyncMetricsClient(metrics=LLMMetrics(CollectorRegistry())).track_request(
            model="gpt-4o", prompt_tokens=-5)
    with pytest.raises(DeliveryError, match="did not answer|refused|Connection"):
        SyncMetricsClient(base_url="http://127.0.0.1:9", timeout=2).track_request(model="x")


def test_proxy_status_strings_map_to_status_and_error_type(sidecar_factory) -> None:
    sc = sidecar_factory()
    records = [{"model": "gpt-4o", "prompt_tokens": 1, "status": code, "request_id": code,
                "api_key_hash": "ab12"} for code in ("200", "429", "504", "500", "404", "302")]
    status, reply = sc.post("/_qs/usage", records)
    assert status == 200 and reply["recorded"] == 6
    errors = {t: recorded(sc.llm, "llm_request_errors_total", provider="openai",
                          model="gpt-4o", error_type=t)
              for t in ("rate_limit", "timeout", "server_error", "client_error")}
    assert errors == {"rate_limit": 1, "timeout": 1, "server_error": 1, "client_error": 1}
    assert recorded(sc.llm, "llm_requests_total", provider="openai", model="gpt-4o",
                    tier="unknown", team="unknown", status="success") == 2
    assert "ab12" not in sc.metrics()
    # one bad record refuses the whole array: nothing of it is recorded
    status, reply = sc.post("/_qs/usage", [records[0], {**records[0], "status": "OK"}])
    assert status == 422 and reply["field"] == "body[1].status"
    status, reply = sc.post("/_qs/usage", [])  # nothing to record is a mistake, said so
    assert status == 422 and reply["field"] == "body"
    status, reply = sc.post("/_qs/usage", {"model": "gpt-4o", "api_key": "sk-live-123"})
    assert status == 422 and reply["field"] == "body.api_key"
    assert recorded(sc.llm, "llm_requests_total", provider="openai", model="gpt-4o",
                    tier="unknown", team="unknown", status="success") == 2
    assert recorded(sc.llm, "llm_exporter_events_total", result="accepted") == 6
    assert recorded(sc.llm, "llm_exporter_events_total", result="rejected") == 3


def test_get_metrics_collector_is_one_per_process_and_follows_the_env(
        sidecar_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = sidecar_factory()
    monkeypatch.setattr(routing_module, "_collector", None)
    monkeypatch.setenv("LLM_EXPORTER_URL", sc.url)
    collector = get_metrics_collector()
    assert get_metrics_collector() is collector
    collector.record_routing_decision(complexity="Simple", tier="FAST", score=1.0)
    assert collector.flush(10)
    assert recorded(sc.llm, "llm_routing_decisions_total", complexity="simple", tier="fast",
                    fallback="false") == 1
