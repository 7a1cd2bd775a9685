"""The sidecar: ``llm-exporter serve``. Apps in any language POST events; Prometheus
scrapes ``/metrics``, which also carries the host's CPU, memory, disk, network and GPUs.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator

from ..collectors import enabled
from ..record.recorder import LLMMetrics
from ..settings.load import Settings
from .app import SidecarApp
from .limits import Limits, uvicorn_options
from .page import WS_PING_SECONDS

log = logging.getLogger(__name__)


def build_app(settings: Settings, llm: LLMMetrics | None = None) -> SidecarApp:
    """The ASGI app with the collectors the settings enable (a missing GPU is no error)."""
    if llm is None:
        from prometheus_client import CollectorRegistry

        llm = LLMMetrics(CollectorRegistry(), config=settings)
    collectors = enabled(settings.server.collectors, llm.namespace,
                         gpu_processes=settings.server.gpu_processes)
    return SidecarApp(llm, settings.server, collectors)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound before the server starts, so port 0 can be reported."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(app: SidecarApp, sock: socket.socket,
          on_started: Callable[[], None] | None = None,
          stop: threading.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop`` is set): then stop accepting, finish the
    requests in flight, and return."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            """SIGTERM/SIGINT: stop gracefully and exit 0 (uvicorn itself re-raises the
            signal after shutting down, which makes the exit status 143). A second
            signal forces the exit."""
            if threading.current_thread() is not threading.main_thread():
                yield
                return

            def handle(signum: int, frame: object) -> None:
                if self.should_exit:
                    self.force_exit = True
                self.should_exit = True

            previous = {sig: signal.signal(sig, handle)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    limits = app.settings
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=10, server_header=False,
                            **uvicorn_options(Limits(limits.max_header_bytes,
                                                     limits.request_timeout_seconds,
                                                     limits.max_connections),
                                              limits.keepalive_timeout_seconds,
                                              WS_PING_SECONDS))
    server = Server(config)
    if on_started is not None:
        original = server.startup

        async def startup(sockets: list[socket.socket] | None = None) -> None:
            await original(sockets=sockets)
            on_started()

        server.startup = startup  # type: ignore[method-assign]
    if stop is not None:
        def watch() -> None:
            stop.wait()
            server.should_exit = True

        threading.Thread(target=watch, daemon=True).start()
    server.run(sockets=[sock])
