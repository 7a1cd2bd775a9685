"""A small threaded HTTP server for ``GET /metrics`` from one :class:`LLMMetrics`.

For apps that want our fast exposition without a web framework, and for the demo. It
answers through the same scrape path as the sidecar (:mod:`exporter._scrape`): content
negotiation, optional basic auth, the same headers.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from ._auth import Auth
from ._scrape import Scrape

if TYPE_CHECKING:
    from .record.recorder import LLMMetrics


def _handler(scrape: Scrape) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "llm-exporter"

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                body = b"not found: try /metrics\n"
                self.send_response(404)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            response = scrape.respond({k.lower(): v for k, v in self.headers.items()})
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: scrapes are routine
            pass

    return Handler


def start_metrics_server(llm: LLMMetrics, port: int, host: str = "127.0.0.1", *,
                         username: str | None = None, password: str | None = None
                         ) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on a daemon thread; ``server.shutdown()`` stops it. With
    ``username`` and ``password``, scrapes need those basic-auth credentials."""
    if (username is None) != (password is None):
        raise ValueError("username and password go together: set both or neither")
    scrape = Scrape(lambda openmetrics: llm.exposition(openmetrics=openmetrics),
                    Auth(None, username, password),
                    lambda: llm.record_auth_failure(endpoint="metrics"))
    server = ThreadingHTTPServer((host, port), _handler(scrape))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="llm-exporter-metrics",
                     daemon=True).start()
    return server
