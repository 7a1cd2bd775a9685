"""Outages are reported, and only real ones: providers that flap or are down on some
replicas, error rates at low and high traffic, latency judged on bucket bounds, and fleet
alerts that fire once whatever the number of pods, and survive pods being replaced."""

from __future__ import annotations

from pathlib import Path

from .promtool import expect, firing, promtool, rules, silent

UP = 'llm_provider_up{job="llm-exporter",instance="%s",provider="%s"}'
REQ = ('llm_requests_total{job="llm-exporter",instance="a",provider="openai",model="%s",'
       'tier="Q1",team="search",status="%s"}')
BUCKET = ('llm_request_duration_seconds_bucket{job="llm-exporter",instance="a",'
          'provider="openai",model="%s",tier="Q3",status="success",le="%s"}')


def count(expr: str) -> str:
    return f"count({expr})"


def test_provider_outages_flapping_partial_and_full(tmp_path: Path) -> None:
    """Two exporter replicas. flaky: 60 s down, 60 s up, for 2 hours on both: a warning,
    never a page. half: down on replica a only: a warning, never a page. gone: down on
    both: the page."""
    flap = " ".join(["1 1 1 1 0 0 0 0"] * 60)
    case = {"interval": "15s", "input_series": [
        {"series": UP % ("a", "flaky"), "values": flap},
        {"series": UP % ("b", "flaky"), "values": flap},
        {"series": UP % ("a", "half"), "values": "1x20 0x460"},
        {"series": UP % ("b", "half"), "values": "1x480"},
        {"series": UP % ("a", "gone"), "values": "1x20 0x460"},
        {"series": UP % ("b", "gone"), "values": "1x20 0x460"}],
        "promql_expr_test": [
            expect(count(firing("LLMProviderDown", provider="flaky", severity="warning")),
                   "30m", ("{}", 1)),
            expect(count(firing("LLMProviderDown", provider="half", severity="warning")),
                   "20m", ("{}", 1)),
            expect(count(firing("LLMProviderDown", provider="gone", severity="critical")),
                   "20m", ("{}", 1)),
            silent('count_over_time(ALERTS{alertname="LLMProviderDown",severity="critical",'
                   'provider=~"flaky|half"}[2h])', "2h"),
            expect(count(firing("LLMProviderDown", provider="flaky", severity="warning")),
                   "2h", ("{}", 1))]}
    promtool(tmp_path, rules(tmp_path), [case])


def test_error_rates_at_low_and_high_traffic(tmp_path: Path) -> None:
    """low: one request a minute, every one failing, for 2 hours: alerts within 30
    minutes. busy: 20 requests/s, all failing from minute 10: the page within 5 minutes.
    rare: one failure every 5 minutes (and one success a minute): never a page."""
    case = {"interval": "1m", "input_series": [
        {"series": REQ % ("low", "error"), "values": "0+1x120"},
        {"series": REQ % ("busy", "success"), "values": "0+1200x10 12000x110"},
        {"series": REQ % ("busy", "error"), "values": "0x10 0+1200x110"},
        {"series": REQ % ("rare", "success"), "values": "0+1x120"},
        {"series": REQ % ("rare", "error"),
         "values": " ".join(str(k // 5) for k in range(121))}],
        "promql_expr_test": [
            expect(count(firing("LLMErrorRateHigh", model="low", severity="critical")),
                   "30m", ("{}", 1)),
            silent(count(firing("LLMErrorRateHigh", model="busy")), "10m"),
            expect(count(firing("LLMErrorRateHigh", model="busy", severity="critical")),
                   "15m", ("{}", 1)),
            silent('count_over_time(ALERTS{alertname="LLMErrorRateHigh",model="rare"}[2h])',
                   "2h")]}
    promtool(tmp_path, rules(tmp_path), [case])


def test_latency_is_judged_on_bucket_bounds(tmp_path: Path) -> None:
    """One request a second. o3 requests all take 22 s (bucket 20.48-40.96 s), opus ones
    45 s (40.96-81.92 s). An interpolated p95 reads 39.9 s and 79.9 s, over the old 30 s
    and 60 s thresholds: no page. 45 s is over the 40.96 s warning: a warning only."""
    def histogram(model: str, slow_from: str) -> list[dict]:
        out = []
        for le in ("20.48", "40.96", "81.92", "+Inf"):
            reached = float(le) >= float(slow_from) if le != "+Inf" else True
            out.append({"series": BUCKET % (model, le),
                        "values": "0+60x60" if reached else "0x60"})
        return out

    case = {"interval": "1m", "input_series": [
        *histogram("o3", "40.96"), *histogram("claude-opus-4-1", "81.92"),
        {"series": REQ % ("o3", "success"), "values": "0+60x60"},
        {"series": REQ % ("claude-opus-4-1", "success"), "values": "0+60x60"}],
        "promql_expr_test": [
            silent('count_over_time(ALERTS{alertname="LLMLatencyHigh",model="o3"}[1h])', "1h"),
            silent('count_over_time(ALERTS{alertname="LLMLatencyHigh",severity="critical"}'
                   '[1h])', "1h"),
            expect(count(firing("LLMLatencyHigh", model="claude-opus-4-1",
                                severity="warning")), "1h", ("{}", 1))]}
    promtool(tmp_path, rules(tmp_path), [case])


AGE = 'llm_price_catalog_age_seconds{job="llm-exporter",instance="%s"}'
INFO = 'llm_price_catalog_info{job="llm-exporter",instance="%s",source="genai-prices",' \
       'version="0.2.3",date="1969-11-03"}'
COLLECTOR = 'llm_exporter_collector_success{job="llm-exporter",instance="%s",collector="gpu"}'


def test_fleet_alerts_fire_once_and_survive_pod_churn(tmp_path: Path) -> None:
    """20 pods with a stale price catalog and a failing GPU collector: one alert each.
    Pods replaced every 45 minutes, each living 45 minutes: the stale catalog still fires
    after its `for: 1h`."""
    old = 61 * 86400
    fleet = {"interval": "1m", "input_series": [
        *({"series": AGE % f"pod-{i}", "values": f"{old}+60x120"} for i in range(20)),
        *({"series": INFO % f"pod-{i}", "values": "1x120"} for i in range(20)),
        *({"series": COLLECTOR % f"pod-{i}", "values": "0x120"} for i in range(20))],
        "promql_expr_test": [
            expect(count(firing("LLMPriceCatalogStale")), "1h30m", ("{}", 1)),
            expect(count(firing("LLMExporterCollectorFailed")), "1h30m", ("{}", 1))]}
    churn = {"interval": "1m", "input_series": [
        s for k in range(5) for s in (
            {"series": AGE % f"pod-{k}",
             "values": (f"_x{45 * k} " if k else "") + f"{old + 2700 * k}+60x44 stale"},
            {"series": INFO % f"pod-{k}", "values": (f"_x{45 * k} " if k else "") +
             "1x44 stale"})],
        "promql_expr_test": [
            expect(count(firing("LLMPriceCatalogStale")), "2h30m", ("{}", 1))]}
    promtool(tmp_path, rules(tmp_path), [fleet, churn])
