"""edgeAgent's built-in metrics for `edgeloop run` (Azure/iotedge doc/BuiltInMetrics.md names and labels),
computed from the supervisor's snapshot and psutil at each scrape."""

from __future__ import annotations

import json
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from edgeloop_dev.supervisor.status import ModuleStatus, Snapshot

BASE = ["iothub", "edge_device", "instance_number"]
CPU_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 100.0, float("inf"))


class EdgeAgentCollector(Collector):
    """Yields edgeAgent's metric families for the supervised modules (and the hub as edgeHub)."""

    def __init__(
        self, snapshot: Callable[[], Snapshot], iothub: str, device: str, disk: Path, version: str = "1.0"
    ) -> None:
        self._snapshot = snapshot
        self._base = [iothub, device, str(uuid.uuid4())]
        self._disk = disk
        self._version = version
        self._started = time.monotonic()
        self._cpu: dict[str, list[float]] = {}  # module → CPU percent samples (edgeAgent: a histogram)

    def _modules(self, snap: Snapshot) -> list[tuple[str, ModuleStatus]]:
        return [("edgeHub", snap.hub), *((m.name, m) for m in snap.modules)]

    def collect(self) -> Iterator[Any]:
        """Called by prometheus_client at each scrape."""
        snap = self._snapshot()
        b = self._base
        running = GaugeMetricFamily(
            "edgeAgent_total_time_running_correctly_seconds",
            "The amount of time the module was specified in the deployment and was in the running state",
            labels=[*BASE, "module_name"],
        )
        expected = GaugeMetricFamily(
            "edgeAgent_total_time_expected_running_seconds",
            "The amount of time the module was specified in the deployment",
            labels=[*BASE, "module_name"],
        )
        starts = CounterMetricFamily(
            "edgeAgent_module_start", "Number of times edgeAgent asked docker to start the module",
            labels=[*BASE, "module_name", "module_version"],
        )  # fmt: skip
        stops = CounterMetricFamily(
            "edgeAgent_module_stop", "Number of times edgeAgent asked docker to stop the module",
            labels=[*BASE, "module_name", "module_version"],
        )  # fmt: skip
        memory = GaugeMetricFamily(
            "edgeAgent_used_memory_bytes",
            "Amount of RAM used by all processes",
            labels=[*BASE, "module_name"],
        )
        total_memory = GaugeMetricFamily(
            "edgeAgent_total_memory_bytes", "RAM available", labels=[*BASE, "module_name"]
        )
        cpu = HistogramMetricFamily(
            "edgeAgent_used_cpu_percent",
            "Percent of cpu used by all processes",
            labels=[*BASE, "module_name"],
        )
        pids = GaugeMetricFamily(
            "edgeAgent_created_pids_total",
            "The number of processes or threads the container has created",
            labels=[*BASE, "module_name"],
        )
        ram = psutil.virtual_memory().total
        for name, status in self._modules(snap):
            hub = name == "edgeHub"
            if not hub:
                running.add_metric([*b, name], status.running_correctly_s)
                expected.add_metric([*b, name], status.expected_running_s)
                starts.add_metric([*b, name, self._version], status.starts)
                stops.add_metric([*b, name, self._version], status.stops)
            total_memory.add_metric([*b, name], ram)
            process = _process(status.pid)
            if process is None:
                continue
            with process.oneshot():
                memory.add_metric([*b, name], process.memory_info().rss)
                pids.add_metric([*b, name], process.num_threads())
                samples = self._cpu.setdefault(name, [])
                samples.append(process.cpu_percent(interval=None))
            buckets, count = [], 0
            for bound in CPU_BUCKETS:
                count = sum(1 for s in samples if s <= bound)
                buckets.append((str(bound) if bound != float("inf") else "+Inf", count))
            cpu.add_metric([*b, name], buckets=buckets, sum_value=sum(samples))
        yield from (running, expected, starts, stops, memory, total_memory, cpu, pids)
        yield from self._host()

    def _host(self) -> Iterator[Any]:
        b = self._base
        disk_labels = [*BASE, "disk_name", "disk_filesystem", "disk_filetype"]
        available = GaugeMetricFamily(
            "edgeAgent_available_disk_space_bytes", "Amount of space left on the disk", labels=disk_labels
        )
        total = GaugeMetricFamily("edgeAgent_total_disk_space_bytes", "Size of the disk", labels=disk_labels)
        usage = psutil.disk_usage(str(_existing(self._disk)))
        part = _partition(self._disk)
        labels = [*b, part.device if part else "", part.fstype if part else "", "fixed"]
        available.add_metric(labels, usage.free)
        total.add_metric(labels, usage.total)
        host_uptime = GaugeMetricFamily(
            "edgeAgent_host_uptime_seconds", "How long the host has been on", labels=BASE
        )
        host_uptime.add_metric(b, time.time() - psutil.boot_time())
        daemon_uptime = GaugeMetricFamily(
            "edgeAgent_iotedged_uptime_seconds", "How long iotedged has been running", labels=BASE
        )
        daemon_uptime.add_metric(b, time.monotonic() - self._started)
        metadata = GaugeMetricFamily(
            "edgeAgent_metadata",
            "General metadata about the device",
            labels=[*BASE, "edge_agent_version", "experimental_features", "host_information"],
        )
        host = {"OperatingSystemType": platform.system().lower(), "Architecture": platform.machine(),
                "Version": "edgeloop", "NumCpus": psutil.cpu_count()}  # fmt: skip
        metadata.add_metric([*b, "edgeloop", "{}", json.dumps(host)], 0)
        yield from (available, total, host_uptime, daemon_uptime, metadata)


def _process(pid: int | None) -> psutil.Process | None:
    if pid is None:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _existing(path: Path) -> Path:
    """The nearest existing folder at or above `path` (the state dir may not exist yet)."""
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def _partition(path: Path) -> Any:
    """The mounted partition holding `path` (the longest mount point that is a prefix of it)."""
    target = str(_existing(path))
    best = None
    for part in psutil.disk_partitions(all=True):
        if (target == part.mountpoint or target.startswith(part.mountpoint.rstrip("/") + "/")) and (
            best is None or len(part.mountpoint) > len(best.mountpoint)
        ):
            best = part
    return best


def serve(collector: EdgeAgentCollector, host: str, port: int) -> Any:
    """Serve the collector on http://host:port/metrics in a background thread; the server (its
    `server_port`, and `shutdown()` to stop it)."""
    registry = CollectorRegistry()
    registry.register(collector)
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server
