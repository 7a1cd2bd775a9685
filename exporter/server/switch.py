"""The provider service's switch: ``POST /api/llm/providers/<id>/enable`` (or
``/disable``), what the provider routes then show as ``enabled``. Kept in memory by
:mod:`exporter.ingest.provider_state`; it guards the ingest token, like every write."""

from __future__ import annotations

import re
from typing import Any

from .._auth import Auth
from ..ingest import provider_state
from ..read.side import ReadSide
from ..read.sources import SourceError
from ..record.recorder import LLMMetrics
from .wire import Receive, Send, TooLarge, loads, read_body, send_json

SWITCH = re.compile(r"^/api/llm/providers/([^/]{1,200})/(enable|disable)$")
SWITCH_ROUTE = "/api/llm/providers/{id}/enable"
"""The route key every matching path is answered under."""


class ProviderSwitch:
    def __init__(self, llm: LLMMetrics, read: ReadSide, auth: Auth, max_body: int) -> None:
        self.llm, self.read, self.auth, self.max_body = llm, read, auth, max_body

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Enable or disable a provider (by name, or by its priority as its id): the
        ``enabled`` the provider routes show. A body, when sent, is ``{"enabled": bool}``."""
        denied = self.auth.ingest(scope["llm_exporter.headers"].get(b"authorization"))
        if denied is not None:
            self.llm.record_auth_failure(endpoint="ingest")
            await send_json(send, 401, {"error": denied}, [(b"www-authenticate", b"Bearer")])
            return
        ident, action = scope["llm_exporter.switch"]
        try:
            body = await read_body(scope["llm_exporter.headers"], receive, self.max_body)
            data = loads(body) if body.strip() else {}
        except TooLarge:
            await send_json(send, 413, {"error": f"request body exceeds max_body_bytes="
                                                 f"{self.max_body}"})
            return
        except (ValueError, UnicodeDecodeError) as exc:
            await send_json(send, 400, {"error": f"malformed JSON: {exc}", "field": "body"})
            return
        enabled = data.get("enabled", action == "enable") if isinstance(data, dict) else None
        if not isinstance(enabled, bool):
            await send_json(send, 422, {"status": "error", "field": "body.enabled",
                                        "message": "body.enabled: must be true or false"})
            return
        try:  # the providers the routes show, and their ids: on the read pool
            rows = (await self.read.answer("/api/llm/providers", {}))["providers"]
        except SourceError as exc:
            await send_json(send, 502, {"error": str(exc)})
            return
        known = {str(r["id"]): r["name"] for r in rows}
        name = known.get(ident) or (ident if ident in known.values() else None)
        if name is None:
            await send_json(send, 404, {"status": "error", "field": "provider",
                                        "message": f"no provider {ident[:60]!r}; known: "
                                                   f"{', '.join(sorted(known.values()))}"})
            return
        provider_state.of(self.llm).switch(name, enabled)
        await send_json(send, 200, {"status": "success", "provider": name,
                                    "enabled": int(enabled)})
