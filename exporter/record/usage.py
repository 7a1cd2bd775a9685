"""Convert provider usage objects to the recorder's token arguments.

The recorder follows OpenAI's usage and the GenAI semantic conventions: input counts
all input tokens, cached included, and output counts all output, reasoning included.
Anthropic reports cache reads and writes *apart* from ``input_tokens``; these helpers
add them back so that every provider means the same thing by the same argument.
"""

from __future__ import annotations

from typing import Any


def _get(obj: Any, name: str) -> int:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return int(value or 0)


def from_anthropic(usage: Any) -> dict[str, int]:
    """Arguments for ``record_request`` from an Anthropic ``usage`` (object or dict)."""
    cache_read = _get(usage, "cache_read_input_tokens")
    cache_write = _get(usage, "cache_creation_input_tokens")
    args = {
        "input_tokens": _get(usage, "input_tokens") + cache_read + cache_write,
        "output_tokens": _get(usage, "output_tokens"),
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
    }
    # The split of the writes by cache lifetime (priced apart: 1.25x and 2x input).
    split = usage.get("cache_creation") if isinstance(usage, dict) \
        else getattr(usage, "cache_creation", None)
    one_hour = _get(split, "ephemeral_1h_input_tokens") if split is not None else 0
    if one_hour:
        args["cache_write_1h_tokens"] = min(one_hour, cache_write)
    return args


def from_openai(usage: Any) -> dict[str, int]:
    """Arguments from an OpenAI ``usage``: Chat Completions (prompt_tokens,
    completion_tokens) or Responses (input_tokens, output_tokens), with their details."""
    is_dict = isinstance(usage, dict)
    has_prompt = ("prompt_tokens" in usage) if is_dict else hasattr(usage, "prompt_tokens")
    if has_prompt:
        inp, out = _get(usage, "prompt_tokens"), _get(usage, "completion_tokens")
        in_details = usage.get("prompt_tokens_details") if is_dict \
            else getattr(usage, "prompt_tokens_details", None)
        out_details = usage.get("completion_tokens_details") if is_dict \
            else getattr(usage, "completion_tokens_details", None)
    else:
        inp, out = _get(usage, "input_tokens"), _get(usage, "output_tokens")
        in_details = usage.get("input_tokens_details") if is_dict \
            else getattr(usage, "input_tokens_details", None)
        out_details = usage.get("output_tokens_details") if is_dict \
            else getattr(usage, "output_tokens_details", None)
    cached = _get(in_details, "cached_tokens") if in_details is not None else 0
    reasoning = _get(out_details, "reasoning_tokens") if out_details is not None else 0
    return {"input_tokens": inp, "output_tokens": out, "cache_read_tokens": min(cached, inp),
            "reasoning_tokens": min(reasoning, out)}
