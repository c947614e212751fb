"""The pipeline as containers closes the loop: the shipped manifest, rendered, run by podman against the
local hub and the plant simulator; a seeded plant fault comes back as an AI write the plant applied, and as
an anomaly and an audit in $upstream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from images_containers import Containers, fill_volume
from podman_flags import ROOT

from edgeloop_dev.demo.observe import upstream_envelopes
from edgeloop_dev.hub.harness import HubProcess, wait_for
from edgeloop_dev.manifest.catalog import load_catalog
from edgeloop_dev.manifest.render import RenderOptions, render_manifest
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port, read_audit
from edgeloop_dev.plant.testing import published_nodes
from edgeloop_opcua import Pki

pytestmark = [pytest.mark.container, pytest.mark.xdist_group("podman"), pytest.mark.timeout(1800)]

TEMPLATE = ROOT / "deployment/deployment.template.json"
PIPELINE = ("upstream_router", "opcua_writeback", "anomaly_filter", "inference", "opcua_ingest")
WRITER, READER = "edgeloop-writer", "edgeloop-reader"
USERS = {WRITER: "writer-pw-for-tests", READER: "reader-pw-for-tests"}


def render(plant_endpoint: str) -> dict[str, Any]:
    """deployment.template.json rendered for amd64 with this machine's values (as `.env` would give)."""
    variables = {
        "CONTAINER_REGISTRY_ADDRESS": "localhost",
        "CONTAINER_REGISTRY_USERNAME": "unused",
        "CONTAINER_REGISTRY_PASSWORD": "unused",
        "OPCUA_ENDPOINT_URL": plant_endpoint,
        "OPCUA_WRITEBACK_USERNAME": WRITER,
        "OPCUA_WRITEBACK_PASSWORD": USERS[WRITER],
        "CAMERA_RTSP_URL": "rtsp://127.0.0.1:1/none",
        "BLOB_ACCOUNT_NAME": "edgeloopblob",
        "BLOB_ACCOUNT_KEY": "ZWRnZWxvb3AtdGVzdC1rZXk=",
        "CLOUD_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eA==",
        "IOTHUB_RESOURCE_ID": "/subscriptions/x",
        "LOG_ANALYTICS_WORKSPACE_ID": "x",
        "LOG_ANALYTICS_SHARED_KEY": "eA==",
    }
    template = json.loads(TEMPLATE.read_text())
    options = RenderOptions(platform="amd64", variables=variables, strict=True)
    return render_manifest(template, load_catalog(ROOT / "modules"), options)


def writeback_pki(folder: Path, plant_cert: Path) -> Path:
    """opcua_writeback's /pki as an operator prepares it: its own certificate (for the container's
    hostname, the module name) and the plant's certificate in trusted/."""
    pki = Pki(folder, "opcua_writeback")
    pki.app_uri = "urn:edgeloop:opcua_writeback:opcua_writeback"
    asyncio.run(pki.ensure())
    shutil.copy(plant_cert, pki.trusted / "plant.der")
    return pki.cert


def waited(what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    """`predicate()`'s first truthy value within `timeout` s; the failure names what was waited for."""
    try:
        return wait_for(predicate, timeout=timeout, interval=1.0)
    except TimeoutError:
        pytest.fail(f"waited {timeout:.0f} s for {what}; it did not come")


def envelopes(hub: HubProcess) -> list[dict[str, Any]]:
    """Every envelope that reached $upstream so far (batches unpacked)."""
    found: list[dict[str, Any]] = []
    for event in hub.upstream():
        found += upstream_envelopes(event)[0]
    return found


@pytest.fixture
def containers() -> Iterator[list[Containers]]:
    """The runs started by a test, their containers and volumes removed afterwards."""
    runs: list[Containers] = []
    yield runs
    for run in runs:
        run.remove()


def test_the_pipeline_as_containers_closes_the_loop_on_a_plant_fault(
    built: None,
    tmp_path: Path,
    hub_host: str,
    hub_factory: Callable[..., HubProcess],
    containers: list[Containers],
) -> None:
    plant_opts = PlantOptions(
        state_dir=tmp_path / "plant", host=hub_host, port=free_port(hub_host), scenario="demo",
        security="all", users=USERS,
    )  # fmt: skip
    endpoint = f"opc.tcp://{hub_host}:{plant_opts.port}"
    manifest = render(endpoint)
    (tmp_path / "deployment.json").write_text(json.dumps(manifest))
    hub = hub_factory(tmp_path / "deployment.json")
    ca = Path(hub.env("upstream_router")["EdgeModuleCACertificateFile"])
    ca.chmod(0o644)
    run = Containers(manifest, ca)
    containers.append(run)

    appdata = tmp_path / "appdata"
    appdata.mkdir()
    nodes = published_nodes(endpoint, OpcAuthenticationMode="UsernamePassword")
    for entry in nodes:  # credentials belong to the endpoint entry in OPC Publisher's schema
        for node in entry["OpcNodes"]:
            node.pop("OpcAuthenticationMode")
        entry |= {"OpcAuthenticationMode": "UsernamePassword", "OpcAuthenticationUsername": READER,
                  "OpcAuthenticationPassword": USERS[READER]}  # fmt: skip
    (appdata / "publishednodes.json").write_text(json.dumps(nodes))
    appdata.chmod(0o755)
    (appdata / "publishednodes.json").chmod(0o644)

    with PlantProcess(plant_opts) as plant:
        own_cert = writeback_pki(tmp_path / "pki", plant_opts.state_dir / "pki" / "own" / "cert.der")
        shutil.copy(own_cert, plant_opts.state_dir / "pki" / "trusted" / "edgeloop-writeback.der")
        fill_volume(run.volume("edgeloop-opcua-writeback-pki"), tmp_path / "pki")
        # The plant records who wrote: the session's user and the client certificate the container used,
        # which must be the one provisioned on the volume (the module never replaces it).
        sha1 = hashlib.sha1(own_cert.read_bytes()).hexdigest()
        writer = f"user:{WRITER};cert:CN=urn:edgeloop:opcua_writeback:opcua_writeback;sha1={sha1}"
        fill_volume(run.volume("edgeloop-inference-models"), ROOT / "modules/inference/model_repository")

        # Host networking puts every module in one network namespace: each takes its own free
        # metrics port (METRICS_PORT=0) and REST port, on the hub's loopback address only.
        local = {"METRICS_PORT": "0", "METRICS_HOST": hub_host}
        blob_host = ("--add-host", f"AzureBlobStorageonIoTEdge:{hub_host}")
        for name in PIPELINE:
            overrides = dict(local)
            if name == "inference":
                overrides |= {"REST_PORT": "0", "REST_HOST": hub_host}
            folders = {"/var/lib/edgeloop/opcua_ingest": str(appdata)}
            run.run(name, hub.env(name), overrides, folders, blob_host if name == "upstream_router" else ())

        # The shipped manifest starts write-back in dry-run (decide and audit, never write): going live
        # is the operator's step after commissioning, a desired-property patch.
        hub.push_desired("opcua_writeback", {"dryRun": False})

        def ai_write_applied() -> dict[str, Any] | None:
            for rec in read_audit(plant.options.state_dir):
                if (
                    rec["node"].startswith("AI.")
                    and rec["status"] == "Good"
                    and rec["writer"].startswith(writer)
                ):
                    return rec
            return None

        def upstream_kind(kind: str, **match: str) -> Callable[[], dict[str, Any] | None]:
            def find() -> dict[str, Any] | None:
                for env in envelopes(hub):
                    data = env.get("data", {})
                    if env.get("kind") == kind and all(data.get(k) == v for k, v in match.items()):
                        return env
                return None

            return find

        try:
            waited(
                "the plant's write record: an AI write, Good, by the writeback's user and certificate",
                ai_write_applied,
                300,
            )
            waited("$upstream: an audit of opcua_writeback with result 'applied'",
                   upstream_kind("audit", result="applied"), 120)  # fmt: skip
            waited(
                "$upstream: an anomaly of anomaly_filter that opened",
                upstream_kind("anomaly", state="open"),
                120,
            )
            assert all(run.running(name) for name in PIPELINE), "every module container still runs"
        finally:
            for name in PIPELINE:
                print(f"--- {name}", *run.logs(name).splitlines()[-15:], sep="\n")
