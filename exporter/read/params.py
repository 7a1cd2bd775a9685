"""The read routes' query parameters, each with its documented bound.

A read's cost grows with its range and its bucket count, so every number a client sends
is checked against a bound before any work starts: past it, the answer is a 400 naming
the parameter. The same declarations feed the OpenAPI document, so schemathesis fuzzes
them.
"""

from __future__ import annotations

import math
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._exceptions import ParamError

Params = Mapping[str, str]
HOUR, DAY = 3600, 86400
#: The longest range a read covers: a year and a day (8,784 hourly buckets, under
#: Prometheus's 11,000 points per range query).
MAX_RANGE_SECONDS = 366 * DAY
#: How far past now a time may reach (clock skew between the client and the sidecar).
MAX_FUTURE_SECONDS = DAY


@dataclass(frozen=True)
class Number:
    """A number in [low, high] (its default when absent or empty)."""

    name: str
    default: float
    low: float
    high: float
    doc: str
    integer: bool = False

    def read(self, params: Params) -> float:
        raw = params.get(self.name)
        if raw is None or raw == "":
            return self.default
        try:
            value = float(raw)
        except ValueError:
            raise ParamError(self.name, f"must be a number, got {raw[:40]!r}") from None
        if not math.isfinite(value) or not self.low <= value <= self.high:
            raise ParamError(self.name, f"must be in {self.low:g}..{self.high:g}, got "
                                        f"{raw[:40]!r}")
        if self.integer and value != int(value):
            raise ParamError(self.name, f"must be a whole number, got {raw[:40]!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "in": "query", "required": False,
                "description": f"{self.doc} ({self.low:g} to {self.high:g}; default "
                               f"{self.default:g})",
                "schema": {"anyOf": [  # empty means the default
                    {"type": "integer" if self.integer else "number", "minimum": self.low,
                     "maximum": self.high},
                    {"type": "string", "maxLength": 0}]}}


@dataclass(frozen=True)
class Text:
    """A filter value (a label value to match; at most 200 characters)."""

    name: str
    doc: str
    max_length: int = 200

    def read(self, params: Params) -> str | None:
        raw = params.get(self.name)
        if not raw:
            return None
        if len(raw) > self.max_length:
            raise ParamError(self.name, f"at most {self.max_length} characters")
        return raw

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "in": "query", "required": False, "description": self.doc,
                "schema": {"type": "string", "maxLength": self.max_length}}


@dataclass(frozen=True)
class Instant:
    """A time: unix seconds or RFC 3339, from 1970 to a day past now."""

    name: str
    doc: str

    def read(self, params: Params, default: float, now: float) -> float:
        raw = params.get(self.name)
        if raw is None or raw == "":
            return default
        if len(raw) > 40:
            raise ParamError(self.name, "at most 40 characters")
        try:
            value = float(raw)
        except ValueError:
            value = _rfc3339(self.name, raw)
        if not math.isfinite(value) or not 0 <= value <= now + MAX_FUTURE_SECONDS:
            raise ParamError(self.name, "must be a time from 1970 to a day from now, got "
                                        f"{raw[:40]!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"name": self.name, "in": "query", "required": False,
                "description": f"{self.doc} (unix seconds or RFC 3339, 1970 to a day from "
                               "now)", "schema": {"type": "string", "maxLength": 40}}


def rfc3339(raw: str) -> float:
    """Unix seconds of an RFC 3339 time (UTC when it names no offset); ValueError when it
    is none, inf when it is out of the platform's range."""
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return math.inf


def _rfc3339(name: str, raw: str) -> float:
    try:
        return rfc3339(raw)
    except ValueError:
        raise ParamError(name, f"must be unix seconds or RFC 3339, got {raw[:40]!r}") from None


def parse(query: str) -> dict[str, str]:
    """A query string as one value per name; a name given twice is refused (which one
    would count is anyone's guess)."""
    out: dict[str, str] = {}
    for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        if name in out:
            raise ParamError(name[:40], "given more than once")
        out[name] = value
    return out


def time_range(params: Params, start: Instant, end: Instant, default_seconds: float
               ) -> tuple[float, float]:
    """(start, end) of a from/to pair: start before end, at most MAX_RANGE_SECONDS."""
    now = time.time()
    t1 = end.read(params, now, now)
    t0 = start.read(params, t1 - default_seconds, now)
    if not t0 < t1:
        raise ParamError(start.name, f"must be before {end.name}")
    if t1 - t0 > MAX_RANGE_SECONDS:
        raise ParamError(start.name, f"the range may cover at most {MAX_RANGE_SECONDS // DAY} "
                                     f"days, got {(t1 - t0) / DAY:,.1f}")
    return t0, t1


Param = Number | Text | Instant
