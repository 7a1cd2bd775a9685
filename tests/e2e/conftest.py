"""Real Prometheus and Alertmanager (Debian's packages) on 127.0.0.1, temp dirs, polled
with deadlines; a local HTTP server standing in for Slack."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ..conftest import require_binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5,
             describe: Callable[[], Any] | None = None) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` (and what
    ``describe`` says of the state then) at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(interval)
    state = f"; {describe()!r}" if describe is not None else ""
    pytest.fail(f"timed out after {timeout:g}s waiting for {what} (last: {last!r}){state}")


class Prometheus:
    def __init__(self, tmp: Path, targets: list[int], rule_files: list[Path],
                 alertmanager_port: int | None = None, extra_args: tuple[str, ...] = (),
                 scrape_interval: str = "1s", replica: str = "",
                 remote_write: int | None = None, agent: bool = False,
                 external: str = "") -> None:
        """``remote_write``: the port of a Prometheus to send every sample to;
        ``agent``: agent mode (scrape and send, no storage, rules or queries)."""
        binary = require_binary("prometheus")
        self.port = free_port()
        tmp = tmp / f"prometheus-{self.port}"
        tmp.mkdir()
        # HA replicas differ by external labels, which also spreads their scrape offsets
        external = external or (f"replica: {replica}" if replica else "")
        labels = f", external_labels: {{{external}}}" if external else ""
        alerting = ""
        if alertmanager_port is not None:
            alerting = (f"alerting:\n  alertmanagers:\n    - static_configs:\n"
                        f'        - targets: ["127.0.0.1:{alertmanager_port}"]\n')
        rules = "".join(f"  - {p}\n" for p in rule_files)
        config = tmp / "prometheus.yml"
        config.write_text(
            f"global: {{scrape_interval: {scrape_interval}, evaluation_interval: "
            f"{scrape_interval}{labels}}}\n"
            f"rule_files:\n{rules}{alerting}"
            "scrape_configs:\n  - job_name: llm-exporter\n    static_configs:\n"
            f"      - targets: [{', '.join(repr(f'127.0.0.1:{t}') for t in targets)}]\n"
            + (f"remote_write:\n  - url: http://127.0.0.1:{remote_write}/api/v1/write\n"
               "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, "
               "max_backoff: 1s}\n" if remote_write else ""))
        self.log = (tmp / "prometheus.log").open("w")
        storage = ["--enable-feature=agent", f"--storage.agent.path={tmp / 'wal'}"] if agent \
            else [f"--storage.tsdb.path={tmp / 'prom-data'}", "--rules.alert.resend-delay=1s"]
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", *storage,
             f"--web.listen-address=127.0.0.1:{self.port}", *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 30, "Prometheus to start")

    def _ready(self) -> bool:
        assert self.proc.poll() is None, "Prometheus exited; see prometheus.log"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
            return r.status == 200

    def query(self, expr: str, at: float | None = None) -> dict:
        params = {"query": expr} if at is None else {"query": expr, "time": repr(at)}
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as exc:  # a parse error answers 400 with a JSON body
            return json.load(exc)

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The value of a one-series answer (None when empty)."""
        answer = self.query(expr, at)
        assert answer["status"] == "success", (expr, answer)
        result = answer["data"]["result"]
        assert len(result) <= 1, (expr, result)
        return float(result[0]["value"][1]) if result else None

    def get(self, path: str, **params: str) -> dict:
        url = f"http://127.0.0.1:{self.port}{path}?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class Alertmanager:
    def __init__(self, tmp: Path, config: Path) -> None:
        binary = require_binary("prometheus-alertmanager")
        self.port = free_port()
        self.log = (tmp / "alertmanager.log").open("w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address="],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(self._ready, 30, "Alertmanager to start")

    def _ready(self) -> bool:
        assert self.proc.poll() is None, "Alertmanager exited; see alertmanager.log"
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2) as r:
            return r.status == 200

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


class SlackStandIn:
    """Captures what Alertmanager posts to its Slack webhook."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stand_in.posts.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    s = SlackStandIn()
    yield s
    s.stop()


def slack_alertmanager(tmp: Path, slack: SlackStandIn, group_wait: str = "") -> Alertmanager:
    """The project's alerts/alertmanager.yml and templates, posting to the Slack stand-in
    (the webhook URL from a file, as in production; the heartbeat to the stand-in too).
    ``group_wait`` replaces the route's 30 s, for tests that prove something else."""
    root = Path(__file__).resolve().parents[2]
    amdir = tmp / "alertmanager"
    amdir.mkdir()
    (amdir / "slack_webhook_url").write_text(slack.url + "\n")
    text = (root / "alerts/alertmanager.yml").read_text()
    assert text.count("/etc/alertmanager/secrets/slack_webhook_url") == 2
    # the heartbeat receiver gets the test's dead man's switch: the same stand-in
    heartbeat = slack.url.split("/services/")[0] + "/heartbeat"
    assert text.count("  - name: heartbeat\n") == 1
    text = text.replace("  - name: heartbeat\n", "  - name: heartbeat\n"
                        f"    webhook_configs: [{{url: '{heartbeat}'}}]\n")
    if group_wait:
        assert text.count("  group_wait: 30s\n") == 1
        text = text.replace("  group_wait: 30s\n", f"  group_wait: {group_wait}\n")
    (amdir / "alertmanager.yml").write_text(text.replace(
        "/etc/alertmanager/secrets/slack_webhook_url", str(amdir / "slack_webhook_url")))
    shutil.copytree(root / "alerts/templates", amdir / "templates")
    return Alertmanager(tmp, amdir / "alertmanager.yml")
