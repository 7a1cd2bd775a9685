"""The OpenAPI document and the /docs page, generated from the ingest schemas."""

from __future__ import annotations

import html
import inspect
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from .._version import __version__
from ..ingest import routes
from ..ingest.events import EVENTS, FREE_FORM, FieldSpec, event_json_schemas, json_schema
from ..read import shapes

#: Every read route's error body: {error, message, details} (the tier routing
#: backend's documented format), details naming the parameter of a 400.
_READ_ERROR = {"application/json": {"schema": {
    "type": "object", "required": ["error", "message", "details"],
    "additionalProperties": False,
    "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                   "details": {"type": "object"}}}}}
_READ = {"200": {"description": "the answer"},
         "400": {"description": "a malformed or out-of-bounds query parameter, named in "
                                "details.field", "content": _READ_ERROR},
         "401": {"description": "the read token or the metrics credentials required",
                 "content": _READ_ERROR},
         "502": {"description": "the configured Prometheus did not answer",
                 "content": _READ_ERROR},
         "503": {"description": "too many reads waiting; retry after Retry-After",
                 "content": _READ_ERROR}}
_ERROR = {"description": "the error, the field (a JSON path) and the reason",
          "content": {"application/json": {"schema": {"type": "object"}}}}
#: What any ingest request may get besides its 200: malformed JSON or a bad
#: Idempotency-Key or Host (400), credentials (401), a browser origin (403), the same
#: Idempotency-Key still in flight (409), size (413), content type (415), an invalid
#: event or an Idempotency-Key reused with another body (422).
_INGEST_ERRORS = {code: _ERROR for code in ("400", "401", "403", "409", "413", "415",
                                            "422")}


def _compat_schema(fields: Mapping[str, FieldSpec]) -> dict[str, Any]:
    props = {name: json_schema(f) for name, f in fields.items()}
    for name in sorted(FREE_FORM):
        props.setdefault(name, {"description": "free-form; accepted, never a label"})
    return {"type": "object", "properties": props, "additionalProperties": False,
            "required": [n for n, f in fields.items() if f.required]}


@cache
def openapi() -> dict[str, Any]:
    events = event_json_schemas()
    one_of = [{"$ref": f"#/components/schemas/{k}"} for k in events]
    paths: dict[str, Any] = {
        "/v1/events": {"post": {
            "summary": "Record one event, or a batch of them (all or nothing)",
            "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [*one_of, {"type": "object", "required": ["events"], "properties": {
                    "events": {"type": "array", "items": {"oneOf": one_of}}}}]}}}},
            "responses": {
                "200": {"description": "accepted: count, and the cost in USD of each event "
                                       "(null for events that have none)"},
                **_INGEST_ERRORS}}},
        "/metrics": {"get": {"summary": "Prometheus text, or OpenMetrics when asked for",
                             "security": [{"basic": []}, {}],
                             "responses": {"200": {"description": "the metrics"}}}},
        "/-/healthy": {"get": {"summary": "liveness", "responses": {"200": {"description": "OK"}}}},
        "/-/ready": {"get": {"summary": "readiness", "responses": {
            "200": {"description": "ready"}, "503": {"description": "starting or stopping"}}}},
    }
    for path, fields in routes.FIELDS.items():
        paths[path] = {"post": {
            "summary": "compatible route (existing clients)", "security": [{"bearer": []}, {}],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [_compat_schema(fields), {
                    "type": "array", "minItems": 1, "items": _compat_schema(fields)}]}
                if path in routes.MANY else _compat_schema(fields)}}},
            "responses": {"200": {"description": "recorded"}, **_INGEST_ERRORS}}}
    for path, (view, params) in shapes.ROUTES.items():
        doc = inspect.getdoc(view) or ""
        summary = doc.split("\n\n")[0].replace("\n", " ")
        paths[path] = {"get": {"summary": summary, "description": doc,
                               "parameters": [p.schema() for p in params],
                               "security": [{"basic": []}, {}], "responses": _READ}}
    paths["/api/v1/requests/recent"] = {"get": {
        "summary": "the last requests, newest first (?limit=, default 50; ?min_cost= USD)",
        "parameters": [{"name": "limit", "in": "query", "required": False,
                        "description": "how many (1 to recent_requests, at most 1,000,000)",
                        "schema": {"anyOf": [  # empty means the default, 50
                            {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                            {"type": "string", "maxLength": 0}]}},
                       shapes.views.MIN_COST.schema()],
        "security": [{"basic": []}, {}], "responses": _READ}}
    for action in ("enable", "disable"):
        paths[f"/api/llm/providers/{{id}}/{action}"] = {"post": {
            "summary": f"{action} a provider (the provider service's switch)",
            "security": [{"bearer": []}, {}],
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "description": "the provider's name, or its priority",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                                       "pattern": "^[^/]+$"}}],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"enabled": {"type": "boolean"}}}}}},
            "responses": {"200": {"description": "switched"},
                          **{code: _ERROR for code in ("400", "401", "404", "413", "422")},
                          "502": {"description": "the configured Prometheus did not answer"}}}}
    paths["/_qs/health"] = {"get": {"summary": "the proxy's health check",
                                    "responses": {"200": {"description": "ok"}}}}
    paths["/api/metrics/ws"] = {"get": {
        "summary": "WebSocket: a {\"type\": \"metrics_update\"} message every second "
                   "(timestamp, and the queries, resources and routing routes' answers)",
        "security": [{"basic": []}, {}],
        "responses": {"101": {"description": "switching protocols"},
                      "426": {"description": "a plain GET: upgrade to a WebSocket"}}}}
    return {"openapi": "3.1.0",
            "info": {"title": "llm-exporter sidecar", "version": __version__},
            "paths": paths,
            "components": {"schemas": events, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic"}}}}


@cache
def docs_html() -> str:
    parts = ["<!doctype html><html><head><title>llm-exporter API</title></head><body>",
             "<h1>llm-exporter ingest API</h1><p>POST one event, or "
             "<code>{\"events\": [...]}</code>, to <code>/v1/events</code>. "
             'Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>']
    for kind, (method, fields) in EVENTS.items():
        parts.append(f"<h2>type: {kind}</h2><p>same as <code>LLMMetrics.{method}()</code></p>"
                     "<table border=1><tr><th>field</th><th>kind</th><th>required</th>"
                     "<th>meaning</th></tr>")
        for name, f in fields.items():
            kind_text = "one of " + ", ".join(f.choices) if f.kind == "enum" else f.kind
            required = "yes" if f.required else ""
            parts.append(f"<tr><td>{name}</td><td>{html.escape(kind_text)}</td>"
                         f"<td>{required}</td><td>{html.escape(f.doc)}</td></tr>")
        parts.append("</table>")
    for path, fields in routes.FIELDS.items():
        parts.append(f"<h2>POST {path}</h2><pre>"
                     f"{html.escape(json.dumps(_compat_schema(fields), indent=1))}</pre>")
    parts.append("</body></html>")
    return "".join(parts)
