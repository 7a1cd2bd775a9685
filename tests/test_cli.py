"""The demo workload, the /metrics server and the CLI, over real loopback HTTP."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time
import urllib.request

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from exporter import LLMMetrics, catalog, start_metrics_server
from exporter.cli import catalog_markdown
from exporter.demo import DEMO_SETTINGS, Workload


def test_demo_workload_fills_every_family() -> None:
    registry = CollectorRegistry()
    llm = LLMMetrics(registry, config=DEMO_SETTINGS, zero_hold_seconds=0)
    workload = Workload(llm, seed=3)
    workload.run(rate=1e9, stop=threading.Event(), max_requests=400)
    names = {m.name for m in registry.collect() if m.samples}
    for fam in catalog.LLM_FAMILIES:
        if fam.key in ("in_flight", "unpriced_requests"):
            # zero until track() is used / every demo model has a price
            assert fam.base_name() in names
            continue
        assert fam.base_name() in names, fam.name
        assert any(s.value > 0 for m in registry.collect() if m.name == fam.base_name()
                   for s in m.samples), f"{fam.name} has only zeros"
    assert workload.cost > 0
    total = sum(s.value for m in registry.collect() if m.name == "llm_cost_usd"
                for s in m.samples)
    assert abs(total - workload.cost) <= 1e-9 * workload.cost + 0.5  # batches add their cost


def test_metrics_server_negotiates_format_and_gzip() -> None:
    llm = LLMMetrics(CollectorRegistry())
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=10)
    server = start_metrics_server(llm, 0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert b'llm_tokens_total{provider="openai"' in r.read()
        req = urllib.request.Request(url, headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.headers["Content-Type"].startswith("application/openmetrics-text")
            assert r.headers["Content-Encoding"] == "gzip"
            text = gzip.decompress(r.read()).decode()
        assert text.endswith("# EOF\n")
        assert any(m.name == "llm_tokens" for m in text_string_to_metric_families(text))
        try:
            urllib.request.urlopen(url.replace("/metrics", "/nope"), timeout=10)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        else:
            raise AssertionError("404 expected")
    finally:
        server.shutdown()


def test_cli_demo_serves_the_sidecar_and_stops_by_itself() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "exporter.cli", "demo", "--port", "0",
                             "--duration", "3", "--report", "0.5", "--rate", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert "http://127.0.0.1:" in first, first
        url = first.split(" http://")[1].split()[0]
        time.sleep(1.0)
        with urllib.request.urlopen("http://" + url, timeout=10) as r:
            text = r.read().decode()
        assert "llm_requests_total{" in text and "system_cpu_count" in text
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    requests = int(out.split("stopped: requests=")[1].split()[0])
    assert 50 <= requests <= 200
    assert "no price known" not in err  # the demo's local model has a price


def test_cli_price_and_bad_config(tmp_path) -> None:
    ok = subprocess.run([sys.executable, "-m", "exporter.cli", "price", "openai", "gpt-4o"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "input 2.5" in ok.stdout and "output 10" in ok.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text("pricing:\n  catalog: maybe\n")
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "price", "openai", "gpt-4o",
                             "--config", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "pricing.catalog: must be true or false" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_docs_catalog_table_is_generated_from_the_catalog() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs/metrics.md").read_text()
    assert catalog_markdown() in page, \
        "docs/metrics.md's table is stale: paste the output of `llm-exporter catalog`"


def test_rules_warn_loudly_when_dashboard_links_point_at_localhost(tmp_path, capsys) -> None:
    """The committed config links alerts to a Grafana on localhost (the demo's); a team's
    config that keeps it would send on-call to their own machine."""
    from pathlib import Path

    from exporter.cli import main

    config = (Path(__file__).resolve().parents[1] / "alerts/config.yml").read_text()
    local = tmp_path / "local.yml"
    local.write_text(config)
    assert main(["rules", "--config", str(local), "--out", str(tmp_path / "a")]) == 0
    assert "warning: grafana_url is localhost" in capsys.readouterr().err
    real = tmp_path / "real.yml"
    real.write_text(config.replace('grafana_url: "http://localhost:3000"',
                                   'grafana_url: "https://grafana.example.com"'))
    assert main(["rules", "--config", str(real), "--out", str(tmp_path / "b")]) == 0
    assert "grafana_url" not in capsys.readouterr().err
    assert "https://grafana.example.com/d/llm-cost/" in (tmp_path / "b/llm.rules.yml").read_text()


def test_hostile_config_files_get_one_line_naming_the_file(tmp_path) -> None:
    """5,000 nested levels once ended in a RecursionError traceback, and a Latin-1 file's
    error did not say which file."""
    deep = tmp_path / "deep.yml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    latin = tmp_path / "latin.yml"
    latin.write_bytes("labels:\n  caps: {team: 5}\n# équipe\n".encode("latin-1"))
    deep_json = tmp_path / "deep.json"
    deep_json.write_text("[" * 100_000 + "]" * 100_000)
    for path, reason in ((deep, "nested too deeply"), (latin, "not UTF-8"),
                         (deep_json, "nested too deeply")):
        for command in (["serve", "--port", "0"], ["rules", "--out", str(tmp_path / "out")]):
            result = subprocess.run([sys.executable, "-m", "exporter.cli", *command,
                                     "--config", str(path)], capture_output=True, text=True,
                                    timeout=60)
            assert result.returncode == 2, (path, command, result.stderr[-500:])
            assert "Traceback" not in result.stderr, result.stderr[-500:]
            assert str(path) in result.stderr and reason in result.stderr, result.stderr
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_busy_port_is_one_line_naming_it_and_the_flag() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "exporter.cli", "serve", "--port",
                                 str(port)], capture_output=True, text=True, timeout=60,
                                env={**os.environ, "LLM_EXPORTER_COLLECTORS": ""})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"llm-exporter: cannot listen on 127.0.0.1:{port}: Address already in use (another "
        "process there? choose another with --port)"], result.stderr
