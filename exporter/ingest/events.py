"""The ingest contract: event types, their fields, their checks and JSON Schema.

Each event type is one method of :class:`~exporter.record.recorder.LLMMetrics`, and its fields
are that method's keyword arguments (a test holds them equal), so an event posted over
HTTP and a call made in process produce the same series. A batch is validated whole
before any event of it is applied: one bad event rejects the batch, with its index, and
nothing is half-applied. The sidecar and the client both import this module; it imports
neither the server nor the recorder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import EventError
from ..cardinality import CANONICAL, normalise_model, normalise_optional, normalise_provider
from ..catalog import CIRCUIT_STATES, ERROR_TYPES, STATUSES
from ..record.validation import (
    MAX_COUNT,
    MAX_SECONDS,
    InvalidValue,
    check_tokens,
    is_amount,
    is_count,
    is_finite,
    is_flag,
    is_ratio,
    is_seconds,
)

#: Free-form fields an app may send for its own reasons; accepted, never labels.
FREE_FORM = frozenset({"user_id", "request_id", "trace_id", "session_id", "timestamp",
                       "metadata", "endpoint", "error_message", "batch_id",
                       "api_key_hash"})


def _label(v: Any) -> bool:
    return v.__class__ is str and bool(v.strip())


def _optional_label(v: Any) -> bool:
    return v is None or v.__class__ is str


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _optional_seconds(v: Any) -> bool:  # the commonest optional field: one call, not two
    return v is None or is_seconds(v)


def _optional_ms(v: Any) -> bool:
    return v is None or (is_amount(v) and v <= MAX_SECONDS * 1000)


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "label": (_label, "must be a non-empty string"),
    "optional_label": (_optional_label, "must be a string or null"),
    "count": (is_count, "must be an integer in 0..2^53"),
    "seconds": (_optional_seconds, f"must be a number of seconds in 0..{MAX_SECONDS:g} "
                                   "(a week)"),
    "ms": (_optional_ms, f"must be a number of milliseconds in 0..{MAX_SECONDS * 1000:g} "
                         "(a week)"),
    "nonneg": (_optional(is_amount), "must be a finite number in 0..2^53"),
    "number": (_optional(is_finite), "must be a finite number within +-2^53"),
    "ratio": (_optional(is_ratio), "must be a number in 0..1"),
    "bool": (is_flag, "must be true or false"),
    "optional_bool": (_optional(is_flag), "must be true, false or null"),
}

@dataclass(frozen=True)
class FieldSpec:
    kind: str
    """label, optional_label, count, seconds, ms, nonneg, number, ratio, bool, optional_bool,
    enum"""
    required: bool = False
    choices: tuple[str, ...] = ()
    doc: str = ""
    check: Callable[[Any], bool] = field(init=False, repr=False, compare=False)
    """The type check for this field, looked up once rather than per value."""

    def __post_init__(self) -> None:
        if self.kind == "enum":
            choices = frozenset(self.choices)
            object.__setattr__(self, "check",
                               lambda v: v is None or (v.__class__ is str and v in choices))
        else:
            object.__setattr__(self, "check", _CHECKS[self.kind][0])

    def reason(self, value: Any) -> str:
        if self.kind == "enum":
            return f"must be one of {', '.join(self.choices)}, got {value!r}"
        return f"{_CHECKS[self.kind][1]}, got {value!r}"


_TOKENS = {
    "input_tokens": FieldSpec("count", doc="all input tokens, cached included"),
    "output_tokens": FieldSpec("count", doc="all output tokens, reasoning included"),
    "cache_read_tokens": FieldSpec("count", doc="input tokens read from the prompt cache"),
    "cache_write_tokens": FieldSpec("count", doc="input tokens written to the prompt cache"),
    "cache_write_1h_tokens": FieldSpec("count", doc="of the cache writes, those to a 1-hour "
                                                    "cache (Anthropic)"),
    "reasoning_tokens": FieldSpec("count", doc="output tokens spent reasoning"),
}
_PM = {"provider": FieldSpec("label", True), "model": FieldSpec("label", True)}

EVENTS: Mapping[str, tuple[str, Mapping[str, FieldSpec]]] = {
    "request": ("record_request", {
        **_PM, **_TOKENS,
        "duration_seconds": FieldSpec("seconds"),
        "ttft_seconds": FieldSpec("seconds", doc="time to first token (streaming)"),
        "status": FieldSpec("enum", choices=STATUSES),
        "error_type": FieldSpec("enum", choices=ERROR_TYPES),
        "cache_hit": FieldSpec("optional_bool", doc="your response cache answered it"),
        "team": FieldSpec("optional_label"),
        "tier": FieldSpec("optional_label"),
        "trace_id": FieldSpec("optional_label", doc="becomes an exemplar (OpenMetrics)"),
    }),
    "cache_lookup": ("record_cache_lookup", {
        "cache": FieldSpec("label", True), "hit": FieldSpec("bool", True),
        "duration_seconds": FieldSpec("seconds"), "similarity": FieldSpec("ratio"),
        "count": FieldSpec("count", doc="that many identical lookups (default 1)"),
        "team": FieldSpec("optional_label"),
    }),
    "routing": ("record_routing", {
        "complexity": FieldSpec("label", True), "tier": FieldSpec("label", True),
        "score": FieldSpec("number"), "duration_seconds": FieldSpec("seconds"),
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
        "duration_seconds": FieldSpec("seconds"),
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
    "retries": ("record_retries", {
        **_PM, "count": FieldSpec("count", doc="attempts retried beyond the first (default 1)")}),
}

_LABEL_FIELDS = ("team", "tier", "cache", "complexity", "index", "pool")


def validate(event: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(recorder method name, keyword arguments) for one event, or EventError. To spare
    a copy per event, the arguments may be ``event`` itself with ``type`` removed."""
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
    skipped = 0
    for key, value in obj.items():
        f = fields.get(key)
        if f is None:
            if key == "type" or key in FREE_FORM:
                skipped += 1
                continue
            raise EventError(f"{where}.{key}", f"unknown field for {what} "
                                               f"(fields: {', '.join(fields)})")
        if not f.check(value):
            if f.kind == "count" and value.__class__ is float and value.is_integer() \
                    and is_count(int(value)):
                obj[key] = int(value)  # JSON's 3.0 is the integer 3 (JSON Schema agrees)
                continue
            raise EventError(f"{where}.{key}", f.reason(value))
        if value is None:
            skipped += 1
    for key in _required(fields):
        if obj.get(key) is None:  # absent or null: the recorder needs a value
            raise EventError(f"{where}.{key}", "is required")
    if skipped == 1 and "type" in obj:  # the common case: reuse the parsed dict
        del obj["type"]
        return obj
    return {k: v for k, v in obj.items() if v is not None and k in fields}


_REQUIRED: dict[int, tuple[str, ...]] = {}


def _required(fields: Mapping[str, FieldSpec]) -> tuple[str, ...]:
    """The required field names of a field table (the tables are module constants)."""
    names = _REQUIRED.get(id(fields))
    if names is None:
        names = _REQUIRED[id(fields)] = tuple(k for k, f in fields.items() if f.required)
    return names


def check_labels(kw: Mapping[str, Any], where: str) -> None:
    """Label values the recorder would refuse (empty provider or model ...), found
    before any event of a batch is applied. Values normalised before are looked up in
    the normalisers' memory without a call (this runs for every event); otherwise each
    is normalised, and so remembered for the recorder."""
    try:
        if _all_known(kw):
            return
    except TypeError:  # an unhashable value: the normaliser names it
        pass
    try:
        provider = kw.get("provider")
        if provider is not None:
            p = normalise_provider(provider)
            if kw.get("model") is not None:
                normalise_model(p, kw["model"])
        for name in _LABEL_FIELDS:
            if kw.get(name) is not None:
                normalise_optional(name, kw[name])
    except ValueError as exc:
        raise EventError(f"{where}.{str(exc).split()[0]}", str(exc)) from None


def _all_known(kw: Mapping[str, Any]) -> bool:
    """Whether every label value of ``kw`` was normalised before (TypeError for an
    unhashable one)."""
    known = CANONICAL
    provider = kw.get("provider")
    if provider is not None:
        p = known.get(("provider", "", provider))
        model = kw.get("model")
        if p is None or (model is not None and ("model", p, model) not in known):
            return False
    for name in _LABEL_FIELDS:
        value = kw.get(name)
        if value is not None and (name, "", value) not in known:
            return False
    return True


def _check_relations(kind: str, kw: dict[str, Any], where: str) -> None:
    """What the recorder would refuse, checked before any event of a batch is applied."""
    if kind == "request" or kind == "batch":
        g = kw.get
        if g("input_tokens", 0) < g("cache_read_tokens", 0) + g("cache_write_tokens", 0) \
                or g("output_tokens", 0) < g("reasoning_tokens", 0) \
                or g("cache_write_tokens", 0) < g("cache_write_1h_tokens", 0):
            try:
                check_tokens(**{k: g(k, 0) for k in _TOKENS})
            except InvalidValue as exc:
                raise EventError(f"{where}.{exc.field}", exc.reason) from None
        if g("error_type") is not None and g("status", "success") != "error":
            raise EventError(f"{where}.error_type", "only valid with status \"error\"")
    elif kind == "tier_models" and kw["available"] > kw["total"]:
        raise EventError(f"{where}.available", "must not exceed total")
    check_labels(kw, where)


_JSON_TYPES: dict[str, dict[str, Any]] = {"label": {"type": "string", "pattern": "\\S"},
               "optional_label": {"type": ["string", "null"]},
               "count": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
               "seconds": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_SECONDS},
               "ms": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_SECONDS * 1000},
               "nonneg": {"type": ["number", "null"], "minimum": 0, "maximum": MAX_COUNT},
               "number": {"type": ["number", "null"], "minimum": -MAX_COUNT,
                          "maximum": MAX_COUNT},
               "ratio": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
               "bool": {"type": "boolean"},
               "optional_bool": {"type": ["boolean", "null"]}}


def json_schema(f: FieldSpec) -> dict[str, Any]:
    """One field's JSON Schema; a required field cannot be null."""
    schema: dict[str, Any] = {"enum": [*f.choices, None]} if f.kind == "enum" \
        else dict(_JSON_TYPES[f.kind])
    if f.required and isinstance(schema.get("type"), list):
        schema["type"] = [t for t in schema["type"] if t != "null"][0]
    return schema


def event_json_schemas() -> dict[str, Any]:
    """JSON Schema of each event type, for the OpenAPI document."""
    out: dict[str, Any] = {}
    for kind, (_, fields) in EVENTS.items():
        props: dict[str, Any] = {"type": {"const": kind}}
        for name, f in fields.items():
            schema = json_schema(f)
            if f.doc:
                schema["description"] = f.doc
            props[name] = schema
        for name in sorted(FREE_FORM):
            props[name] = {"description": "free-form; accepted, never a label"}
        out[kind] = {"type": "object", "properties": props, "additionalProperties": False,
                     "required": ["type", *[n for n, f in fields.items() if f.required]]}
    return out
