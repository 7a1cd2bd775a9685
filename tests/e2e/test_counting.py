"""Every dollar counted, proven with real Prometheus servers scraping a real sidecar
process: a request on a new series, and a restart whose first value exceeds the last one
before it, both give the exact ``sum(increase(...))`` and the exact budget spend, on both
servers of an HA pair, at 1 s and at 15 s scrape intervals.

Without zero-first exposition (exporter._store.memory.ZeroHold) Prometheus would see the new
series born at 600 (increase() 0) and the restart as 4 -> 6 (increase() 2, not 10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporter.mixin.rules import write

from .conftest import Prometheus, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


class SidecarProcess:
    """``llm-exporter serve`` in its own process, restartable on the same port."""

    def __init__(self, tmp: Path, hold: float) -> None:
        self.port = free_port()
        self.hold = hold
        self.log = (tmp / "sidecar.log").open("a")
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        env = {**os.environ, "LLM_EXPORTER_ZERO_HOLD_SECONDS": str(self.hold),
               "LLM_EXPORTER_COLLECTORS": ""}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exporter.cli", "serve", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT)

        def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "sidecar exited"
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                        timeout=2) as r:
                return r.status == 200

        wait_for(ready, 30, "the sidecar to start", interval=0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0

    def post(self, event: dict) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/v1/events",
                                     data=json.dumps(event).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)


def batch(team: str, usd: float) -> dict:
    """A batch whose bill is known: all of ``usd`` lands on one cost series."""
    return {"type": "batch", "provider": "openai", "model": "gpt-4o-mini", "team": team,
            "size": 10, "cost_usd": usd}


@pytest.fixture
def rules(tmp_path: Path) -> list[Path]:
    """The project's rules with day budgets for the test teams and a 10 s budget step."""
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budgets"] = [{"team": t, "usd": 1000, "period": "day"}
                         for t in ("newteam", "restarted", "solo")]
    config["budget"]["interval"] = config["budget"]["long_interval"] = "10s"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    return write(tmp_path / "config.yml", tmp_path / "rules")


@pytest.fixture
def servers() -> Iterator[list]:
    started: list = []
    yield started
    for s in started:
        s.stop()


@pytest.mark.parametrize("interval", [pytest.param(1, marks=pytest.mark.seconds(42)),
                                      pytest.param(15, marks=pytest.mark.seconds(115))])
def test_new_series_and_restart_are_counted_exactly_by_an_ha_pair(
        interval: int, tmp_path: Path, rules: list[Path], servers: list) -> None:
    # at least the scrape interval of every scraper, and the budget rules' step (10 s)
    hold = max(interval + 1.0, 10.0)
    sidecar = SidecarProcess(tmp_path, hold)
    try:
        pair = [Prometheus(tmp_path, [sidecar.port], rules, scrape_interval=f"{interval}s",
                           replica=name) for name in ("a", "b")]
        servers.extend(pair)
        for prom in pair:
            wait_for(lambda p=prom: p.value('up{job="llm-exporter"}') == 1, 60,
                     "the first scrape")

        # one request on a new series, a 600 USD batch on another, 4 USD before a restart
        solo = sidecar.post({"type": "request", "provider": "openai", "model": "gpt-4o",
                             "team": "solo", "input_tokens": 1200, "cache_read_tokens": 1000,
                             "output_tokens": 350})["total_cost_usd"]
        sidecar.post(batch("newteam", 600))
        # the first error of a model: its status="error" series is born with it
        sidecar.post({"type": "request", "provider": "anthropic", "model": "claude-sonnet-4-5",
                      "team": "solo", "status": "error", "error_type": "rate_limit",
                      "duration_seconds": 0.2})
        sidecar.post(batch("restarted", 4))
        shown = 'llm_cost_usd_total{team="%s",token_type="output"}'
        deadline = 60 + 3 * interval
        for prom in pair:
            wait_for(lambda p=prom: p.value(shown % "restarted") == 4, deadline,
                     "the 4 USD to be scraped")
            wait_for(lambda p=prom: p.value(shown % "newteam") == 600, deadline,
                     "the 600 USD to be scraped")
            wait_for(lambda p=prom: p.value('sum(llm_requests_total{status="error"})') == 1,
                     deadline, "the error to be scraped")

        def exact(p: Prometheus, team: str) -> float | None:
            """increase() at the time of the last scrape, so that it does not extrapolate
            past it; the window reaches back before the series was born."""
            at = p.value(f'max(timestamp(llm_cost_usd_total{{team="{team}"}}))')
            assert at is not None
            return p.value(f'sum(increase(llm_cost_usd_total{{team="{team}"}}[10m]))', at)

        for prom in pair:
            assert exact(prom, "newteam") == 600
            assert exact(prom, "solo") == pytest.approx(solo, rel=1e-12)
            errors = 'llm_requests_total{status="error"}'
            at = prom.value(f"max(timestamp({errors}))")
            assert prom.value(f"sum(increase({errors}[10m]))", at) == 1

        # a restart: the new process' first value (6) exceeds the last one before (4)
        sidecar.stop()
        time.sleep(interval + 0.5)  # Prometheus notices the target down
        sidecar.start()
        sidecar.post(batch("restarted", 6))
        for prom in pair:
            wait_for(lambda p=prom: p.value(shown % "restarted") == 6, deadline,
                     "the 6 USD after the restart")

        # the budget rules: exact spend steps, summed from recorded series
        spend = 'team_period:llm_cost_usd:spend{team="%s",period="day"}'
        for prom in pair:
            assert exact(prom, "restarted") == 10
            wait_for(lambda p=prom: p.value(spend % "restarted") == 10, 60,
                     "the budget rules to count the restart")
            assert prom.value(spend % "newteam") == 600
            assert prom.value(spend % "solo") == pytest.approx(solo, rel=1e-12)
            assert prom.value('team_period:llm_budget_used:ratio{team="newteam"}') == 0.6
    finally:
        sidecar.stop() if sidecar.proc and sidecar.proc.poll() is None else None


@pytest.mark.seconds(155)
def test_skipped_evaluations_and_a_stalled_prometheus_count_every_dollar(
        tmp_path: Path, servers: list) -> None:
    """A real Prometheus scrapes every second while its budget group runs every 30 s with
    rules written for 10 s steps: two evaluations of every three are skipped, as on an
    overloaded server. Then Prometheus is stopped (SIGSTOP) for longer than its scrape
    timeout and two budget intervals, while the spend goes on. Every dollar is counted:
    each step counts from what the last one counted, not from a fixed offset."""
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budgets"] = [{"team": "steady", "usd": 1000, "period": "day"}]
    config["budget"]["interval"] = config["budget"]["long_interval"] = "10s"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    files = write(tmp_path / "config.yml", tmp_path / "rules")
    main = files[0]
    groups = yaml.safe_load(main.read_text())
    for g in groups["groups"]:
        if g["name"] in ("llm.budget", "llm.budget_long"):
            g["interval"] = "30s"
    main.write_text(yaml.safe_dump(groups))
    sidecar = SidecarProcess(tmp_path, hold=10.0)
    try:
        prom = Prometheus(tmp_path, [sidecar.port], files, scrape_interval="1s")
        servers.append(prom)
        wait_for(lambda: prom.value('up{job="llm-exporter"}') == 1, 60, "the first scrape")
        sidecar.post(batch("steady", 0))  # the series exists, at 0 through the hold
        time.sleep(11)
        sent = 0
        deadline = time.monotonic() + 35
        while time.monotonic() < deadline:  # 2 USD a second, every second scraped
            sidecar.post(batch("steady", 2))
            sent += 2
            time.sleep(1)
        spend = 'team_period:llm_cost_usd:spend{team="steady",period="day"}'
        wait_for(lambda: prom.value(spend) == sent, 120,
                 f"the budget to count the {sent} USD sent",
                 describe=lambda: {q: prom.query(q)["data"]["result"] for q in (
                     spend, 'llm_cost_usd_total{team="steady"}',
                     'team:llm_cost_usd:increase10s', "series:llm_cost_usd:counted")})
        prom.proc.send_signal(signal.SIGSTOP)  # stalled: no scrape, no evaluation
        try:
            for _ in range(25):
                sidecar.post(batch("steady", 2))
                sent += 2
                time.sleep(1)
        finally:
            prom.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: prom.value(spend) == sent, 120,
                 f"the budget to count the {sent} USD after the stall")
    finally:
        sidecar.stop() if sidecar.proc and sidecar.proc.poll() is None else None
