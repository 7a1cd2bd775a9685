"""The live page in a real headless Chromium (Debian's package): it loads without console
errors, shows the numbers that were sent, and runs on the demo (the README's first
command). Screenshots go to test-artifacts/ (or $TEST_ARTIFACTS)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exporter import Settings

from ..compat.traffic import BASELINE, send
from ..conftest import require_binary
from ..e2e.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts"))


def chromium(url: str, profile: Path, *extra: str) -> tuple[str, str]:
    """(DOM after the page's scripts ran, Chromium's log with the console messages)."""
    binary = require_binary("chromium")
    done = subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         f"--user-data-dir={profile}", "--window-size=1400,1700", "--hide-scrollbars",
         "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", *extra, url],
        capture_output=True, text=True, timeout=120)
    return done.stdout, done.stderr


def kpis(dom: str) -> dict[str, str]:
    return dict(re.findall(r'id="kpi-([a-z]+)">([^<]*)<', dom))


def console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line]


def test_page_shows_what_was_sent_without_console_errors(sidecar_factory, tmp_path: Path
                                                         ) -> None:
    sc = sidecar_factory(Settings(baseline=BASELINE))
    send(sc.url)
    dom, log = chromium(sc.url + "/", tmp_path / "profile", "--dump-dom")
    assert console(log) == []
    assert 'data-loaded="true"' in dom, dom[:2000]
    assert re.search(r'id="errors"[^>]*hidden', dom)
    shown = kpis(dom)
    assert shown["requests"] == "9"
    assert shown["tokens"] == "8,150"
    assert shown["errors"] == "44.44%"  # 4 of 9
    assert shown["cache"] == "30.39%"  # 31 hits of 102 lookups
    assert re.fullmatch(r"\$\d+\.\d{2,4}", shown["cost"]), shown
    assert shown["latency"].endswith(" ms")
    # the six charts drew (uPlot canvases), and the routing matrix and resources filled
    assert dom.count('class="uplot') == 6
    assert "simple" in dom and "premium" in dom and "Memory" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "page-known-traffic.png"
    chromium(sc.url + "/", tmp_path / "profile", f"--screenshot={shot}")
    assert shot.stat().st_size > 20_000


def test_the_demo_is_the_landing_page(tmp_path: Path) -> None:
    require_binary("chromium")
    port = free_port()
    demo = subprocess.Popen([sys.executable, "-m", "exporter.cli", "demo", "--port", str(port),
                             "--rate", "50", "--duration", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.2)
        time.sleep(3)
        dom, log = chromium(f"http://127.0.0.1:{port}/", tmp_path / "profile", "--dump-dom")
        assert console(log) == []
        shown = kpis(dom)
        assert int(shown["requests"].replace(",", "")) > 0, shown
        assert shown["cost"] != "$0.00", shown
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "page-demo.png"
        chromium(f"http://127.0.0.1:{port}/", tmp_path / "profile", f"--screenshot={shot}")
        assert shot.stat().st_size > 20_000
    finally:
        demo.terminate()
        demo.wait(timeout=30)


@pytest.mark.seconds(8)
def test_every_offered_range_works_under_the_pages_security_headers(sidecar_factory,
                                                                    tmp_path: Path) -> None:
    """The 7- and 30-day buttons once failed and left the 24 h numbers on screen; every
    range is loaded here under the CSP (a violation is a console error)."""
    sc = sidecar_factory(Settings(baseline=BASELINE))
    status, headers, body = sc.request("GET", "/")
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
    assert b"<script>" not in body and b" style=" not in body  # nothing inline to allow
    offered = re.findall(rb'<option value="(\d+)"', body.split(b'id="f-range"')[1]
                         .split(b"</select>")[0])
    assert offered == [b"1", b"6", b"24", b"168", b"720"]
    send(sc.url)
    for hours in offered:
        dom, log = chromium(f"{sc.url}/?range={hours.decode()}", tmp_path / "profile",
                            "--dump-dom")
        assert console(log) == [], (hours, console(log))
        assert 'data-loaded="true"' in dom, (hours, dom[:1500])
        assert re.search(r'id="errors"[^>]*hidden', dom), hours
        assert kpis(dom)["requests"] == "9", (hours, kpis(dom))


def test_a_failing_read_shows_the_error_and_no_stale_numbers(tmp_path: Path) -> None:
    """Prometheus down: the page says why, and its numbers are blanks, not old values."""
    from exporter.server import bind, build_app, serve
    from exporter.settings.load import ServerSettings

    dead = free_port()
    app = build_app(Settings(server=ServerSettings(prometheus_url=f"http://127.0.0.1:{dead}")))
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    import threading
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(app, sock), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        dom, _ = chromium(f"http://127.0.0.1:{port}/", tmp_path / "profile", "--dump-dom")
    finally:
        stop.set()
        thread.join(timeout=20)
    assert 'data-loaded="error"' in dom, dom[:1500]
    assert "did not answer" in dom
    assert set(kpis(dom).values()) == {"–"}
