"""The shared value rules: one verdict and one message for every entry point."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.ingest.events import EventError, validate
from exporter.record import validation
from exporter.record.validation import InvalidValue


@pytest.mark.parametrize("value", [True, False, "1", None, 1.5, -1, [], {}])
def test_a_count_is_a_non_negative_int_and_never_a_bool(value: object) -> None:
    assert not validation.is_count(value)
    with pytest.raises(InvalidValue, match="tokens must be an integer in 0") as info:
        validation.count("tokens", value)
    assert info.value.field == "tokens"


@pytest.mark.parametrize("value", [True, False, -0.1, math.inf, math.nan, "2", None, {}])
def test_seconds_are_finite_non_negative_numbers_and_never_bools(value: object) -> None:
    assert not validation.is_seconds(value)
    with pytest.raises(InvalidValue, match="duration_seconds must be a finite number"):
        validation.seconds("duration_seconds", value)


@pytest.mark.parametrize("value", ["no", "false", 0, 1, None, "true"])
def test_a_flag_is_true_or_false_only(value: object) -> None:
    with pytest.raises(InvalidValue, match="cache_hit must be true or false"):
        validation.flag("cache_hit", value)


def test_good_values_pass_unchanged() -> None:
    assert validation.count("n", 0) == 0
    assert validation.seconds("s", 2) == 2
    assert validation.ratio("r", 1.0) == 1.0
    assert validation.flag("f", False) is False
    assert validation.finite("x", -3.5) == -3.5
    assert validation.namespace("acme_llm") == "acme_llm"
    validation.check_tokens(10, 5, 4, 6, 5)


@pytest.mark.parametrize("value", [{"a": 1}, ["success"], 3, None, "ok"])
def test_enums_refuse_anything_but_their_strings(value: object) -> None:
    with pytest.raises(InvalidValue, match="status must be one of success, error"):
        validation.status(value)
    with pytest.raises(InvalidValue, match="circuit must be one of"):
        validation.circuit(value)


@pytest.mark.parametrize("value", ["", "9lives", "a-b", "llm ", True, None])
def test_namespaces_must_be_metric_name_prefixes(value: object) -> None:
    with pytest.raises(InvalidValue, match="namespace must match"):
        validation.namespace(value)


def test_error_type_only_on_a_failed_request() -> None:
    assert validation.error_type(None, "success") is None
    assert validation.error_type("timeout", "error") == "timeout"
    with pytest.raises(InvalidValue, match='only valid with status "error"'):
        validation.error_type("timeout", "success")


# The same value gets the same verdict in the library, the ingest contract, the OTel path.
REFUSED = [
    {"input_tokens": True},
    {"output_tokens": 2, "reasoning_tokens": True},
    {"duration_seconds": True},
    {"ttft_seconds": False},
    {"cache_hit": "no"},
    {"cache_hit": 0},
    {"status": {"a": 1}},
    {"status": "success", "error_type": ["timeout"]},
    {"input_tokens": 3, "cache_read_tokens": 4},
    {"team": ["search"]},
    {"input_tokens": 2**53 + 1},
    {"output_tokens": 2**60},
    {"duration_seconds": 1e308},
    {"ttft_seconds": 8 * 86400},
    {"tier": {"q": 1}},
    {"model": ""},
]


@pytest.mark.parametrize("fields", REFUSED)
def test_every_path_refuses_the_same_request(fields: dict) -> None:
    base = {"provider": "openai", "model": "gpt-4o"}
    llm = LLMMetrics(CollectorRegistry())
    with pytest.raises(ValueError):
        llm.record_request(**{**base, **fields})
    with pytest.raises(EventError):
        validate({"type": "request", **base, **fields}, "event")
    from opentelemetry.sdk.metrics import MeterProvider

    from exporter import OTelMetrics

    with pytest.raises(ValueError):
        OTelMetrics(MeterProvider()).record_request(**{**base, **fields})


@pytest.mark.parametrize("event,field", [
    ({"type": "cache_size", "cache": "c", "size_bytes": 1e308}, "event.size_bytes"),
    ({"type": "routing", "complexity": "a", "tier": "b", "score": 1e308}, "event.score"),
    ({"type": "batch", "provider": "p", "model": "m", "size": 1, "cost_usd": 1e300},
     "event.cost_usd"),
    ({"type": "cache_lookup", "cache": "c", "hit": True, "duration_seconds": 1e9},
     "event.duration_seconds"),
    ({"type": "tier_models", "tier": "t", "available": 2**54, "total": 2**54},
     "event.available"),
])
def test_absurd_values_are_refused_with_their_field(event: dict, field: str) -> None:
    with pytest.raises(EventError) as info:
        validate(event, "event")
    assert info.value.field == field


def test_the_limits_are_what_the_docs_say() -> None:
    assert validation.MAX_SECONDS == 7 * 86400
    assert validation.MAX_COUNT == 2**53
    assert validation.is_seconds(7 * 86400) and not validation.is_seconds(7 * 86400 + 0.5)
    assert validation.is_count(2**53) and not validation.is_count(2**53 + 1)
    llm = LLMMetrics(CollectorRegistry())
    with pytest.raises(ValueError, match="size_bytes must be a finite number in 0..2"):
        llm.set_cache_size(cache="c", size_bytes=float("1e308"))
    with pytest.raises(ValueError, match="score"):
        llm.record_routing(complexity="a", tier="b", score=1e300)
