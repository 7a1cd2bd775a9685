"""CPU, memory, disk and network of the host, via psutil."""

from __future__ import annotations

import logging
from typing import Any

from ..catalog import family
from .registry import Samples, register

log = logging.getLogger(__name__)


class SystemCollector:
    name = "system"

    def __init__(self, psutil: Any = None) -> None:
        if psutil is None:
            import psutil as installed  # the server extra installs it

            psutil = installed
        self._ps = psutil
        self._ps.cpu_percent(interval=None)  # primes the utilization baseline
        self._connections = True

    def collect(self) -> Samples:
        ps = self._ps
        times = ps.cpu_times()._asdict()
        vm = ps.virtual_memory()
        out: Samples = [
            (family("cpu_time"), [((mode,), float(v)) for mode, v in times.items()]),
            (family("cpu_utilization"), [((), ps.cpu_percent(interval=None) / 100.0)]),
            (family("cpu_count"), [((), float(ps.cpu_count() or 0))]),
            (family("memory_used"), [((), float(vm.used))]),
            (family("memory_total"), [((), float(vm.total))]),
        ]
        disk = ps.disk_io_counters()
        if disk is not None:
            out.append((family("disk_io"), [(("read",), float(disk.read_bytes)),
                                            (("write",), float(disk.write_bytes))]))
        net = ps.net_io_counters()
        if net is not None:
            out.append((family("network_io"), [(("receive",), float(net.bytes_recv)),
                                               (("transmit",), float(net.bytes_sent))]))
        if self._connections:
            try:
                out.append((family("network_connections"),
                            [((), float(len(ps.net_connections(kind="inet"))))]))
            except (ps.AccessDenied, PermissionError):
                self._connections = False
                log.warning("open connections need more privileges here: "
                            "system_network_connections is not reported")
        return out


@register("system")
def _system(**options: Any) -> SystemCollector:
    return SystemCollector()
