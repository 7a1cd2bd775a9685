"""What the OpenAI and Anthropic instrumentations share: the :class:`Instrumentor` base,
patching, per-call state, and proxies that record a stream when it ends."""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from ..record.call import Call
from ..record.context import current
from ..record.recorder import LLMMetrics, current_trace_id

log = logging.getLogger(__name__)

_lock = threading.Lock()
_default: LLMMetrics | None = None
#: The call whose SDK method is running in this context, for its retry count.
CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("llm_call", default=None)

#: API hosts of providers reached through an OpenAI- or Anthropic-style client.
HOSTS = {"api.openai.com": "openai", "openai.azure.com": "azure", "api.anthropic.com":
         "anthropic", "api.groq.com": "groq", "api.deepseek.com": "deepseek",
         "generativelanguage.googleapis.com": "google", "openrouter.ai": "openrouter",
         "api.together.xyz": "together", "api.mistral.ai": "mistral", "api.x.ai": "x-ai",
         "api.fireworks.ai": "fireworks", "api.perplexity.ai": "perplexity"}


def default_metrics() -> LLMMetrics:
    """One shared recorder on the default registry, for ``instrument()`` without one."""
    global _default
    with _lock:
        if _default is None:
            _default = LLMMetrics()
        return _default


class Target:
    """What ``instrument()`` was told (the recorder, the labels, the provider); the
    wrappers read it on every call."""

    def __init__(self, metrics: LLMMetrics, team: str | None, tier: str | None,
                 provider: str | None, default_provider: str) -> None:
        self.metrics, self.team, self.tier = metrics, team, tier
        self.provider, self.default_provider = provider, default_provider

    def provider_for(self, resource: Any) -> str:
        """The explicit provider, else the one the client's base URL points at."""
        if self.provider:
            return self.provider
        try:
            host = urlsplit(str(resource._client.base_url)).hostname or ""
        except Exception:  # an SDK without base_url: the SDK's own provider
            return self.default_provider
        for suffix, provider in HOSTS.items():
            if host == suffix or host.endswith("." + suffix):
                return provider
        return self.default_provider


def start(settings: Target, resource: Any, model: Any, operation: str = "chat"
          ) -> Call | None:
    """Open a tracked call; None (and a log line) if anything goes wrong in our code."""
    try:
        team, tier = current()
        call = settings.metrics.track(provider=settings.provider_for(resource),
                                      model=str(model or "unknown"),
                                      team=team if team is not None else settings.team,
                                      tier=tier if tier is not None else settings.tier,
                                      trace_id=current_trace_id())
        call.operation = operation
        call.__enter__()
        return call
    except Exception:
        log.exception("llm-exporter could not start tracking a call")
        return None


def finish(call: Call | None, exc: BaseException | None = None,
           usage: dict[str, int] | None = None, model: Any = None) -> None:
    """Record the call (the proxies make sure it is once). Never raises: the caller's own
    exception must win.

    The label (and the price) stays the requested model: the answer names a dated model
    (gpt-4o-2024-08-06) that a failed call never gets, and successes and failures of one
    call site must share a series. ``model``, the answered one, is kept for OpenTelemetry's
    gen_ai.response.model."""
    if call is None:
        return
    try:
        if model:
            call.response_model = str(model)
        if usage:
            call.usage(**usage)
        call.__exit__(type(exc) if exc else None, exc, None)
    except Exception:
        log.exception("llm-exporter could not record a call")


class Patcher:
    """Replaces methods on SDK classes and puts the originals back."""

    def __init__(self) -> None:
        self.originals: dict[tuple[type, str], Any] = {}

    def patch(self, cls: type, name: str, make: Callable[[Any], Any]) -> None:
        if (cls, name) in self.originals:
            return  # already patched: instrument() is idempotent
        original = cls.__dict__.get(name)
        if original is None:
            return  # this SDK version has no such method
        wrapper = make(original)
        functools.update_wrapper(wrapper, original)
        setattr(cls, name, wrapper)
        self.originals[(cls, name)] = original

    def restore(self) -> None:
        for (cls, name), original in self.originals.items():
            setattr(cls, name, original)
        self.originals.clear()


class Instrumentor:
    """Instruments one SDK. Patching is process-wide, so each subclass has one instance
    (constructing it again returns it). ``instrument()`` is idempotent (a second call
    only updates the settings); ``uninstrument()`` puts the SDK back as it was."""

    default_provider: str = ""
    """The provider when neither ``provider=`` nor the client's base URL says another."""
    _instances: dict[type, Instrumentor] = {}

    def __new__(cls) -> Instrumentor:
        with _lock:
            instance = Instrumentor._instances.get(cls)
            if instance is None:
                instance = Instrumentor._instances[cls] = super().__new__(cls)
                instance.settings = None
                instance._patcher = Patcher()
            return instance

    settings: Target | None
    _patcher: Patcher

    def instrument(self, metrics: LLMMetrics | None = None, *, team: str | None = None,
                   tier: str | None = None, provider: str | None = None) -> None:
        """Measure every call of the SDK from now on. ``provider`` defaults to the one
        the client's base URL points at (openai, azure, groq, ...)."""
        self.settings = Target(metrics or default_metrics(), team, tier, provider,
                                 self.default_provider)
        self._patch(self._patcher)

    def uninstrument(self) -> None:
        """Put the SDK back as it was."""
        self._patcher.restore()
        self.settings = None

    @property
    def is_instrumented(self) -> bool:
        return self.settings is not None

    def current(self) -> Target | None:
        """The settings the wrappers read on every call (None: pass calls through)."""
        return self.settings

    def _patch(self, patcher: Patcher) -> None:
        """Patch the SDK's classes (imported here: the SDK is only needed once used)."""
        raise NotImplementedError


def wrap_call(original: Any, is_async: bool, settings: Callable[[], Target | None],
              on_result: Callable[[Any, Call | None, Any, bool], Any],
              prepare: Callable[[dict[str, Any]], Any] = lambda kwargs: None,
              operation: str = "chat") -> Any:
    """The wrapper of one SDK method: start tracking, call the original, record a failure
    and re-raise it untouched, else hand the result to ``on_result(result, call, prepared,
    is_async)``. ``prepare(kwargs)`` may adjust the request first (and says what it did).
    Whether the method is async comes from its class: the SDKs' decorators hide it from
    ``inspect``."""
    if is_async:
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            current_settings = settings()
            if current_settings is None:
                return await original(self, *args, **kwargs)
            prepared = prepare(kwargs)
            call = start(current_settings, self, kwargs.get("model"), operation)
            token = CALL.set(call)
            try:
                result = await original(self, *args, **kwargs)
            except BaseException as exc:
                finish(call, exc)
                raise
            finally:
                CALL.reset(token)
            return on_result(result, call, prepared, True)
        return async_wrapper

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        current_settings = settings()
        if current_settings is None:
            return original(self, *args, **kwargs)
        prepared = prepare(kwargs)
        call = start(current_settings, self, kwargs.get("model"), operation)
        token = CALL.set(call)
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            finish(call, exc)
            raise
        finally:
            CALL.reset(token)
        return on_result(result, call, prepared, False)
    return wrapper


def count_attempts(original: Any) -> Any:
    """Wraps the SDKs' ``BaseClient._build_request``, which their retry loop calls once
    per attempt with ``retries_taken``: the running call learns how often it was retried.
    (The openai and anthropic SDKs share this code generator's client; an SDK version
    without the argument is simply not counted.)"""
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        retries = kwargs.get("retries_taken")
        if retries:
            call = CALL.get()
            if call is not None and retries > call.retries:
                call.retries = retries
        return original(self, *args, **kwargs)
    return wrapper


def first_token_now(call: Call | None) -> None:
    if call is not None:
        try:
            call.first_token()
        except Exception:
            log.exception("llm-exporter could not mark the first token")


class StreamState:
    """What a stream proxy learns from the items it passes on."""

    def __init__(self) -> None:
        self.usage: dict[str, int] | None = None
        self.model: Any = None
        self.started = time.perf_counter()


class _Proxy:
    """What both stream proxies share: watching an item, recording once at the end."""

    def __init__(self, stream: Any, call: Call | None, watch: Callable[[Any], bool],
                 state: StreamState) -> None:
        self._stream, self._call, self._watch, self._state = stream, call, watch, state

    def _withhold(self, item: Any) -> bool:
        try:
            return self._watch(item)
        except Exception:
            log.exception("llm-exporter could not read a stream chunk")
            return False

    def _end(self, exc: BaseException | None) -> None:
        finish(self._call, exc, self._state.usage, self._state.model)
        self._call = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class SyncStream(_Proxy):
    """Passes a sync stream's items on, watching each; records when it ends, fails or is
    closed. ``watch(item)`` returns True to withhold an item the caller did not ask for."""

    def __init__(self, stream: Any, call: Call | None, watch: Callable[[Any], bool],
                 state: StreamState) -> None:
        super().__init__(stream, call, watch, state)
        self._it = iter(stream)

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = next(self._it)
            except StopIteration:
                self._end(None)
                raise
            except BaseException as exc:
                self._end(exc)
                raise
            if not self._withhold(item):
                return item

    def __enter__(self) -> SyncStream:
        if hasattr(self._stream, "__enter__"):
            self._stream.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        result = self._stream.__exit__(*exc) if hasattr(self._stream, "__exit__") else None
        self._end(exc[1])
        return result

    def close(self) -> None:
        self._stream.close()
        self._end(None)


class AsyncStream(_Proxy):
    """The asyncio twin of :class:`SyncStream`."""

    def __init__(self, stream: Any, call: Call | None, watch: Callable[[Any], bool],
                 state: StreamState) -> None:
        super().__init__(stream, call, watch, state)
        self._it = stream.__aiter__()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self._it.__anext__()
            except StopAsyncIteration:
                self._end(None)
                raise
            except BaseException as exc:
                self._end(exc)
                raise
            if not self._withhold(item):
                return item

    async def __aenter__(self) -> AsyncStream:
        if hasattr(self._stream, "__aenter__"):
            await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        result = await self._stream.__aexit__(*exc) \
            if hasattr(self._stream, "__aexit__") else None
        self._end(exc[1])
        return result

    async def close(self) -> None:
        await self._stream.close()
        self._end(None)
