"""The real openai and anthropic SDKs against a local fake API: every call measured,
streams included; errors re-raised untouched; our failures never break a call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import anthropic
import openai
import pytest
from prometheus_client import CollectorRegistry

import exporter
from exporter import AnthropicInstrumentor, LLMMetrics, OpenAIInstrumentor

from ..conftest import value
from ..fake_llm_api import FIRST_TOKEN_DELAY, FakeLLMAPI

openai_instr = OpenAIInstrumentor()
anthropic_instr = AnthropicInstrumentor()


@pytest.fixture(scope="module")
def api() -> Iterator[FakeLLMAPI]:
    server = FakeLLMAPI()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    yield
    openai_instr.uninstrument()
    anthropic_instr.uninstrument()


def oa(api: FakeLLMAPI) -> openai.OpenAI:
    return openai.OpenAI(base_url=api.url + "/v1", api_key="test-key", max_retries=0)


def an(api: FakeLLMAPI) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=api.url, api_key="test-key", max_retries=0)


# the requested model is the label (the API answers with a dated one)
GPT = {"provider": "openai", "model": "gpt-4o", "tier": "unknown"}
CLAUDE = {"provider": "anthropic", "model": "claude-sonnet-4-5", "tier": "unknown"}


def tokens(registry: CollectorRegistry, labels: dict, team: str = "unknown") -> dict:
    return {t: value(registry, "llm_tokens_total", **labels, team=team, token_type=t)
            for t in ("input", "cache_read", "cache_write", "output", "reasoning")}


def test_openai_chat(api, registry: CollectorRegistry, llm: LLMMetrics) -> None:
    openai_instr.instrument(metrics=llm, team="search")
    reply = oa(api).chat.completions.create(model="gpt-4o",
                                            messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello there"
    assert value(registry, "llm_requests_total", **GPT, team="search", status="success") == 1
    assert tokens(registry, GPT, "search") == {"input": 200, "cache_read": 1000,
                                               "cache_write": 0, "output": 350, "reasoning": 0}
    assert value(registry, "llm_cost_usd_total", **GPT, team="search", token_type="output") \
        == pytest.approx(350 * 10e-6)
    assert value(registry, "llm_requests_in_flight", provider="openai", model="gpt-4o") == 0
    # the requested model is the label, not the response's dated one
    assert value(registry, "llm_requests_total", provider="openai",
                 model="gpt-4o-2024-08-06", tier="unknown", team="search",
                 status="success") is None


def test_openai_stream_asks_for_usage_and_hides_it(api, registry, llm) -> None:
    openai_instr.instrument(metrics=llm)
    stream = oa(api).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    chunks = list(stream)
    assert api.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert all(c.choices for c in chunks)  # the caller never sees the usage-only chunk
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there"
    assert tokens(registry, GPT)["cache_read"] == 1000
    ttft = value(registry, "llm_time_to_first_token_seconds_sum", **GPT)
    assert FIRST_TOKEN_DELAY <= ttft < 5
    assert value(registry, "llm_time_per_output_token_seconds_count", **GPT) == 1


def test_openai_stream_respects_a_caller_who_declines_usage(api, registry, llm) -> None:
    openai_instr.instrument(metrics=llm)
    with oa(api).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True,
            stream_options={"include_usage": False}) as stream:
        for _ in stream:
            pass
    assert api.requests[-1]["body"]["stream_options"] == {"include_usage": False}
    assert value(registry, "llm_requests_total", **GPT, team="unknown", status="success") == 1
    assert tokens(registry, GPT)["input"] == 0


def test_openai_async_chat_and_stream(api, registry, llm) -> None:
    openai_instr.instrument(metrics=llm)

    async def main() -> str:
        client = openai.AsyncOpenAI(base_url=api.url + "/v1", api_key="k", max_retries=0)
        await client.chat.completions.create(model="gpt-4o", messages=[])
        text = ""
        async for chunk in await client.chat.completions.create(model="gpt-4o", messages=[],
                                                                 stream=True):
            text += chunk.choices[0].delta.content or ""
        return text

    assert asyncio.run(main()) == "Hello there"
    assert value(registry, "llm_requests_total", **GPT, team="unknown", status="success") == 2
    assert tokens(registry, GPT)["output"] == 700
    assert value(registry, "llm_time_to_first_token_seconds_count", **GPT) == 1


def test_openai_responses_and_embeddings(api, registry, llm) -> None:
    openai_instr.instrument(metrics=llm)
    client = oa(api)
    client.responses.create(model="gpt-4o", input="hi")
    events = list(client.responses.create(model="gpt-4o", input="hi", stream=True))
    assert events[-1].type == "response.completed"
    assert tokens(registry, GPT) == {"input": 600, "cache_read": 200, "cache_write": 0,
                                     "output": 80, "reasoning": 160}
    assert value(registry, "llm_time_to_first_token_seconds_count", **GPT) == 1
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    emb = {"provider": "openai", "model": "text-embedding-3-small", "tier": "unknown"}
    assert tokens(registry, emb)["input"] == 8 and tokens(registry, emb)["output"] == 0


def test_successes_and_failures_of_one_call_site_share_the_requested_model(
        api, registry, llm) -> None:
    """The API answers with a dated model (gpt-4o-2024-08-06) that a failed call never
    gets: labelled by the answer, the failures of "gpt-4o" would sit alone on their series
    and its error ratio read 100%. Both land on the requested model."""
    openai_instr.instrument(metrics=llm)
    anthropic_instr.instrument(metrics=llm)
    client, claude = oa(api), an(api)
    for _ in range(3):
        client.chat.completions.create(model="gpt-4o", messages=[])
        claude.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[])
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=[],
                                       extra_headers={"x-fake-status": "429"})
    with pytest.raises(anthropic.RateLimitError):
        claude.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=[],
                               extra_headers={"x-fake-status": "429"})
    for labels in (GPT, CLAUDE):
        ok = value(registry, "llm_requests_total", **labels, team="unknown", status="success")
        failed = value(registry, "llm_requests_total", **labels, team="unknown",
                       status="error")
        assert (ok, failed) == (3, 1), labels
    assert value(registry, "llm_requests_total", provider="openai",
                 model="gpt-4o-2024-08-06", tier="unknown", team="unknown",
                 status="success") is None


@pytest.mark.parametrize("model,exc,error_type", [
    ("rate-limited", openai.RateLimitError, "rate_limit"),
    ("broken", openai.InternalServerError, "server_error"),
])
def test_openai_errors_are_reraised_untouched(api, registry, llm, model, exc, error_type):
    openai_instr.instrument(metrics=llm)
    with pytest.raises(exc) as caught:
        oa(api).chat.completions.create(model=model, messages=[])
    assert type(caught.value) is exc
    assert value(registry, "llm_request_errors_total", provider="openai", model=model,
                 error_type=error_type) == 1
    assert value(registry, "llm_requests_in_flight", provider="openai", model=model) == 0


def test_anthropic_create_and_stream(api, registry, llm) -> None:
    anthropic_instr.instrument(metrics=llm, tier="q2")
    client = an(api)
    reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                   messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].text == "Hi"
    labels = {**CLAUDE, "tier": "q2"}
    # Anthropic counts cache tokens apart: input is 100 + 2000 + 300 here
    assert tokens(registry, labels) == {"input": 100, "cache_read": 2000, "cache_write": 300,
                                        "output": 20, "reasoning": 0}
    assert value(registry, "llm_cost_usd_total", **labels, team="unknown",
                 token_type="cache_write") == pytest.approx(CACHE_WRITE_USD)
    events = list(client.messages.create(model="claude-sonnet-4-5", max_tokens=100,
                                         messages=[], stream=True))
    assert events[-1].type == "message_stop"
    assert tokens(registry, labels)["output"] == 40
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100,
                                messages=[]) as stream:
        assert "".join(stream.text_stream) == "Hi"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 20
    assert value(registry, "llm_requests_total", **labels, team="unknown",
                 status="success") == 3
    assert tokens(registry, labels)["cache_read"] == 6000
    assert value(registry, "llm_time_to_first_token_seconds_count", **labels) == 2
    assert value(registry, "llm_requests_in_flight", provider="anthropic",
                 model="claude-sonnet-4-5") == 0


#: claude-sonnet-4-5's cache writes in the fake usage: 100 to the 5-minute cache at
#: $3.75/M, 200 to the 1-hour cache at $6/M.
CACHE_WRITE_USD = 100 * 3.75e-6 + 200 * 6e-6


def test_every_anthropic_path_prices_1_hour_cache_writes(api, registry, llm) -> None:
    """create, create(stream=True), messages.stream, and their async forms: each reads the
    usage's cache_creation split (a stream's is in message_start)."""
    anthropic_instr.instrument(metrics=llm)
    client = an(api)
    kw = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": []}
    cost = {"provider": "anthropic", "model": "claude-sonnet-4-5", "tier": "unknown",
            "team": "unknown", "token_type": "cache_write"}
    paths = 0

    def check() -> None:
        assert value(registry, "llm_cost_usd_total", **cost) == \
            pytest.approx(paths * CACHE_WRITE_USD, rel=1e-12), paths

    client.messages.create(**kw)
    paths += 1
    check()
    list(client.messages.create(**kw, stream=True))
    paths += 1
    check()
    with client.messages.stream(**kw) as stream:
        stream.get_final_message()
    paths += 1
    check()

    async def main() -> None:
        aclient = anthropic.AsyncAnthropic(base_url=api.url, api_key="k", max_retries=0)
        async for _ in await aclient.messages.create(**kw, stream=True):
            pass
        async with aclient.messages.stream(**kw) as astream:
            await astream.get_final_message()

    asyncio.run(main())
    paths += 2
    check()


def test_sdk_retries_are_counted_and_the_request_once(api, registry, llm) -> None:
    """With the SDKs' default max_retries=2: two 429s then a success is one successful
    request and two retries; three 429s is one failed request and two retries."""
    openai_instr.instrument(metrics=llm)
    anthropic_instr.instrument(metrics=llm)
    sent_before = len(api.requests)
    client = openai.OpenAI(base_url=api.url, api_key="k", max_retries=2)
    client.chat.completions.create(model="gpt-4o", messages=[],
                                   extra_headers={"x-fake-fail-first": "2"})
    gpt = {"provider": "openai", "model": "gpt-4o"}
    assert value(registry, "llm_requests_total", **gpt, tier="unknown", team="unknown",
                 status="success") == 1
    assert value(registry, "llm_request_retries_total", **gpt) == 2
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4o", messages=[],
                                       extra_headers={"x-fake-fail-first": "3"})
    assert value(registry, "llm_request_errors_total", **gpt, error_type="rate_limit") == 1
    assert value(registry, "llm_request_retries_total", **gpt) == 4
    assert len(api.requests) - sent_before == 6  # every attempt reached the API

    claude = anthropic.Anthropic(base_url=api.url, api_key="k", max_retries=2)
    kw = {"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": [],
          "extra_headers": {"x-fake-fail-first": "1"}}
    claude.messages.create(**kw)
    with claude.messages.stream(**kw) as stream:
        stream.get_final_message()

    async def main() -> None:
        aclient = anthropic.AsyncAnthropic(base_url=api.url, api_key="k", max_retries=2)
        async for _ in await aclient.messages.create(**kw, stream=True):
            pass

    asyncio.run(main())
    assert value(registry, "llm_request_retries_total", provider="anthropic",
                 model="claude-sonnet-4-5") == 3
    assert value(registry, "llm_requests_total", **CLAUDE, team="unknown",
                 status="success") == 3


def test_anthropic_async_stream_and_error(api, registry, llm) -> None:
    anthropic_instr.instrument(metrics=llm)

    async def main() -> None:
        client = anthropic.AsyncAnthropic(base_url=api.url, api_key="k", max_retries=0)
        async with client.messages.stream(model="claude-sonnet-4-5", max_tokens=10,
                                          messages=[]) as stream:
            await stream.get_final_message()
        with pytest.raises(anthropic.RateLimitError):
            await client.messages.create(model="rate-limited", max_tokens=10, messages=[])

    asyncio.run(main())
    assert value(registry, "llm_requests_total", **CLAUDE, team="unknown",
                 status="success") == 1
    assert value(registry, "llm_request_errors_total", provider="anthropic",
                 model="rate-limited", error_type="rate_limit") == 1


def test_labels_context_manager(api, registry, llm) -> None:
    openai_instr.instrument(metrics=llm, team="default-team")
    client = oa(api)
    with exporter.labels(team="ads", tier="q3"):
        client.chat.completions.create(model="gpt-4o", messages=[])
        with exporter.labels(tier="q1"):
            client.chat.completions.create(model="gpt-4o", messages=[])
    client.chat.completions.create(model="gpt-4o", messages=[])
    base = {"provider": "openai", "model": "gpt-4o", "status": "success"}
    assert value(registry, "llm_requests_total", **base, team="ads", tier="q3") == 1
    assert value(registry, "llm_requests_total", **base, team="ads", tier="q1") == 1
    assert value(registry, "llm_requests_total", **base, team="default-team",
                 tier="unknown") == 1


def test_instrument_twice_and_uninstrument(api, registry, llm) -> None:
    original = openai.resources.chat.completions.Completions.create
    openai_instr.instrument(metrics=llm)
    openai_instr.instrument(metrics=llm)
    oa(api).chat.completions.create(model="gpt-4o", messages=[])
    assert value(registry, "llm_requests_total", **GPT, team="unknown", status="success") == 1
    openai_instr.uninstrument()
    assert openai.resources.chat.completions.Completions.create is original
    oa(api).chat.completions.create(model="gpt-4o", messages=[])
    assert value(registry, "llm_requests_total", **GPT, team="unknown", status="success") == 1


def test_a_failure_in_our_code_never_breaks_the_call(api, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="exporter.instrumentation._base")
    openai_instr.instrument(metrics=object())  # type: ignore[arg-type]
    reply = oa(api).chat.completions.create(model="gpt-4o", messages=[])
    assert reply.choices[0].message.content == "Hello there"
    assert any("could not start tracking" in r.getMessage() for r in caplog.records)


def test_provider_from_the_client_base_url() -> None:
    from exporter.instrumentation._base import Target

    settings = Target(LLMMetrics(CollectorRegistry()), None, None, None, "openai")

    class Resource:
        def __init__(self, url: str) -> None:
            self._client = type("C", (), {"base_url": url})()

    assert settings.provider_for(Resource("https://api.groq.com/openai/v1")) == "groq"
    assert settings.provider_for(Resource("https://acme.openai.azure.com/")) == "azure"
    assert settings.provider_for(Resource("http://127.0.0.1:8000/v1")) == "openai"
