"""Exemplars: a trace id on a request shows on the latency buckets and the cost counter in
OpenMetrics output, from an argument, an OpenTelemetry span or an ingest event."""

from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter import LLMMetrics, Settings
from exporter.settings.load import ServerSettings

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def exemplars(text: str, model: str = "gpt-4o") -> dict[tuple[str, str | None], str]:
    """(sample name, le or token_type) -> trace id, for one model's series."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.exemplar is not None and s.labels.get("model") == model:
                key = (s.name, s.labels.get("le") or s.labels.get("token_type"))
                out[key] = s.exemplar.labels["trace_id"]
    return out


def test_trace_id_argument_and_track(registry: CollectorRegistry) -> None:
    llm = LLMMetrics(registry)
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=100, output_tokens=10,
                       duration_seconds=2.4, ttft_seconds=0.3, trace_id=TRACE)
    with llm.track(provider="openai", model="gpt-4o-mini", trace_id="abc123") as call:
        call.usage(input_tokens=5, output_tokens=5)
    got = exemplars(llm.exposition(openmetrics=True).decode())
    assert got[("llm_request_duration_seconds_bucket", "2.56")] == TRACE
    assert got[("llm_time_to_first_token_seconds_bucket", "0.5")] == TRACE
    assert got[("llm_cost_usd_total", "input")] == TRACE
    assert got[("llm_cost_usd_total", "output")] == TRACE
    mini = exemplars(llm.exposition(openmetrics=True).decode(), "gpt-4o-mini")
    assert set(mini.values()) == {"abc123"} and ("llm_cost_usd_total", "input") in mini
    assert ("llm_request_duration_seconds_bucket", "1.28") not in got  # only its own bucket
    assert " # {" not in llm.exposition().decode()  # the text format has no exemplars


def test_exemplar_from_the_current_opentelemetry_span(registry: CollectorRegistry) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    llm = LLMMetrics(registry, otel_exemplars=True)
    with tracer.start_as_current_span("llm-call") as span:
        llm.record_request(provider="openai", model="gpt-4o", input_tokens=10,
                           duration_seconds=0.7)
        trace_id = format(span.get_span_context().trace_id, "032x")
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=10,
                       duration_seconds=0.05)  # no span: no exemplar
    got = exemplars(llm.exposition(openmetrics=True).decode())
    assert got[("llm_request_duration_seconds_bucket", "1.28")] == trace_id
    assert ("llm_request_duration_seconds_bucket", "0.08") not in got


def test_ingest_event_trace_id(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(collectors=())))
    status, _ = sc.post("/v1/events", {"type": "request", "provider": "openai",
                                       "model": "gpt-4o", "input_tokens": 10,
                                       "duration_seconds": 1.0, "trace_id": TRACE})
    assert status == 200
    _, _, body = sc.request("GET", "/metrics",
                            headers={"Accept": "application/openmetrics-text"})
    got = exemplars(body.decode())
    assert got[("llm_request_duration_seconds_bucket", "1.28")] == TRACE
    assert TRACE not in sc.metrics()  # never a label


def test_instrumented_sdk_call_inside_a_span_carries_its_trace_id(registry) -> None:
    import openai
    from opentelemetry.sdk.trace import TracerProvider

    from exporter import OpenAIInstrumentor

    from ..fake_llm_api import FakeLLMAPI

    api = FakeLLMAPI()
    llm = LLMMetrics(registry)  # no otel_exemplars: the instrumentation reads the span
    openai_instr = OpenAIInstrumentor()
    openai_instr.instrument(metrics=llm)
    try:
        client = openai.OpenAI(base_url=api.url + "/v1", api_key="k", max_retries=0)
        tracer = TracerProvider().get_tracer("test")
        with tracer.start_as_current_span("chat") as span:
            client.chat.completions.create(model="gpt-4o", messages=[])
            trace_id = format(span.get_span_context().trace_id, "032x")
        got = exemplars(llm.exposition(openmetrics=True).decode(), "gpt-4o")
        assert got[("llm_cost_usd_total", "output")] == trace_id
        assert trace_id in {v for k, v in got.items()
                            if k[0] == "llm_request_duration_seconds_bucket"}
    finally:
        openai_instr.uninstrument()
        api.stop()


def test_prometheus_client_path_carries_the_exemplars(registry) -> None:
    """An app serving the registry itself (start_http_server, make_asgi_app) gets the
    same exemplars as llm.exposition(openmetrics=True)."""
    from prometheus_client.openmetrics.exposition import generate_latest

    llm = LLMMetrics(registry)
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=100, output_tokens=10,
                       duration_seconds=1.5, ttft_seconds=0.2, trace_id=TRACE)
    text = generate_latest(registry).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    duration = [s for s in families["llm_request_duration_seconds"].samples if s.exemplar]
    assert [s.labels["le"] for s in duration] == ["2.56"]
    assert duration[0].exemplar.labels == {"trace_id": TRACE}
    assert duration[0].exemplar.value == 1.5
    cost = [s for s in families["llm_cost_usd"].samples if s.exemplar]
    assert {s.labels["token_type"] for s in cost} == {"input", "output"}
    ours = {f.name: f for f in text_string_to_metric_families(
        llm.exposition(openmetrics=True).decode())}
    for name in ("llm_request_duration_seconds", "llm_cost_usd",
                 "llm_time_to_first_token_seconds"):
        def exemplars(fams: dict, name: str = name) -> list:
            return [(s.labels, s.exemplar.labels, s.exemplar.value)
                    for s in fams[name].samples if s.exemplar]
        assert exemplars(families) == exemplars(ours), name
