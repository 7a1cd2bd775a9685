"""Benchmark: recording one LLM request, rendering /metrics, memory per series.

Run: python tests/benchmarks/bench_recorder.py [--quick]

Absolute times drift on shared machines, so every figure is also given as a ratio to
a baseline measured in the same run. Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import threading
import time
import tracemalloc
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from exporter import LLMMetrics, catalog

PROVIDERS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"),
             ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-flash")]
TEAMS = ["search", "chat", "etl", "ads"]
TIERS = ["Q1", "Q2", "Q3"]


def calls(n: int) -> list[dict]:
    rng = random.Random(7)
    out = []
    for _ in range(n):
        provider, model = rng.choice(PROVIDERS)
        inp = rng.randint(100, 20000)
        out.append(dict(provider=provider, model=model, team=rng.choice(TEAMS),
                        tier=rng.choice(TIERS), input_tokens=inp,
                        cache_read_tokens=rng.randint(0, inp), output_tokens=rng.randint(2, 2000),
                        duration_seconds=rng.uniform(0.2, 30), ttft_seconds=rng.uniform(0.05, 0.2),
                        cache_hit=rng.random() < 0.3))
    return out


def per_call(fns: dict[str, object], args: list[dict], repeat: int) -> dict[str, float]:
    """Seconds per call of each function, best of ``repeat`` rounds. The functions take
    turns within each round, so drift in machine speed hits them all alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            gc.collect()
            t0 = time.perf_counter()
            for kw in args:
                fn(**kw)  # type: ignore[operator]
            best[name] = min(best[name], (time.perf_counter() - t0) / len(args))
    return best


class NaiveClient:
    """What a user writes by hand with prometheus_client: .labels() on every call, for
    the same series record_request writes for this request (requests, tokens and cost
    of 3 types, duration, TTFT, time per output token, tokens per request, cache)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = catalog.REQUEST_LABELS
        self.requests = Counter("llm_requests", "", r + ("status",), registry=registry)
        self.tokens = Counter("llm_tokens", "", r + ("token_type",), registry=registry)
        self.cost = Counter("llm_cost_usd", "", r + ("token_type",), registry=registry)
        self.duration = Histogram("llm_request_duration_seconds", "",
                                  ("provider", "model", "tier", "status"),
                                  buckets=catalog.DURATION_BUCKETS, registry=registry)
        self.ttft = Histogram("llm_time_to_first_token_seconds", "", ("provider", "model", "tier"),
                              buckets=catalog.TTFT_BUCKETS, registry=registry)
        self.tpot = Histogram("llm_time_per_output_token_seconds", "",
                              ("provider", "model", "tier"), buckets=catalog.TPOT_BUCKETS,
                              registry=registry)
        self.request_tokens = Histogram("llm_request_tokens", "",
                                        ("provider", "model", "token_type"),
                                        buckets=catalog.TOKEN_BUCKETS, registry=registry)
        self.cache = Counter("llm_cache_lookups", "", ("cache", "result"), registry=registry)

    def record(self, *, provider, model, team, tier, input_tokens, cache_read_tokens,
               output_tokens, duration_seconds, ttft_seconds, cache_hit):
        uncached = input_tokens - cache_read_tokens
        cost_in = uncached * 2.5e-6
        cost_cr = cache_read_tokens * 1.25e-6
        cost_out = output_tokens * 1e-5
        self.requests.labels(provider, model, tier, team, "success").inc()
        self.tokens.labels(provider, model, tier, team, "input").inc(uncached)
        self.tokens.labels(provider, model, tier, team, "cache_read").inc(cache_read_tokens)
        self.tokens.labels(provider, model, tier, team, "output").inc(output_tokens)
        self.cost.labels(provider, model, tier, team, "input").inc(cost_in)
        self.cost.labels(provider, model, tier, team, "cache_read").inc(cost_cr)
        self.cost.labels(provider, model, tier, team, "output").inc(cost_out)
        self.duration.labels(provider, model, tier, "success").observe(duration_seconds)
        self.ttft.labels(provider, model, tier).observe(ttft_seconds)
        self.tpot.labels(provider, model, tier).observe(
            (duration_seconds - ttft_seconds) / (output_tokens - 1))
        self.request_tokens.labels(provider, model, "input").observe(uncached)
        self.request_tokens.labels(provider, model, "cache_read").observe(cache_read_tokens)
        self.request_tokens.labels(provider, model, "output").observe(output_tokens)
        self.cache.labels("response", "hit" if cache_hit else "miss").inc()


class PreResolvedClient(NaiveClient):
    """The same, with every child looked up once and kept in a dict."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.children: dict[tuple, tuple] = {}

    def record(self, *, provider, model, team, tier, input_tokens, cache_read_tokens,
               output_tokens, duration_seconds, ttft_seconds, cache_hit):
        key = (provider, model, tier, team)
        c = self.children.get(key)
        if c is None:
            c = self.children[key] = (
                self.requests.labels(*key, "success"),
                self.tokens.labels(*key, "input"), self.tokens.labels(*key, "cache_read"),
                self.tokens.labels(*key, "output"), self.cost.labels(*key, "input"),
                self.cost.labels(*key, "cache_read"), self.cost.labels(*key, "output"),
                self.duration.labels(provider, model, tier, "success"),
                self.ttft.labels(provider, model, tier),
                self.cache.labels("response", "hit"), self.cache.labels("response", "miss"),
                self.tpot.labels(provider, model, tier),
                self.request_tokens.labels(provider, model, "input"),
                self.request_tokens.labels(provider, model, "cache_read"),
                self.request_tokens.labels(provider, model, "output"))
        uncached = input_tokens - cache_read_tokens
        c[0].inc()
        c[1].inc(uncached)
        c[2].inc(cache_read_tokens)
        c[3].inc(output_tokens)
        c[4].inc(uncached * 2.5e-6)
        c[5].inc(cache_read_tokens * 1.25e-6)
        c[6].inc(output_tokens * 1e-5)
        c[7].observe(duration_seconds)
        c[8].observe(ttft_seconds)
        (c[9] if cache_hit else c[10]).inc()
        c[11].observe((duration_seconds - ttft_seconds) / (output_tokens - 1))
        c[12].observe(uncached)
        c[13].observe(cache_read_tokens)
        c[14].observe(output_tokens)


def floor_fn():
    """One dict lookup to a row of numbers and a bisect for the bucket."""
    rows: dict[tuple, list] = {}

    def record(*, provider, model, team, tier, input_tokens, cache_read_tokens, output_tokens,
               duration_seconds, ttft_seconds, cache_hit):
        row = rows.get((provider, model, tier, team))
        if row is None:
            row = rows[(provider, model, tier, team)] = [0] * 40
        row[bisect_left(catalog.DURATION_BUCKETS, duration_seconds)] += 1
    return record


def bench_record(n: int, repeat: int) -> dict[str, float]:
    args = calls(n)
    llm = LLMMetrics(registry=None)
    return per_call({
        "naive prometheus_client (.labels each call)": NaiveClient(CollectorRegistry()).record,
        "prometheus_client, pre-resolved children": PreResolvedClient(CollectorRegistry()).record,
        "LLMMetrics.record_request": llm.record_request,
        "pure-Python floor (dict + bisect)": floor_fn(),
    }, args, repeat)


def bench_past_budget(n: int, repeat: int) -> dict[str, float]:
    """record_request within the series budget, and past it (every team a new value once
    the family is full, so each request folds into the overflow series)."""
    from exporter import Settings

    normal = LLMMetrics(registry=None)
    full = LLMMetrics(registry=None, config=Settings(series_budget=10))
    for i in range(20):  # fill the budget
        full.record_request(provider="openai", model="gpt-4o", team=f"fill-{i}",
                            input_tokens=1)
    args = calls(n)
    folded = [{**kw, "team": f"t{i % 500}"} for i, kw in enumerate(args)]
    return {"within the budget": per_call({"x": normal.record_request}, args, repeat)["x"],
            "past the budget": per_call({"x": full.record_request}, folded, repeat)["x"]}


def bench_multiprocess(n: int, repeat: int) -> dict[str, float]:
    """record_request with values in memory-mapped files (multi-worker mode) vs lists,
    and the cost of a scrape that merges the files."""
    import tempfile

    from exporter import multiprocess

    args = calls(n)
    with tempfile.TemporaryDirectory() as tmp:
        directory = multiprocess.prepare(tmp)
        mp = LLMMetrics(registry=None, multiprocess_dir=directory)
        single = LLMMetrics(registry=None)
        result = per_call({"single-process (lists)": single.record_request,
                           "multiprocess (mmap files)": mp.record_request}, args, repeat)
        t0 = time.perf_counter()
        lines = sum(1 for ln in mp.exposition().splitlines() if not ln.startswith(b"#"))
        result["merge + render (s)"] = time.perf_counter() - t0
        result["lines"] = lines
    # the alternative: prometheus_client's own multiprocess mode (pre-resolved children),
    # which must be chosen before prometheus_client is imported: a child process
    code = ("import sys, time; sys.path.insert(0, 'tests/benchmarks'); "
            "from bench_recorder import calls, PreResolvedClient; "
            "from prometheus_client import CollectorRegistry; "
            f"args = calls({n}); c = PreResolvedClient(CollectorRegistry()); best = 1e9\n"
            f"for _ in range({repeat}):\n"
            "    t0 = time.perf_counter()\n"
            "    [c.record(**kw) for kw in args]\n"
            "    best = min(best, (time.perf_counter() - t0) / len(args))\n"
            "print(best)")
    import os
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": tmp}, check=True)
    result["prometheus_client multiprocess, pre-resolved"] = float(out.stdout)
    return result


def bench_threads(n: int) -> float:
    """4 threads recording at once: seconds per call over all threads."""
    args = calls(n)
    llm = LLMMetrics(registry=None)

    def work() -> None:
        for kw in args:
            llm.record_request(**kw)

    threads = [threading.Thread(target=work) for _ in range(4)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return (time.perf_counter() - t0) / (4 * n)


def bench_exposition(series: int, repeat: int) -> dict[str, float]:
    """Seconds per sample line for ~``series`` counter series, ours vs generate_latest."""
    llm = LLMMetrics(registry=None, label_caps={"team": 100_000})
    teams = series // 12  # each new team under one model adds 12 counter series
    for i in range(teams):
        llm.record_request(provider="openai", model="gpt-4o", team=f"team-{i}", tier="Q1",
                           input_tokens=1000 + i, output_tokens=100, duration_seconds=1.0)
    lines_ours = sum(1 for ln in llm.exposition().splitlines() if not ln.startswith(b"#"))

    reg = CollectorRegistry()
    c = Counter("llm_tokens", "tokens", ("provider", "model", "tier", "team", "token_type"),
                registry=reg)
    for i in range(series):
        c.labels("openai", "gpt-4o", "Q1", f"team-{i // 5}", str(i % 5)).inc(i)
    lines_pc = sum(1 for ln in generate_latest(reg).splitlines() if not ln.startswith(b"#"))

    def best(fn) -> float:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    return {
        "lines (ours)": lines_ours,
        "lines (prometheus_client)": lines_pc,
        "ours text, s/line": best(llm.exposition) / lines_ours,
        "ours OpenMetrics, s/line": best(lambda: llm.exposition(openmetrics=True)) / lines_ours,
        "generate_latest, s/line": best(lambda: generate_latest(reg)) / lines_pc,
    }


def bench_memory(teams: int) -> float:
    """Bytes per counter series: each new team adds one row of 12 counter series."""
    llm = LLMMetrics(registry=None, label_caps={"team": 100_000})
    llm.record_request(provider="openai", model="gpt-4o", team="warm", input_tokens=1)
    llm.exposition()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(teams):
        llm.record_request(provider="openai", model="gpt-4o", team=f"t{i:06d}", input_tokens=1,
                           output_tokens=1)
    llm.exposition()  # line prefixes are cached at first render: count them
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / (teams * 12)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations")
    opts = ap.parse_args()
    n, repeat = (2000, 3) if opts.quick else (5000, 15)
    print(f"python {sys.version.split()[0]}, {n} calls, best of {repeat}")
    rec = bench_record(n, repeat)
    naive = rec["naive prometheus_client (.labels each call)"]
    ours = rec["LLMMetrics.record_request"]
    print("\nrecord one request (tokens and cost of 3 types, duration, TTFT, TPOT, "
          "tokens per request, cache hit):")
    for name, secs in rec.items():
        print(f"  {name:45s} {secs * 1e6:8.2f} us   {naive / secs:6.1f}x vs naive")
    print(f"  speed-up vs naive: {naive / ours:.1f}x  (target >= 10x)")
    print(f"  4 threads at once: {bench_threads(n // 2) * 1e6:.2f} us per call")
    past = bench_past_budget(n, repeat)
    print(f"  past the series budget: {past['past the budget'] * 1e6:.2f} us per request, "
          f"{past['within the budget'] * 1e6:.2f} us within it "
          f"({past['past the budget'] / past['within the budget']:.1f}x; target <= 2x)")
    mp = bench_multiprocess(n, repeat)
    print(f"  single-process {mp['single-process (lists)'] * 1e9:,.0f} ns, multiprocess "
          f"{mp['multiprocess (mmap files)'] * 1e9:,.0f} ns per request; merging the files "
          f"and rendering {mp['lines']:.0f} lines: {mp['merge + render (s)'] * 1e3:.1f} ms")
    print(f"  prometheus_client's multiprocess mode, same series, pre-resolved children: "
          f"{mp['prometheus_client multiprocess, pre-resolved'] * 1e9:,.0f} ns per request")
    exp = bench_exposition(10_000, repeat)
    print("\nexposition of ~10,000 series:")
    for name, value in exp.items():
        shown = f"{value * 1e6:8.3f} us" if isinstance(value, float) else str(value)
        print(f"  {name:30s} {shown}")
    print(f"  speed-up per line vs generate_latest: "
          f"{exp['generate_latest, s/line'] / exp['ours text, s/line']:.1f}x  (target >= 8x)")
    print(f"\nmemory per counter series: {bench_memory(2000 if opts.quick else 5000):.0f} bytes"
          "  (target < 400)")


if __name__ == "__main__":
    main()
