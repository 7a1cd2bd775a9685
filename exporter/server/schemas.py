"""Ingest events: their fields, validation, and the OpenAPI document made from them.

Each event type is one method of :class:`~exporter.recorder.LLMMetrics`, and its fields
are that method's keyword arguments, so an event posted over HTTP and a call made in
process produce the same series. A batch is validated whole before any event of it is
applied: one bad event rejects the batch, with its index, and nothing is half-applied.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..catalog import CIRCUIT_STATES, ERROR_TYPES, STATUSES
from ..labels import normalise_model, normalise_optional, normalise_provider
from ..recorder import check_tokens

#: Free-form fields an app may send for its own reasons; accepted, never labels.
FREE_FORM = frozenset({"user_id", "request_id", "trace_id", "session_id", "timestamp",
                       "metadata", "endpoint", "error_message", "batch_id"})


class EventError(ValueError):
    """An event failed validation; ``field`` is its JSON path, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class FieldSpec:
    kind: str
    """label, optional_label, count, nonneg, number, ratio, bool, optional_bool, enum"""
    required: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""


def _label(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


def _count(v: Any) -> bool:
    return type(v) is int and v >= 0


def _nonneg(v: Any) -> bool:
    return type(v) in (int, float) and 0 <= v < math.inf


def _number(v: Any) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "label": (_label, "must be a non-empty string"),
    "optional_label": (lambda v: v is None or isinstance(v, str), "must be a string or null"),
    "count": (_count, "must be an integer >= 0"),
    "nonneg": (lambda v: v is None or _nonneg(v), "must be a finite number >= 0"),
    "number": (lambda v: v is None or _number(v), "must be a finite number"),
    "ratio": (lambda v: v is None or (_number(v) and 0 <= v <= 1), "must be a number in 0..1"),
    "bool": (lambda v: isinstance(v, bool), "must be true or false"),
    "optional_bool": (lambda v: v is None or isinstance(v, bool), "must be true, false or null"),
}

_TOKENS = {
    "input_tokens": FieldSpec("count", doc="all input tokens, cached included"),
    "output_tokens": FieldSpec("count", doc="all output tokens, reasoning included"),
    "cache_read_tokens": FieldSpec("count", doc="input tokens read from the prompt cache"),
    "cache_write_tokens": FieldSpec("count", doc="input tokens written to the prompt cache"),
    "reasoning_tokens": FieldSpec("count", doc="output tokens spent reasoning"),
}
_PM = {"provider": FieldSpec("label", True), "model": FieldSpec("label", True)}

EVENTS: Mapping[str, tuple[str, Mapping[str, FieldSpec]]] = {
    "request": ("record_request", {
        **_PM, **_TOKENS,
        "duration_seconds": FieldSpec("nonneg"),
        "ttft_seconds": FieldSpec("nonneg", doc="time to first token (streaming)"),
        "status": FieldSpec("enum", choices=STATUSES),
        "error_type": FieldSpec("enum", choices=ERROR_TYPES),
        "cache_hit": FieldSpec("optional_bool", doc="your response cache answered it"),
        "team": FieldSpec("optional_label"),
        "tier": FieldSpec("optional_label"),
    }),
    "cache_lookup": ("record_cache_lookup", {
        "cache": FieldSpec("label", True), "hit": FieldSpec("bool", True),
        "duration_seconds": FieldSpec("nonneg"), "similarity": FieldSpec("ratio"),
    }),
    "routing": ("record_routing", {
        "complexity": FieldSpec("label", True), "tier": FieldSpec("label", True),
        "score": FieldSpec("number"), "duration_seconds": FieldSpec("nonneg"),
        "fallback": FieldSpec("bool"),
    }),
    "tier_models": ("set_tier_models", {
        "tier": FieldSpec("label", True), "available": FieldSpec("count", True),
        "total": FieldSpec("count", True),
    }),
    "provider_state": ("set_provider_state", {
        "provider": FieldSpec("label", True), "up": FieldSpec("optional_bool"),
        "circuit": FieldSpec("enum", choices=CIRCUIT_STATES),
    }),
    "batch": ("record_batch", {
        **_PM, **_TOKENS, "size": FieldSpec("count", True),
        "team": FieldSpec("optional_label"), "tier": FieldSpec("optional_label"),
        "duration_seconds": FieldSpec("nonneg"),
        "status": FieldSpec("enum", choices=STATUSES),
        "cost_usd": FieldSpec("nonneg", doc="known cost; replaces the catalog price"),
    }),
    "cache_size": ("set_cache_size", {
        "cache": FieldSpec("label", True), "size_bytes": FieldSpec("nonneg", True)}),
    "vector_index_size": ("set_vector_index_size", {
        "index": FieldSpec("label", True), "size_bytes": FieldSpec("nonneg", True)}),
    "worker_pool": ("set_worker_pool", {
        "pool": FieldSpec("label", True), "active": FieldSpec("count"),
        "queued": FieldSpec("count")}),
}

_LABEL_FIELDS = {"team", "tier", "cache", "complexity", "index", "pool"}


def validate(event: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(recorder method name, keyword arguments) for one event, or EventError."""
    if not isinstance(event, dict):
        raise EventError(where, f"must be an object, got {type(event).__name__}")
    kind = event.get("type")
    spec = EVENTS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise EventError(f"{where}.type", f"must be one of {', '.join(EVENTS)}, got {kind!r}")
    method, fields = spec
    assert isinstance(kind, str)
    kwargs = check_fields(event, fields, where, f"a {kind} event")
    _check_relations(kind, kwargs, where)
    return method, kwargs


def check_fields(obj: dict[str, Any], fields: Mapping[str, FieldSpec], where: str,
                 what: str) -> dict[str, Any]:
    """The non-null fields of ``obj`` after type checks; ``type`` and free-form fields
    are skipped, unknown ones refused (a typo must not silently drop data)."""
    kwargs: dict[str, Any] = {}
    for key, value in obj.items():
        if key == "type" or key in FREE_FORM:
            continue
        f = fields.get(key)
        if f is None:
            raise EventError(f"{where}.{key}", f"unknown field for {what} "
                                               f"(fields: {', '.join(fields)})")
        if f.kind == "enum":
            if value is not None and value not in f.choices:
                raise EventError(f"{where}.{key}", f"must be one of {', '.join(f.choices)}, "
                                                   f"got {value!r}")
        elif not _CHECKS[f.kind][0](value):
            raise EventError(f"{where}.{key}", f"{_CHECKS[f.kind][1]}, got {value!r}")
        if value is not None:
            kwargs[key] = value
    for key, f in fields.items():
        if f.required and key not in kwargs:
            raise EventError(f"{where}.{key}", "is required")
    return kwargs


def check_labels(kw: Mapping[str, Any], where: str) -> None:
    """Label values the recorder would refuse (empty provider or model ...)."""
    try:
        if "provider" in kw:
            provider = normalise_provider(kw["provider"])
            if "model" in kw:
                normalise_model(provider, kw["model"])
        for key in _LABEL_FIELDS & kw.keys():
            normalise_optional(key, kw[key])
    except ValueError as exc:
        raise EventError(f"{where}.{str(exc).split()[0]}", str(exc)) from None


def _check_relations(kind: str, kw: dict[str, Any], where: str) -> None:
    """What the recorder would refuse, checked before any event of a batch is applied."""
    if "input_tokens" in _fields(kind):
        try:
            check_tokens(**{k: kw.get(k, 0) for k in _TOKENS})
        except ValueError as exc:
            raise EventError(f"{where}.{str(exc).split()[0]}", str(exc)) from None
    if kw.get("error_type") is not None and kw.get("status", "success") != "error":
        raise EventError(f"{where}.error_type", "only valid with status \"error\"")
    if kind == "tier_models" and kw["available"] > kw["total"]:
        raise EventError(f"{where}.available", "must not exceed total")
    check_labels(kw, where)


def _fields(kind: str) -> Mapping[str, FieldSpec]:
    return EVENTS[kind][1]


_JSON_TYPES: dict[str, dict[str, Any]] = {"label": {"type": "string", "minLength": 1},
               "optional_label": {"type": ["string", "null"]},
               "count": {"type": "integer", "minimum": 0},
               "nonneg": {"type": ["number", "null"], "minimum": 0},
               "number": {"type": ["number", "null"]},
               "ratio": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
               "bool": {"type": "boolean"},
               "optional_bool": {"type": ["boolean", "null"]}}


def event_json_schemas() -> dict[str, Any]:
    """JSON Schema of each event type, for the OpenAPI document."""
    out: dict[str, Any] = {}
    for kind, (_, fields) in EVENTS.items():
        props: dict[str, Any] = {"type": {"const": kind}}
        for name, f in fields.items():
            schema: dict[str, Any] = {"enum": list(f.choices)} if f.kind == "enum" \
                else dict(_JSON_TYPES[f.kind])
            if f.doc:
                schema["description"] = f.doc
            props[name] = schema
        for name in sorted(FREE_FORM):
            props[name] = {"description": "free-form; accepted, never a label"}
        out[kind] = {"type": "object", "properties": props, "additionalProperties": False,
                     "required": ["type", *[n for n, f in fields.items() if f.required]]}
    return out
