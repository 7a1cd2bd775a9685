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


def test_latest_semconv_names_are_the_installed_conventions(
        reader: InMemoryMetricReader) -> None:
    """With the opt-in, every name we emit is a constant of the installed
    opentelemetry-semantic-conventions package (attributes, instruments, values)."""
    from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as a
    from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as m

    otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook(),
                       semconv="latest")
    for provider in ("openai", "azure", "mistral", "x-ai", "google", "anthropic", "groq"):
        otel.record_request(provider=provider, model="gpt-4o", input_tokens=10,
                            output_tokens=5, duration_seconds=0.5, ttft_seconds=0.1)
    otel.record_request(provider="openai", model="text-embedding-3-small", input_tokens=8,
                        duration_seconds=0.05, operation="embeddings")
    got = points(reader)
    assert {m.GEN_AI_CLIENT_TOKEN_USAGE, m.GEN_AI_CLIENT_OPERATION_DURATION,
            m.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            m.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK} <= set(got)
    assert not any(name.startswith("gen_ai.server.") for name in got)
    semconv = {a.GEN_AI_OPERATION_NAME, a.GEN_AI_PROVIDER_NAME, a.GEN_AI_REQUEST_MODEL,
               a.GEN_AI_RESPONSE_MODEL, a.GEN_AI_TOKEN_TYPE, "error.type"}
    providers = {v.value for v in a.GenAiProviderNameValues}
    operations = {v.value for v in a.GenAiOperationNameValues}
    for name, series in got.items():
        for attrs, _ in series:
            assert {k for k in attrs if k.startswith("gen_ai.")} <= semconv, name
            assert attrs[a.GEN_AI_PROVIDER_NAME] in providers, attrs
            assert attrs[a.GEN_AI_OPERATION_NAME] in operations, attrs
    shown = {attrs[a.GEN_AI_PROVIDER_NAME] for attrs, _ in got[m.GEN_AI_CLIENT_TOKEN_USAGE]}
    assert {"azure.ai.openai", "mistral_ai", "x_ai", "gcp.gemini"} <= shown
    ops = {attrs[a.GEN_AI_OPERATION_NAME] for attrs, _ in got[m.GEN_AI_CLIENT_TOKEN_USAGE]}
    assert ops == {"chat", "embeddings"}
    assert "llm.client.cost.usd" in got and "llm.client.cost" not in got


def test_the_opt_in_comes_from_the_environment(reader: InMemoryMetricReader,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http, gen_ai_latest_experimental")
    assert OTelMetrics(MeterProvider(), prices=PriceBook()).latest
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    default = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook())
    assert not default.latest
    default.record_request(provider="azure", model="gpt-4o", input_tokens=1,
                           duration_seconds=0.1, ttft_seconds=0.05, output_tokens=1)
    got = points(reader)
    assert "gen_ai.server.time_to_first_token" in got  # the default is what we emitted
    assert got["gen_ai.client.operation.duration"][0][0]["gen_ai.provider.name"] == "azure"
    with pytest.raises(ValueError, match="semconv"):
        OTelMetrics(MeterProvider(), prices=PriceBook(), semconv="newest")


def test_the_sdk_path_names_the_operation_and_both_models(
        reader: InMemoryMetricReader) -> None:
    """gen_ai.request.model is what was asked for, gen_ai.response.model what answered
    (the API answers gpt-4o with a dated snapshot); an embedding is an embeddings call."""
    api = FakeLLMAPI()
    try:
        otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook(),
                           semconv="latest")
        openai_instr.instrument(metrics=otel)
        client = openai.OpenAI(base_url=api.url + "/v1", api_key="k", max_retries=0)
        client.chat.completions.create(model="gpt-4o", messages=[])
        client.embeddings.create(model="text-embedding-3-small", input="hi")
        got = points(reader)
        seen = {(attrs["gen_ai.operation.name"], attrs["gen_ai.request.model"],
                 attrs["gen_ai.response.model"])
                for attrs, _ in got["gen_ai.client.operation.duration"]}
        assert seen == {("chat", "gpt-4o", "gpt-4o-2024-08-06"),
                        ("embeddings", "text-embedding-3-small", "text-embedding-3-small")}
    finally:
        openai_instr.uninstrument()
        api.stop()


def test_the_latest_cost_scrapes_as_usd_total() -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import REGISTRY, generate_latest

    prom_reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[prom_reader])
    try:
        otel = OTelMetrics(provider, prices=PriceBook(), semconv="latest")
        otel.record_request(provider="openai", model="gpt-4o", input_tokens=900,
                            output_tokens=120, duration_seconds=1.5)
        names = {ln.split("{")[0].split(" ")[0] for ln in
                 generate_latest(REGISTRY).decode().splitlines() if ln.startswith("llm_")}
        assert "llm_client_cost_usd_total" in names, names
        assert not any("USD" in n for n in names)
    finally:
        provider.shutdown()


def test_sdk_retries_reach_the_otel_recorder(reader: InMemoryMetricReader) -> None:
    """Two 429s then a success through the real openai SDK: one operation, 2 retries."""
    api = FakeLLMAPI()
    try:
        otel = OTelMetrics(MeterProvider(metric_readers=[reader]), prices=PriceBook())
        openai_instr.instrument(metrics=otel)
        client = openai.OpenAI(base_url=api.url + "/v1", api_key="k", max_retries=2)
        client.chat.completions.create(model="gpt-4o", messages=[],
                                       extra_headers={"x-fake-fail-first": "2"})
        got = points(reader)
        assert [p.value for _, p in got["llm.client.retries"]] == [2]
        assert [p.count for a, p in got["gen_ai.client.operation.duration"]
                if "error.type" not in a] == [1]
    finally:
        openai_instr.uninstrument()
        api.stop()
