"""Instrument the ``openai`` SDK: chat completions, responses and embeddings, sync and
async, streaming and not.

    from exporter import OpenAIInstrumentor
    OpenAIInstrumentor().instrument(metrics=llm, team="search")

Streams: usage comes from the final usage chunk. When the caller has not set
``stream_options``, we ask for it (``include_usage``) and withhold that extra chunk, so
the caller sees exactly the stream it asked for; a caller that set
``include_usage: false`` is respected (tokens are then unknown).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..record.usage import from_openai
from . import _base


def _chat_watch(state: _base.StreamState, call: Any, withhold_usage: bool) -> Any:
    def watch(chunk: Any) -> bool:
        state.model = getattr(chunk, "model", None) or state.model
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            state.usage = from_openai(usage)
        choices = getattr(chunk, "choices", None)
        if choices:
            delta = getattr(choices[0], "delta", None)
            if delta is not None and (getattr(delta, "content", None) or
                                      getattr(delta, "tool_calls", None) or
                                      getattr(delta, "refusal", None)):
                _base.first_token_now(call)
            return False
        return usage is not None and withhold_usage  # the usage chunk we asked for
    return watch


def _responses_watch(state: _base.StreamState, call: Any) -> Any:
    def watch(event: Any) -> bool:
        kind = getattr(event, "type", "")
        if kind.endswith(".delta"):
            _base.first_token_now(call)
        response = getattr(event, "response", None)
        if response is not None:
            state.model = getattr(response, "model", None) or state.model
            if getattr(response, "usage", None) is not None:
                state.usage = from_openai(response.usage)
        return False
    return watch


def _wrap(kind: str, original: Any, *, is_async: bool,
          settings: Callable[[], _base.Target | None]) -> Any:
    """A wrapper for ``create`` of chat completions, responses or embeddings. (Whether it
    is async comes from the class: the SDK's decorators hide it from ``inspect``.)"""

    def prepare(kwargs: dict[str, Any]) -> bool:
        """Ask a chat stream for its usage; True if we added the request."""
        if kind == "chat" and kwargs.get("stream") and "stream_options" not in kwargs:
            kwargs["stream_options"] = {"include_usage": True}
            return True
        return False

    def on_result(result: Any, call: Any, added: bool, is_async: bool) -> Any:
        import openai

        if isinstance(result, (openai.Stream, openai.AsyncStream)):
            state = _base.StreamState()
            watch = _chat_watch(state, call, added) if kind == "chat" \
                else _responses_watch(state, call)
            cls = _base.AsyncStream if is_async else _base.SyncStream
            return cls(result, call, watch, state)
        usage = getattr(result, "usage", None)
        tokens = None
        if usage is not None:
            tokens = from_openai(usage)
            if kind == "embeddings":
                tokens = {"input_tokens": tokens["input_tokens"]}
        _base.finish(call, None, tokens, getattr(result, "model", None))
        return result

    operation = "embeddings" if kind == "embeddings" else "chat"
    return _base.wrap_call(original, is_async, settings, on_result, prepare, operation)


class OpenAIInstrumentor(_base.Instrumentor):
    """Chat completions, responses and embeddings of the ``openai`` SDK."""

    default_provider = "openai"

    def _patch(self, patcher: _base.Patcher) -> None:
        import openai._base_client as base_client

        patcher.patch(base_client.BaseClient, "_build_request", _base.count_attempts)
        import openai.resources.chat.completions as chat
        import openai.resources.embeddings as embeddings
        import openai.resources.responses as responses

        for cls, kind in ((chat.Completions, "chat"), (chat.AsyncCompletions, "chat"),
                          (responses.Responses, "responses"),
                          (responses.AsyncResponses, "responses"),
                          (embeddings.Embeddings, "embeddings"),
                          (embeddings.AsyncEmbeddings, "embeddings")):
            patcher.patch(cls, "create", functools.partial(
                _wrap, kind, is_async=cls.__name__.startswith("Async"),
                settings=self.current))

