"""A module image built with podman runs against the local hub (where a daemonless builder runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/edgeloop-python:3.11-bookworm"
IMAGE = "localhost/edgeloop/example_module:0.1.0-amd64"
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def _podman_ready() -> str | None:
    if shutil.which("podman") is None or shutil.which("runc") is None:
        return "podman/runc not installed (Debian: apt-get install podman buildah runc debootstrap)"
    if subprocess.run(["podman", "image", "exists", BASE], capture_output=True).returncode != 0:
        return f"no local base image {BASE}: run scripts/build_images --local-base --modules example_module"
    return None


pytestmark = [pytest.mark.container, pytest.mark.xdist_group("podman"), pytest.mark.timeout(900)]


def test_example_module_image_routes_messages_through_the_local_hub(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    reason = _podman_ready()
    if reason:
        pytest.skip(reason)
    build = subprocess.run(
        ["scripts/build_images", "--local-base", "--modules", "example_module"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    routes = {
        "in": "FROM /messages/modules/feeder/outputs/values INTO BrokeredEndpoint('/modules/example_module/inputs/values')",
        "out": "FROM /messages/modules/example_module/outputs/scaled INTO BrokeredEndpoint('/modules/feeder/inputs/scaled')",
    }
    hub = hub_factory(make_manifest(routes, {"example_module": {"gain": 4}, "feeder": {}}))
    env = hub.env("example_module")
    ca = Path(env["EdgeModuleCACertificateFile"])
    ca.chmod(0o644)
    run = [
        *PODMAN, "run", "-d", "--rm", "--read-only", "--network=host", *LIMITS,
        "-v", f"{ca}:/certs/ca.pem:ro",
        "-e", f"EdgeHubConnectionString={env['EdgeHubConnectionString']}",
        "-e", "EdgeModuleCACertificateFile=/certs/ca.pem",
        "-e", "METRICS_PORT=-1",
        IMAGE,
    ]  # fmt: skip
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    try:
        feeder = sdk_module(hub.env("feeder"))
        feeder.send_json("values", {"value": 2}, message_id="img-1")
        got = feeder.next_input(60)
        assert json.loads(got.data)["data"] == {"value": 8.0, "gain": 4.0}
        stop = subprocess.run([*PODMAN, "stop", "-t", "20", container], capture_output=True, text=True)
        assert stop.returncode == 0
        assert hub.twin("example_module")["reported"]["status"] == "stopped"
    finally:
        subprocess.run([*PODMAN, "rm", "-f", container], capture_output=True)
