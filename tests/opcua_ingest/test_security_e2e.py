"""Basic256Sha256 SignAndEncrypt end to end: the plant in sign-encrypt mode, opcua_ingest through the hub.

Trust is per side: the plant keeps a client trust list (`<plant state>/pki/trusted`, read on every
connection), the module its server trust list (`<PKI_DIR>/trusted`) and the refused ones (`rejected/`).
"""

from __future__ import annotations

import asyncio
import json
import queue
import shutil
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant import PlantOptions, PlantProcess, free_port
from edgeloop_dev.plant.testing import ModuleProcess, published_nodes
from edgeloop_opcua import Pki

ROUTES = {
    "telemetry": "FROM /messages/modules/opcua_ingest/outputs/telemetry INTO BrokeredEndpoint('/modules/sink/inputs/telemetry')"
}


def sign_encrypt_plant(tmp_path: Path) -> PlantProcess:
    opts = PlantOptions(
        state_dir=tmp_path / "plant", port=free_port(), scenario="steady", security="sign-encrypt"
    )
    return PlantProcess(opts)


def start_module(
    tmp_path: Path, plant: PlantProcess, hub_factory: Callable[..., HubProcess],
    sdk_module: Callable[..., SdkModule],
) -> tuple[HubProcess, ModuleProcess, SdkModule]:  # fmt: skip
    hub = hub_factory(make_manifest(ROUTES, {"opcua_ingest": {}, "sink": {}}))
    sink = sdk_module(hub.env("sink"))
    pn = tmp_path / "pn.json"
    pn.write_text(json.dumps(published_nodes(plant.endpoint, ("pump",), security=True)))
    env = {**hub.env("opcua_ingest"), "PUBLISHED_NODES_FILE": str(pn), "METRICS_PORT": "0",
           "METRICS_HOST": "127.0.0.1", "PKI_DIR": str(tmp_path / "pki"), "REPORT_INTERVAL_S": "1",
           "RECONNECT_MAX_BACKOFF_S": "1", "RECONNECT_SECURITY_BACKOFF_S": "1"}  # fmt: skip
    return hub, ModuleProcess("opcua_ingest", env, tmp_path / "ingest.log"), sink


def values_arrive(sink: SdkModule, wait: float) -> list[Any]:
    """The Good values of the first message that has any, within `wait` seconds (empty if none)."""
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = sink.next_input(timeout=left)
        except queue.Empty:
            break
        body = json.loads(msg.data)
        good = [v for d in body["Messages"] for v in d["Payload"].values() if "StatusCode" not in v]
        if good:
            return good
    return []


def endpoint(hub: HubProcess) -> dict[str, Any]:
    eps = hub.twin("opcua_ingest").get("reported", {}).get("ingest", {}).get("endpoints", {})
    return dict(next(iter(eps.values()))) if eps else {}


def pki_report(hub: HubProcess) -> dict[str, Any]:
    return dict(hub.twin("opcua_ingest").get("reported", {}).get("ingest", {}).get("pki") or {})


def metric(hub: HubProcess, name: str) -> float:
    url = hub.twin("opcua_ingest")["reported"]["endpoints"]["metrics"]
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_trusted_both_ways_data_flows_encrypted(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    with sign_encrypt_plant(tmp_path) as plant:
        pki = Pki(tmp_path / "pki", "opcua_ingest")
        asyncio.run(pki.ensure())  # the module keeps this identity: provisioned before it starts
        shutil.copy(pki.cert, plant.options.state_dir / "pki" / "trusted" / "edgeloop-ingest.der")
        shutil.copy(plant.options.state_dir / "pki" / "own" / "cert.der", pki.trusted / "plant.der")
        hub, module, sink = start_module(tmp_path, plant, hub_factory, sdk_module)
        try:
            assert values_arrive(sink, 30), module.log.read_text()[-2000:]
            ep = wait_for(lambda: endpoint(hub).get("state") == "connected" and endpoint(hub), 10)
            assert ep.get("lastError") is None and ep["monitoredItems"] == 8
            assert not list(pki.rejected.glob("*.der"))
        finally:
            assert module.stop() == 0


def test_untrusted_is_refused_and_saved_then_trusted_by_moving_the_files(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    with sign_encrypt_plant(tmp_path) as plant:
        plant_trusted = plant.options.state_dir / "pki" / "trusted"
        hub, module, sink = start_module(tmp_path, plant, hub_factory, sdk_module)
        pki = Pki(tmp_path / "pki", "opcua_ingest")
        try:
            # 1. nobody trusts anybody: the plant refuses the module's (new, persisted) certificate first
            ep = wait_for(lambda: endpoint(hub).get("state") == "securityRejected" and endpoint(hub), 30)
            assert (
                "BadCertificateUntrusted" in ep["lastError"] or "BadSecurityChecksFailed" in ep["lastError"]
            )
            assert pki.cert.exists() and not values_arrive(sink, 1.0)

            # 2. the plant's operator trusts the module: now the module refuses the plant and saves its cert
            shutil.copy(pki.cert, plant_trusted / "edgeloop-ingest.der")
            rejected = wait_for(lambda: list(pki.rejected.glob("*.der")), 20)
            assert (
                rejected[0].read_bytes()
                == (plant.options.state_dir / "pki" / "own" / "cert.der").read_bytes()
            )
            rep = wait_for(lambda: pki_report(hub).get("lastRejected") and pki_report(hub), 10)
            assert rep["rejected"] == [rejected[0].name] and rep["autoAccept"] is False
            assert endpoint(hub)["state"] == "securityRejected"
            assert "BadCertificateUntrusted" in endpoint(hub)["lastError"]
            assert wait_for(lambda: metric(hub, "edgeloop_opcua_ingest_certificates_rejected_total"), 10) >= 1
            assert not values_arrive(sink, 1.0) and module.alive()
            logged = [line for line in module.log_lines() if "rejected" in str(line.get("event"))]
            assert logged and logged[0]["saved"] == str(rejected[0])

            # 3. the module's operator moves the saved certificate into trusted/: data on the next attempt
            pki.trust(rejected[0])
            assert values_arrive(sink, 30), module.log.read_text()[-2000:]
            wait_for(lambda: endpoint(hub).get("state") == "connected", 10)
            assert module.alive()
        finally:
            assert module.stop() == 0
