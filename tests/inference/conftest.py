"""Fixtures of the inference tests: `python -m inference` through a local hub whose route is the ASE
sample's `FROM /messages/modules/inference/outputs/* INTO $upstream`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from inference_helpers import RunningInference, module_env

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.process import free_port
from inference.service import InferenceService

UPSTREAM = {
    "up": "FROM /messages/modules/inference/outputs/* INTO $upstream",
    "frm": "FROM /messages/modules/feeder/outputs/frames INTO BrokeredEndpoint('/modules/inference/inputs/frames')",
}


@pytest.fixture
def start_module(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[Callable[..., RunningInference]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(model_path: Path, **extra: str) -> RunningInference:
        hub = hub_factory(make_manifest(UPSTREAM, {"inference": {}, "feeder": {}}))
        feeder = sdk_module(hub.env("feeder"))
        port = free_port()
        env = module_env(
            hub.env("inference"),
            MODEL_PATH=str(model_path),
            PROVIDERS='["cpu"]',
            REST_PORT=str(port),
            REST_HOST="127.0.0.1",
            METRICS_PORT="0",
            METRICS_HOST="127.0.0.1",
            MODEL_POLL_SECONDS="0.2",
            **extra,
        )
        log = tmp_path / "inference.log"
        with open(log, "ab") as out:
            procs.append(
                subprocess.Popen([sys.executable, "-m", "inference"], env=env, stdout=out, stderr=out)
            )
        module = RunningInference(hub, feeder, f"http://127.0.0.1:{port}", log)
        wait_for(lambda: module.reported().get("status") == "running", 60)
        return module

    yield start
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
async def services() -> AsyncIterator[list[InferenceService]]:
    """Services a test loaded in process (`inference_serving.serve`), closed after it."""
    made: list[InferenceService] = []
    yield made
    for svc in made:
        await svc.manager.close()
