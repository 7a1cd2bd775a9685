"""How a drop-in client delivers a home-grown payload: to a sidecar route over HTTP (the
reply is the sidecar's answer), or in process through a recorder (the same translation
the sidecar runs, so both give the same series and the same answer)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._exceptions import DeliveryError
from ..ingest.routes import Translator
from ..read.provider_views import answer
from ..read.queries import Questions
from ..read.sources import LocalSource

if TYPE_CHECKING:
    from ..record.recorder import LLMMetrics

class Transport:
    """A route's payload to a sidecar at ``base_url``, or to ``metrics`` in process.

    ``token`` (or ``LLM_EXPORTER_INGEST_TOKEN``) is the sidecar's ingest token.
    """

    def __init__(self, base_url: str | None = None, *, metrics: LLMMetrics | None = None,
                 token: str | None = None, timeout: float = 10.0,
                 read_token: str | None = None) -> None:
        if (base_url is None) == (metrics is None):
            raise ValueError("give base_url (a sidecar) or metrics (an LLMMetrics), not both")
        self.base_url = base_url.rstrip("/") if base_url else None
        self.metrics = metrics
        self.token = token if token is not None else os.environ.get("LLM_EXPORTER_INGEST_TOKEN")
        self.timeout = timeout
        self.read_token = read_token if read_token is not None else \
            os.environ.get("LLM_EXPORTER_READ_TOKEN")

    def post(self, path: str, translate: Translator, payload: dict[str, Any]
             ) -> dict[str, Any]:
        """The route's answer (in process, ``translate``'s: the sidecar runs the same);
        raises DeliveryError on a refusal, ValueError in process."""
        if self.metrics is not None:
            return translate(self.metrics, payload, None)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.base_url}{path}", method="POST",
                                         data=json.dumps(payload).encode(), headers=headers)
        return self._send(request, path)

    def get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        """A read route's answer: the sidecar's, or in process the same view over the
        recorder's counters since it started (no history: windows reach back to then)."""
        if self.metrics is not None:
            q = Questions(LocalSource(self.metrics.values), self.metrics.namespace)
            return answer(path, q, self.metrics, params)
        headers = {"Accept": "application/json"}
        if self.read_token:
            headers["Authorization"] = f"Bearer {self.read_token}"
        query = urllib.parse.urlencode(params)
        request = urllib.request.Request(f"{self.base_url}{path}?{query}", headers=headers)
        return self._send(request, path)

    def _send(self, request: urllib.request.Request, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())  # type: ignore[no-any-return]
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                reply = json.loads(body)
            except ValueError:
                reply = body.decode(errors="replace")
            raise DeliveryError(exc.code, reply) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(None, f"{self.base_url}{path}: {exc}") from None
