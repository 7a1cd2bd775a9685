"""The OpenTelemetry path: GenAI semconv instruments through the SDK's in-memory reader,
and a scrape through opentelemetry-exporter-prometheus."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from exporter import OpenAIInstrumentor, PriceBook
from exporter.otel import DURATION_BOUNDARIES, TOKEN_BOUNDARIES, TTFT_BOUNDARIES, OTelMetrics

from .fake_llm_api import FakeLLMAPI

openai_instr = OpenAIInstrumentor()


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    r = InMemoryMetricReader()
    yield r


def points(reader: InMemoryMetricReader) -> dict[str, list]:
    out: dict[str, list] = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = [(dict(p.attributes), p) for p in metric.data.data_points]
    return out


def test_semconv_instruments(reader: InMemoryMetricReader) -> None:
    otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook())
    cost = otel.record_request(provider="openai", model="gpt-4o", input_tokens=1200,
                               cache_read_tokens=1000, output_tokens=351, duration_seconds=2.4,
                               ttft_seconds=0.4, team="search")
    assert cost == pytest.approx(0.00526)
    otel.record_request(provider="openai", model="gpt-4o", status="error",
                        error_type="rate_limit", duration_seconds=0.1)
    got = points(reader)
    base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o"}
    usage = {a["gen_ai.token.type"]: p for a, p in got["gen_ai.client.token.usage"]}
    assert usage["input"].sum == 1200 and usage["output"].sum == 351
    assert tuple(usage["input"].explicit_bounds) == TOKEN_BOUNDARIES
    attrs, point = next((a, p) for a, p in got["gen_ai.client.token.usage"])
    assert {k: attrs[k] for k in base} == base and attrs["llm.team"] == "search"
    durations = {a.get("error.type"): p for a, p in got["gen_ai.client.operation.duration"]}
    assert durations[None].sum == 2.4 and durations["rate_limit"].sum == 0.1
    assert tuple(durations[None].explicit_bounds) == DURATION_BOUNDARIES
    ttft = got["gen_ai.server.time_to_first_token"][0][1]
    assert ttft.sum == 0.4 and tuple(ttft.explicit_bounds) == TTFT_BOUNDARIES
    assert got["gen_ai.server.time_per_output_token"][0][1].sum == pytest.approx(2.0 / 350)
    assert got["llm.client.cost"][0][1].value == pytest.approx(0.00526)


def test_sdk_instrumentation_records_through_otel(reader: InMemoryMetricReader) -> None:
    api = FakeLLMAPI()
    try:
        otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook())
        openai_instr.instrument(metrics=otel)
        client = openai.OpenAI(base_url=api.url + "/v1", api_key="k", max_retries=0)
        list(client.chat.completions.create(model="gpt-4o", messages=[], stream=True))
        got = points(reader)
        usage = {a["gen_ai.token.type"]: p for a, p in got["gen_ai.client.token.usage"]}
        assert usage["input"].sum == 1200 and usage["output"].sum == 350
        assert got["gen_ai.server.time_to_first_token"][0][1].count == 1
        assert got["llm.client.requests.active"][0][1].value == 0
    finally:
        openai_instr.uninstrument()
        api.stop()


def test_scrape_through_the_prometheus_exporter() -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import REGISTRY, generate_latest

    prom_reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[prom_reader])
    try:
        otel = OTelMetrics(provider, prices=PriceBook())
        otel.record_request(provider="anthropic", model="claude-sonnet-4-5", input_tokens=900,
                            output_tokens=120, duration_seconds=1.5)
        text = generate_latest(REGISTRY).decode()
        assert "gen_ai_client_token_usage" in text
        line = next(ln for ln in text.splitlines()
                    if ln.startswith("gen_ai_client_operation_duration_seconds_bucket")
                    and 'le="2.56"' in ln)
        assert line.endswith(" 1.0")
        assert 'gen_ai_provider_name="anthropic"' in line
        assert "llm_client_cost" in text
    finally:
        provider.shutdown()  # also unregisters the reader from the default registry
