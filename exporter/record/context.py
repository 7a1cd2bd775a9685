"""Per-call labels for instrumented SDK calls: ``with exporter.labels(team=..., tier=...)``.

A router that calls models on behalf of teams sets the labels around the call; the
instrumentation reads them when the call starts. Context variables, so they follow
threads and asyncio tasks correctly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

_TEAM: ContextVar[str | None] = ContextVar("llm_exporter_team", default=None)
_TIER: ContextVar[str | None] = ContextVar("llm_exporter_tier", default=None)


@contextlib.contextmanager
def labels(*, team: str | None = None, tier: str | None = None) -> Iterator[None]:
    """Label the instrumented calls made inside the block (None leaves a label as is)."""
    tokens = []
    if team is not None:
        tokens.append((_TEAM, _TEAM.set(team)))
    if tier is not None:
        tokens.append((_TIER, _TIER.set(tier)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> tuple[str | None, str | None]:
    """(team, tier) set by the innermost ``labels()`` block, or None each."""
    return _TEAM.get(), _TIER.get()
