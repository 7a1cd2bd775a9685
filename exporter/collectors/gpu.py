"""NVIDIA GPUs via NVML (nvidia-ml-py, import ``pynvml``).

No driver or no GPU: :func:`gpu_collector` returns None after one log line, so a CPU-only
host neither fails start-up nor reports a collector failure on every scrape. Tests pass
a fake ``nvml`` module: the NVML boundary is the only thing faked in this project.
"""

from __future__ import annotations

import logging
from typing import Any

from ..catalog import family
from .registry import Samples, register

log = logging.getLogger(__name__)

#: Processes reported per GPU at most (per-process memory is opt-in and bounded).
MAX_PROCESSES = 32


class GPUCollector:
    name = "gpu"

    def __init__(self, nvml: Any, processes: bool = False) -> None:
        self._nvml = nvml
        self._processes = processes
        self._no_energy: set[int] = set()
        """GPUs without an energy counter (pre-Volta): asked once, then skipped."""
        self._names: dict[int, tuple[str, str]] = {}

    def _identity(self, index: int, handle: Any) -> tuple[str, str]:
        ident = self._names.get(index)
        if ident is None:
            nv = self._nvml
            name, uuid = nv.nvmlDeviceGetName(handle), nv.nvmlDeviceGetUUID(handle)
            ident = (name.decode() if isinstance(name, bytes) else str(name),
                     uuid.decode() if isinstance(uuid, bytes) else str(uuid))
            self._names[index] = ident
        return ident

    def collect(self) -> Samples:
        nv = self._nvml
        fams: dict[str, list[tuple[tuple[str, ...], float]]] = {
            k: [] for k in ("gpu_utilization", "gpu_memory_used", "gpu_memory_total",
                            "gpu_temperature", "gpu_power", "gpu_power_limit", "gpu_energy",
                            "gpu_process_memory")}
        for index in range(nv.nvmlDeviceGetCount()):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            name, uuid = self._identity(index, handle)
            labels = (str(index), uuid, name)
            fams["gpu_utilization"].append(
                (labels, nv.nvmlDeviceGetUtilizationRates(handle).gpu / 100.0))
            mem = nv.nvmlDeviceGetMemoryInfo(handle)
            fams["gpu_memory_used"].append((labels, float(mem.used)))
            fams["gpu_memory_total"].append((labels, float(mem.total)))
            fams["gpu_temperature"].append(
                (labels, float(nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU))))
            fams["gpu_power"].append((labels, nv.nvmlDeviceGetPowerUsage(handle) / 1000.0))
            fams["gpu_power_limit"].append(
                (labels, nv.nvmlDeviceGetEnforcedPowerLimit(handle) / 1000.0))
            if index not in self._no_energy:
                try:
                    fams["gpu_energy"].append(
                        (labels, nv.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0))
                except nv.NVMLError:
                    self._no_energy.add(index)
                    log.info("GPU %d has no energy counter: gpu_energy_joules_total is not "
                             "reported for it", index)
            if self._processes:
                procs = nv.nvmlDeviceGetComputeRunningProcesses(handle)[:MAX_PROCESSES]
                for p in procs:
                    fams["gpu_process_memory"].append(
                        ((str(index), str(p.pid), _process_name(p.pid)),
                         float(p.usedGpuMemory or 0)))
        return [(family(k), v) for k, v in fams.items() if v]


def _process_name(pid: int) -> str:
    try:
        import psutil

        return str(psutil.Process(pid).name())[:64]
    except Exception:  # gone, or not ours to inspect
        return "unknown"


_SAID: set[str] = set()


def _once(message: str, *args: Any) -> None:
    """A machine without a GPU is normal, not a warning: said once per process, at info."""
    if message not in _SAID:
        _SAID.add(message)
        log.info(message, *args)


def gpu_collector(nvml: Any = None, processes: bool = False) -> GPUCollector | None:
    """A GPU collector, or None (said once) when NVML or a GPU is not available."""
    try:
        if nvml is None:
            import pynvml

            nvml = pynvml
    except ImportError:
        _once("GPU metrics off: nvidia-ml-py is not installed (pip install "
              "'llm-exporter[gpu]' on a machine with NVIDIA GPUs to report them)")
        return None
    try:
        nvml.nvmlInit()
        count = nvml.nvmlDeviceGetCount()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded...
        _once("GPU metrics off: no NVIDIA driver to ask (%s)", exc or type(exc).__name__)
        return None
    if count == 0:
        _once("GPU metrics off: NVML sees no NVIDIA GPU")
        return None
    return GPUCollector(nvml, processes=processes)


@register("gpu")
def _gpu(gpu_processes: bool = False, **options: Any) -> GPUCollector | None:
    return gpu_collector(processes=gpu_processes)
