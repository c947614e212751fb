"""`edgeloop plant` as a subprocess: start, abrupt restart with a down time, stop."""

from __future__ import annotations

from pathlib import Path

import pytest
from asyncua import Client

from edgeloop_dev.plant import NAMESPACE_URI, PlantOptions, PlantProcess, free_port


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
