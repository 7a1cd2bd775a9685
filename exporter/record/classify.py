"""Map an exception raised by an LLM call to the bounded ``error_type`` set.

Works by duck typing (class names, ``status_code``), so it understands the OpenAI,
Anthropic, httpx and requests exceptions without importing any of them.
"""

from __future__ import annotations

import asyncio
import socket

_NAME_HINTS = (
    ("ratelimit", "rate_limit"),
    ("toomanyrequests", "rate_limit"),
    ("timeout", "timeout"),
    ("timedout", "timeout"),
    ("contentfilter", "content_filter"),
    ("contentpolicy", "content_filter"),
    ("safety", "content_filter"),
    ("internalserver", "server_error"),
    ("serviceunavailable", "server_error"),
    ("overloaded", "server_error"),
    ("badrequest", "client_error"),
    ("authentication", "client_error"),
    ("permissiondenied", "client_error"),
    ("notfound", "client_error"),
    ("unprocessable", "client_error"),
)


def _status_code(exc: BaseException) -> int | None:
    for obj in (exc, getattr(exc, "response", None)):
        code = getattr(obj, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def classify(exc: BaseException) -> str:
    """The error_type for ``exc``: rate_limit, timeout, server_error, client_error,
    content_filter or other."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError, socket.timeout)):
        return "timeout"
    for cls in type(exc).__mro__:
        name = cls.__name__.lower().replace("_", "")
        for hint, error_type in _NAME_HINTS:
            if hint in name:
                return error_type
    code = _status_code(exc)
    if code is not None:
        if code == 429:
            return "rate_limit"
        if code in (408, 504):
            return "timeout"
        if code >= 500:
            return "server_error"
        if code >= 400:
            return "client_error"
    return "other"
