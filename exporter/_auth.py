"""Optional bearer token on ingest, basic auth on /metrics, and the reads (routes, page,
WebSocket) private whenever any credential is configured; constant-time compares.

Secrets arrive through :class:`~exporter.settings.load.ServerSettings` (environment or files)
and are never logged or echoed in a response.
"""

from __future__ import annotations

import base64
import hmac


class Auth:
    def __init__(self, ingest_token: str | None, metrics_user: str | None,
                 metrics_password: str | None, read_token: str | None = None,
                 public_reads: bool = False) -> None:
        self._token = ingest_token.encode() if ingest_token else None
        self._basic = None
        if metrics_user is not None and metrics_password is not None:
            self._basic = f"{metrics_user}:{metrics_password}".encode()
        self._read_token = read_token.encode() if read_token else None
        self._reads_open = public_reads or not (self._token or self._basic
                                                or self._read_token)

    def read(self, authorization: bytes | None) -> str | None:
        """None if this may read recorded data (routes, page, WebSocket), else the reason
        for a 401: the read token (Bearer) or the metrics credentials (Basic)."""
        if self._reads_open:
            return None
        scheme = (authorization or b"").partition(b" ")[0].lower()
        if scheme == b"bearer" and self._read_token is not None:
            return _bearer(authorization, self._read_token)
        if scheme == b"basic" and self._basic is not None:
            return self.metrics(authorization)
        ways = [w for w, on in (("Authorization: Bearer <server.read_token>", self._read_token),
                                ("the metrics basic credentials", self._basic)) if on]
        if not ways:
            return ("reads are private while credentials are configured: set "
                    "server.read_token_file (or LLM_EXPORTER_READ_TOKEN), metrics "
                    "credentials, or server.public_reads: true")
        return "reads need " + " or ".join(ways)

    def ingest(self, authorization: bytes | None) -> str | None:
        """None if allowed, else the reason for a 401."""
        if self._token is None:
            return None
        return _bearer(authorization, self._token)

    def metrics(self, authorization: bytes | None) -> str | None:
        """None if allowed, else the reason for a 401."""
        if self._basic is None:
            return None
        if not authorization:
            return "missing Authorization: Basic credentials"
        scheme, _, value = authorization.partition(b" ")
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return "malformed basic credentials"
        if scheme.lower() != b"basic" or not hmac.compare_digest(given, self._basic):
            return "invalid credentials"
        return None


def _bearer(authorization: bytes | None, token: bytes) -> str | None:
    """None if ``authorization`` is ``Bearer <token>``, else the reason for a 401."""
    if not authorization:
        return "missing Authorization: Bearer <token> header"
    scheme, _, value = authorization.partition(b" ")
    if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), token):
        return "invalid bearer token"
    return None
