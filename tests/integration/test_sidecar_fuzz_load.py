"""Ingest under fuzzing and under concurrent load: no 5xx, every accepted event counted
exactly once, totals exact."""

from __future__ import annotations

import http.client
import json
import random
import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter import PriceOverride, Settings
from exporter.ingest.events import EVENTS
from exporter.settings.load import ServerSettings

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=12)
field_names = st.sampled_from(sorted({f for _, fs in EVENTS.values() for f in fs}
                                     | {"user_id", "junk"}))
events = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from([*EVENTS, "bogus"]),
    st.dictionaries(field_names, st.none() | st.booleans() | st.integers(-5, 10**7)
                    | st.floats(-1, 1e6, allow_nan=False) | st.sampled_from(
                        ["openai", "gpt-4o", "", "success", "error", "rate_limit", "q1",
                         "closed"]), max_size=8))
bodies = st.one_of(
    events,
    st.builds(lambda evs: {"events": evs}, st.lists(events, max_size=6)),
    json_values,
    st.sampled_from(["/api/v1/metrics/track", "/api/v1/metrics/cache"]).flatmap(
        lambda _: st.dictionaries(st.sampled_from(
            ["model", "prompt_tokens", "output_tokens", "total_tokens", "latency_ms",
             "team_alias", "cache_hit", "cache_miss", "status"]),
            st.none() | st.booleans() | st.integers(-3, 5000) | st.text(max_size=8),
            max_size=6)))
paths = st.sampled_from(["/v1/events", "/v1/events", "/api/v1/metrics/track",
                         "/api/v1/metrics/cache", "/api/v1/metrics/batch", "/api/llm/record"])


def test_fuzzed_ingest_never_5xx_and_counts_match(sidecar_factory) -> None:
    sc = sidecar_factory(Settings(server=ServerSettings(collectors=())))
    accepted = 0

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(path=paths, body=bodies, raw=st.sampled_from([None, None, b"{", b"", b"\x00\xff"]))
    def post(path: str, body: object, raw: bytes | None) -> None:
        nonlocal accepted
        status, _, reply = sc.request("POST", path, body, raw=raw)
        assert status < 500, reply
        if status == 200:
            answer = json.loads(reply)
            accepted += answer["accepted"] if path == "/v1/events" else 1
        else:
            assert status in (400, 413, 422), (status, reply)
            assert json.loads(reply)  # a JSON error body naming what was wrong
        assert sc.value("llm_exporter_events_total", result="accepted") == accepted

    post()
    assert accepted > 0  # the strategies do produce valid events


def test_concurrent_clients_totals_are_exact(sidecar_factory) -> None:
    """8 clients x 400 events (singles and batches of 10) with random tokens and costs."""
    price = PriceOverride(provider="acme", model="m1", input_per_mtok=1.1, output_per_mtok=3.3)
    sc = sidecar_factory(Settings(price_overrides=(price,),
                                  server=replace(ServerSettings(collectors=()))))
    clients, per_client = 8, 400
    sent_tokens = [[0, 0] for _ in range(clients)]
    sent_batch_cost = [0.0] * clients
    sent_events = [0] * clients
    errors: list[BaseException] = []

    def client(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", sc.port, timeout=30)
        try:
            sent = 0
            while sent < per_client:
                batch = []
                for _ in range(1 if rng.random() < 0.5 else 10):
                    if rng.random() < 0.8:
                        i, o = rng.randint(0, 50_000), rng.randint(0, 5000)
                        sent_tokens[n][0] += i
                        sent_tokens[n][1] += o
                        batch.append({"type": "request", "provider": "acme", "model": "m1",
                                      "team": f"t{n % 4}", "input_tokens": i,
                                      "output_tokens": o})
                    else:
                        cost = rng.uniform(0, 3)
                        sent_batch_cost[n] += cost
                        batch.append({"type": "batch", "provider": "acme", "model": "m1",
                                      "team": f"t{n % 4}", "size": 10, "cost_usd": cost})
                body = json.dumps(batch[0] if len(batch) == 1 else {"events": batch})
                conn.request("POST", "/v1/events", body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                assert resp.status == 200, resp.read()
                assert json.loads(resp.read())["accepted"] == len(batch)
                sent += len(batch)
            sent_events[n] = sent
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    total_in = sum(t[0] for t in sent_tokens)
    total_out = sum(t[1] for t in sent_tokens)
    tokens = {"input": 0.0, "output": 0.0}
    cost = 0.0
    for team in range(4):
        labels = {"provider": "acme", "model": "m1", "tier": "unknown", "team": f"t{team}"}
        for token_type in tokens:
            tokens[token_type] += sc.value("llm_tokens_total", **labels,
                                           token_type=token_type) or 0
            cost += sc.value("llm_cost_usd_total", **labels, token_type=token_type) or 0
    assert tokens == {"input": total_in, "output": total_out}
    expected = total_in * 1.1e-6 + total_out * 3.3e-6 + sum(sent_batch_cost)
    assert cost == pytest.approx(expected, rel=1e-9)
    assert sc.value("llm_exporter_events_total", result="accepted") == sum(sent_events)
