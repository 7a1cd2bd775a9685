"""An HTTP(S) endpoint the read side asks (Prometheus, or a /metrics to read), with its
credentials kept apart from its URL.

Credentials written into a URL (``https://user:pass@host``) are taken out of it: urllib
would try to resolve ``user:pass@host`` as a host name, and every error message naming
the URL would show the password. They become the Authorization header instead, and only
the URL without them is ever printed.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Endpoint:
    url: str
    """Scheme, host, port and path: never credentials."""
    authorization: str | None = field(default=None, repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """What must never appear in a message (see ``redact``)."""

    @classmethod
    def parse(cls, url: str, *, user: str | None = None, password: str | None = None,
              bearer: str | None = None, where: str = "url") -> Endpoint:
        """ValueError (naming ``where``, never the credentials) unless ``url`` is http(s)
        with a host. Basic credentials come from the URL or ``user``/``password``; a
        bearer token from ``bearer``; not both."""
        try:
            parts = urllib.parse.urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError(f"{where}: not a valid URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError(f"{where}: must be an http:// or https:// URL with a host")
        if parts.username is not None or parts.password is not None:
            user = urllib.parse.unquote(parts.username or "")
            password = urllib.parse.unquote(parts.password or "")
        netloc = f"[{host}]" if ":" in host else host
        if port is not None:
            netloc += f":{port}"
        clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        if user is not None and bearer is not None:
            raise ValueError(f"{where}: basic credentials and a bearer token: choose one")
        if user is not None:
            pair = f"{user}:{password or ''}".encode()
            return cls(clean, "Basic " + base64.b64encode(pair).decode(),
                       tuple(s for s in (url, password) if s))
        if bearer is not None:
            return cls(clean, f"Bearer {bearer}", (bearer,))
        return cls(clean)

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization} if self.authorization else {}

    def redact(self, text: str) -> str:
        """``text`` with every secret of this endpoint replaced (an error from a library
        may quote what it was given)."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text
