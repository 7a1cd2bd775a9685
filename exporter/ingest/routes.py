"""The home-grown backends' write routes, by path: each translates one payload into
recorder calls and answers in that backend's shape. The sidecar serves them and the
drop-in clients run them in process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import cost, providers, proxy
from .events import FieldSpec

if TYPE_CHECKING:
    from ..record.recent import RecentRequests
    from ..record.recorder import LLMMetrics

#: One payload in, recorder calls made, the backend's answer out.
Translator = Callable[["LLMMetrics", dict[str, Any], "RecentRequests | None"], dict[str, Any]]

WRITE: Mapping[str, Translator] = {
    "/api/v1/metrics/track": cost.track,
    "/api/v1/metrics/cache": cost.cache,
    "/api/v1/metrics/batch": cost.batch,
    "/api/llm/record": providers.record,
    "/_qs/usage": proxy.usage,
}
#: Routes whose body may be a JSON array of payloads (each counted as one event).
MANY = frozenset({"/_qs/usage"})
FIELDS: Mapping[str, Mapping[str, FieldSpec]] = {
    "/api/v1/metrics/track": cost.TRACK, "/api/v1/metrics/cache": cost.CACHE,
    "/api/v1/metrics/batch": cost.BATCH, "/api/llm/record": providers.RECORD,
    "/_qs/usage": proxy.USAGE,
}
