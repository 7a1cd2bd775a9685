"""Collectors: real psutil, a fake NVML (we have no GPU), failure isolation."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter import LLMMetrics, Settings
from exporter.collectors import CollectorSet
from exporter.collectors.gpu import GPUCollector, gpu_collector
from exporter.collectors.system import SystemCollector
from exporter.server.app import SidecarApp
from exporter.settings.load import ServerSettings


class FakeNVML:
    """Stands in for pynvml at the NVML boundary: two GPUs, the second one without an
    energy counter (as on pre-Volta cards)."""

    NVML_TEMPERATURE_GPU = 0

    class NVMLError(Exception):
        pass

    def __init__(self, count: int = 2, init_error: Exception | None = None) -> None:
        self.count = count
        self.init_error = init_error

    def nvmlInit(self) -> None:  # noqa: N802 (NVML's names)
        if self.init_error is not None:
            raise self.init_error

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return self.count

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:  # noqa: N802
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes:  # noqa: N802
        return b"NVIDIA A100-SXM4-80GB"

    def nvmlDeviceGetUUID(self, h: int) -> str:  # noqa: N802
        return f"GPU-{h:04d}"

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(gpu=37 + h, memory=10)

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(used=(20 + h) * 2**30, total=80 * 2**30, free=0)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:  # noqa: N802
        return 64 + h

    def nvmlDeviceGetPowerUsage(self, h: int) -> int:  # noqa: N802
        return 251_500  # mW

    def nvmlDeviceGetEnforcedPowerLimit(self, h: int) -> int:  # noqa: N802
        return 400_000

    def nvmlDeviceGetTotalEnergyConsumption(self, h: int) -> int:  # noqa: N802
        if h == 1:
            raise self.NVMLError("Not Supported")
        return 9_000_000  # mJ

    def nvmlDeviceGetComputeRunningProcesses(self, h: int) -> list:  # noqa: N802
        return [SimpleNamespace(pid=999_999_999, usedGpuMemory=4 * 2**30)]


def parse(body: bytes) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def test_gpu_collector_reads_every_gpu_metric() -> None:
    collector = gpu_collector(nvml=FakeNVML(), processes=True)
    assert isinstance(collector, GPUCollector)
    CollectorSet([collector]).render(openmetrics=False)
    got = parse(CollectorSet([collector]).render(openmetrics=False))  # the second scrape too
    g0 = (("gpu", "0"), ("name", "NVIDIA A100-SXM4-80GB"), ("uuid", "GPU-0000"))
    assert got[("gpu_utilization_ratio", g0)] == 0.37
    assert got[("gpu_memory_used_bytes", g0)] == 20 * 2**30
    assert got[("gpu_memory_total_bytes", g0)] == 80 * 2**30
    assert got[("gpu_temperature_celsius", g0)] == 64
    assert got[("gpu_power_usage_watts", g0)] == 251.5
    assert got[("gpu_power_limit_watts", g0)] == 400
    assert got[("gpu_energy_joules_total", g0)] == 9000
    g1 = (("gpu", "1"), ("name", "NVIDIA A100-SXM4-80GB"), ("uuid", "GPU-0001"))
    assert got[("gpu_temperature_celsius", g1)] == 65
    assert ("gpu_energy_joules_total", g1) not in got  # not supported on that card
    assert got[("gpu_process_memory_used_bytes",
                (("gpu", "0"), ("pid", "999999999"), ("process", "unknown")))] == 4 * 2**30
    assert got[("llm_exporter_collector_success", (("collector", "gpu"),))] == 1


def test_no_driver_or_no_gpu_means_no_collector() -> None:
    assert gpu_collector(nvml=FakeNVML(init_error=OSError("NVML Shared Library Not Found"))) \
        is None
    assert gpu_collector(nvml=FakeNVML(count=0)) is None


def test_system_collector_with_real_psutil() -> None:
    got = parse(CollectorSet([SystemCollector()]).render(openmetrics=False))
    assert got[("system_cpu_time_seconds_total", (("mode", "user"),))] > 0
    assert got[("system_cpu_count", ())] >= 1
    assert 0 < got[("system_memory_used_bytes", ())] < got[("system_memory_total_bytes", ())]
    assert 0 <= got[("system_cpu_utilization_ratio", ())] <= 1
    assert ("system_network_io_bytes_total", (("direction", "receive"),)) in got
    assert got[("llm_exporter_collector_duration_seconds", (("collector", "system"),))] > 0


class Broken:
    name = "broken"

    def collect(self) -> list:
        raise RuntimeError("sensor on fire")


def test_a_failing_collector_reports_0_and_the_scrape_goes_on(caplog) -> None:
    collectors = CollectorSet([Broken(), SystemCollector()])
    for _ in range(3):
        got = parse(collectors.render(openmetrics=False))
        assert got[("llm_exporter_collector_success", (("collector", "broken"),))] == 0
        assert got[("llm_exporter_collector_success", (("collector", "system"),))] == 1
        assert got[("system_cpu_count", ())] >= 1
    assert sum("sensor on fire" in r.getMessage() or "broken" in r.getMessage()
               for r in caplog.records) == 1  # logged once, not on every scrape


def test_sidecar_scrape_includes_gpu_from_fake_nvml(sidecar_factory, registry) -> None:
    llm = LLMMetrics(registry)
    app = SidecarApp(llm, replace(ServerSettings(), collectors=("gpu",)),
                     CollectorSet([gpu_collector(nvml=FakeNVML())], llm.namespace))
    sc = sidecar_factory(Settings(), app=app)
    text = sc.metrics()
    assert 'gpu_temperature_celsius{gpu="0",uuid="GPU-0000",name="NVIDIA A100-SXM4-80GB"} 64.0' \
        in text


def test_collectors_register_themselves_in_the_configured_order() -> None:
    from exporter.collectors import available, enabled
    from exporter.settings.load import COLLECTORS

    assert available() == COLLECTORS == ("system", "gpu")
    names = [c.name for c in enabled(["system", "gpu"]).collectors]
    assert names[0] == "system"  # gpu only where NVML finds one
    import pytest

    with pytest.raises(KeyError, match="unknown collector 'disk'"):
        enabled(["disk"])


def test_resource_collectors_serve_a_prometheus_client_registry() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from exporter import resource_collectors

    registry = CollectorRegistry()
    registry.register(resource_collectors(["system"]))
    assert registry.get_sample_value("system_cpu_count") >= 1
    assert registry.get_sample_value("llm_exporter_collector_success",
                                     {"collector": "system"}) == 1
    text = generate_latest(registry).decode()
    assert "# TYPE system_cpu_time_seconds_total counter" in text
    assert registry.get_sample_value("system_memory_total_bytes") > 0


def test_a_machine_without_nvml_says_so_once_at_info_with_the_fix(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """No pynvml is the normal case on a laptop or a CPU host: one info line that says how
    to turn GPU metrics on, however many recorders or sidecars start."""
    import builtins
    import logging

    from exporter.collectors import gpu

    real_import = builtins.__import__

    def no_pynvml(name: str, *args: object, **kwargs: object) -> object:
        if name == "pynvml":
            raise ModuleNotFoundError("No module named 'pynvml'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_pynvml)
    monkeypatch.setattr(gpu, "_SAID", set())
    caplog.set_level(logging.DEBUG, logger="exporter.collectors.gpu")
    for _ in range(3):
        assert gpu.gpu_collector() is None
    lines = [r for r in caplog.records if r.name == "exporter.collectors.gpu"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    assert "pip install 'llm-exporter[gpu]'" in lines[0].getMessage()
    assert "No module named" not in lines[0].getMessage()
