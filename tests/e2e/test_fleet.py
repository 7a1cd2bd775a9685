"""A fleet, with real binaries: two sidecar replicas, two edge Prometheus servers (one in
agent mode) each scraping one replica and sending every sample by remote_write to a
central Prometheus with the remote-write receiver (the protocol Mimir, Thanos Receive and
VictoriaMetrics speak), which evaluates the rules and alerts through Alertmanager to the
Slack stand-in. The team's spend in the central store equals what was sent, a replica
restart loses nothing, and the budget alert reaches Slack exactly once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from exporter.mixin.rules import write

from .conftest import Prometheus, SlackStandIn, slack_alertmanager, wait_for
from .test_counting import ROOT, SidecarProcess, batch


@pytest.fixture
def rules(tmp_path: Path) -> list[Path]:
    """The project's rules with a 10 USD day budget for team fleet, a 10 s budget step,
    no wait before the alert fires, and steps counted 5 s behind real time."""
    config = yaml.safe_load((ROOT / "alerts/config.yml").read_text())
    config["budgets"] = [{"team": "fleet", "usd": 10, "period": "day"}]
    config["budget"]["interval"] = config["budget"]["long_interval"] = "10s"
    config["budget"]["for"] = "0s"
    # the centre sees each sample about a second after its timestamp (remote_write)
    config["budget"]["evaluation_delay"] = "5s"
    (tmp_path / "config.yml").write_text(yaml.safe_dump(config))
    return write(tmp_path / "config.yml", tmp_path / "rules")


@pytest.mark.seconds(76)
def test_remote_write_fleet_counts_exactly_and_alerts_once(tmp_path: Path, rules: list[Path],
                                                           slack: SlackStandIn) -> None:
    replicas = [SidecarProcess(tmp_path, hold=10.0) for _ in range(2)]
    servers: list[Prometheus] = []
    am = slack_alertmanager(tmp_path, slack, group_wait="1s")  # test_stack waits the 30 s
    try:
        central = Prometheus(tmp_path, [], rules, alertmanager_port=am.port,
                             extra_args=("--web.enable-remote-write-receiver",))
        servers.append(central)
        servers.append(Prometheus(tmp_path, [replicas[0].port], [], remote_write=central.port,
                                  external="edge: a"))
        servers.append(Prometheus(tmp_path, [replicas[1].port], [], remote_write=central.port,
                                  agent=True, external="edge: b"))
        wait_for(lambda: central.value('count(up{job="llm-exporter"} == 1)') == 2, 60,
                 "both replicas' samples to reach the central store")

        replicas[0].post(batch("fleet", 4))
        replicas[1].post(batch("fleet", 3))
        spend = 'team_period:llm_cost_usd:spend{team="fleet",period="day"}'
        wait_for(lambda: central.value(spend) == 7, 90,
                 "the central budget rules to count 4 + 3 USD")
        assert central.value('sum(llm_cost_usd_total{team="fleet"})') == 7
        assert not [p for p in slack.posts if "LLMBudgetExceeded" in str(p["json"])]

        # a replica restarts: its counters start again at 0, and nothing is lost
        replicas[0].stop()
        time.sleep(1.5)
        replicas[0].start()
        replicas[0].post(batch("fleet", 5))
        wait_for(lambda: central.value(spend) == 12, 90,
                 "the central budget rules to count the 5 USD after the restart")
        assert central.value('sum(llm_cost_usd_total{team="fleet"})') == 8  # 3 + 5 now

        def budget_posts() -> list[dict]:
            return [p for p in slack.posts if p["path"] != "/heartbeat"
                    and "LLMBudgetExceeded" in p["json"]["attachments"][0]["title"]]

        posts = wait_for(budget_posts, 60, "the budget alert to reach Slack", interval=1)
        assert posts[0]["json"]["attachments"][0]["title"] == \
            "[FIRING:1] LLMBudgetExceeded · team fleet (critical)"
        assert "Team fleet has spent $12" in posts[0]["json"]["attachments"][0]["text"]
        time.sleep(6)  # two edges, one central evaluation: still one post
        assert len(budget_posts()) == 1
    finally:
        for s in reversed(servers):  # edges first: they would retry sending to the centre
            s.stop()
        am.stop()
        for r in replicas:
            if r.proc is not None and r.proc.poll() is None:
                r.stop()
