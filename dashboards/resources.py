"""Resources: GPU utilization, memory, temperature, power and energy; CPU, memory, disk
and network of the hosts running the sidecar."""

from .panels import RATE, dashboard, m, target, timeseries

J = '{job=~"$job",instance=~"$instance"}'
G = "{{instance}} gpu {{gpu}}"

panels = [
    timeseries("GPU utilization", [target(f"{m('gpu_utilization')}{J}", G)], "percentunit",
               0, 0),
    timeseries("GPU memory used", [
        target(f"{m('gpu_memory_used')}{J} / {m('gpu_memory_total')}{J}", G)],
        "percentunit", 12, 0),
    timeseries("GPU temperature", [target(f"{m('gpu_temperature')}{J}", G)], "celsius", 0, 8),
    timeseries("GPU power draw vs limit", [
        target(f"{m('gpu_power')}{J}", "draw " + G),
        target(f"{m('gpu_power_limit')}{J}", "limit " + G, ref="B")], "watt", 12, 8),
    timeseries("GPU energy (average power)", [
        target(f"rate({m('gpu_energy')}{J}[{RATE}])", G)], "watt", 0, 16),
    timeseries("CPU utilization", [target(f"{m('cpu_utilization')}{J}", "{{instance}}")],
               "percentunit", 12, 16),
    timeseries("CPU time by mode", [target(
        f"sum by (mode) (rate({m('cpu_time')}{J}[{RATE}]))", "{{mode}}")], "s", 0, 24,
        stacked=True),
    timeseries("Memory used", [
        target(f"{m('memory_used')}{J}", "used {{instance}}"),
        target(f"{m('memory_total')}{J}", "total {{instance}}", ref="B")], "bytes", 12, 24),
    timeseries("Disk I/O", [target(f"rate({m('disk_io')}{J}[{RATE}])",
                                   "{{direction}} {{instance}}")], "Bps", 0, 32),
    timeseries("Network I/O", [target(f"rate({m('network_io')}{J}[{RATE}])",
                                      "{{direction}} {{instance}}")], "Bps", 12, 32),
    timeseries("Open connections", [target(f"{m('network_connections')}{J}",
                                           "{{instance}}")], "short", 0, 40),
]

dashboard_ = dashboard("llm-resources", "LLM resources", __doc__ or "", panels,
                       ("job", "instance"), ["resources"])
