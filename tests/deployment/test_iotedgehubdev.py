"""The container debug manifest, fed to the real iotedgehubdev's compose generation, keeps what the modules need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_helpers import DEPLOYMENT, PIPELINE, ROOT, load
from tool_venv import tool_venv

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.lint import lint_manifest
from edgeloop_dev.manifest.render import RenderOptions, render_manifest
from edgeloop_dev.manifest.vendor_check import VendoredSchemas, vendor_findings

TEMPLATE = DEPLOYMENT / "deployment.debug.containers.template.json"

# What `iotedgehubdev start -d FILE` does before `docker compose up`: EdgeManager builds the same
# edge info (connection strings, certificate volume, network) and ComposeProject writes the file.
COMPOSE = """
import json, sys
from iotedgehubdev.composeproject import ComposeProject
content = json.load(open(sys.argv[1]))["modulesContent"]
names = [*content["$edgeAgent"]["properties.desired"]["modules"], "$edgeHub"]
project = ComposeProject(content)
project.set_edge_info({
    "ConnStr_info": {n: f"HostName=h;GatewayHostName=gw;DeviceId=d;ModuleId={n};SharedAccessKey=k" for n in names},
    "env_info": {"hub_env": [], "module_env": ["EdgeModuleCACertificateFile=/mnt/edgemodule/edge-device-ca-cert.pem"]},
    "volume_info": {"HUB_MOUNT": "/mnt/edgehub", "HUB_VOLUME": "edgehubdev", "MODULE_VOLUME": "edgemoduledev",
                    "MODULE_MOUNT": "/mnt/edgemodule"},
    "network_info": {"NW_NAME": "azure-iot-edge-dev", "ALIASES": "gw"},
    "hub_name": "edgeHubDev",
    "labels": "iotedgehubdev",
})
project.compose()
project.dump(sys.argv[2])
"""


@pytest.fixture(scope="module")
def rendered(catalog: dict[str, ModuleInfo], example_variables: dict[str, str]) -> dict[str, Any]:
    variables = {**example_variables, "EDGELOOP_REPO": str(ROOT)}
    return render_manifest(load(TEMPLATE), catalog, RenderOptions("amd64", variables=variables, strict=True))


def test_the_container_template_lints_clean_everywhere(
    rendered: dict[str, Any], catalog: dict[str, ModuleInfo], schema: dict[str, Any]
) -> None:
    vendored = VendoredSchemas.load(ROOT)
    assert [
        str(f) for f in lint_manifest(load(TEMPLATE), catalog, schema, template=True, vendored=vendored)
    ] == []
    assert [str(f) for f in lint_manifest(rendered, catalog, schema, template=False, vendored=vendored)] == []
    assert vendor_findings(rendered, vendored, template=False) == []


def _volumes(dockerfile: Path) -> set[str]:
    lines = [line for line in dockerfile.read_text().splitlines() if line.startswith("VOLUME ")]
    return {path for line in lines for path in json.loads(line.removeprefix("VOLUME "))}


def test_iotedgehubdev_compose_keeps_debugging_hardening_storage_and_the_plant(
    rendered: dict[str, Any], tmp_path: Path
) -> None:
    bin_dir = tool_venv()
    manifest, script, out = (
        tmp_path / "deployment.json",
        tmp_path / "compose.py",
        tmp_path / "docker-compose.yml",
    )
    manifest.write_text(json.dumps(rendered))
    script.write_text(COMPOSE)
    result = subprocess.run(
        [str(bin_dir / "python"), str(script), str(manifest), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    services = yaml.safe_load(out.read_text())["services"]
    debug_ports = set()
    for name in PIPELINE:
        service = services[name]
        assert service["image"].endswith(".debug")
        assert service["network_mode"] == "host"  # the plant on the host's loopback, edgeHub on 8883
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges"]
        entry = service["entrypoint"]
        assert entry[:4] == ["python3", "-m", "debugpy", "--listen"] and entry[-1] == name
        debug_ports.add(entry[4])
        mounts = {v["target"]: v for v in service["volumes"]}
        assert mounts["/tmp"]["type"] == "tmpfs"  # HostConfig.Tmpfs would have been dropped
        writable = {
            t for t, v in mounts.items() if v["type"] == "volume" and not v["target"].startswith("/mnt/")
        }
        assert writable == _volumes(ROOT / "modules" / name / "Dockerfile.amd64.debug"), name
        for bind in (v for v in mounts.values() if v["type"] == "bind"):
            assert Path(bind["source"]).exists() and bind.get("read_only") is True, bind
        env = dict(item.split("=", 1) for item in service["environment"])
        assert "EdgeHubConnectionString" in env and env["METRICS_PORT"].isdigit()
        assert all("$" not in value for value in env.values())
    assert len(debug_ports) == len(PIPELINE)
    assert (
        services["opcua_ingest"]["environment"].count("PUBLISHED_NODES_FILE=/appdata/publishednodes.json")
        == 1
    )
    assert "BLOB_CONNECTION_STRING=file:///data/blob" in services["upstream_router"]["environment"]


def test_the_readme_render_command_works_on_a_fresh_clone_with_only_the_registry_set(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for part in ("modules", "deployment", "shared"):
        (clone / part).symlink_to(ROOT / part)  # the checkout as cloned: no .env anywhere
    out = tmp_path / "rendered.json"
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CONTAINER_REGISTRY", "BLOB_", "EDGELOOP_"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "edgeloop_dev.cli", "manifest", "render", "--platform", "amd64",
         "--template", "deployment/deployment.debug.containers.template.json", "--out", str(out)],
        cwd=clone,
        env={**env, "CONTAINER_REGISTRY_ADDRESS": "localhost:5000"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "${" not in text and "localhost:5000/edgeloop/opcua_ingest" in text
