"""One scrape path for every ``/metrics`` server (the library's and the sidecar's):
authentication, content negotiation and the response headers, decided in one place.

Negotiation follows RFC 9110: ``Accept`` and ``Accept-Encoding`` are lists of values
with optional ``q`` weights, and ``q=0`` means "not acceptable", so ``gzip;q=0`` gets
an uncompressed body and ``application/openmetrics-text;q=0`` gets the text format.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping
from typing import NamedTuple

from ._auth import Auth

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_OPENMETRICS = "application/openmetrics-text"


def weights(header: str) -> dict[str, float]:
    """``{value: q}`` of a comma-separated header (``gzip;q=0.5, br`` ->
    ``{"gzip": 0.5, "br": 1.0}``); a malformed weight counts as 0, the highest weight
    of a repeated value wins."""
    out: dict[str, float] = {}
    for item in header.split(","):
        value, *params = item.split(";")
        value = value.strip().lower()
        if not value:
            continue
        q = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(raw.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        out[value] = max(q, out.get(value, 0.0))
    return out


class Negotiated(NamedTuple):
    """What a scrape gets, from its Accept and Accept-Encoding headers."""

    openmetrics: bool
    gzip: bool

    @classmethod
    def of(cls, accept: str, accept_encoding: str) -> Negotiated:
        types = weights(accept)
        om = types.get(_OPENMETRICS, 0.0)
        text = max(types.get("text/plain", 0.0), types.get("text/*", 0.0),
                   types.get("*/*", 0.0), 0.0 if types else 1.0)
        codings = weights(accept_encoding)
        gz = codings.get("gzip", codings.get("x-gzip", codings.get("*", 0.0)))
        return cls(om > 0.0 and om >= text, gz > 0.0)

    @property
    def content_type(self) -> str:
        return OPENMETRICS_CONTENT_TYPE if self.openmetrics else TEXT_CONTENT_TYPE


class Response(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Scrape:
    """Answers one scrape: ``render(openmetrics)`` makes the body, ``auth`` (basic auth
    on /metrics) may refuse it, and ``on_denied()`` counts each refusal."""

    def __init__(self, render: Callable[[bool], bytes], auth: Auth | None = None,
                 on_denied: Callable[[], None] | None = None) -> None:
        self._render = render
        self._auth = auth
        self._on_denied = on_denied

    def respond(self, headers: Mapping[str, str]) -> Response:
        """``headers`` with lower-case names."""
        if self._auth is not None:
            denied = self._auth.metrics(headers.get("authorization", "").encode("latin-1"))
            if denied is not None:
                if self._on_denied is not None:
                    self._on_denied()
                body = f'{{"error": "{denied}"}}'.encode()
                return Response(401, [("Content-Type", "application/json"),
                                      ("WWW-Authenticate", 'Basic realm="llm-exporter"'),
                                      ("Content-Length", str(len(body)))], body)
        asked = Negotiated.of(headers.get("accept", ""), headers.get("accept-encoding", ""))
        body = self._render(asked.openmetrics)
        out = [("Content-Type", asked.content_type), ("Vary", "Accept, Accept-Encoding")]
        if asked.gzip:
            body = gzip.compress(body, compresslevel=5)
            out.append(("Content-Encoding", "gzip"))
        out.append(("Content-Length", str(len(body))))
        return Response(200, out, body)
