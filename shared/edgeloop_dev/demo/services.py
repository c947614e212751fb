"""The demo's moving parts besides the modules: the plant, Blob Storage, and the rendered manifest."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeloop_dev.manifest.catalog import load_catalog
from edgeloop_dev.manifest.render import RenderOptions, render_manifest

REPO_ROOT = Path(__file__).resolve().parents[3]
DEBUG_TEMPLATE = REPO_ROOT / "deployment" / "deployment.local.template.json"


class PortBusyError(RuntimeError):
    """A port the demo needs is taken by another program."""


def require_free(host: str, port: int, what: str) -> None:
    """Raise PortBusyError naming `what` if host:port is in use."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortBusyError(f"{what} needs {host}:{port}, which is in use ({exc.strerror})") from exc


@dataclass(frozen=True)
class BlobTarget:
    """Where the router uploads retraining data: Azurite, or a local folder when Node is missing."""

    connection_string: str
    description: str


def blob_target(state_dir: Path) -> tuple[BlobTarget, Any]:
    """Start Azurite if it is installed; otherwise use a local folder. Returns (target, handle to stop)."""
    from edgeloop_dev.azurite import Azurite, missing_reason

    reason = missing_reason()
    if reason is None:
        azurite = Azurite.start(state_dir / "azurite")
        return BlobTarget(azurite.connection_string, f"Azurite on {azurite.host}:{azurite.port}"), azurite
    folder = state_dir / "blobs"
    folder.mkdir(parents=True, exist_ok=True)
    return BlobTarget(f"file://{folder}", f"local folder {folder} (Azurite unavailable: {reason})"), None


DEFAULT_PLANT_ENDPOINT = "opc.tcp://127.0.0.1:4840"
PUBLISHED_NODES = REPO_ROOT / "deployment" / "publishednodes.plant.json"


def point_at_plant(manifest: dict[str, Any], state_dir: Path, endpoint: str, load_tags: int = 0) -> None:
    """Make the OPC UA modules use this run's plant (its address, and its extra load tags if any)."""
    if endpoint == DEFAULT_PLANT_ENDPOINT and not load_tags:
        return
    if load_tags:
        from edgeloop_dev.plant.testing import published_nodes

        nodes = json.dumps(published_nodes(endpoint, load_tags_count=load_tags), indent=1)
    else:
        nodes = PUBLISHED_NODES.read_text(encoding="utf-8").replace(DEFAULT_PLANT_ENDPOINT, endpoint)
    copy = state_dir / "publishednodes.json"
    copy.write_text(nodes, encoding="utf-8")
    modules = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    for module in modules.values():
        for entry in module.get("env", {}).values():
            value = entry.get("value")
            if value == DEFAULT_PLANT_ENDPOINT:
                entry["value"] = endpoint
            elif isinstance(value, str) and value.endswith(PUBLISHED_NODES.name):
                entry["value"] = str(copy)


def render_debug_manifest(
    state_dir: Path,
    variables: dict[str, str],
    plant_endpoint: str,
    env: dict[str, dict[str, str]] | None = None,
    *,
    load_tags: int = 0,
    template: Path = DEBUG_TEMPLATE,
    routes: dict[str, str] | None = None,
) -> Path:
    """Render the debug template with the demo's variables, plant, env overrides and extra routes into DIR."""
    doc = json.loads(template.read_text(encoding="utf-8"))
    catalog = load_catalog(REPO_ROOT / "modules")
    rendered = render_manifest(doc, catalog, RenderOptions(platform="amd64", variables=variables))
    point_at_plant(rendered, state_dir, plant_endpoint, load_tags)
    modules = rendered["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    for module in modules.values():  # `edgeloop run` honours the template's ports; demos run side by side
        module.setdefault("env", {})["METRICS_PORT"] = {"value": "0"}
        if "REST_PORT" in module["env"]:  # inference's REST port (5000 in the template), for the same reason
            module["env"]["REST_PORT"] = {"value": "0"}
    for name, overrides in (env or {}).items():
        modules[name].setdefault("env", {}).update({k: {"value": v} for k, v in overrides.items()})
    hub_routes = rendered["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    for name, route in (routes or {}).items():
        hub_routes[name] = {"route": route, "priority": 0, "timeToLiveSecs": 60}
    out = state_dir / "deployment.json"
    out.write_text(json.dumps(rendered, indent=2), encoding="utf-8")
    return out
