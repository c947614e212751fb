"""Every module image builds for amd64, imports its module, and runs as the manifest runs it (podman)."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from podman_flags import LIMITS, PODMAN, ROOT, create_options, podman_flags

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for

MODULES = sorted(p.parent.name for p in ROOT.glob("modules/*/Dockerfile.amd64"))
TEMPLATE = ROOT / "deployment/deployment.template.json"

# Building all seven takes minutes (the first build of the local base longer): the fixture's own limit.
pytestmark = [pytest.mark.container, pytest.mark.xdist_group("podman"), pytest.mark.timeout(1800)]


def _image(name: str) -> str:
    version = json.loads((ROOT / "modules" / name / "module.json").read_text())["image"]["tag"]["version"]
    return f"localhost/edgeloop/{name}:{version}-amd64"


def _template_module(name: str) -> dict[str, Any]:
    modules: dict[str, Any] = json.loads(TEMPLATE.read_text())["modulesContent"]["$edgeAgent"][
        "properties.desired"
    ]["modules"]
    return dict(modules[name])


@pytest.mark.parametrize("name", MODULES)
def test_the_image_imports_its_module_and_runs_as_uid_10001(built: None, name: str) -> None:
    run = [*PODMAN, "run", "--rm", "--read-only", "--network=none", *LIMITS, "--entrypoint", "python3"]
    probe = f"import importlib, os; importlib.import_module('{name}.app'); print(os.getuid())"
    result = subprocess.run([*run, _image(name), "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "10001"
    inspect = subprocess.run(
        [*PODMAN, "image", "inspect", _image(name)], capture_output=True, text=True, check=True
    )
    image = json.loads(inspect.stdout)[0]
    assert image["Config"]["User"] == "10001:10001"
    assert image["Healthcheck"]["Test"][:3] == ["CMD", "python3", "-I"]  # podman keeps it beside Config


KEY_DEPENDENCY = {
    "opcua_ingest": "asyncua",
    "opcua_writeback": "asyncua",
    "camera_ingest": "opencv-python-headless",
    "inference": "onnxruntime",
    "anomaly_filter": "pydantic",
    "upstream_router": "azure-storage-blob",
    "example_module": "azure-iot-device",
}


@pytest.mark.parametrize("name", MODULES)
def test_each_image_has_a_cyclonedx_sbom_of_its_venv(built: None, name: str) -> None:
    version = _image(name).rsplit(":", 1)[1].removesuffix("-amd64")
    sbom = json.loads((ROOT / "build" / "sbom" / f"{name}-{version}-amd64.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.6"
    purls = {c.get("purl", "").split("@")[0] for c in sbom["components"]}
    assert f"pkg:pypi/{KEY_DEPENDENCY[name]}" in purls and "pkg:pypi/edgeloop" in purls
    if name == "anomaly_filter":
        assert "pkg:pypi/numpy" not in purls


def test_anomaly_filter_image_carries_no_numpy(built: None) -> None:
    run = [*PODMAN, "run", "--rm", "--network=none", *LIMITS, "--entrypoint", "python3"]
    probe = "import importlib.util as u; print(u.find_spec('numpy') is None)"
    result = subprocess.run([*run, _image("anomaly_filter"), "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr[-2000:]


@pytest.fixture
def volume() -> Iterator[str]:
    """A fresh named volume, removed afterwards."""
    name = f"edgeloop-test-{uuid.uuid4().hex[:10]}"
    subprocess.run([*PODMAN, "volume", "create", name], capture_output=True, check=True)
    yield name
    subprocess.run([*PODMAN, "volume", "rm", "-f", name], capture_output=True)


def test_the_router_container_runs_with_the_manifest_create_options_and_keeps_its_store(
    built: None,
    volume: str,
    tmp_path: Path,
    hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> None:
    """Read-only root, no capabilities, no-new-privileges, its store on a named volume as uid 10001:
    a message reaches $upstream, the store file is the router's, and the HEALTHCHECK passes with METRICS_PORT=0."""
    module = _template_module("upstream_router")
    options = create_options(module)
    source = options["HostConfig"]["Binds"][0].split(":")[0]
    flags = podman_flags(options, {source: volume})
    routes = {
        "in": 'FROM /messages/modules/src/outputs/anomalies INTO BrokeredEndpoint("/modules/upstream_router/inputs/anomalies")',
        "up": "FROM /messages/modules/upstream_router/outputs/upstream INTO $upstream",
    }
    hub = hub_factory(make_manifest(routes, {"src": {}, "upstream_router": {}}))
    env = hub.env("upstream_router")
    ca = Path(env["EdgeModuleCACertificateFile"])
    ca.chmod(0o644)
    store = module["env"]["STORE_PATH"]["value"]
    run = [
        *PODMAN, "run", "-d", "--rm", "--network=host", *LIMITS, *flags,
        "-v", f"{ca}:/certs/ca.pem:ro",
        "-e", f"EdgeHubConnectionString={env['EdgeHubConnectionString']}",
        "-e", "EdgeModuleCACertificateFile=/certs/ca.pem",
        "-e", f"STORE_PATH={store}",
        "-e", "METRICS_PORT=0", "-e", f"METRICS_HOST={hub.host}",
        _image("upstream_router"),
    ]  # fmt: skip
    container = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
    try:
        src = sdk_module(hub.env("src"))
        event = {
            "v": 1, "kind": "anomaly", "id": str(uuid.uuid4()), "ts": "2027-01-15T08:00:00.000Z",
            "source": {"module": "test", "version": "0"}, "correlationId": None,
            "data": {"eventId": "e1", "state": "open", "asset": "pump", "anomalyKind": "vib",
                     "severity": "warning", "score": 2.0, "window": None},
        }  # fmt: skip
        src.send_json("anomalies", event, message_id=event["id"])
        wait_for(lambda: any(r["event"]["module"] == "upstream_router" for r in hub.upstream()), timeout=90)
        owner = subprocess.run(
            [*PODMAN, "exec", container, "stat", "-c", "%u", store], capture_output=True, text=True
        )
        assert owner.stdout.strip() == "10001", owner.stderr
        health = subprocess.run([*PODMAN, "healthcheck", "run", container], capture_output=True, text=True)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        logs = subprocess.run([*PODMAN, "logs", container], capture_output=True, text=True)
        subprocess.run([*PODMAN, "rm", "-f", container], capture_output=True)
        print(logs.stdout[-3000:], logs.stderr[-3000:])


def test_example_module_image_routes_messages_through_the_local_hub(
    built: None, tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
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
        _image("example_module"),
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
