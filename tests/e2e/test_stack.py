"""The whole pipeline with real binaries: the demo workload goes into the sidecar, a real
Prometheus scrapes it with the project's rules, every dashboard query returns data, and
a budget alert travels through a real Alertmanager to a stand-in for Slack."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from exporter import LLMMetrics
from exporter.collectors import CollectorSet
from exporter.collectors.gpu import gpu_collector
from exporter.collectors.system import SystemCollector
from exporter.demo import DEMO_SETTINGS, Workload
from exporter.mixin.config import load_alert_config
from exporter.mixin.dashboards.generate import render
from exporter.mixin.rules import write
from exporter.server.app import SidecarApp
from exporter.settings.load import ServerSettings

from ..collectors.test_collectors import FakeNVML
from .conftest import Prometheus, SlackStandIn, slack_alertmanager, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_sidecar(sidecar_factory) -> Iterator:
    """A sidecar with the system collector, a fake GPU, and the demo workload running."""
    # zero-first hold of 2 s: longer than the 1 s scrape interval of these tests
    llm = LLMMetrics(CollectorRegistry(), config=DEMO_SETTINGS, zero_hold_seconds=2)
    app = SidecarApp(llm, ServerSettings(), CollectorSet(
        [SystemCollector(), gpu_collector(nvml=FakeNVML())], llm.namespace))
    sc = sidecar_factory(app=app)
    stop = threading.Event()
    workload = Workload(llm, seed=7)
    workload.run(rate=1e9, stop=stop, max_requests=300)  # every family has data at once
    thread = threading.Thread(target=workload.run, args=(50.0, stop, 50_000), daemon=True)
    thread.start()
    yield sc
    stop.set()
    thread.join(10)


class InferenceServerMetrics:
    """A /metrics in vLLM's documented format ("Production Metrics", v0.11), its counters
    growing with each scrape, for the demo's GPU pool: the inference-server rules and
    panels read it as they would a real vLLM (whose scrape job carries the pool label;
    here the label is on the series)."""

    def __init__(self, pool: str) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        served = {"n": 0}
        labels = f'model_name="meta-llama/Llama-3.1-8B-Instruct",pool="{pool}"'

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                served["n"] += 1
                n = served["n"]
                body = (f"# TYPE vllm:prompt_tokens_total counter\n"
                        f"vllm:prompt_tokens_total{{{labels}}} {n * 5000}\n"
                        f"# TYPE vllm:generation_tokens_total counter\n"
                        f"vllm:generation_tokens_total{{{labels}}} {n * 800}\n"
                        f"# TYPE vllm:num_requests_running gauge\n"
                        f"vllm:num_requests_running{{{labels}}} 4\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def expand(expr: str, defined: set[str]) -> str:
    """The query Grafana sends for the dashboards' "All" choice: only the variables the
    dashboard defines are replaced, so a query using an undefined one fails here."""
    for var in defined:
        expr = expr.replace(f"${var}", ".*")
    return expr.replace("$__rate_interval", "30s").replace("$__range", "1h")


@pytest.mark.seconds(20)
def test_every_dashboard_query_returns_data(demo_sidecar, tmp_path: Path) -> None:
    # the project's rules, with the budget groups evaluated every 10 s instead of every
    # 1 and 5 minutes, so that their series exist within the test's deadline
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budget"]["interval"] = config["budget"]["long_interval"] = "10s"
    config["insights"]["interval"] = "10s"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    rules = write(tmp_path / "config.yml", tmp_path / "rules")
    vllm = InferenceServerMetrics(DEMO_SETTINGS.pools[0].name)
    prom = Prometheus(tmp_path, [demo_sidecar.port, vllm.port], rules)
    try:
        wait_for(lambda: prom.query('up{job="llm-exporter"} == 1')["data"]["result"], 60,
                 "the first scrape")
        queries = []
        for name, text in render(load_alert_config(tmp_path / "config.yml")).items():
            board = yaml.safe_load(text)
            defined = {v["name"] for v in board["templating"]["list"]}
            for panel in board["panels"]:
                for t in panel["targets"]:
                    queries.append((name, panel["title"], expand(t["expr"], defined)))
        assert len(queries) >= 60
        for name, title, expr in queries:
            answer = prom.query(expr)
            assert answer["status"] == "success", (name, title, expr, answer)
        # the one series that needs weeks of history (the same hour in past weeks): its
        # values are tested by promtool (alerts/tests/insights.test.yml)
        usual = "team:llm_cost_usd:increase1h_usual"
        assert sum(usual in q[2] for q in queries) == 1
        missing = [q for q in queries if usual not in q[2]]
        # rates need a few scrapes, recorded series an evaluation
        deadline = time.monotonic() + 120
        while missing and time.monotonic() < deadline:
            missing = [q for q in missing if not prom.query(q[2])["data"]["result"]]
            time.sleep(1)
        assert not missing, "panels without data:\n" + "\n".join(map(str, missing))
    finally:
        prom.stop()
        vllm.stop()


@pytest.mark.seconds(46)
def test_budget_alert_reaches_slack(demo_sidecar, slack: SlackStandIn, tmp_path: Path) -> None:
    # a budget set low: team search may spend one cent a day, and the alert needs no wait
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budgets"] = [{"team": "search", "usd": 0.01, "period": "day"}]
    config["budget"]["for"] = "0s"
    config["budget"]["interval"] = config["budget"]["long_interval"] = "10s"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    rules = write(tmp_path / "config.yml", tmp_path / "rules")
    am = slack_alertmanager(tmp_path, slack)
    prom = Prometheus(tmp_path, [demo_sidecar.port], rules, alertmanager_port=am.port)
    try:
        def budget_post() -> dict | None:
            for post in slack.posts:
                if post["path"] == "/heartbeat":
                    continue
                attachment = post["json"]["attachments"][0]
                if "LLMBudgetExceeded" in attachment["title"]:
                    return post
            return None

        # group_wait is 30 s in alerts/alertmanager.yml
        post = wait_for(budget_post, 120, "Alertmanager to post the budget alert to Slack",
                        interval=1)
        assert post["path"] == "/services/T000/B000/XXXX"
        payload = post["json"]
        assert payload["channel"] == "#llm-alerts"
        attachment = payload["attachments"][0]
        assert attachment["title"] == "[FIRING:1] LLMBudgetExceeded · team search (critical)"
        assert attachment["color"] == "danger"
        # the link opens the cost dashboard for the team
        link = "http://localhost:3000/d/llm-cost/llm-cost-and-usage?var-team=search"
        assert attachment["title_link"] == link
        text = attachment["text"]
        assert "*Team search is over its day LLM budget*" in text
        assert "Team search has spent $" in text and "of its $0.01 day budget" in text
        spend = float(text.split("Team search has spent $")[1].split()[0])
        assert spend > 0.01
        assert "At the pace of the last 6h the team spends $" in text
        assert "the budget left lasts 0 hours." in text
        assert "Team: `search`" in text and "Severity: `critical`" in text
        assert f"<{link}|Dashboard>" in text
        assert "<https://github.com/llm-exporter/llm-exporter/blob/main/docs/runbooks.md" \
               "#llmbudgetexceeded|Runbook>" in text
        # the warning of the same alert is inhibited by the critical one
        assert not [p for p in slack.posts if p["path"] != "/heartbeat"
                    and "LLMBudgetExceeded" in p["json"]["attachments"][0]["title"]
                    and "(warning)" in p["json"]["attachments"][0]["title"]]
        # the Watchdog reaches the dead man's switch, and never Slack
        beats = wait_for(lambda: [p for p in slack.posts if p["path"] == "/heartbeat"], 60,
                         "the Watchdog heartbeat")
        assert [a["labels"]["alertname"] for a in beats[0]["json"]["alerts"]] == ["Watchdog"]
        assert not [p for p in slack.posts if p["path"] != "/heartbeat"
                    and "Watchdog" in p["json"]["attachments"][0]["title"]]
    finally:
        prom.stop()
        am.stop()


def test_prometheus_stores_exemplars(sidecar_factory, tmp_path: Path) -> None:
    """With --enable-feature=exemplar-storage, Prometheus keeps the trace ids the sidecar
    exposes in OpenMetrics and returns them from /api/v1/query_exemplars."""
    from exporter import Settings

    sc = sidecar_factory(Settings(server=ServerSettings(collectors=())))
    trace = "0af7651916cd43dd8448eb211c80319c"
    prom = Prometheus(tmp_path, [sc.port], [], extra_args=("--enable-feature=exemplar-storage",))
    try:
        def stored() -> list:
            sc.post("/v1/events", {"type": "request", "provider": "openai", "model": "gpt-4o",
                                   "input_tokens": 10, "duration_seconds": 1.0,
                                   "trace_id": trace})
            now = time.time()
            answer = prom.get("/api/v1/query_exemplars",
                              query="llm_request_duration_seconds_bucket",
                              start=str(now - 300), end=str(now + 60))
            return [e for series in answer["data"] for e in series["exemplars"]]

        found = wait_for(stored, 60, "Prometheus to store an exemplar", interval=1)
        assert found[0]["labels"] == {"trace_id": trace}
        assert float(found[0]["value"]) == 1.0
    finally:
        prom.stop()
