"""The ingest contract: event fields are the recorder's keyword arguments, and an event
the contract accepts is one the recorder records (so a batch never fails half-way)."""

from __future__ import annotations

import inspect
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.ingest.events import EVENTS, FREE_FORM, EventError, event_json_schemas, validate


def test_each_event_type_has_exactly_its_recorder_methods_arguments() -> None:
    for kind, (method, fields) in EVENTS.items():
        params = inspect.signature(getattr(LLMMetrics, method)).parameters
        keyword = {name for name, p in params.items() if p.kind is p.KEYWORD_ONLY}
        assert set(fields) == keyword, (kind, set(fields) ^ keyword)
        required = {name for name, p in params.items()
                    if p.kind is p.KEYWORD_ONLY and p.default is p.empty}
        assert {n for n, f in fields.items() if f.required} == required, kind


def test_the_json_schema_lists_every_field_and_the_required_ones() -> None:
    schemas = event_json_schemas()
    for kind, (_, fields) in EVENTS.items():
        props = schemas[kind]["properties"]
        assert set(props) == {"type", *fields, *FREE_FORM}
        assert set(schemas[kind]["required"]) == {"type", *(n for n, f in fields.items()
                                                            if f.required)}


ANY = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**40), st.floats(allow_nan=True),
                st.sampled_from(["", " ", "x", "openai", "gpt-4o", "success", "error",
                                 "timeout", "open", "no", "q1"]),
                st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2),
                                                                     st.integers(), max_size=1))


@st.composite
def events(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(sorted(EVENTS)))
    _, fields = EVENTS[kind]
    event = {"type": kind}
    for name in fields:
        if draw(st.booleans()):
            event[name] = draw(ANY)
    return event


@settings(max_examples=600, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_an_accepted_event_is_always_recordable(event: dict) -> None:
    llm = LLMMetrics(CollectorRegistry())
    try:
        method, kwargs = validate(dict(event), "event")
    except EventError as exc:
        assert exc.field.startswith("event."), exc.field
        return
    getattr(llm, method)(**kwargs)  # must not raise


def test_refusals_name_the_field_and_never_raise_anything_else() -> None:
    for bad, field in [({"type": "request", "provider": "p", "model": "m", "status": {}},
                        "event.status"),
                       ({"type": "provider_state", "provider": "p", "circuit": []},
                        "event.circuit"),
                       ({"type": "request", "provider": "p", "model": "m",
                         "duration_seconds": math.inf}, "event.duration_seconds"),
                       ({"type": "request", "provider": "p", "model": "m",
                         "cache_hit": "no"}, "event.cache_hit"),
                       ({"type": "request", "provider": "p", "model": "m",
                         "input_tokens": True}, "event.input_tokens")]:
        try:
            validate(bad, "event")
        except EventError as exc:
            assert exc.field == field
        else:
            raise AssertionError(f"accepted {bad}")
