"""Instrument the ``anthropic`` SDK: ``messages.create`` (streaming or not) and
``messages.stream``, sync and async.

    from exporter import AnthropicInstrumentor
    AnthropicInstrumentor().instrument(metrics=llm)

Anthropic counts cache reads and writes apart from ``input_tokens``; the usage is
converted (``exporter.from_anthropic``) so input means all input, as everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..record.usage import from_anthropic
from . import _base

_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens",
           "cache_creation_input_tokens")
_SPLIT = ("ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens")


def _take(raw: dict[str, Any], usage: Any, keep_zero: bool) -> None:
    """A stream event's usage into ``raw``: the counts, and the cache writes' split by
    lifetime (``cache_creation``), which prices 1-hour writes apart."""
    for key in _COUNTS:
        value = getattr(usage, key, None)
        if value or keep_zero:
            raw[key] = value or 0
    split = getattr(usage, "cache_creation", None)
    if split is not None:
        found = {k: getattr(split, k, None) or 0 for k in _SPLIT}
        if keep_zero or any(found.values()):  # a later all-zero split is no news
            raw["cache_creation"] = found


def _watch(state: _base.StreamState, call: Any) -> Any:
    """Follow raw stream events: message_start has the input usage, message_delta the
    output usage so far (cumulative), the first content delta is the first token."""
    raw: dict[str, Any] = {}

    def watch(event: Any) -> bool:
        kind = getattr(event, "type", "")
        if kind == "message_start":
            message = event.message
            state.model = getattr(message, "model", None)
            _take(raw, message.usage, keep_zero=True)
        elif kind == "content_block_delta":
            _base.first_token_now(call)
        elif kind == "message_delta":
            usage = getattr(event, "usage", None)
            if usage is not None:
                _take(raw, usage, keep_zero=False)
        if raw:
            state.usage = from_anthropic(raw)
        return False
    return watch


def _wrap_create(original: Any, *, is_async: bool,
                 settings: Callable[[], _base.Target | None]) -> Any:
    def result_of(result: Any, call: Any, is_async: bool) -> Any:
        import anthropic

        if isinstance(result, (anthropic.Stream, anthropic.AsyncStream)):
            state = _base.StreamState()
            cls = _base.AsyncStream if is_async else _base.SyncStream
            return cls(result, call, _watch(state, call), state)
        usage = getattr(result, "usage", None)
        _base.finish(call, None, from_anthropic(usage) if usage is not None else None,
                     getattr(result, "model", None))
        return result

    return _base.wrap_call(original, is_async, settings,
                           lambda result, call, _, asynchronous: result_of(result, call,
                                                                           asynchronous))


class _StreamManager:
    """Wraps ``messages.stream(...)``'s manager: the request starts on enter; the raw
    event stream is watched whichever way the caller consumes it (iteration, text_stream,
    get_final_message, until_done); the call is recorded on exit."""

    def __init__(self, manager: Any, settings: _base.Target, resource: Any,
                 model: Any) -> None:
        self._manager, self._settings, self._resource, self._model = \
            manager, settings, resource, model
        self._call: Any = None
        self._state = _base.StreamState()

    def _begin(self, stream: Any) -> Any:
        raw = getattr(stream, "_raw_stream", None)
        if raw is not None and hasattr(raw, "__iter__"):
            stream._raw_stream = _base.SyncStream(raw, None, _watch(self._state, self._call),
                                                  self._state)
        elif raw is not None:
            stream._raw_stream = _base.AsyncStream(raw, None,
                                                   _watch(self._state, self._call),
                                                   self._state)
        return stream

    def __enter__(self) -> Any:
        self._call = _base.start(self._settings, self._resource, self._model)
        token = _base.CALL.set(self._call)
        try:
            stream = self._manager.__enter__()
        except BaseException as exc:
            _base.finish(self._call, exc)
            raise
        finally:
            _base.CALL.reset(token)
        return self._begin(stream)

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._manager.__exit__(*exc)
        finally:
            _base.finish(self._call, exc[1], self._state.usage, self._state.model)

    async def __aenter__(self) -> Any:
        self._call = _base.start(self._settings, self._resource, self._model)
        token = _base.CALL.set(self._call)
        try:
            stream = await self._manager.__aenter__()
        except BaseException as exc:
            _base.finish(self._call, exc)
            raise
        finally:
            _base.CALL.reset(token)
        return self._begin(stream)

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._manager.__aexit__(*exc)
        finally:
            _base.finish(self._call, exc[1], self._state.usage, self._state.model)


def _wrap_stream(original: Any, *, settings: Callable[[], _base.Target | None]) -> Any:
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        manager = original(self, *args, **kwargs)
        current = settings()
        if current is None:
            return manager
        return _StreamManager(manager, current, self, kwargs.get("model"))
    return wrapper


class AnthropicInstrumentor(_base.Instrumentor):
    """``messages.create`` (streaming or not) and ``messages.stream`` of ``anthropic``."""

    default_provider = "anthropic"

    def _patch(self, patcher: _base.Patcher) -> None:
        import anthropic._base_client as base_client

        patcher.patch(base_client.BaseClient, "_build_request", _base.count_attempts)
        import anthropic.resources.messages as messages

        for cls in (messages.Messages, messages.AsyncMessages):
            patcher.patch(cls, "create", functools.partial(
                _wrap_create, is_async=cls.__name__.startswith("Async"),
                settings=self.current))
            patcher.patch(cls, "stream", functools.partial(_wrap_stream,
                                                           settings=self.current))

