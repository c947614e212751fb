"""The plant's asyncua fast path and update-loop counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua import ua
from asyncua.server.monitored_item_service import MonitoredItemValues

from edgeloop_dev.plant import PlantOptions, PlantServer, free_port
from edgeloop_dev.plant.fastpath import install, installed
from edgeloop_dev.plant.model import LoadModel
from edgeloop_dev.plant.stats import read_stats


def test_scalars_are_shared_and_arrays_still_copied() -> None:
    install()
    assert installed()
    values = MonitoredItemValues()
    scalar = ua.DataValue(ua.Variant(1.5, ua.VariantType.Double))
    values.set_current_datavalue(scalar)
    assert values.get_current_datavalue() is scalar
    array = ua.DataValue(ua.Variant([1.0, 2.0], ua.VariantType.Double))
    values.set_current_datavalue(array)
    current = values.get_current_datavalue()
    assert current is not array and current == array
    array.Value.Value.append(3.0)
    assert current.Value.Value == [1.0, 2.0]
    assert values.get_old_datavalue() is scalar


def test_load_model_is_seeded_and_always_changes() -> None:
    a, b = LoadModel(500, seed=4), LoadModel(500, seed=4)
    first, again = a.step(0.1), b.step(0.1)
    assert first == again and all(isinstance(v, float) for v in first)
    second = a.step(0.2)
    assert all(x != y for x, y in zip(first, second, strict=True))
    assert all(-100.0 <= v <= 101.0 for v in second)


async def test_update_loop_counts_ticks_and_writes(tmp_path: Path) -> None:
    opts = PlantOptions(state_dir=tmp_path, port=free_port(), scenario="steady", tags=50)
    async with PlantServer(opts) as plant:
        await asyncio.sleep(1.3)
        stats = read_stats(tmp_path)
    assert stats is not None
    assert stats["ticks"] >= 5 and stats["writes"] == stats["ticks"] * (18 + 50)
    assert stats["busy_s"] > 0 and stats["max_tick_s"] < 1.0
    assert plant.stats.ticks >= stats["ticks"]
