"""The value rules every entry point shares, as pure functions.

The recorder, the ingest contract (:mod:`exporter.ingest.events`), the OpenTelemetry path, the
settings and the rules generator all check numbers, seconds, token counts, statuses and
names here, so a value refused in one place is refused everywhere with the same words.
Booleans are never numbers: ``True`` is not one token or one second.

Each rule is a predicate (``is_count``...) for hot loops that only need yes or no, and
a checker (``count(name, value)``...) that raises :class:`InvalidValue` naming the field.
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from .._exceptions import InvalidValue
from ..catalog import CIRCUIT_STATES, ERROR_TYPES, STATUSES

__all__ = [
    "MAX_COUNT", "MAX_SECONDS", "InvalidValue", "amount", "check_tokens", "circuit", "count",
    "error_type", "finite", "flag", "is_amount", "is_count", "is_finite", "is_flag",
    "is_number", "is_ratio", "is_seconds", "namespace", "ratio", "seconds", "status",
]

_INF = float("inf")
MAX_SECONDS = 7 * 86400.0
"""The longest duration accepted: a week (a batch job may take a day; more is a unit
mistake, and 1e308 seconds would turn every histogram sum into +Inf)."""
MAX_COUNT = 2**53
"""The largest count or amount accepted: beyond it a float64 sum stops counting by one."""
_NAMESPACE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def is_number(v: Any) -> bool:
    """An int or float, and not a bool (``True`` is an int to Python, not to us)."""
    c = v.__class__
    return c is float or c is int or (isinstance(v, (int, float)) and c is not bool)


def is_count(v: Any) -> bool:
    if v.__class__ is int:  # the common case first: these run for every ingested field
        return 0 <= v <= MAX_COUNT  # type: ignore[no-any-return]
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COUNT


def is_seconds(v: Any) -> bool:
    """A duration in 0..MAX_SECONDS."""
    c = v.__class__
    if c is float or c is int:
        return 0 <= v <= MAX_SECONDS  # type: ignore[no-any-return]
    return is_number(v) and 0 <= v <= MAX_SECONDS


def is_amount(v: Any) -> bool:
    """A size or an amount of money: a number in 0..MAX_COUNT."""
    return is_number(v) and 0 <= v <= MAX_COUNT


def is_finite(v: Any) -> bool:
    """A number within +-MAX_COUNT (so sums of them stay finite)."""
    return is_number(v) and -MAX_COUNT <= v <= MAX_COUNT


def is_ratio(v: Any) -> bool:
    return is_number(v) and 0 <= v <= 1


def is_flag(v: Any) -> bool:
    return v is True or v is False


def count(name: str, v: Any) -> int:
    if not is_count(v):
        raise InvalidValue(name, f"must be an integer in 0..2^53, got {v!r}")
    return v  # type: ignore[no-any-return]


def seconds(name: str, v: Any) -> float:
    if not is_seconds(v):
        raise InvalidValue(name, f"must be a finite number of seconds in 0..{MAX_SECONDS:g} "
                                 f"(a week), got {v!r}")
    return v  # type: ignore[no-any-return]


def amount(name: str, v: Any) -> float:
    if not is_amount(v):
        raise InvalidValue(name, f"must be a finite number in 0..2^53, got {v!r}")
    return v  # type: ignore[no-any-return]


def finite(name: str, v: Any, minimum: float = -_INF) -> float:
    """A finite number >= ``minimum``."""
    if not is_finite(v) or v < minimum:
        lower = "" if minimum == -_INF else f" >= {minimum:g}"
        raise InvalidValue(name, f"must be a finite number{lower} (within +-2^53), got {v!r}")
    return v  # type: ignore[no-any-return]


def ratio(name: str, v: Any) -> float:
    if not is_ratio(v):
        raise InvalidValue(name, f"must be a number in 0..1, got {v!r}")
    return v  # type: ignore[no-any-return]


def flag(name: str, v: Any) -> bool:
    """True or False; ``"no"``, 0 and 1 are errors, not truthy or falsy values."""
    if not is_flag(v):
        raise InvalidValue(name, f"must be true or false, got {v!r}")
    return v  # type: ignore[no-any-return]


def _choice(name: str, v: Any, choices: tuple[str, ...]) -> str:
    if v.__class__ is not str or v not in choices:
        raise InvalidValue(name, f"must be one of {', '.join(choices)}, got {v!r}")
    return v  # type: ignore[no-any-return]


def status(v: Any) -> str:
    return _choice("status", v, STATUSES)


def error_type(v: Any, status_value: str) -> str | None:
    """A request's error_type: one of the bounded set, and only on a failed request."""
    if v is None:
        return None
    _choice("error_type", v, ERROR_TYPES)
    if status_value != "error":
        raise InvalidValue("error_type", "is only valid with status \"error\"")
    return v  # type: ignore[no-any-return]


def circuit(v: Any) -> str:
    return _choice("circuit", v, CIRCUIT_STATES)


def namespace(v: Any, field: str = "namespace") -> str:
    """A metric name prefix: what Prometheus allows at the start of a name."""
    if v.__class__ is not str or not _NAMESPACE.fullmatch(v):
        raise InvalidValue(field, f"must match [a-zA-Z_][a-zA-Z0-9_]*, got {v!r}")
    return v  # type: ignore[no-any-return]


def check_tokens(input_tokens: Any = 0, output_tokens: Any = 0, cache_read_tokens: Any = 0,
                 cache_write_tokens: Any = 0, reasoning_tokens: Any = 0,
                 cache_write_1h_tokens: Any = 0) -> None:
    """Token counts that make one usage: counts, cache within input, reasoning within
    output (input and output count everything, as OpenAI's usage does)."""
    count("input_tokens", input_tokens)
    count("output_tokens", output_tokens)
    count("cache_read_tokens", cache_read_tokens)
    count("cache_write_tokens", cache_write_tokens)
    count("reasoning_tokens", reasoning_tokens)
    count("cache_write_1h_tokens", cache_write_1h_tokens)
    if cache_write_1h_tokens > cache_write_tokens:
        raise InvalidValue(
            "cache_write_1h_tokens", f"must not exceed cache_write_tokens "
            f"({cache_write_1h_tokens} > {cache_write_tokens}): they are the cache writes "
            "that went to the 1-hour cache")
    if cache_read_tokens + cache_write_tokens > input_tokens:
        raise InvalidValue(
            "cache_read_tokens", "+ cache_write_tokens must not exceed input_tokens "
            f"({cache_read_tokens} + {cache_write_tokens} > {input_tokens}): input_tokens "
            "counts all input, cached included (convert Anthropic usage with from_anthropic)")
    if reasoning_tokens > output_tokens:
        raise InvalidValue(
            "reasoning_tokens", f"must not exceed output_tokens ({reasoning_tokens} > "
            f"{output_tokens}): output_tokens counts all output, reasoning included")


def refuse_request(input_tokens: Any, output_tokens: Any, cache_read_tokens: Any,
                   cache_write_tokens: Any, reasoning_tokens: Any, cache_write_1h_tokens: Any,
                   duration_seconds: Any, ttft_seconds: Any) -> NoReturn:
    """Raise the error that names what is wrong with a request the hot path refused."""
    check_tokens(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
                 reasoning_tokens, cache_write_1h_tokens)
    for name, value in (("duration_seconds", duration_seconds), ("ttft_seconds", ttft_seconds)):
        if value is not None:
            seconds(name, value)
    raise ValueError("token counts must be ints")  # an int-like we cannot index with
