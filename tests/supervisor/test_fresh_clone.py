"""`edgeloop run` on the debug template works on a fresh clone: no .env needed, --state-dir and METRICS_PORT honoured."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sup_helpers import RecordingHub, probe_module, write_manifest

from edgeloop_dev.supervisor.process import free_port
from edgeloop_dev.supervisor.supervisor import Supervisor, SupervisorConfig, load_plan

ROOT = Path(__file__).resolve().parents[2]
DEBUG = ROOT / "deployment" / "deployment.local.template.json"


def _env(config: SupervisorConfig) -> dict[str, dict[str, str]]:
    return {spec.name: dict(spec.env) for spec in load_plan(config, ROOT).modules}


def test_without_an_env_file_nothing_is_left_unexpanded_and_blobs_go_to_the_state_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = _env(SupervisorConfig(manifest=DEBUG, state_dir=state))
    assert all("$" not in value for module in env.values() for value in module.values()), env
    assert env["upstream_router"]["BLOB_CONNECTION_STRING"] == f"file://{state.resolve() / 'blob'}"
    assert env["upstream_router"]["STORE_PATH"].startswith(str(state.resolve()))


def test_state_dir_wins_over_the_env_file(tmp_path: Path) -> None:
    state = tmp_path / "elsewhere"
    example = ROOT / "deployment" / ".env.example"
    assert "EDGELOOP_STATE_DIR=state" in example.read_text()  # the example names its own folder
    env = _env(SupervisorConfig(manifest=DEBUG, state_dir=state, env_file=example))
    assert env["upstream_router"]["STORE_PATH"] == str(state.resolve() / "upstream_router" / "queue.db")
    assert (
        env["upstream_router"]["BLOB_CONNECTION_STRING"] == "UseDevelopmentStorage=true"
    )  # the file's choice


def test_the_template_metrics_ports_are_distinct_and_fixed() -> None:
    modules = json.loads(DEBUG.read_text())["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    ports = [int(m["env"]["METRICS_PORT"]["value"]) for m in modules.values()]
    assert len(set(ports)) == len(ports) and all(p > 0 for p in ports)


async def test_a_module_listens_on_the_metrics_port_its_manifest_names(
    tmp_path: Path, record: Path, make_config: Callable[..., SupervisorConfig]
) -> None:
    port = free_port("127.0.0.1")
    manifest = write_manifest(
        tmp_path / "m.json",
        {
            "fixed": probe_module(record=record, env={"METRICS_PORT": str(port)}),
            "free": probe_module(record=record, env={"METRICS_PORT": "0"}),
        },
    )
    async with Supervisor(make_config(manifest), hub=RecordingHub()) as sup:
        assert sup.status().module("fixed").metrics_port == port
        free = sup.status().module("free").metrics_port
        assert free is not None and free not in (0, port)
