"""Requests only from clients the sidecar expects: the Host it serves, no browser page
from elsewhere, JSON bodies.

Without these, any web page a developer opens could post fake spend to a sidecar on
their machine (a ``text/plain`` POST needs no CORS preflight), and a DNS-rebinding page
could read ``/metrics``. So: ``Host`` must name the bound address (or a configured
name); a request with an ``Origin`` header (browsers send one on cross-site requests)
must come from a configured origin; ingest bodies must say ``application/json``, which a
browser only sends cross-site after a CORS preflight that we answer only for configured
origins.
"""

from __future__ import annotations

from collections.abc import Iterable

#: Bind addresses that mean "every interface": the names clients use cannot be known.
_ANY = {"0.0.0.0", "::", ""}
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def default_hosts(bind: str) -> frozenset[str] | None:
    """The Host names a sidecar bound to ``bind`` answers (None: any)."""
    if bind in _ANY:
        return None
    return frozenset({bind.lower().strip("[]"), *_LOOPBACK})


def hostname(header: str) -> str:
    """``Host`` without its port: ``[::1]:9473`` -> ``::1``, ``a.b:80`` -> ``a.b``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Guard:
    """The checks, bound once from the settings."""

    def __init__(self, hosts: Iterable[str] | None, origins: Iterable[str]) -> None:
        self.hosts = None if hosts is None else frozenset(h.lower().strip("[]") for h in hosts)
        self.origins = frozenset(o.rstrip("/").lower() for o in origins)
        self.any_origin = "*" in self.origins

    def host(self, host: bytes | None) -> str | None:
        """None if the Host is served here, else why not (a 400)."""
        if self.hosts is None or host is None:
            return None
        name = hostname(host.decode("latin-1"))
        if name in self.hosts:
            return None
        return (f"Host {name!r} is not served here: add it to server.allowed_hosts "
                "(LLM_EXPORTER_ALLOWED_HOSTS) if clients use that name")

    def origin(self, origin: bytes | None) -> str | None:
        """None if the request has no Origin or an allowed one, else why not (a 403)."""
        if origin is None or self.any_origin:
            return None
        value = origin.decode("latin-1").rstrip("/").lower()
        if value in self.origins:
            return None
        return (f"requests from browser origin {value!r} are refused: add it to "
                "server.allowed_origins (LLM_EXPORTER_ALLOWED_ORIGINS) to let a page post")

    def cors(self, origin: bytes | None) -> list[tuple[bytes, bytes]]:
        """CORS response headers for an allowed Origin (none without one)."""
        if origin is None or self.origin(origin) is not None:
            return []
        return [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]


def preflight(write: bool) -> list[tuple[bytes, bytes]]:
    """A CORS preflight's answer headers: a write route's POST, or a read route's GET
    (a frontend on another origin sending the read token)."""
    return [(b"access-control-allow-methods", b"POST" if write else b"GET"),
            (b"access-control-allow-headers",
             b"content-type, authorization, idempotency-key" if write else b"authorization"),
            (b"access-control-max-age", b"600")]


def json_body(content_type: bytes | None) -> str | None:
    """None if the body is declared JSON, else why not (a 415)."""
    media = (content_type or b"").split(b";")[0].strip().lower()
    if media == b"application/json" or (media.startswith(b"application/")
                                        and media.endswith(b"+json")):
        return None
    shown = media.decode("latin-1") or "none"
    return f"Content-Type must be application/json, got {shown}"
