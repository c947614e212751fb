"""A short real pipeline at DEBUG log level (hub, example_module, opcua_writeback with a password set by a
twin patch, upstream_router with a Blob connection string carrying an AccountKey), fed good and bad input:
no key, signature, password or connection string appears in any log file or in upstream.jsonl."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.demo.observe import upstream_envelopes
from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.plant.testing import ModuleProcess

ROUTES = {
    "values": "FROM /messages/modules/feeder/outputs/values INTO BrokeredEndpoint('/modules/example_module/inputs/values')",
    "scaled": "FROM /messages/modules/example_module/outputs/scaled INTO $upstream",
    "actions": "FROM /messages/modules/feeder/outputs/actions INTO BrokeredEndpoint('/modules/opcua_writeback/inputs/requests')",
    "anomalies": "FROM /messages/modules/feeder/outputs/anomalies INTO BrokeredEndpoint('/modules/upstream_router/inputs/anomalies')",
    "audit": "FROM /messages/modules/opcua_writeback/outputs/audit INTO BrokeredEndpoint('/modules/upstream_router/inputs/audit')",
    "dead": "FROM /messages/modules/example_module/outputs/deadletter INTO BrokeredEndpoint('/modules/upstream_router/inputs/deadletter')",
    "up": "FROM /messages/modules/upstream_router/outputs/upstream INTO $upstream",
}
MODULES = ("example_module", "opcua_writeback", "upstream_router")


def _secret(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


@pytest.fixture
def pipeline(
    tmp_path: Path, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> Iterator[tuple[HubProcess, SdkModule, dict[str, ModuleProcess], dict[str, str]]]:
    account_key = base64.b64encode(secrets.token_bytes(64)).decode()
    secret = {
        "password": _secret("opcua-pw"),
        "patchedPassword": _secret("patched-pw"),
        "accountKey": account_key,
        "connectionString": (
            "DefaultEndpointsProtocol=http;AccountName=edgeloopscan;"
            f"AccountKey={account_key};BlobEndpoint=http://127.0.0.1:1/edgeloopscan;"
        ),
    }
    writeback = {
        "endpoint": "opc.tcp://127.0.0.1:1",
        "username": "operator",
        "password": secret["password"],
        "targets": {"advisory": {"nodeId": "nsu=urn:edgeloop:plant;s=AI.Advisory", "type": "String"}},
        "maxAttempts": 1,
    }
    hub = hub_factory(
        make_manifest(
            ROUTES,
            {
                "feeder": {},
                "example_module": {},
                "opcua_writeback": writeback,
                "upstream_router": {"blobWaitSeconds": 0.5},
            },
        )
    )
    procs: dict[str, ModuleProcess] = {}
    for name in MODULES:
        env = {**hub.env(name), "METRICS_PORT": "0", "METRICS_HOST": "127.0.0.1", "LOG_LEVEL": "DEBUG",
               "PKI_DIR": str(tmp_path / f"pki-{name}"), "STORE_PATH": str(tmp_path / "router.db"),
               "STATE_DIR": str(tmp_path / f"state-{name}")}  # fmt: skip
        if name == "upstream_router":
            env["BLOB_CONNECTION_STRING"] = secret["connectionString"]
            env["COMPRESS"] = "false"  # upstream.jsonl shows the events as JSON
        key = env["EdgeHubConnectionString"].rsplit("SharedAccessKey=", 1)[1]
        secret[f"key:{name}"] = key
        procs[name] = ModuleProcess(name, env, tmp_path / f"{name}.log")
    feeder_env = hub.env("feeder")
    secret["key:feeder"] = feeder_env["EdgeHubConnectionString"].rsplit("SharedAccessKey=", 1)[1]
    feeder = sdk_module(feeder_env, inputs=False)
    try:
        for name in MODULES:
            wait_for(lambda n=name: hub.twin(n).get("reported", {}).get("status") == "running", 40)  # type: ignore[misc]
        yield hub, feeder, procs, secret
    finally:
        for p in procs.values():
            p.stop()


def envelope(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"v": 1, "kind": kind, "id": str(uuid.uuid4()), "ts": "2027-01-15T08:00:00.000Z",
            "source": {"module": "feeder", "version": "0"}, "correlationId": None, "data": data}  # fmt: skip


def variants(value: str) -> set[str]:
    """A secret as it could leak: as is, URL-encoded, JSON-escaped, and its first 16 characters."""
    from urllib.parse import quote

    return {value, quote(value, safe=""), json.dumps(value)[1:-1], value[:16]}


def test_no_secret_in_any_log_or_upstream(
    tmp_path: Path, pipeline: tuple[HubProcess, SdkModule, dict[str, ModuleProcess], dict[str, str]]
) -> None:
    hub, feeder, procs, secret = pipeline
    hub.push_desired("opcua_writeback", {"password": secret["patchedPassword"], "username": "operator2"})
    wait_for(lambda: hub.twin("opcua_writeback")["reported"].get("config", {}).get("status") == "applied", 15)

    for i in range(5):
        feeder.send_json("values", {"value": i})
    feeder.send("values", b"\xffnot json")  # dead-lettered, then kept by the router
    req = envelope("writeRequest", {"requestId": str(uuid.uuid4()), "target": "advisory", "value": "x"})
    feeder.send_json("actions", req)  # the endpoint is unreachable: a failed write, audited
    anomaly = envelope("anomaly", {
        "eventId": str(uuid.uuid4()), "state": "open", "asset": "pump", "anomalyKind": "vib",
        "severity": "warning", "score": 2.0, "start": "2027-01-15T08:00:00.000Z",
        "model": {"name": "pca", "version": "1"}, "sourceTimestamp": "2027-01-15T08:00:00.000Z",
        "window": {"timestamps": ["2027-01-15T08:00:00.000Z"], "fields": {"Vibration": [7.5]}},
    })  # fmt: skip
    feeder.send_json("anomalies", anomaly)  # evidence upload to an unreachable Blob endpoint: retried, logged

    def kinds() -> set[str]:
        # the router may batch several events into one upstream message: look inside
        return {
            str(env.get("kind")) for e in hub.upstream() for env in upstream_envelopes(e, hub.state_dir)[0]
        }

    try:
        wait_for(lambda: {"scaled", "audit", "deadletter"} <= kinds() or None, 60)
    except TimeoutError:
        raise AssertionError(f"upstream has only {kinds()}") from None
    wait_for(lambda: "blob upload failed" in (tmp_path / "upstream_router.log").read_text() or None, 20)
    for p in procs.values():
        assert p.alive()
        p.stop()

    files = [
        *tmp_path.rglob("*.log"),
        *tmp_path.rglob("upstream.jsonl"),
    ]
    scanned = {f.name: f.read_text(errors="replace") for f in files}
    assert {"example_module.log", "opcua_writeback.log", "upstream_router.log", "upstream.jsonl"} <= set(
        scanned
    )
    assert any(n.endswith(".hub.log") for n in scanned), scanned.keys()
    assert all(len(text) > 0 for text in scanned.values())
    leaks = [
        (what, name)
        for what, value in secret.items()
        for name, text in scanned.items()
        for v in variants(value)
        if v in text
    ]
    assert not leaks, f"secrets in logs: {leaks}"
    for name, text in scanned.items():
        assert "SharedAccessSignature" not in text and "sig=" not in text, f"a SAS token in {name}"
        assert "AccountKey=" not in text and "SharedAccessKey=" not in text, f"a connection string in {name}"
    reported = json.dumps(hub.twin("opcua_writeback")["reported"])
    assert secret["password"] not in reported and secret["patchedPassword"] not in reported
