"""Resources: GPU utilization, memory, temperature, power and energy; CPU, memory, disk
and network of the hosts running the sidecar."""

from grafanalib.core import Dashboard

from ..config import AlertConfig
from ..names import Names
from .panels import RATE, Board, steps, target, timeseries


def build(cfg: AlertConfig) -> Dashboard:
    """This dashboard for one alert config (namespace, thresholds)."""
    names = Names(cfg)
    m = names.metric

    board = Board(names, "job", "instance")
    J = board.sel("gpu_utilization")  # every resource family has job and instance only
    G = "{{instance}} gpu {{gpu}}"
    gpu = cfg.raw["gpu"]

    panels = [
        timeseries("GPU utilization", [target(f"{m('gpu_utilization')}{J}", G)], "percentunit",
                   0, 0, "Share of time each GPU was busy (NVML)."),
        timeseries("GPU memory used", [
            target(f"{m('gpu_memory_used')}{J} / {m('gpu_memory_total')}{J}", G)],
            "percentunit", 12, 0,
            f"Memory used / total per GPU. GPUMemoryNearlyFull: warning "
            f"{gpu['memory_warning_ratio']:.0%}, critical {gpu['memory_critical_ratio']:.0%}.",
            thresholds=steps(gpu["memory_warning_ratio"], gpu["memory_critical_ratio"],
                             colors=("transparent", "orange", "red"))),
        timeseries("GPU temperature", [target(f"{m('gpu_temperature')}{J}", G)], "celsius", 0, 8,
                   f"Degrees Celsius per GPU. GPUTemperatureHigh: warning "
                   f"{gpu['temperature_warning_celsius']}, critical "
                   f"{gpu['temperature_critical_celsius']}.",
                   thresholds=steps(gpu["temperature_warning_celsius"],
                                gpu["temperature_critical_celsius"],
                                colors=("transparent", "orange", "red"))),
        timeseries("GPU power draw vs limit", [
            target(f"{m('gpu_power')}{J}", "draw " + G),
            target(f"{m('gpu_power_limit')}{J}", "limit " + G, ref="B")], "watt", 12, 8,
            "Power drawn and the enforced power limit per GPU: a GPU at its limit throttles."),
        timeseries("GPU energy (average power)", [
            target(f"rate({m('gpu_energy')}{J}[{RATE}])", G)], "watt", 0, 16,
            "Average power from the energy counter, where the card has one."),
        timeseries("CPU utilization", [target(f"{m('cpu_utilization')}{J}", "{{instance}}")],
                   "percentunit", 12, 16, "Share of CPU time busy on the sidecar's host."),
        timeseries("CPU time by mode", [target(
            f"sum by (mode) (rate({m('cpu_time')}{J}[{RATE}]))", "{{mode}}")], "s", 0, 24,
            "CPU seconds per second by mode (user, system, iowait ...).", stacked=True),
        timeseries("Memory used", [
            target(f"{m('memory_used')}{J}", "used {{instance}}"),
            target(f"{m('memory_total')}{J}", "total {{instance}}", ref="B")], "bytes", 12, 24,
            "Memory used and total on the sidecar's host."),
        timeseries("Disk I/O", [target(f"rate({m('disk_io')}{J}[{RATE}])",
                                   "{{direction}} {{instance}}")], "Bps", 0, 32,
                   "Bytes per second read and written."),
        timeseries("Network I/O", [target(f"rate({m('network_io')}{J}[{RATE}])",
                                      "{{direction}} {{instance}}")], "Bps", 12, 32,
                   "Bytes per second received and sent."),
        timeseries("Open connections", [target(f"{m('network_connections')}{J}",
                                           "{{instance}}")], "short", 0, 40,
                   "Network connections open on the host (where the OS lets us count them)."),
    ]

    return board.dashboard("llm-resources", "LLM resources", __doc__ or "", panels,
                             ["resources"])
