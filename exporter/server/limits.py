"""Connection limits uvicorn lacks: header size, time to send a whole request, and a cap
on open connections, as a subclass of uvicorn's httptools protocol.

Without them a few clients that stream an endless header (513 MB for four connections
was measured), or that open sockets and send nothing (each one held forever), exhaust the
sidecar's memory or file descriptors. uvicorn's own ``timeout_keep_alive`` closes idle
connections between requests; these close the rest:

- ``max_header_bytes``: a request whose head (request line and headers) grows past it
  gets ``431 Request Header Fields Too Large`` and the connection is closed;
- ``request_timeout``: a request (head and body) not complete that many seconds after
  its first byte, or a new connection that sends nothing, gets ``408 Request Timeout``;
- ``max_connections``: a connection past the cap gets ``503`` and is closed at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 16 * 1024
    request_timeout: float = 10.0
    max_connections: int = 512


def _reply(transport: asyncio.BaseTransport, status: bytes, reason: str) -> None:
    body = reason.encode()
    transport.write(b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8"  # type: ignore[attr-defined]
                    b"\r\nconnection: close\r\ncontent-length: " + str(len(body)).encode()
                    + b"\r\n\r\n" + body)
    transport.close()


def protocol(limits: Limits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits`` (pass as ``Config(http=...)``)."""

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        _head_bytes = 0
        _in_head = True
        _in_request = False
        _tail = b""
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                _reply(transport, b"503 Service Unavailable",
                       f"too many connections (server.max_connections="
                       f"{limits.max_connections})\n")
                return
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and not self._in_request:
                self._arm()  # the first byte of a request after an idle keep-alive
            if self._in_head:
                # The head's bytes in this chunk: up to its blank line when the chunk
                # ends it (the rest is body), else all of it. Measured before parsing,
                # so a whole oversized head in one write is refused like a trickled one.
                seen = self._tail + data  # the blank line may straddle two chunks
                end = seen.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._tail))
                self._tail = data[-3:]
                if self._head_bytes > limits.max_header_bytes:
                    self._disarm()
                    _reply(self.transport, b"431 Request Header Fields Too Large",
                           f"request head over server.max_header_bytes="
                           f"{limits.max_header_bytes}\n")
                    return
            super().data_received(data)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_request = True

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            self._in_head, self._head_bytes, self._in_request = True, 0, False
            self._tail = b""
            super().on_response_complete()

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(limits.request_timeout, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                _reply(self.transport, b"408 Request Timeout",
                       f"request not complete within server.request_timeout_seconds="
                       f"{limits.request_timeout:g}\n")

    return LimitedHttpToolsProtocol


def uvicorn_options(limits: Limits, keepalive_timeout: float,
                    ws_ping_seconds: float) -> dict[str, Any]:
    """The uvicorn Config keywords that apply ``limits``; a WebSocket client that answers
    no ping within ``ws_ping_seconds`` is closed (it is not reading)."""
    return {"http": protocol(limits), "timeout_keep_alive": keepalive_timeout,
            "ws_ping_interval": ws_ping_seconds, "ws_ping_timeout": ws_ping_seconds}
