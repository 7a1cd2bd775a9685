"""The sidecar's routes, as a plain ASGI application (served by uvicorn).

No web framework: per-request overhead decides whether the sidecar takes 10,000 POSTs a
second on two cores, and the validation a framework would do is in
:mod:`exporter.ingest.events` already, shared with the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .._auth import Auth
from .._scrape import Scrape
from .._store.render import render_samples
from ..collectors import CollectorSet
from ..ingest import routes
from ..ingest.events import EVENTS, EventError, validate
from ..read.side import ReadSide
from ..record.recorder import LLMMetrics
from ..settings.load import ServerSettings
from .guard import Guard, default_hosts, json_body, preflight
from .openapi import docs_html, openapi
from .page import Page
from .reading import ReadRoutes
from .replay import Kept, Replays, digest, key_error
from .switch import SWITCH, SWITCH_ROUTE, ProviderSwitch
from .wire import JSON, Receive, Send, TooLarge, dumps, loads, read_body, send_bytes, send_json

log = logging.getLogger(__name__)

#: Health probes answer any Host: kubelet probes use the pod IP, and they reveal nothing.
_PROBES = frozenset({"/-/healthy", "/-/ready"})


class SidecarApp:
    """ASGI app: ingest (``/v1/events`` and the compatible routes), ``/metrics``, health,
    a landing page and API docs."""

    def __init__(self, llm: LLMMetrics, settings: ServerSettings,
                 collectors: CollectorSet | None = None) -> None:
        self.llm = llm
        self.settings = settings
        self.collectors = collectors or CollectorSet([], llm.namespace)
        self.auth = Auth(settings.ingest_token, settings.metrics_user, settings.metrics_password,
                         settings.read_token, settings.public_reads)
        self._scrape = Scrape(self._render, self.auth,
                              lambda: llm.record_auth_failure(endpoint="metrics"))
        hosts = default_hosts(settings.host)
        self.guard = Guard(None if hosts is None else {*hosts, *(settings.allowed_hosts or ())},
                           settings.allowed_origins)
        self._ingest = {"/v1/events", *routes.WRITE}
        self.replays = Replays(settings.idempotency_keys, settings.idempotency_window_seconds,
                               settings.idempotency_max_bytes)
        self.ready = False
        self._max_body = settings.max_body_bytes
        self._max_batch = settings.max_batch_events
        self._methods = {method: getattr(llm, method) for method, _ in EVENTS.values()}
        self.read = ReadSide(llm, settings, self.collectors)
        self.recent = self.read.recent
        self.reading = ReadRoutes(llm, self.read, Page(), self.auth, self.guard)
        self._background: asyncio.Task[None] | None = None
        #: /metrics on threads of its own: never queued behind a read.
        self.scrape_executor = ThreadPoolExecutor(max_workers=2,
                                                  thread_name_prefix="llm-scrape")
        self._routes: dict[str, dict[str, Callable[..., Awaitable[None]]]] = {
            "/v1/events": {"POST": functools.partial(self.replays.keyed, handler=self._events)},
            "/metrics": {"GET": self._metrics},
            "/-/healthy": {"GET": self._healthy},
            "/-/ready": {"GET": self._ready},
            **self.reading.routes(),
            "/docs": {"GET": self._docs},
            "/openapi.json": {"GET": self._openapi},
            SWITCH_ROUTE: {"POST": ProviderSwitch(llm, self.read, self.auth,
                                                  settings.max_body_bytes)},
            **{path: {"POST": functools.partial(self.replays.keyed, handler=self._compat)}
               for path in routes.WRITE},
        }

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            headers = dict(scope["headers"])
            scope["llm_exporter.headers"] = headers
            denied = self.guard.host(headers.get(b"host"))
            if denied is not None and scope["path"] not in _PROBES:
                await send_json(send, 400, {"error": denied})
                return
            origin = headers.get(b"origin")
            path = scope["path"]
            if origin is not None:
                wrapped = await self._cross_origin(scope, origin, path, send)
                if wrapped is None:
                    return
                send = wrapped
            switch = SWITCH.match(path)
            if switch is not None:  # the provider service's /api/llm/providers/<id>/enable
                scope["llm_exporter.switch"] = switch.groups()
                path = SWITCH_ROUTE
            methods = self._routes.get(path)
            if methods is None:
                await send_json(send, 404, {"error": f"no route {path}; see /docs"})
                return
            handler = methods.get(scope["method"])
            if handler is None:
                await send_json(send, 405, {"error": f"{scope['method']} not allowed; use "
                                                 f"{', '.join(methods)}"},
                            [(b"allow", ", ".join(methods).encode())])
                return
            await handler(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await self.reading.websocket(scope, receive, send)

    async def _cross_origin(self, scope: dict[str, Any], origin: bytes, path: str,
                            send: Send) -> Send | None:
        """A browser request: refused (403) unless its origin is allowed, a CORS
        preflight answered (204), or ``send`` wrapped to add the CORS headers. None when
        the request has been answered."""
        denied = self.guard.origin(origin)
        if denied is not None:
            if path in self._ingest:
                self.llm.record_events(rejected=1)
            await send_json(send, 403, {"error": denied})
            return None
        cors = self.guard.cors(origin)
        if scope["method"] == "OPTIONS" and (path in self._ingest or path in self.read.routes):
            await send_bytes(send, 204, b"", b"text/plain",
                             cors + preflight(write=path in self._ingest))
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
                self._background = asyncio.ensure_future(
                    self.read.background(self.scrape_executor))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                if self._background is not None:
                    self._background.cancel()
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
            await send_json(send, 401, {"error": denied}, [(b"www-authenticate", b"Bearer")])
            return False, None
        wrong_type = json_body(headers.get(b"content-type"))
        if wrong_type is not None:
            self.llm.record_events(rejected=1)
            await send_json(send, 415, {"error": wrong_type, "field": "Content-Type"})
            return False, None
        key = headers.get(b"idempotency-key")
        kept: Kept | None = None
        if key is not None:
            bad_key = key_error(key)
            if bad_key is not None:
                self.llm.record_events(rejected=1)
                await send_json(send, 400, {"error": bad_key, "field": "Idempotency-Key"})
                return False, None
            claimed = self.replays.claim((scope["path"], key))
            if claimed == "in progress":  # the same request, still being applied
                await send_json(send, 409, {
                    "error": f"a request with Idempotency-Key {key.decode()} is in progress; "
                             "retry", "field": "Idempotency-Key"}, [(b"retry-after", b"1")])
                return False, None
            if isinstance(claimed, Kept):
                kept = claimed
            else:  # this request's to apply; released by Replays.keyed unless answered
                scope["llm_exporter.key"] = (scope["path"], key)
        try:
            body = await read_body(headers, receive, self._max_body)
        except TooLarge:
            self.llm.record_events(rejected=1)
            await send_json(send, 413, {"error": f"request body exceeds max_body_bytes="
                                             f"{self._max_body}"})
            return False, None
        if kept is not None:
            assert key is not None
            if digest(body) != kept.digest:
                self.llm.record_events(rejected=1)
                await send_json(send, 422, {
                    "error": f"Idempotency-Key {key.decode()} was used with another body; "
                             "nothing in this request was recorded (use a new key for new "
                             "events)", "field": "Idempotency-Key"})
            else:  # a retry of a request already applied
                await send_bytes(send, kept.status, kept.body, JSON,
                                 [(b"idempotent-replayed", b"true")])
            return False, None
        scope["llm_exporter.digest"] = digest(body)
        try:
            return True, loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            self.llm.record_events(rejected=1)
            await send_json(send, 400, {"error": f"malformed JSON: {exc}"})
            return False, None

    async def _events(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        ok, data = await self._read_json(scope, receive, send)
        if not ok:
            return
        if isinstance(data, dict) and "events" in data and "type" not in data:
            events, prefix = data["events"], "events"
            if not isinstance(events, list):
                self.llm.record_events(rejected=1)
                await send_json(send, 422, {"error": "invalid batch", "field": "events",
                                        "reason": "must be a list of events"})
                return
        elif isinstance(data, dict):
            events, prefix = [data], "event"
        else:
            self.llm.record_events(rejected=1)
            await send_json(send, 422, {"error": "invalid body", "field": "body",
                                    "reason": 'must be an event object or {"events": [...]}'})
            return
        n = len(events)
        if n > self._max_batch:
            self.llm.record_events(rejected=n)
            await send_json(send, 413, {"error": f"batch of {n} events exceeds "
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
            await send_json(send, 422, {"error": "invalid event; nothing in this request was "
                                             "recorded", "index": index, "field": field,
                                    "reason": exc.reason})
            return
        methods = self._methods
        costs = []
        for method, kwargs in calls:
            result = methods[method](**kwargs)
            costs.append(result if result.__class__ is float else None)
        if self.recent.size or self.recent.log_lines:
            self.recent.remember(events, calls, costs)
        self.llm.record_events(accepted=n)
        await self._answer(scope, send, {"accepted": n, "cost_usd": costs, "total_cost_usd":
                                         sum(c for c in costs if c is not None)})

    async def _answer(self, scope: dict[str, Any], send: Send, payload: Any) -> None:
        """A 200 for applied events, kept for a retry with the same Idempotency-Key (no
        await between applying and keeping: a concurrent retry sees one or the other)."""
        body = dumps(payload)
        key = scope.get("llm_exporter.key")
        if key is not None:
            self.replays.put(key, 200, body, scope["llm_exporter.digest"])
        await send_bytes(send, 200, body, JSON)

    async def _compat(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        ok, data = await self._read_json(scope, receive, send)
        if not ok:
            return
        many = isinstance(data, list) and scope["path"] in routes.MANY
        if not isinstance(data, dict) and not many:
            self.llm.record_events(rejected=1)
            await send_json(send, 422, {"status": "error", "message": "body must be a JSON object",
                                    "field": "body"})
            return
        n = len(data) if many else 1
        if n > self._max_batch:
            self.llm.record_events(rejected=n)
            await send_json(send, 413, {"error": f"batch of {n} records exceeds "
                                             f"max_batch_events={self._max_batch}"})
            return
        try:
            result = routes.WRITE[scope["path"]](self.llm, data, self.recent)
        except EventError as exc:
            self.llm.record_events(rejected=n)
            await send_json(send, 422, {"status": "error", "message": str(exc),
                                    "field": exc.field, "reason": exc.reason})
            return
        self.llm.record_events(accepted=n)
        await self._answer(scope, send, result)

    # --------------------------------------------------------------- scraping

    async def _metrics(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.scrape_executor, self._scrape.respond,
                                              headers)
        await send({"type": "http.response.start", "status": response.status,
                    "headers": [(k.lower().encode(), v.encode("latin-1"))
                                for k, v in response.headers]})
        await send({"type": "http.response.body", "body": response.body})

    def _render(self, openmetrics: bool) -> bytes:
        return (self.llm.exposition(openmetrics=openmetrics, eof=False)
                + render_samples(self.read.samples(), self.llm.namespace,
                                 openmetrics=openmetrics, eof=False)
                + self.collectors.render(openmetrics=openmetrics))

    # ------------------------------------------------------------ the rest

    async def _healthy(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, b"OK\n", b"text/plain; charset=utf-8")

    async def _ready(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if self.ready:
            await send_bytes(send, 200, b"OK\n", b"text/plain; charset=utf-8")
        else:
            await send_bytes(send, 503, b"not ready\n", b"text/plain; charset=utf-8")

    async def _docs(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_bytes(send, 200, docs_html().encode(), b"text/html; charset=utf-8")

    async def _openapi(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, openapi())
