"""A small threaded HTTP server for ``GET /metrics`` from one :class:`LLMMetrics`.

For apps that want our fast exposition without a web framework, and for the demo.
Content negotiation: OpenMetrics when the scraper asks for it, gzip when accepted.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .exposition import Negotiated
from .recorder import LLMMetrics


def _handler(llm: LLMMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "llm-exporter"

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self._send(404, b"not found: try /metrics\n", "text/plain; charset=utf-8")
                return
            asked = Negotiated.of(self.headers.get("Accept", ""),
                                  self.headers.get("Accept-Encoding", ""))
            self._send(200, asked.encode(llm.exposition(openmetrics=asked.openmetrics)),
                       asked.content_type, {"Content-Encoding": "gzip"} if asked.gzip else {})

        def _send(self, code: int, body: bytes, ctype: str,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet: scrapes are routine
            pass

    return Handler


def start_metrics_server(llm: LLMMetrics, port: int, host: str = "127.0.0.1"
                         ) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on a daemon thread; ``server.shutdown()`` stops it."""
    server = ThreadingHTTPServer((host, port), _handler(llm))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="llm-exporter-metrics",
                     daemon=True).start()
    return server
