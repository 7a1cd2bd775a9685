"""The provider service's circuit breaker and enable switches, derived the way its
document describes them: a provider whose last ``FAILURES_TO_OPEN`` recorded calls all
failed is ``open`` (unavailable); ``OPEN_SECONDS`` later it reads ``half_open``
(recovering) until its next call, which closes it on success or opens it again on
failure. Each transition sets ``llm_provider_up`` and ``llm_provider_circuit_state``, so
Prometheus, the rules and the read routes see it.

Kept in memory per recorder, for at most ``MAX_PROVIDERS`` providers (past it, a new
provider gets no breaker); a restart starts every breaker closed and every provider
enabled.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cardinality import normalise_provider
from ..pricing.book import SELF_HOSTED_PROVIDERS

if TYPE_CHECKING:
    from ..record.recorder import LLMMetrics

FAILURES_TO_OPEN = 5
OPEN_SECONDS = 60.0
MAX_PROVIDERS = 64

#: The document's four providers first, in its priority order; then the other
#: self-hosted ones, then the rest, by name.
_ORDER = ("ollama", "localai", "anthropic", "openai")
DISPLAY_NAMES = {"ollama": "Ollama (Local)", "localai": "LocalAI",
                 "anthropic": "Claude (Anthropic)", "openai": "OpenAI"}


@dataclass
class Breaker:
    state: str = "closed"
    failures: int = 0
    """Consecutive failed calls."""
    opened_at: float = 0.0


class ProviderStates:
    """Breakers and enable switches of one recorder's providers."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.breakers: dict[str, Breaker] = {}
        self.disabled: set[str] = set()
        self._lock = threading.Lock()

    def call(self, provider: str, ok: bool) -> Breaker | None:
        """One recorded call; the breaker after it (None past MAX_PROVIDERS)."""
        with self._lock:
            b = self.breakers.get(provider)
            if b is None:
                if len(self.breakers) >= MAX_PROVIDERS:
                    return None
                b = self.breakers[provider] = Breaker()
            self._age(b)
            if ok:
                b.state, b.failures = "closed", 0
            else:
                b.failures += 1
                if b.state == "half_open" or b.failures >= FAILURES_TO_OPEN:
                    b.state, b.opened_at = "open", self.clock()
            return Breaker(b.state, b.failures, b.opened_at)

    def _age(self, b: Breaker) -> bool:
        if b.state == "open" and self.clock() - b.opened_at >= OPEN_SECONDS:
            b.state = "half_open"
            return True
        return False

    def tick(self) -> list[tuple[str, Breaker]]:
        """Breakers that turned half_open since the last tick (open for OPEN_SECONDS)."""
        with self._lock:
            return [(p, Breaker(b.state, b.failures, b.opened_at))
                    for p, b in self.breakers.items() if self._age(b)]

    def failures(self, provider: str) -> int | None:
        b = self.breakers.get(provider)
        return None if b is None else b.failures

    def switch(self, provider: str, enabled: bool) -> None:
        with self._lock:
            if enabled:
                self.disabled.discard(provider)
            elif len(self.disabled) < MAX_PROVIDERS:
                self.disabled.add(provider)

    def enabled(self, provider: str) -> bool:
        return provider not in self.disabled


_STATES: weakref.WeakKeyDictionary[LLMMetrics, ProviderStates] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def of(llm: LLMMetrics) -> ProviderStates:
    """The provider states kept for this recorder."""
    with _STATES_LOCK:
        states = _STATES.get(llm)
        if states is None:
            states = _STATES[llm] = ProviderStates()
        return states


def record_call(llm: LLMMetrics, provider: str, ok: bool) -> None:
    """A call the provider service recorded: its breaker moves, and the gauges follow."""
    name = normalise_provider(provider)
    b = of(llm).call(name, ok)
    if b is not None:
        llm.set_provider_state(provider=name, up=b.state != "open", circuit=b.state)


def tick(llm: LLMMetrics) -> None:
    """Breakers open for OPEN_SECONDS read half_open (the sidecar calls this every few
    seconds)."""
    for name, b in of(llm).tick():
        llm.set_provider_state(provider=name, up=True, circuit=b.state)


def priority(provider: str) -> tuple[int, int, str]:
    """Sort key: the document's providers in its order, then self-hosted, then others."""
    if provider in _ORDER:
        return (0, _ORDER.index(provider), provider)
    return (1 if provider in SELF_HOSTED_PROVIDERS else 2, 0, provider)


def kind(provider: str) -> str:
    return "local" if provider in SELF_HOSTED_PROVIDERS else "remote"


def display_name(provider: str) -> str:
    return DISPLAY_NAMES.get(provider, provider)
