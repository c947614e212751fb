"""`edgeloop plant` as a subprocess: start, abrupt restart with a down time, stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client

from edgeloop_dev.plant import NAMESPACE_URI, SCHEDULE_FILE, PlantOptions, PlantProcess, free_port


async def read_speed(endpoint: str) -> float:
    async with Client(endpoint, timeout=2) as c:
        ns = await c.get_namespace_index(NAMESPACE_URI)
        return float(await c.get_node(f"ns={ns};s=Pump.Speed").read_value())


async def test_subprocess_restart_refuses_then_serves_again(tmp_path: Path) -> None:
    with PlantProcess(PlantOptions(state_dir=tmp_path, port=free_port(), scenario="steady")) as plant:
        assert await read_speed(plant.endpoint) > 0
        first_pid = plant.pid
        plant.kill()
        with pytest.raises(OSError):
            await read_speed(plant.endpoint)
        plant.start()
        assert plant.pid != first_pid
        assert await read_speed(plant.endpoint) > 0
    assert plant.pid is None
    assert "plant: opc.tcp://" in (tmp_path / "plant.log").read_text()


def schedule(state_dir: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((state_dir / SCHEDULE_FILE).read_text(encoding="utf-8"))
    return doc


async def test_held_faults_wait_for_sigusr1_and_count_from_it(tmp_path: Path) -> None:
    # when each fault comes, counted from the start, is the model's (test_faults_model); this is the signal
    options = PlantOptions(state_dir=tmp_path, port=free_port(), scenario="tour", hold_faults=True)
    with PlantProcess(options) as plant:
        held = schedule(tmp_path)
        assert held["faultsHeld"] is True and held["startedAt"] is None, held
        plant.start_faults()
        started = schedule(tmp_path)
        assert started["faultsHeld"] is False, started
        assert started["startedAt"] is not None and started["faults"] == held["faults"]
        assert plant.pid is not None, "SIGUSR1 ended the plant"
        assert await read_speed(plant.endpoint) > 0, "the plant stopped serving after its faults started"
        plant.start_faults()  # again: the schedule keeps its zero
        assert schedule(tmp_path)["startedAt"] == started["startedAt"]
