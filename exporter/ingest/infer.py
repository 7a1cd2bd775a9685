"""What home-grown payloads leave out, inferred: the provider from a model name, the
bounded error type from a status word or an HTTP status code."""

from __future__ import annotations

from ..cardinality import PLACEHOLDER
from ..pricing.book import PriceBook

#: Model-name prefixes of the big providers; genai-prices' matching covers the rest.
_PREFIXES = (
    (("gpt-", "o1", "o3", "o4", "chatgpt", "text-embedding", "davinci", "babbage", "whisper",
      "dall-e", "tts-", "omni-moderation", "codex"), "openai"),
    (("claude",), "anthropic"),
    (("gemini", "models/gemini", "gemma", "text-embedding-004"), "google"),
    (("mistral", "mixtral", "codestral", "ministral", "pixtral", "magistral", "devstral"),
     "mistral"),
    (("deepseek",), "deepseek"),
    (("grok",), "x-ai"),
    (("command",), "cohere"),
    (("sonar",), "perplexity"),
)


def infer_provider(prices: PriceBook, model: str) -> str:
    """The provider a model name belongs to, or ``unknown``. ``name:tag`` models (the
    Ollama convention, e.g. ``llama3.1:8b``) are taken as local (ollama)."""
    m = model.strip().lower()
    for prefixes, provider in _PREFIXES:
        if m.startswith(prefixes):
            return provider
    if ":" in m and "/" not in m:
        return "ollama"
    return prices.provider_for(m) or PLACEHOLDER


def error_type(status: str, message: str | None) -> str:
    """The bounded error type a status word and an error message suggest."""
    text = f"{status} {message or ''}".lower()
    for needles, kind in ((("rate limit", "ratelimit", "429", "too many"), "rate_limit"),
                          (("timeout", "timed out"), "timeout"),
                          (("content", "filter", "policy", "safety"), "content_filter"),
                          (("500", "502", "503", "504", "server", "overloaded",
                            "unavailable"), "server_error"),
                          (("400", "401", "403", "404", "invalid", "unauthorized",
                            "forbidden"), "client_error")):
        if any(n in text for n in needles):
            return kind
    return "other"


def http_status(code: int) -> tuple[str, str | None]:
    """(status, error_type) of an HTTP status code: 2xx/3xx succeed, 429 is a rate
    limit, 408 and 504 time out, other 5xx are server errors, other 4xx client errors."""
    if code < 400:
        return "success", None
    if code == 429:
        return "error", "rate_limit"
    if code in (408, 504):
        return "error", "timeout"
    return "error", "server_error" if code >= 500 else "client_error"


#: The status words the home-grown backends wrote: these succeed, the rest fail.
SUCCEEDED = ("success", "ok", "completed", "succeeded")
FAILED = ("error", "failed", "failure", "timeout", "rate_limited", "cancelled")


def outcome(status: str, message: str | None) -> tuple[str, str | None]:
    """(status, error_type) of a status word (one of SUCCEEDED or FAILED) and an error
    message."""
    word = status.strip().lower()
    return ("success", None) if word in SUCCEEDED else ("error", error_type(word, message))
