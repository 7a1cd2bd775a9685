"""The sidecar's routes, as a plain ASGI application (served by uvicorn).

No web framework: per-request overhead decides whether the sidecar takes 10,000 POSTs a
second on two cores, and the validation a framework would do is in
:mod:`exporter.events` already, shared with the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .._auth import Auth
from .._scrape import Scrape
from ..collectors import CollectorSet
from ..config import ServerSettings
from ..events import EVENTS, EventError, validate
from ..recorder import LLMMetrics
from . import compat
from .guard import Guard, default_hosts, json_body
from .openapi import docs_html, openapi
from .replay import Replays, key_error

log = logging.getLogger(__name__)

try:  # orjson parses event batches about twice as fast; the stdlib is the fallback
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads

    def _dumps(payload: Any) -> bytes:
        return orjson.dumps(payload)
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _loads = json.loads

    def _dumps(payload: Any) -> bytes:
        return json.dumps(payload).encode()

JSON = b"application/json"
#: Health probes answer any Host: kubelet probes use the pod IP, and they reveal nothing.
_PROBES = frozenset({"/-/healthy", "/-/ready"})
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


class _TooLarge(Exception):
    pass


class SidecarApp:
    """ASGI app: ingest (``/v1/events`` and the compatible routes), ``/metrics``, health,
    a landing page and API docs."""

    def __init__(self, llm: LLMMetrics, settings: ServerSettings,
                 collectors: CollectorSet | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.collectors = collectors or CollectorSet([], llm.namespace)
        self.auth = Auth(settings.ingest_token, settings.metrics_user, settings.metrics_password)
        self._scrape = Scrape(self._render, self.auth,
                              lambda: llm.record_auth_failure(endpoint="metrics"))
        hosts = default_hosts(settings.host)
        self.guard = Guard(None if hosts is None else {*hosts, *(settings.allowed_hosts or ())},
                           settings.allowed_origins)
        self._ingest = {"/v1/events", *compat.ROUTES}
        self.replays = Replays(settings.idempotency_keys, settings.idempotency_window_seconds)
        self.ready = False
        self._max_body = settings.max_body_bytes
        self._max_batch = settings.max_batch_events
        self._methods = {method: getattr(llm, method) for method, _ in EVENTS.values()}
        self._routes: dict[str, dict[str, Callable[..., Awaitable[None]]]] = {
            "/v1/events": {"POST": self._events},
            "/metrics": {"GET": self._metrics},
            "/-/healthy": {"GET": self._healthy},
            "/-/ready": {"GET": self._ready},
            "/": {"GET": self._landing},
            "/docs": {"GET": self._docs},
            "/openapi.json": {"GET": self._openapi},
            **{path: {"POST": self._compat} for path in compat.ROUTES},
        }

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            headers = dict(scope["headers"])
            scope["llm_exporter.headers"] = headers
            denied = self.guard.host(headers.get(b"host"))
            if denied is not None and scope["path"] not in _PROBES:
                await _json(send, 400, {"error": denied})
                return
            origin = headers.get(b"origin")
            path = scope["path"]
            if origin is not None:
                wrapped = await self._cross_origin(scope, origin, path, send)
                if wrapped is None:
                    return
                send = wrapped
            methods = self._routes.get(path)
            if methods is None:
                await _json(send, 404, {"error": f"no route {path}; see /docs"})
                return
            handler = methods.get(scope["method"])
            if handler is None:
                await _json(send, 405, {"error": f"{scope['method']} not allowed; use "
                                                 f"{', '.join(methods)}"},
                            [(b"allow", ", ".join(methods).encode())])
                return
            await handler(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _cross_origin(self, scope: dict[str, Any], origin: bytes, path: str,
                            send: Send) -> Send | None:
        """A browser request: refused (403) unless its origin is allowed, a CORS
        preflight answered (204), or ``send`` wrapped to add the CORS headers. None when
        the request has been answered."""
        denied = self.guard.origin(origin)
        if denied is not None:
            if path in self._ingest:
                self.llm.record_events(rejected=1)
            await _json(send, 403, {"error": denied})
            return None
        cors = self.guard.cors(origin)
        if scope["method"] == "OPTIONS" and path in self._ingest:
            await _send(send, 204, b"", b"text/plain", cors + [
                (b"access-control-allow-methods", b"POST"),
                (b"access-control-allow-headers", b"content-type, authorization, idempotency-key"),
                (b"access-control-max-age", b"600")])
            return None

        async def with_cors(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *cors]}
            await send(message)
        return with_cors

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.ready = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---------------------------------------------------------------- ingest

    async def _read_json(self, scope: dict[str, Any], receive: Receive, send: Send
                         ) -> tuple[bool, Any]:
        """(True, parsed body) or (False, None) after answering 401/415/413/400, or
        replaying the answer to an Idempotency-Key already applied."""
        headers = scope["llm_exporter.headers"]
        denied = self.auth.ingest(headers.get(b"authorization"))
        if denied is not None:
            self.llm.record_auth_failure(endpoint="ingest")
            await _json(send, 401, {"error": denied}, [(b"www-authenticate", b"Bearer")])
            return False, None
        wrong_type = json_body(headers.get(b"content-type"))
        if wrong_type is not None:
            self.llm.record_events(rejected=1)
            await _json(send, 415, {"error": wrong_type, "field": "Content-Type"})
            return False, None
        key = headers.get(b"idempotency-key")
        if key is not None:
            bad_key = key_error(key)
            if bad_key is not None:
                self.llm.record_events(rejected=1)
                await _json(send, 400, {"error": bad_key, "field": "Idempotency-Key"})
                return False, None
            answered = self.replays.get(key)
            if answered is not None:  # a retry of a request already applied
                await _send(send, answered[0], answered[1], JSON,
                            [(b"idempotent-replayed", b"true")])
                return False, None
            scope["llm_exporter.key"] = key
        try:
            body = await _body(headers, receive, self._max_body)
        except _TooLarge:
            self.llm.record_events(rejected=1)
            await _json(send, 413, {"error": f"request body exceeds max_body_bytes="
                                             f"{self._max_body}"})
            return False, None
        try:
            return True, _loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.llm.record_events(rejected=1)
            await _json(send, 400, {"error": f"malformed JSON: {exc}"})
            return False, None

    async def _events(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        ok, data = await self._read_json(scope, receive, send)
        if not ok:
            return
        if isinstance(data, dict) and "events" in data and "type" not in data:
            events, prefix = data["events"], "events"
            if not isinstance(events, list):
                self.llm.record_events(rejected=1)
                await _json(send, 422, {"error": "invalid batch", "field": "events",
                                        "reason": "must be a list of events"})
                return
        elif isinstance(data, dict):
            events, prefix = [data], "event"
        else:
            self.llm.record_events(rejected=1)
            await _json(send, 422, {"error": "invalid body", "field": "body",
                                    "reason": 'must be an event object or {"events": [...]}'})
            return
        n = len(events)
        if n > self._max_batch:
            self.llm.record_events(rejected=n)
            await _json(send, 413, {"error": f"batch of {n} events exceeds "
                                             f"max_batch_events={self._max_batch}"})
            return
        calls = []
        try:
            for ev in events:
                calls.append(validate(ev, "event"))
        except EventError as exc:
            self.llm.record_events(rejected=n)
            index = len(calls)
            field = exc.field if prefix == "event" else \
                f"events[{index}]{exc.field[len('event'):]}"
            await _json(send, 422, {"error": "invalid event; nothing in this request was "
                                             "recorded", "index": index, "field": field,
                                    "reason": exc.reason})
            return
        methods = self._methods
        costs = []
        for method, kwargs in calls:
            result = methods[method](**kwargs)
            costs.append(result if result.__class__ is float else None)
        self.llm.record_events(accepted=n)
        await self._answer(scope, send, {"accepted": n, "cost_usd": costs, "total_cost_usd":
                                         sum(c for c in costs if c is not None)})

    async def _answer(self, scope: dict[str, Any], send: Send, payload: Any) -> None:
        """A 200 for applied events, kept for a retry with the same Idempotency-Key (no
        await between applying and keeping: a concurrent retry sees one or the other)."""
        body = _dumps(payload)
        key = scope.get("llm_exporter.key")
        if key is not None:
            self.replays.put(key, 200, body)
        await _send(send, 200, body, JSON)

    async def _compat(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        ok, data = await self._read_json(scope, receive, send)
        if not ok:
            return
        if not isinstance(data, dict):
            self.llm.record_events(rejected=1)
            await _json(send, 422, {"status": "error", "message": "body must be a JSON object",
                                    "field": "body"})
            return
        try:
            result = compat.ROUTES[scope["path"]](self.llm, data)
        except EventError as exc:
            self.llm.record_events(rejected=1)
            await _json(send, 422, {"status": "error", "message": str(exc),
                                    "field": exc.field, "reason": exc.reason})
            return
        self.llm.record_events(accepted=1)
        await self._answer(scope, send, result)

    # --------------------------------------------------------------- scraping

    async def _metrics(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(None, self._scrape.respond, headers)
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.lower().encode(), v.encode("latin-1"))
                                for k, v in response.headers]})
        await send({"type": "http.response.body", "body": response.body})

    def _render(self, openmetrics: bool) -> bytes:
        return (self.llm.exposition(openmetrics=openmetrics, eof=False)
                + self.collectors.render(openmetrics=openmetrics))

    # ------------------------------------------------------------ the rest

    async def _healthy(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await _send(send, 200, b"OK\n", b"text/plain; charset=utf-8")

    async def _ready(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if self.ready:
            await _send(send, 200, b"OK\n", b"text/plain; charset=utf-8")
        else:
            await _send(send, 503, b"not ready\n", b"text/plain; charset=utf-8")

    async def _landing(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        from .. import __version__

        page = (f"<!doctype html><html><head><title>llm-exporter</title></head><body>"
                f"<h1>llm-exporter {html.escape(__version__)}</h1><ul>"
                f'<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>'
                f'<li><a href="/docs">/docs</a>: ingest API '
                f'(<a href="/openapi.json">OpenAPI</a>)</li>'
                f'<li><a href="/-/healthy">/-/healthy</a>, <a href="/-/ready">/-/ready</a></li>'
                f"</ul></body></html>")
        await _send(send, 200, page.encode(), b"text/html; charset=utf-8")

    async def _docs(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await _send(send, 200, docs_html().encode(), b"text/html; charset=utf-8")

    async def _openapi(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await _json(send, 200, openapi())


async def _body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise _TooLarge
        return body
    chunks, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _send(send: Send, status: int, body: bytes, content_type: bytes,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, payload: Any,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await _send(send, status, _dumps(payload), JSON, headers)
