"""The sensor path's memory is its bounded buffers: once full, unique messages add nothing that stays."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from typing import Any

import pytest
from inference_helpers import REPO, plant_messages

from edgeloop_runtime.metrics import Metrics
from inference import service
from inference.service import InferenceService
from inference.settings import Settings
from inference.telemetry_metrics import InferenceMetrics

DRIFT_ROWS = 40  # a small drift window, so a few hundred messages fill every buffer


class Discard:
    """A sender that keeps nothing (a recording sink would be the growth)."""

    def __init__(self) -> None:
        self.scores = 0

    async def send(
        self, output: str, data: Any, *, kind: str | None = None, message_id: str | None = None
    ) -> str:
        self.scores += output == "scores"
        return message_id or ""


async def test_unique_telemetry_leaves_nothing_once_windows_and_drift_are_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    svc = InferenceService(
        Settings(model_path=str(REPO), providers=["cpu"], rest_port=-1),
        InferenceMetrics(Metrics("inference", "test")),
    )
    engine_options = service.engine_options  # the model runs on the loop: no thread hops in the figures
    monkeypatch.setattr(
        service, "engine_options", lambda s: dataclasses.replace(engine_options(s), inline_below_ms=1000.0)
    )
    await svc.load_all(svc.settings)
    assert svc.drift is not None
    svc.drift.size = DRIFT_ROWS
    msgs = plant_messages(1200, assets=("pump", "crusher", "conveyor"), start=3000)
    out = Discard()

    async def retained_growth(part: list[dict[str, Any]]) -> int:
        gc.collect()
        before = tracemalloc.take_snapshot()
        for m in part:
            await svc.on_telemetry(out, m, m["MessageId"])
        gc.collect()
        after = tracemalloc.take_snapshot()
        return sum(stat.size_diff for stat in after.compare_to(before, "filename"))

    tracemalloc.start(1)
    try:
        fill = await retained_growth(msgs[:400])
        later = await retained_growth(msgs[400:])  # 800 more messages, twice as many
    finally:
        tracemalloc.stop()
        await svc.manager.close()
    assert out.scores > 200, "windows were scored all along"
    assert later < fill // 4, f"{later} B kept by 800 more messages after {fill} B of fill"
