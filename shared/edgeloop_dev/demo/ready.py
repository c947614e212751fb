"""When the demo's faults may start: every module running and the model already scoring sensor windows."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.status import Snapshot

INFERENCE = "inference"
SCORED = "edgeloop_inference_items_total"  # requests scored, per model
SENSOR_MODEL = "sensor_anomaly"  # the model the local template's rules read (deployment.local.template.json)
WINDOWS_BEFORE_FAULTS = 3  # one per asset of the plant, at least
# How long the demo holds its faults for a pipeline that does not come up; then they start anyway,
# and the summary says what was missed.
LIVE_TIMEOUT_S = 120.0


def windows_scored(metrics_text: str, model: str = SENSOR_MODEL) -> int:
    """Windows `model` has scored, from inference's own /metrics (pure)."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == SCORED and sample.labels.get("model") == model:
                total += sample.value
    return int(total)


def waiting_for(snapshot: Snapshot) -> list[str]:
    """The modules not running yet (empty: all are)."""
    return [m.name for m in snapshot.modules if m.state is not ModuleState.RUNNING]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as response:
        return str(response.read().decode("utf-8"))


async def pipeline_live(snapshot: Snapshot, host: str = "127.0.0.1") -> bool:
    """Every module runs and the sensor model has scored windows: a fault from now on can be seen.

    OPC UA sends changes only and the model scores whole windows, so a fault injected while ingest is still
    subscribing, or before the first windows are full, leaves nothing to detect.
    """
    if waiting_for(snapshot):
        return False
    try:
        port = snapshot.module(INFERENCE).metrics_port
    except KeyError:
        return True  # a manifest without inference: nothing to wait for
    if port is None:
        return False
    try:
        text = await asyncio.to_thread(_get, f"http://{host}:{port}/metrics")
    except (urllib.error.URLError, OSError, TimeoutError):
        return False
    return windows_scored(text) >= WINDOWS_BEFORE_FAULTS
