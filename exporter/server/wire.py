"""ASGI plumbing of the sidecar: request bodies in (bounded), JSON answers out."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from .._exceptions import TooLarge

try:  # orjson parses event batches about twice as fast; the stdlib is the fallback
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads

    def dumps(payload: Any) -> bytes:
        return orjson.dumps(payload)
except ImportError:  # pragma: no cover - exercised where orjson is absent
    loads = json.loads

    def dumps(payload: Any) -> bytes:
        return json.dumps(payload).encode()

JSON = b"application/json"
Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]


def same_origin(origin: bytes, host: bytes | None) -> bool:
    parsed = urllib.parse.urlsplit(origin.decode("latin-1"))
    return host is not None and parsed.netloc.encode("latin-1") == host


async def read_body(headers: dict[bytes, bytes], receive: Receive, limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        if len(body) > limit:
            raise TooLarge
        return body
    chunks, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def send_bytes(send: Send, status: int, body: bytes, content_type: bytes,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any,
                headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, dumps(payload), JSON, headers)
