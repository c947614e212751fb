"""Drift end to end: plant telemetry through the local hub, then a shifted field becomes a `drift` event."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from inference_helpers import REPO, module_env, plant_messages

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

ROUTES = {
    "tel": "FROM /messages/modules/feeder/outputs/telemetry INTO BrokeredEndpoint('/modules/inference/inputs/telemetry')",
    "sc": "FROM /messages/modules/inference/outputs/scores INTO BrokeredEndpoint('/modules/feeder/inputs/scores')",
    "dr": "FROM /messages/modules/inference/outputs/drift INTO BrokeredEndpoint('/modules/feeder/inputs/drift')",
}


def test_a_shifted_field_becomes_a_drift_event_and_normal_telemetry_does_not(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    meta = json.loads((REPO / "sensor_anomaly" / "1" / "metadata.json").read_text())
    size, stride = meta["drift"]["windowSize"], meta["window"]["stride"]
    length = meta["window"]["length"]
    per_check = size // stride  # windows (of `stride` new rows each) per drift check
    normal_n = length + (per_check - 1) * stride  # the first check falls on the last of these messages
    shift = 8 * meta["drift"]["baseline"]["pump"]["Flow"]["std"]
    msgs = plant_messages(normal_n + size, start=3000)  # after the plant's warm-up
    for m in msgs[normal_n:]:
        m["Messages"][0]["Payload"]["Flow"]["Value"] += shift
    hub = hub_factory(make_manifest(ROUTES, {"inference": {}, "feeder": {}}))
    feeder = sdk_module(hub.env("feeder"))
    env = module_env(hub.env("inference"), PROVIDERS='["cpu"]', REST_PORT="-1", METRICS_PORT="-1")
    with open(tmp_path / "inference.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "inference"], env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: hub.twin("inference").get("reported", {}).get("status") == "running", 60)
        for i, m in enumerate(msgs[:normal_n]):
            feeder.send_json("telemetry", m, message_id=f"n-{i}")
        normal = feeder.collect(per_check, 60)
        assert feeder.no_input(1.0)  # one drift check ran on the last window: nothing drifted
        for i, m in enumerate(msgs[normal_n:]):
            feeder.send_json("telemetry", m, message_id=f"s-{i}")
        shifted = feeder.collect(per_check + 1, 60)  # the scores, then the drift check of the last one
    finally:
        proc.kill()
        proc.wait()
    drift = [json.loads(m.data) for m in shifted if m.input_name == "drift"]
    assert len(drift) == 1, [m.input_name for m in shifted]
    event = drift[0]
    assert event["kind"] == "drift" and event["source"]["module"] == "inference"
    body = event["data"]
    assert body["model"] == {"name": "sensor_anomaly", "version": "1"}
    assert body["asset"] == "pump" and body["windowSize"] == size
    assert body["drifted"] == ["Flow"]  # only the shifted field, against its calibrated threshold
    assert body["features"]["Flow"] > body["thresholds"]["Flow"] >= body["threshold"]
    assert body["metrics"]["Flow"] == "psi" and body["metrics"]["MotorCurrent"] == "meanShift"
    assert {m.input_name for m in normal} == {"scores"}
    assert body["at"].endswith("Z")
