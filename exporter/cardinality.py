"""Bounded labels: normalisation and per-label caps with an ``other`` bucket.

Every label value passes through here once, on the slow path, before a series is
created; the recorder caches the outcome, so this is never on the per-request path for
a label set it has seen.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

OTHER = "other"
#: What an empty or missing team / tier becomes: a fixed value, never an empty label.
PLACEHOLDER = "unknown"
MAX_VALUE_LENGTH = 128

#: Default caps on distinct values per label. ``other`` and the placeholder are not
#: counted, so a family shows at most cap + 2 values of a label.
DEFAULT_CAPS: Mapping[str, int] = {
    "provider": 50,
    "model": 100,
    "team": 200,
    "tier": 20,
    "cache": 50,
    "index": 50,
    "complexity": 20,
    "pool": 50,
}

#: Alternate spellings of provider names, folded to the id genai-prices uses.
PROVIDER_ALIASES: Mapping[str, str] = {
    "gemini": "google",
    "google-genai": "google",
    "google_genai": "google",
    "google-gla": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "claude": "anthropic",
    "bedrock": "aws",
    "aws-bedrock": "aws",
    "aws_bedrock": "aws",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "mistralai": "mistral",
    "xai": "x-ai",
    "grok": "x-ai",
}

#: Model-name prefixes that name a resource path rather than the model.
_MODEL_PREFIXES = ("models/", "publishers/google/models/")


def _clean(label: str, value: object, required: bool) -> str:
    if value is None:
        if required:
            raise ValueError(f"{label} is required")
        return PLACEHOLDER
    if not isinstance(value, str):
        raise ValueError(f"{label} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        if required:
            raise ValueError(f"{label} must be a non-empty string")
        return PLACEHOLDER
    return value[:MAX_VALUE_LENGTH]


#: Every normalised value, by (label, provider of a model, raw value): each spelling is
#: normalised once per process, whether the sidecar's ingest checks it before a batch
#: is applied or the recorder admits it. Bounded; past it, values are normalised on
#: each first sight of their label set (the recorder caches those), and still agree.
CANONICAL: dict[tuple[str, str, object], str] = {}
_MAX_CANONICAL = 10_000


def _remember(key: tuple[str, str, object], value: str) -> str:
    if len(CANONICAL) < _MAX_CANONICAL:
        CANONICAL[key] = value
    return value


def normalise_provider(provider: object) -> str:
    """Lower-case provider id with common aliases folded (``gemini`` -> ``google``)."""
    key = ("provider", "", provider)
    try:
        return CANONICAL[key]
    except (KeyError, TypeError):
        pass
    value = _clean("provider", provider, required=True).lower()
    return _remember(key, PROVIDER_ALIASES.get(value, value))


def normalise_model(provider: str, model: object) -> str:
    """One spelling per model: lower case, no ``models/`` resource prefix, no
    ``<provider>/`` prefix (``models/gemini-2.5-flash`` == ``gemini-2.5-flash``)."""
    key = ("model", provider, model)
    try:
        return CANONICAL[key]
    except (KeyError, TypeError):
        pass
    value = _clean("model", model, required=True).lower()
    for prefix in _MODEL_PREFIXES:
        value = value.removeprefix(prefix)
    head, sep, tail = value.partition("/")
    if sep and tail and PROVIDER_ALIASES.get(head, head) == provider:
        value = tail
    if not value:
        raise ValueError("model must be a non-empty string")
    return _remember(key, value)


#: Labels whose values are names from a small vocabulary, folded to lower case so that
#: "SIMPLE" and "simple" are one series (teams and caches keep their spelling).
CASE_FOLDED = frozenset({"tier", "complexity"})


def normalise_optional(label: str, value: object) -> str:
    """Free-choice labels (team, tier, cache ...): trimmed, placeholder when empty, tier
    and complexity in lower case."""
    key = (label, "", value)
    try:
        return CANONICAL[key]
    except (KeyError, TypeError):
        pass
    cleaned = _clean(label, value, required=False)
    return _remember(key, cleaned.lower() if label in CASE_FOLDED else cleaned)


class LabelCaps:
    """Caps the number of distinct values each label may take.

    Values admitted before the cap is reached keep their series for the process
    lifetime; later new values map to ``other``. Thread-safe; the lock is only taken
    when a value is seen for the first time.
    """

    def __init__(self, caps: Mapping[str, int] | None = None) -> None:
        merged = dict(DEFAULT_CAPS)
        for label, cap in (caps or {}).items():
            if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
                raise ValueError(f"label cap for {label!r} must be a positive integer, got {cap!r}")
            merged[label] = cap
        self.caps: Mapping[str, int] = merged
        self._seen: dict[str, set[str]] = {label: set() for label in merged}
        self._lock = threading.Lock()

    def admit(self, label: str, value: str) -> tuple[str, bool]:
        """Return (value to use, whether it was folded into ``other``)."""
        seen = self._seen.get(label)
        if seen is None or value in seen or value in (OTHER, PLACEHOLDER):
            return value, False
        with self._lock:
            if value in seen:
                return value, False
            if len(seen) < self.caps[label]:
                seen.add(value)
                return value, False
        return OTHER, True
