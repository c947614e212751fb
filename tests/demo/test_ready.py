"""When the demo starts its faults: every module running and the sensor model scoring windows."""

from __future__ import annotations

from edgeloop_dev.demo.ready import waiting_for, windows_scored
from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.status import ModuleStatus, Snapshot

INFERENCE_METRICS = """\
# HELP edgeloop_inference_items_total Requests scored (throughput = rate).
# TYPE edgeloop_inference_items_total counter
edgeloop_inference_items_total{model="surface_defect",module="inference"} 41.0
edgeloop_inference_items_total{model="sensor_anomaly",module="inference"} 3.0
"""


def snapshot(**states: ModuleState) -> Snapshot:
    hub = ModuleStatus("$edgeHub", ModuleState.RUNNING)
    return Snapshot(hub, tuple(ModuleStatus(name, state) for name, state in states.items()))


def test_windows_count_only_the_sensor_model() -> None:
    assert windows_scored(INFERENCE_METRICS) == 3


def test_camera_frames_alone_are_no_window() -> None:
    only_frames = "\n".join(line for line in INFERENCE_METRICS.splitlines() if "sensor_anomaly" not in line)
    assert windows_scored(only_frames) == 0


def test_a_module_still_starting_is_waited_for() -> None:
    starting = snapshot(anomaly_filter=ModuleState.RUNNING, inference=ModuleState.STARTING)
    assert waiting_for(starting) == ["inference"]
    assert waiting_for(snapshot(anomaly_filter=ModuleState.RUNNING, inference=ModuleState.RUNNING)) == []
