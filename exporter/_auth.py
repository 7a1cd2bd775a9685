"""Optional bearer token on ingest and basic auth on /metrics; constant-time compares.

Secrets arrive through :class:`~exporter.config.ServerSettings` (environment or files)
and are never logged or echoed in a response.
"""

from __future__ import annotations

import base64
import hmac


class Auth:
    def __init__(self, ingest_token: str | None, metrics_user: str | None,
                 metrics_password: str | None) -> None:
        self._token = ingest_token.encode() if ingest_token else None
        self._basic = None
        if metrics_user is not None and metrics_password is not None:
            self._basic = f"{metrics_user}:{metrics_password}".encode()

    def ingest(self, authorization: bytes | None) -> str | None:
        """None if allowed, else the reason for a 401."""
        if self._token is None:
            return None
        if not authorization:
            return "missing Authorization: Bearer <token> header"
        scheme, _, value = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(value.strip(), self._token):
            return "invalid bearer token"
        return None

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
