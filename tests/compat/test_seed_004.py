"""Seed 004 (provider metrics: circuit breaker, costs and savings, daily trends), its
documented calls verbatim, from the sidecar's counters and in process.

Quoted from the document ("Integration with Existing Services" and "Example Usage")::

    LLMMetricsService.record_request(provider_name=provider, model=model, status='success',
        prompt_tokens=response.usage.input_tokens,
        completion_tokens=response.usage.output_tokens,
        duration_seconds=time.time() - start_time)
    LLMMetricsService.record_request(provider_name='ollama', model=self.ollama_model,
        status='success', prompt_tokens=0,  # Ollama doesn't return token counts
        completion_tokens=result.get('eval_count', 0), duration_seconds=duration,
        endpoint='/api/generate')
    LLMMetricsService.record_request(provider_name='ollama', model=self.ollama_model,
        status='failed', error_message=f"HTTP {response.status_code}",
        duration_seconds=duration)

    costs = LLMMetricsService.get_cost_summary(days=30)
    print(f"  Total Cost: ${costs['total_cost_usd']:.2f}")
    print(f"  Local Requests: {costs['local_requests']} "
          f"({costs['local_requests']/costs['total_requests']*100:.1f}%)")
    print(f"    Hypothetical Cost: ${costs['hypothetical_claude_cost_usd']:.2f}")
    print(f"    Savings: ${costs['estimated_savings_usd']:.2f} "
          f"({costs['savings_percentage']:.1f}%)")

    providers = LLMMetricsService.get_all_providers()
    for provider in providers:
        status = "✓" if provider['is_available'] else "✗"
        success_rate = (provider['successful_requests'] / provider['total_requests']) * 100
        print(f"{status} {provider['display_name']}")
        print(f"   Status: {provider['circuit_state']}")
        print(f"   Avg Response: {provider['avg_response_time_ms']:.0f}ms")

Breaker states, from its Troubleshooting: ``closed`` = healthy, ``half_open`` =
recovering, ``open`` = unavailable (circuit tripped).
"""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stdout

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.compat import LLMMetricsService
from exporter.ingest import provider_state
from exporter.read.side import FRESH_SECONDS


def traffic(service: type[LLMMetricsService] | LLMMetricsService) -> None:
    service.record_request(provider_name="claude", model="claude-sonnet-4-5", status="success",
                           prompt_tokens=1000, completion_tokens=200, duration_seconds=1.5)
    service.record_request(provider_name="ollama", model="llama3.1:8b", status="success",
                           prompt_tokens=0, completion_tokens=120, duration_seconds=0.5,
                           endpoint="/api/generate")
    service.record_request(provider_name="openai", model="gpt-4o", status="success",
                           prompt_tokens=100, completion_tokens=10, duration_seconds=2.0)
    for code in (500, 502, 503, 500, 504):  # five failures in a row: the circuit trips
        service.record_request(provider_name="openai", model="gpt-4o", status="failed",
                               error_message=f"HTTP {code}", duration_seconds=2.0)


def _documented_printouts(service: type[LLMMetricsService] | LLMMetricsService) -> str:
    """The document's own example code, run against our answers."""
    out = io.StringIO()
    with redirect_stdout(out):
        costs = service.get_cost_summary(days=30)
        print(f"  Total Cost: ${costs['total_cost_usd']:.2f}")
        print(f"  Total Requests: {costs['total_requests']}")
        print(f"  Local Requests: {costs['local_requests']} "
              f"({costs['local_requests']/costs['total_requests']*100:.1f}%)")
        print(f"  Remote Requests: {costs['remote_requests']}")
        print(f"    Hypothetical Cost: ${costs['hypothetical_claude_cost_usd']:.2f}")
        print(f"    Actual Cost: ${costs['total_cost_usd']:.2f}")
        print(f"    Savings: ${costs['estimated_savings_usd']:.2f} "
              f"({costs['savings_percentage']:.1f}%)")
        for provider in service.get_all_providers():
            status = "✓" if provider['is_available'] else "✗"
            success_rate = 0
            if provider['total_requests']:
                success_rate = (provider['successful_requests'] / provider['total_requests']) * 100
            print(f"{status} {provider['display_name']}")
            print(f"   Status: {provider['circuit_state']}")
            print(f"   Success Rate: {success_rate:.1f}%")
            print(f"   Avg Response: {provider['avg_response_time_ms']:.0f}ms")
    return out.getvalue()


def check(service: type[LLMMetricsService] | LLMMetricsService, llm: LLMMetrics,
          local: bool = True) -> None:
    """What the document's reads must answer after :func:`traffic` (``local``: from the
    sidecar that recorded it, which alone knows the consecutive failures)."""
    costs = service.get_cost_summary(days=30)
    for key in ("total_requests", "local_requests", "remote_requests"):
        assert type(costs[key]) is int, key
    assert (costs["total_requests"], costs["local_requests"], costs["remote_requests"]) == \
        (8, 1, 7)
    rates = llm.prices.rates("anthropic", "claude-sonnet-4-5")
    claude_all = (1000 + 100) * rates.base[0] + (200 + 120 + 10) * rates.base[3]
    assert math.isclose(costs["hypothetical_claude_cost_usd"], claude_all)
    assert math.isclose(costs["estimated_savings_usd"],
                        claude_all - costs["total_cost_usd"])
    assert math.isclose(costs["savings_percentage"],
                        round(100 * (claude_all - costs["total_cost_usd"]) / claude_all, 4))
    rows = service.get_all_providers()
    assert [r["name"] for r in rows] == ["ollama", "anthropic", "openai"]  # by priority
    by = {r["name"]: r for r in rows}
    assert by["ollama"]["display_name"] == "Ollama (Local)" and by["ollama"]["type"] == "local"
    assert by["anthropic"]["display_name"] == "Claude (Anthropic)"
    assert by["openai"]["type"] == "remote" and by["openai"]["priority"] == 3
    o = by["openai"]
    assert (o["circuit_state"], o["is_available"]) == ("open", 0)
    assert o["failure_count"] == (5 if local else 0)
    assert (o["total_requests"], o["successful_requests"]) == (6, 1)
    assert all(type(o[k]) is int for k in ("total_requests", "successful_requests",
                                           "is_available", "enabled", "priority"))
    assert o["avg_response_time_ms"] == 2000.0
    assert by["anthropic"]["circuit_state"] == "closed" and by["anthropic"]["is_available"] == 1
    text = _documented_printouts(service)
    assert "✗ OpenAI\n   Status: open\n   Success Rate: 16.7%\n   Avg Response: 2000ms" in text
    assert "✓ Ollama (Local)" in text and "Local Requests: 1 (12.5%)" in text


def test_the_documented_calls_against_a_sidecar(sidecar_factory) -> None:
    import time

    sc = sidecar_factory()
    service = LLMMetricsService(base_url=sc.url)
    traffic(service)
    time.sleep(FRESH_SECONDS)
    check(service, sc.llm)
    m = json.loads(sc.request("GET", "/api/llm/metrics")[2])
    assert m["days"] == 7 and m["total_requests"] == 8 and type(m["failed_requests"]) is int
    assert sc.request("GET", "/metrics")[0] == 200
    assert 'llm_provider_circuit_state{provider="openai",state="open"} 1\n' in sc.metrics()


def test_the_documented_calls_on_the_class_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """``LLMMetricsService.record_request(...)`` is called on the class in the document:
    it records through the process's default service."""
    import exporter.compat.providers as providers

    monkeypatch.delenv("LLM_EXPORTER_URL", raising=False)
    llm = LLMMetrics(CollectorRegistry())
    monkeypatch.setattr(providers, "_default", LLMMetricsService(metrics=llm))
    traffic(LLMMetricsService)
    check(LLMMetricsService, llm)


def test_the_breaker_opens_recovers_and_closes() -> None:
    now = [0.0]
    states = provider_state.ProviderStates(clock=lambda: now[0])
    for _ in range(provider_state.FAILURES_TO_OPEN - 1):
        assert states.call("openai", ok=False).state == "closed"
    assert states.call("openai", ok=True).state == "closed"  # 4 failures, then a success
    for _ in range(provider_state.FAILURES_TO_OPEN):
        b = states.call("openai", ok=False)
    assert (b.state, b.failures) == ("open", 5)
    now[0] = provider_state.OPEN_SECONDS - 1
    assert states.tick() == []
    now[0] = provider_state.OPEN_SECONDS
    assert [(p, b.state) for p, b in states.tick()] == [("openai", "half_open")]
    assert states.call("openai", ok=False).state == "open"  # a failed trial trips it again
    now[0] += provider_state.OPEN_SECONDS
    states.tick()
    assert states.call("openai", ok=True).state == "closed"
    for i in range(provider_state.MAX_PROVIDERS * 2):  # hostile names: bounded
        states.call(f"p{i}", ok=False)
    assert len(states.breakers) == provider_state.MAX_PROVIDERS


def test_enable_and_disable_a_provider(sidecar_factory) -> None:
    import time

    sc = sidecar_factory()
    service = LLMMetricsService(base_url=sc.url)
    traffic(service)
    time.sleep(FRESH_SECONDS)
    status, _, body = sc.request("POST", "/api/llm/providers/3/enable",
                                 body={"enabled": False})
    assert status == 200 and json.loads(body) == {"status": "success", "provider": "openai",
                                                  "enabled": 0}
    time.sleep(FRESH_SECONDS)
    assert {r["name"]: r["enabled"] for r in service.get_all_providers()} == \
        {"ollama": 1, "anthropic": 1, "openai": 0}
    assert sc.request("POST", "/api/llm/providers/openai/enable")[0] == 200
    status, _, body = sc.request("POST", "/api/llm/providers/nope/disable")
    assert status == 404 and json.loads(body)["field"] == "provider"
    status, _, body = sc.request("POST", "/api/llm/providers/ollama/enable",
                                 body={"enabled": "yes"})
    assert status == 422 and json.loads(body)["field"] == "body.enabled"
