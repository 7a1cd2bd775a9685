"""Readers never slow scrapes or ingest: reads have a pool of their own and share one
snapshot; collectors run for scrapes (or a timed refresh), never for a read."""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry

from exporter import LLMMetrics, Settings
from exporter.catalog import family
from exporter.collectors import CollectorSet
from exporter.server.app import SidecarApp
from exporter.server.reading import MAX_WAITING_READS
from exporter.settings.load import ServerSettings


class Counting:
    """A collector that counts its runs (one gauge, the host's CPU in the real one)."""

    name = "system"

    def __init__(self) -> None:
        self.runs = 0

    def collect(self):
        self.runs += 1
        return [(family("cpu_utilization"), [((), 0.5)])]


def _app(collector: Counting) -> SidecarApp:
    llm = LLMMetrics(CollectorRegistry(), config=Settings())
    return SidecarApp(llm, ServerSettings(), CollectorSet([collector], llm.namespace))


def test_reads_never_run_the_collectors(sidecar_factory) -> None:
    collector = Counting()
    sc = sidecar_factory(app=_app(collector))
    assert sc.request("GET", "/metrics")[0] == 200
    runs = collector.runs
    for i in range(60):  # distinct reads: none answered from another's answer
        status, _, body = sc.request("GET", f"/api/metrics/resources?n={i}")
        assert status == 200
    assert json.loads(body)["cpu"]["percent"] == 50.0  # what the last run saw
    # the background refresh may run once while someone reads; reads themselves never
    assert collector.runs - runs <= 1, collector.runs - runs
    assert sc.request("GET", "/metrics")[0] == 200
    assert collector.runs > runs


def test_a_scrape_is_served_while_every_reader_waits(sidecar_factory) -> None:
    """The read pool held by slow reads: /metrics answers, ingest answers, and reads past
    the queue's bound get a 503 with Retry-After instead of piling up."""
    sc = sidecar_factory()
    release = threading.Event()
    pool = sc.app.read.executor
    held = [pool.submit(release.wait, 30) for _ in range(2)]  # both read threads busy
    try:
        assert sc.request("GET", "/metrics")[0] == 200
        assert sc.post("/v1/events", {"type": "request", "provider": "openai",
                                      "model": "gpt-4o", "input_tokens": 1})[0] == 200

        def read(i: int) -> tuple[int, dict[str, str]]:
            conn = http.client.HTTPConnection("127.0.0.1", sc.port, timeout=60)
            conn.request("GET", f"/api/llm/trends?days={1 + i / 1000}")
            reply = conn.getresponse()
            reply.read()
            return reply.status, dict(reply.getheaders())

        with ThreadPoolExecutor(MAX_WAITING_READS + 8) as readers:
            waiting = [readers.submit(read, i) for i in range(MAX_WAITING_READS + 8)]
            deadline = time.monotonic() + 60
            while sum(w.done() for w in waiting) < 8:  # the 8 past the bound are refused
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert sc.app.reading.answers.waiting == MAX_WAITING_READS
            assert sc.request("GET", "/metrics")[0] == 200  # still served meanwhile
            release.set()
            answers = [w.result(timeout=60) for w in waiting]
    finally:
        release.set()
        for h in held:
            h.result(timeout=30)
    statuses = sorted(s for s, _ in answers)
    assert statuses.count(200) >= MAX_WAITING_READS, statuses
    refused = [h for s, h in answers if s == 503]
    assert refused and all(h["retry-after"] == "1" for h in refused), statuses
    assert set(statuses) <= {200, 503}


def test_identical_reads_at_once_are_computed_once(sidecar_factory) -> None:
    sc = sidecar_factory()
    calls = []
    answer = sc.app.read.routes["/api/llm/metrics"]
    release = threading.Event()

    def slow(params):
        calls.append(1)
        release.wait(30)
        return answer(params)

    sc.app.read.routes["/api/llm/metrics"] = slow
    answers = sc.app.reading.answers
    asked = []
    get = answers.get
    answers.get = lambda key, stale=0.0: asked.append(1) or get(key, stale)  # type: ignore[method-assign]
    with ThreadPoolExecutor(16) as readers:
        got = [readers.submit(sc.request, "GET", "/api/llm/metrics") for _ in range(16)]
        deadline = time.monotonic() + 60
        while len(asked) < 16:  # every read has arrived (and found the first computing)
            assert time.monotonic() < deadline
            time.sleep(0.05)
        release.set()
        bodies = {r.result(timeout=60)[2] for r in got}
    assert len(bodies) == 1 and len(calls) == 1, len(calls)


def test_past_its_share_of_the_interpreter_the_read_side_answers_from_older_answers(
        sidecar_factory) -> None:
    """Computing answers competes with ingest for one interpreter: while it takes more
    than READ_SHARE of it, identical reads get the kept answer (up to
    MAX_STALE_SECONDS old) instead of a new computation."""
    from exporter.read.side import ANSWER_SECONDS
    from exporter.server.reading import MAX_STALE_SECONDS, READ_SHARE

    sc = sidecar_factory()
    event = {"type": "request", "provider": "openai", "model": "gpt-4o", "input_tokens": 1}
    first = sc.request("GET", "/api/llm/metrics")[2]
    assert sc.post("/v1/events", event)[0] == 200
    read = sc.app.read
    read._load, read._load_at = 1000 * READ_SHARE, time.monotonic()  # busy: it decays in s
    time.sleep(ANSWER_SECONDS + 0.1)
    assert sc.request("GET", "/api/llm/metrics")[2] == first  # older, not recomputed
    assert MAX_STALE_SECONDS > ANSWER_SECONDS
    read._load, read._load_at = 0.0, time.monotonic()  # idle again
    fresh = json.loads(sc.request("GET", "/api/llm/metrics")[2])
    assert fresh["total_requests"] == 1
