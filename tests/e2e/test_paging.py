"""The paging route of alerts/alertmanager.paging.yml with a real Alertmanager: critical
alerts page through PagerDuty's events API (a local capture server stands in for it, and
for Slack), warnings go to Slack; grouping and inhibition keep clusters apart, and the
Slack message names the cluster and links to the graph and a pre-filled silence."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from .conftest import Alertmanager, SlackStandIn, wait_for

ROOT = Path(__file__).resolve().parents[2]


def paging_alertmanager(tmp: Path, capture: SlackStandIn) -> tuple[Alertmanager, str]:
    """alerts/alertmanager.paging.yml, its secrets in files of ``tmp``, PagerDuty's URL
    and Slack's pointing at ``capture``, a 1 s group_wait."""
    amdir = tmp / "alertmanager"
    amdir.mkdir()
    key = "R0UTINGKEY0123456789abcdefabcdef"  # the shape of a routing key, not a real one
    (amdir / "pagerduty_routing_key").write_text(key + "\n")
    (amdir / "slack_webhook_url").write_text(capture.url + "\n")
    base = capture.url.split("/services/")[0]
    text = (ROOT / "alerts/alertmanager.paging.yml").read_text()
    assert text.count("routing_key_file: /etc/alertmanager/secrets/pagerduty_routing_key") == 1
    text = text.replace(
        "routing_key_file: /etc/alertmanager/secrets/pagerduty_routing_key",
        f"routing_key_file: {amdir / 'pagerduty_routing_key'}\n"
        f"        url: {base}/v2/enqueue")
    text = text.replace("/etc/alertmanager/secrets/slack_webhook_url",
                        str(amdir / "slack_webhook_url"))
    text = text.replace("  group_wait: 30s\n", "  group_wait: 1s\n")
    (amdir / "alertmanager.yml").write_text(text)
    (amdir / "templates").mkdir()
    for t in (ROOT / "alerts/templates").glob("*.tmpl"):
        (amdir / "templates" / t.name).write_text(t.read_text())
    return Alertmanager(tmp, amdir / "alertmanager.yml"), key


def alert(severity: str, cluster: str) -> dict:
    labels = {"alertname": "LLMBudgetExceeded", "severity": severity, "team": "search",
              "period": "day", "cluster": cluster}
    return {"labels": labels, "generatorURL": "http://prometheus.example:9090/graph?g0.expr=x",
            "annotations": {
                "summary": f"Team search is over its day LLM budget ({severity})",
                "description": "Team search has spent $612.00 of its $500.00 day budget. "
                               "Top models over the last 6h: openai/gpt-4o $400.00.",
                "dashboard_url": "http://localhost:3000/d/llm-cost/llm-cost-and-usage",
                "runbook_url": "https://example.invalid/README.md#llmbudgetexceeded"}}


def test_critical_pages_warnings_go_to_slack_and_clusters_stay_apart(
        tmp_path: Path, slack: SlackStandIn) -> None:
    am, key = paging_alertmanager(tmp_path, slack)
    try:
        # eu-1 is over budget (critical, and its warning), us-1 at its warning
        body = json.dumps([alert("critical", "eu-1"), alert("warning", "eu-1"),
                           alert("warning", "us-1")]).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{am.port}/api/v2/alerts",
                                         data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as r:
            assert r.status == 200

        def pages() -> list[dict]:
            return [p["json"] for p in slack.posts if p["path"] == "/v2/enqueue"]

        def slack_titles() -> list[str]:
            return sorted(p["json"]["attachments"][0]["title"] for p in slack.posts
                          if p["path"].startswith("/services/"))

        page = wait_for(pages, 60, "the PagerDuty event")[0]
        wait_for(lambda: len(slack_titles()) >= 2, 60, "two Slack messages")
        assert page["routing_key"] == key and page["event_action"] == "trigger"
        assert page["payload"]["summary"] == (
            "LLMBudgetExceeded · team search · cluster eu-1: Team search is over its day "
            "LLM budget (critical)")
        assert page["payload"]["severity"] == "critical"
        assert page["payload"]["custom_details"]["cluster"] == "eu-1"
        assert "Top models over the last 6h: openai/gpt-4o $400.00." in \
            page["payload"]["custom_details"]["summary"]
        links = {link["text"]: link["href"] for link in page["links"]}
        assert links["Dashboard"].startswith("http://localhost:3000/d/llm-cost/")
        assert "/#/silences/new?filter=%7Balertname%3D%22LLMBudgetExceeded%22" in \
            links["Silence"]
        # the eu-1 critical silences the eu-1 warning, never the us-1 one
        assert slack_titles() == [
            "[FIRING:1] LLMBudgetExceeded · team search · cluster eu-1 (critical)",
            "[FIRING:1] LLMBudgetExceeded · team search · cluster us-1 (warning)"]
        text = next(p["json"]["attachments"][0]["text"] for p in slack.posts
                    if "us-1" in p["json"].get("attachments", [{}])[0].get("title", ""))
        assert "Cluster: `us-1`" in text
        assert "<http://prometheus.example:9090/graph?g0.expr=x|Prometheus graph>" in text
        assert "cluster%3D%22us-1%22" in text and "|Silence this alert>" in text
        # the committed grafana_url is localhost: the message says so
        assert ":warning: The dashboard link points at localhost" in text
        assert len(pages()) == 1  # the warnings never page
    finally:
        am.stop()
