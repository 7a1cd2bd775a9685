"""Every read is bounded: a hostile or careless query gets a 400 naming its parameter
before any work starts, from a real sidecar process whose memory stays put."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator

import psutil
import pytest

from exporter.server.openapi import openapi

from ..conftest import start_cli

HOSTILE = (
    ("/_qs/metrics?from=-1e20", "from"),
    ("/_qs/metrics?from=1e11&to=2e11", "to"),
    ("/_qs/metrics?from=1e9&to=1.7e9", "from"),  # 22 years
    ("/_qs/metrics?from=-inf", "from"),
    ("/_qs/metrics?to=1e20", "to"),
    ("/_qs/metrics?to=nan", "to"),
    ("/_qs/metrics?from=0", "from"),
    ("/_qs/metrics?from=9999-12-31T23:59:59Z", "from"),
    ("/_qs/metrics?from=0001-01-01T00:00:00Z", "from"),
    ("/_qs/metrics?model=" + "m" * 5000, "model"),
    ("/api/v1/dashboard/metrics?time_range_hours=1e9", "time_range_hours"),
    ("/api/v1/dashboard/metrics?time_range_hours=inf", "time_range_hours"),
    ("/api/v1/dashboard/metrics?team_alias=" + "t" * 300, "team_alias"),
    ("/api/v1/read/queries?minutes=1e9", "minutes"),
    ("/api/v1/read/tiers?minutes=1441", "minutes"),
    ("/api/v1/read/routing?minutes=1e12", "minutes"),
    ("/api/llm/trends?days=1e6", "days"),
    ("/api/llm/costs?days=-1", "days"),
    ("/api/v1/requests/recent?limit=1e12", "limit"),
    ("/api/llm/costs?days=1&days=400", "days"),  # which one would count?
)


@pytest.fixture(scope="module")
def sidecar() -> Iterator[tuple[int, psutil.Process]]:
    proc, port = start_cli("serve", "--port", "0", env={"LLM_EXPORTER_COLLECTORS": ""})
    try:
        deadline = time.monotonic() + 20
        while get(port, "/-/ready")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield port, psutil.Process(proc.pid)
    finally:
        proc.kill()
        proc.wait()


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        reply = conn.getresponse()
        return reply.status, reply.read()
    except OSError:
        return 0, b""
    finally:
        conn.close()


def test_hostile_ranges_get_a_400_naming_the_parameter(sidecar) -> None:
    port, process = sidecar
    rss = process.memory_info().rss
    for path, field in HOSTILE:
        status, body = get(port, path)
        assert status == 400, (path, status, body[:200])
        assert json.loads(body)["details"]["field"] == field, (path, body)
    grown = (process.memory_info().rss - rss) / 1e6
    assert grown < 50, f"the sidecar grew {grown:.0f} MB answering bad parameters"


def test_the_widest_ranges_allowed_answer_and_stay_small(sidecar) -> None:
    """The bounds themselves are served: a year of hourly buckets is 8,784 rows."""
    port, process = sidecar
    now = time.time()
    status, body = get(port, f"/_qs/metrics?from={now - 366 * 86400 + 60:.0f}")
    assert status == 200, body[:200]
    assert len(json.loads(body)["timeseries"]) <= 8785 and len(body) < 2_000_000
    for path in ("/api/v1/dashboard/metrics?time_range_hours=8784", "/api/llm/trends?days=366",
                 "/api/v1/read/routing?minutes=44640", "/api/v1/read/tiers?minutes=1440"):
        assert get(port, path)[0] == 200, path


def test_every_read_parameter_is_in_the_openapi_document_with_its_bound() -> None:
    paths = openapi()["paths"]
    seen = set()
    for path, field in HOSTILE:
        route = path.split("?")[0]
        params = {p["name"]: p for p in paths[route]["get"]["parameters"]}
        assert field in params, (route, field)
        schema = params[field]["schema"]
        schema = schema.get("anyOf", [schema])[0]
        assert ("maximum" in schema or "maxLength" in schema), (route, schema)
        seen.add(route)
    assert len(seen) >= 8
