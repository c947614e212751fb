"""`edgeloop run` exposes edgeAgent's built-in metrics (BuiltInMetrics.md names and labels) for its modules."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from sup_helpers import RecordingHub, probe_module, write_manifest

from edgeloop_dev.supervisor.supervisor import Supervisor, SupervisorConfig

BASE = {"iothub", "edge_device", "instance_number"}


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        text = response.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((sample.labels, sample.value))
    return out


def _value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str) -> float:
    (value,) = [v for sample_labels, v in samples.get(name, []) if labels.items() <= sample_labels.items()]
    return value


async def test_starts_time_running_disk_and_memory_per_module(
    tmp_path: Path, record: Path, make_config: Callable[..., SupervisorConfig]
) -> None:
    manifest = write_manifest(tmp_path / "m.json", {"steady": probe_module(record=record)})
    async with Supervisor(make_config(manifest, agent_metrics_port=0), hub=RecordingHub()) as sup:
        assert sup.agent_metrics_url is not None
        await asyncio.sleep(0.3)  # let it accumulate some running time (a value to compare, not a wait)
        first = await asyncio.to_thread(_scrape, sup.agent_metrics_url)
        sup.kill("steady", signal.SIGKILL)
        await sup.wait_for("steady", lambda s: s.starts == 2)  # restarted: edgeAgent counts a second start
        second = await asyncio.to_thread(_scrape, sup.agent_metrics_url)

    names = {
        "edgeAgent_total_time_running_correctly_seconds", "edgeAgent_total_time_expected_running_seconds",
        "edgeAgent_module_start_total", "edgeAgent_module_stop_total", "edgeAgent_used_memory_bytes",
        "edgeAgent_total_memory_bytes", "edgeAgent_used_cpu_percent_bucket", "edgeAgent_created_pids_total",
        "edgeAgent_available_disk_space_bytes", "edgeAgent_total_disk_space_bytes",
        "edgeAgent_host_uptime_seconds", "edgeAgent_iotedged_uptime_seconds", "edgeAgent_metadata",
    }  # fmt: skip
    assert names <= set(second)
    for name in names:
        for labels, _ in second[name]:
            assert set(labels) >= BASE, (name, labels)
    assert not [name for name in second if name.endswith("_created")]
    assert _value(first, "edgeAgent_module_start_total", module_name="steady") == 1
    assert _value(second, "edgeAgent_module_start_total", module_name="steady") == 2
    running = _value(second, "edgeAgent_total_time_running_correctly_seconds", module_name="steady")
    expected = _value(second, "edgeAgent_total_time_expected_running_seconds", module_name="steady")
    assert 0 < running <= expected
    assert _value(first, "edgeAgent_used_memory_bytes", module_name="steady") > 0
    free = second["edgeAgent_available_disk_space_bytes"][0][1]
    total = second["edgeAgent_total_disk_space_bytes"][0][1]
    assert 0 < free <= total
