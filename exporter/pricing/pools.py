"""Self-hosted GPU pools: the GPUs serving your own models, priced by the hour.

A GPU costs the same whether it serves one request or thirty-two at once, and it costs
while idle. So a pool's cost is a cost of time, not of requests: it accrues at
``gpus x gpu_hour_usd`` per hour from the moment the recorder starts, exposed as
``llm_pool_cost_usd_total{pool}``; the requests it serves cost 0 each in
``llm_cost_usd_total`` and are not unpriced. The recording rules then spread the pool's
cost (plus, optionally, its GPUs' energy) over the tokens it served: USD per million
tokens per self-hosted model, beside what the same tokens would cost on an API model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FIELDS = {"name", "provider", "models", "gpus", "gpu_hour_usd"}


@dataclass(frozen=True)
class Pool:
    """GPUs serving self-hosted models: ``models`` of ``provider`` (``("*",)``: all).

    Count a pool's GPUs on one exporter (the sidecar on the GPU host); an exporter that
    only records the pool's requests (beside the apps calling it) lists the same pool
    with ``gpus: 0``, so its requests are the pool's and its hours are not counted twice.
    """

    name: str
    provider: str
    models: tuple[str, ...] = ("*",)
    gpus: float = 1.0
    gpu_hour_usd: float = 0.0

    @property
    def usd_per_second(self) -> float:
        return self.gpus * self.gpu_hour_usd / 3600.0

    def serves(self, provider: str, model: str) -> bool:
        return provider == self.provider and ("*" in self.models or model in self.models)

    @classmethod
    def from_legacy_override(cls, raw: Mapping[str, Any], where: str) -> Pool:
        """A pool from a price override with ``gpu_hour_usd`` (the form before pools):
        named after its provider, or provider/model."""
        unknown = set(raw) - {"provider", "model", "gpu_hour_usd", "gpus"}
        if unknown:
            raise ValueError(f"{where}: a GPU-hour price takes no per-token prices "
                             f"({', '.join(sorted(unknown))}); use pricing.pools")
        model = raw.get("model")
        name = f"{raw.get('provider')}" if model == "*" else f"{raw.get('provider')}/{model}"
        return cls.from_mapping({"name": name, "provider": raw.get("provider"),
                                 "models": [model], "gpus": raw.get("gpus", 1),
                                 "gpu_hour_usd": raw.get("gpu_hour_usd")}, where)

    @classmethod
    def from_mapping(cls, raw: Any, where: str = "pools") -> Pool:
        """Validate one pool from config, naming the bad field on error."""
        from ..cardinality import normalise_model, normalise_provider

        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: must be a mapping, got {type(raw).__name__}")
        unknown = set(raw) - _FIELDS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise ValueError(f"{where}.name: a non-empty string of at most 64 characters, "
                             f"got {name!r}")
        try:
            provider = normalise_provider(raw.get("provider"))
        except ValueError as exc:
            raise ValueError(f"{where}.{exc}") from None
        models_raw = raw.get("models", ["*"])
        if not isinstance(models_raw, list) or not models_raw:
            raise ValueError(f"{where}.models: a non-empty list of model names (or [\"*\"])")
        try:
            models = tuple("*" if m == "*" else normalise_model(provider, m)
                           for m in models_raw)
        except ValueError as exc:
            raise ValueError(f"{where}.models: {exc}") from None
        numbers = {}
        for key in ("gpus", "gpu_hour_usd"):
            value = raw.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value) or value < 0:
                raise ValueError(f"{where}.{key}: must be a non-negative number, got {value!r}")
            numbers[key] = float(value)
        return cls(name.strip(), provider, models, numbers["gpus"], numbers["gpu_hour_usd"])
