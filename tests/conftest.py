"""Shared fixtures: a fresh registry and recorder per test, and real binaries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, Pool, PriceBook, PriceOverride

#: Tests that run a real Prometheus, Alertmanager, promtool, Chromium, schemathesis or
#: LiteLLM (a 7 s import per process): marked ``e2e`` (``pytest -m "not e2e"`` runs the
#: rest in under a minute).
_E2E = ("tests/e2e/", "tests/mixin/test_rules.py", "tests/integration/test_schemathesis.py",
        "tests/mixin/test_alert_outages.py", "tests/mixin/test_budget_money.py",
        "tests/mixin/test_budget_pages.py", "tests/mixin/test_insights.py",
        "tests/mixin/test_multi_cluster.py", "tests/server/test_page.py",
        "tests/deploy/", "tests/integrations/")
#: What an unmarked test is expected to take, for the schedule below (seconds).
_E2E_SECONDS, _UNIT_SECONDS = 4.0, 0.2


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: real Prometheus, Alertmanager, promtool or "
                                       "Chromium runs, each taking seconds to minutes")
    config.addinivalue_line("markers", "seconds(n): about how long the test takes here "
                                       "(it waits on real rule intervals and scrapes); "
                                       "used to spread the long tests over xdist workers")


def expected_seconds(item: pytest.Item) -> float:
    mark = item.get_closest_marker("seconds")
    if mark is not None:
        return float(mark.args[0])
    return _E2E_SECONDS if item.get_closest_marker("e2e") else _UNIT_SECONDS


def spread(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The order that gives each xdist worker an even share of the waiting.

    ``--dist worksteal`` first hands worker i the i-th of ``workers`` equal slices of the
    collection, in order, and only later steals from the tails. So the long tests are
    dealt longest first to the slice with the least expected time (LPT), each slice
    starts with its long tests, and the rest fill the slices in collection order (a
    module's tests stay together). Without this, the e2e tests, collected together,
    would all start on one worker and end the run alone.
    """
    sizes, left = [], len(items)
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    long = sorted((it for it in items if expected_seconds(it) > _UNIT_SECONDS),
                  key=expected_seconds, reverse=True)
    slices: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for item in long:
        open_ = [i for i in range(workers) if len(slices[i]) < sizes[i]]
        i = min(open_, key=lambda k: load[k])
        slices[i].append(item)
        load[i] += expected_seconds(item)
    chosen = {id(it) for it in long}
    rest = iter(it for it in items if id(it) not in chosen)
    for i in range(workers):
        slices[i].extend(next(rest) for _ in range(sizes[i] - len(slices[i])))
    return [it for s in slices for it in s]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.startswith(_E2E):
            item.add_marker(pytest.mark.e2e)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1 and len(items) >= workers:
        items[:] = spread(items, workers)
    else:
        items.sort(key=lambda item: item.get_closest_marker("e2e") is None)  # stable


#: The Debian package that brings each binary the tests run.
PACKAGES = {"prometheus": "prometheus", "promtool": "prometheus",
            "alertmanager": "prometheus-alertmanager", "amtool": "prometheus-alertmanager",
            "chromium": "chromium"}


def require_binary(name: str) -> str:
    """Path of a real binary; skip without it on a laptop, fail in CI (CI=true)."""
    path = shutil.which(name)
    if path is None:
        package = PACKAGES.get(name, name)
        message = (f"{name} not found: install Debian's {package} package "
                   f"(apt-get install --no-install-recommends {package})")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def values_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests read a series' value right after recording it, so the zero-first hold
    is off unless a test turns it on (test_zero_first.py and the end-to-end tests do)."""
    monkeypatch.setenv("LLM_EXPORTER_ZERO_HOLD_SECONDS", "0")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def llm(registry: CollectorRegistry) -> LLMMetrics:
    """A recorder on a fresh registry, with the bundled catalog, an override for a
    fine-tuned model priced per token and a GPU pool serving a self-hosted one."""
    prices = PriceBook([
        PriceOverride(provider="openai", model="ft:gpt-4o-mini:acme", input_per_mtok=0.3,
                      output_per_mtok=1.2, cache_read_per_mtok=0.15),
    ], pools=[Pool("a100", "ollama", ("llama3.1:70b",), gpus=2, gpu_hour_usd=3.6)])
    return LLMMetrics(registry, prices=prices)


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


class Sidecar:
    """A real sidecar on 127.0.0.1 (uvicorn in a thread) and a tiny HTTP client for it."""

    def __init__(self, app, port: int) -> None:
        self.app = app
        self.llm = app.llm
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def request(self, method: str, path: str, body: object = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        import http.client
        import json as _json

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            data = raw if raw is not None else (
                None if body is None else _json.dumps(body).encode())
            conn.request(method, path, body=data, headers={
                "Content-Type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def post(self, path: str, body: object = None, **kw: object) -> tuple[int, object]:
        import json as _json

        status, _, data = self.request("POST", path, body, **kw)  # type: ignore[arg-type]
        return status, _json.loads(data) if data else None

    def metrics(self, headers: dict[str, str] | None = None) -> str:
        status, _, data = self.request("GET", "/metrics", headers=headers)
        assert status == 200, data
        return data.decode()

    def value(self, name: str, **labels: str) -> float | None:
        """A sample's value as served on /metrics (text format)."""
        from prometheus_client.parser import text_string_to_metric_families

        for fam in text_string_to_metric_families(self.metrics()):
            for s in fam.samples:
                if s.name == name and s.labels == labels:
                    return s.value
        return None


@pytest.fixture
def sidecar_factory():
    """Start sidecars with given settings; all are stopped at the end of the test."""
    import threading
    import time
    import urllib.request

    from exporter import Settings
    from exporter.server import bind, build_app, serve

    started: list[tuple[threading.Event, threading.Thread]] = []

    def start(settings: Settings | None = None, app=None) -> Sidecar:
        settings = settings or Settings()
        app = app or build_app(settings)
        sock = bind("127.0.0.1", 0)
        port = sock.getsockname()[1]
        stop = threading.Event()
        thread = threading.Thread(target=serve, args=(app, sock), kwargs={"stop": stop},
                                  daemon=True)
        thread.start()
        started.append((stop, thread))
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return Sidecar(app, port)

    yield start
    for stop, thread in started:
        stop.set()
        thread.join(timeout=20)


def start_cli(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    """``python -m exporter.cli ARGS`` in a process of its own; (process, port) once it
    says where it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "exporter.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "http://127.0.0.1:" in line, line + proc.stderr.read()  # type: ignore[union-attr]
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    return proc, port


class Clock:
    """A clock a test moves by hand: ``clock()`` reads it, ``clock.advance(s)`` moves it.
    Injected where code would read time.monotonic or time.time, so a test of a hold, a
    window or an expiry asserts the logic, not the speed of a loaded machine."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class _Heartbeat:
    """Every ``every`` seconds, one line per test still running, with how long it has
    run: under xdist a test's own output only shows when it ends, and the e2e tests wait
    minutes on real rule intervals. Runs in the process that reports (the xdist
    controller, or the only process)."""

    def __init__(self, config: pytest.Config, every: float = 30.0) -> None:
        import threading
        import time

        self.config, self.every, self._time = config, every, time.monotonic
        self.running: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            now = self._time()
            for nodeid, started in sorted(self.running.copy().items()):
                if now - started >= self.every:
                    sys.stderr.write(f"\n... still running after {now - started:.0f} s: "
                                     f"{nodeid}\n")
            sys.stderr.flush()

    @pytest.hookimpl
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.running[nodeid] = self._time()

    @pytest.hookimpl
    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.running.pop(nodeid, None)

    @pytest.hookimpl
    def pytest_unconfigure(self) -> None:
        self._stop.set()


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller, or a serial run
        every = float(os.environ.get("PYTEST_HEARTBEAT_SECONDS", "30"))
        session.config.pluginmanager.register(_Heartbeat(session.config, every),
                                              "llm-heartbeat")
