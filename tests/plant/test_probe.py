"""The benchmark's bare asyncua subscriber, both ways of receiving, against an in-process plant."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop_dev.plant import PlantOptions, PlantServer, free_port
from edgeloop_dev.plant.probe import Mode, probe


@pytest.mark.parametrize("mode", [pytest.param("batch", id="whole-publish-responses"),
                                  pytest.param("handler", id="datachange_notification")])  # fmt: skip
async def test_probe_counts_every_change_of_the_load_tags(tmp_path: Path, mode: Mode) -> None:
    opts = PlantOptions(state_dir=tmp_path, port=free_port(), scenario="steady", tags=40)
    async with PlantServer(opts) as plant:
        result = await probe(plant.endpoint, tags=40, mode=mode, seconds=1.5, warmup=0.5)
    assert result.items == 40 and result.mode == mode
    assert 40 * 10 * 1.5 * 0.5 < result.values <= 40 * 10 * 1.5 * 1.5, "about 40 tags x 10 Hz"
    assert (result.publishes > 5) == (mode == "batch") and result.cpu_s > 0
