"""Multi-worker apps: a real gunicorn with 4 workers; totals exact across workers, a
killed worker's counts kept, gauges with a defined meaning, directories never shared."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter import LLMMetrics, multiprocess
from exporter._store.mmap import MARKER

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        return resp.read()
    finally:
        conn.close()


def samples(text: bytes) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text.decode()) for s in f.samples}


def totals(port: int) -> tuple[float, float, float]:
    got = samples(get(port, "/metrics"))
    requests = sum(v for (n, _), v in got.items() if n == "llm_requests_total")
    tokens = sum(v for (n, labels), v in got.items()
                 if n == "llm_tokens_total" and ("token_type", "input") in labels)
    count = sum(v for (n, _), v in got.items() if n == "llm_request_duration_seconds_count")
    return requests, tokens, count


@pytest.fixture
def gunicorn(tmp_path: Path, request: pytest.FixtureRequest):
    """gunicorn with 4 workers; ``@pytest.mark.parametrize("gunicorn", [hold],
    indirect=True)`` sets the zero-first hold (off by default in unit tests)."""
    port = free_port()
    hold = str(getattr(request, "param", 0))
    env = {**os.environ, "LLM_EXPORTER_MULTIPROC_DIR": str(tmp_path / "mp"),
           "PYTHONPATH": str(ROOT), "LLM_EXPORTER_ZERO_HOLD_SECONDS": hold}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}",
         "-c", str(ROOT / "tests/gunicorn_conf.py"), "tests.mp_app:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            get(port, "/metrics")
            break
        except (OSError, AssertionError):
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.2)
    yield port, tmp_path / "mp"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def test_totals_are_exact_across_four_workers(gunicorn) -> None:
    port, _ = gunicorn
    n_threads, per_thread = 8, 60
    pids: set[str] = set()
    sent = [0] * n_threads

    def load(t: int) -> None:
        for i in range(per_thread):
            pids.add(get(port, f"/record?team=t{t % 3}&input={i % 50 + 1}").decode())
            sent[t] += i % 50 + 1

    threads = [threading.Thread(target=load, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert len(pids) >= 2, "the load should reach several workers"
    expected = (n_threads * per_thread, sum(sent), n_threads * per_thread)
    for _ in range(8):  # whichever worker answers /metrics, the sums are the same
        assert totals(port) == expected

    # a killed worker's counts stay: its files outlive it, and gunicorn starts another
    os.kill(int(next(iter(pids))), signal.SIGKILL)
    time.sleep(1.0)
    for _ in range(4):
        assert totals(port) == expected


@pytest.mark.parametrize("gunicorn", [1.5], indirect=True)
def test_every_worker_shows_a_new_series_at_zero_then_its_value(gunicorn) -> None:
    """Scrapes land on any of the 4 workers: a new series reads 0 until the hold has
    passed since its first scrape by any of them, then its value on every worker. One
    worker showing 0 after another showed the value would read as a counter reset and
    count the value twice."""
    port, _ = gunicorn
    get(port, "/record?team=zero&input=7")
    key = ("llm_tokens_total", (("model", "gpt-4o"), ("provider", "openai"), ("team", "zero"),
                                ("tier", "unknown"), ("token_type", "input")))
    seen = []
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:  # bounded: about 4 s of scrapes
        seen.append(samples(get(port, "/metrics"))[key])
        time.sleep(0.02)
    assert seen[0] == 0 and seen[-1] == 7, seen
    first = seen.index(7)
    assert set(seen[:first]) == {0} and set(seen[first:]) == {7}, seen
    assert len(seen[:first]) >= 10  # the hold: about 1.5 s of zeros


def test_gauges_take_the_most_recent_value(gunicorn) -> None:
    port, _ = gunicorn
    for up in ("1", "0", "1", "0"):  # one after the other, most likely on several workers
        get(port, f"/provider?up={up}")
        time.sleep(0.01)
    for _ in range(6):
        got = samples(get(port, "/metrics"))
        assert got[("llm_provider_up", (("provider", "ollama"),))] == 0


def test_an_unprepared_or_foreign_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(multiprocess.MultiprocessError, match="not prepared"):
        LLMMetrics(CollectorRegistry(), multiprocess_dir=tmp_path / "nothing")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / MARKER).write_text('{"master_pid": 1}')
    with pytest.raises(multiprocess.MultiprocessError, match="another app instance"):
        LLMMetrics(CollectorRegistry(), multiprocess_dir=foreign)


def test_single_process_sees_its_own_files(tmp_path: Path) -> None:
    directory = multiprocess.prepare(tmp_path / "mp")
    llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    llm.record_request(provider="openai", model="gpt-4o", team="a", input_tokens=1200,
                       cache_read_tokens=1000, output_tokens=350, duration_seconds=2.4,
                       ttft_seconds=0.3, cache_hit=True)
    llm.set_tier_models(tier="q1", available=1, total=2)
    got = samples(llm.exposition())
    labels = (("model", "gpt-4o"), ("provider", "openai"), ("team", "a"), ("tier", "unknown"))
    assert got[("llm_tokens_total", tuple(sorted(labels + (("token_type", "cache_read"),))))] \
        == 1000
    assert got[("llm_cost_usd_total", tuple(sorted(labels + (("token_type", "output"),))))] \
        == pytest.approx(350 * 10e-6)
    assert got[("llm_tier_models", (("tier", "q1"),))] == 2
    assert got[("llm_cache_lookups_total", (("cache", "response"), ("result", "hit"),
                                              ("team", "a")))] == 1
    # a second "worker" (same process tree) adds to the same totals
    other = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    other.record_request(provider="openai", model="gpt-4o", team="a", input_tokens=1200,
                         cache_read_tokens=1000, output_tokens=350)
    assert samples(llm.exposition())[(
        "llm_tokens_total", tuple(sorted(labels + (("token_type", "cache_read"),))))] == 2000


def test_a_recorder_created_before_fork_gives_each_child_its_own_files(tmp_path: Path) -> None:
    """gunicorn --preload creates the recorder in the master: children must not share
    its memory mappings (concurrent updates would be lost)."""
    directory = multiprocess.prepare(tmp_path / "mp")
    llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=1)  # in the parent
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # child: record 1000 requests, then leave without cleanup
            try:
                for _ in range(1000):
                    llm.record_request(provider="openai", model="gpt-4o", input_tokens=1)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    got = samples(llm.exposition())
    labels = (("model", "gpt-4o"), ("provider", "openai"), ("status", "success"),
              ("team", "unknown"), ("tier", "unknown"))
    assert got[("llm_requests_total", labels)] == 3001
    # the parent's file, and one archive of the three children that exited
    assert len(list(Path(directory).glob("llm_*.db"))) == 2


def _workers(llm: LLMMetrics, n: int, killed_every: int) -> list[int]:
    """``n`` forked workers recording 50 requests each; every ``killed_every``-th is
    SIGKILLed once it has recorded (it never exits cleanly), the rest exit."""
    pids = []
    for i in range(n):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                for _ in range(50):
                    llm.record_request(provider="openai", model="gpt-4o", input_tokens=2)
                llm.set_provider_state(provider="ollama", up=bool(i % 2))
                os.write(ready_w, b"x")
                if i % killed_every == 0:
                    time.sleep(60)  # until killed
            finally:
                os._exit(0)
        os.close(ready_w)
        assert os.read(ready_r, 1) == b"x"
        os.close(ready_r)
        if i % killed_every == 0:
            os.kill(pid, signal.SIGKILL)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
    return pids


def test_dead_workers_files_are_compacted_and_every_total_stays_exact(tmp_path: Path) -> None:
    """88 workers, 17 of them SIGKILLed, once left 92 files and a scrape 38 times slower:
    their files fold into one archive, counts exact, gauges still the latest value."""
    directory = multiprocess.prepare(tmp_path / "mp")
    llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    llm.record_request(provider="openai", model="gpt-4o", input_tokens=2)
    _workers(llm, 88, killed_every=5)  # 18 killed
    assert len(list(Path(directory).glob("llm_*.db"))) >= 89
    labels = (("model", "gpt-4o"), ("provider", "openai"), ("status", "success"),
              ("team", "unknown"), ("tier", "unknown"))
    got = samples(llm.exposition())
    assert got[("llm_requests_total", labels)] == 1 + 88 * 50
    assert got[("llm_provider_up", (("provider", "ollama"),))] == 1  # worker 87 wrote last
    files = sorted(p.name for p in Path(directory).glob("llm_*.db"))
    assert len(files) == 2 and sum(name.startswith("llm_0_") for name in files) == 1, files
    # more workers come and go: still one archive, still exact
    _workers(llm, 10, killed_every=2)
    got = samples(llm.exposition())
    assert got[("llm_requests_total", labels)] == 1 + 98 * 50
    assert len(list(Path(directory).glob("llm_*.db"))) == 2


def test_readers_during_a_compaction_never_count_twice(tmp_path: Path) -> None:
    """Workers scrape at any moment: while one compacts, the others read either the
    dead files or the archive, never both."""
    directory = multiprocess.prepare(tmp_path / "mp")
    llm = LLMMetrics(CollectorRegistry(), multiprocess_dir=directory)
    labels = (("model", "gpt-4o"), ("provider", "openai"), ("status", "success"),
              ("team", "unknown"), ("tier", "unknown"))
    _workers(llm, 30, killed_every=3)
    readers = []
    for _ in range(3):
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(out_r)
                seen = {samples(llm.exposition())[("llm_requests_total", labels)]
                        for _ in range(15)}
                os.write(out_w, repr(sorted(seen)).encode())
            finally:
                os._exit(0)
        os.close(out_w)
        readers.append((pid, out_r))
    for pid, out_r in readers:
        seen = os.read(out_r, 4096).decode()
        os.close(out_r)
        os.waitpid(pid, 0)
        assert seen == "[1500.0]", seen
