"""CONNECT and sessions: SAS checks and CONNACK codes, renewal, takeover, keep-alive, both environment paths."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest
from azure.iot.device.exceptions import CredentialError

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest, wait_for
from edgeloop_dev.hub.identity import IdentityStore, make_sas_token
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.rawclient import USERNAME_QUERY, RawClient

ROUTE = 'FROM /messages/modules/a/* INTO BrokeredEndpoint("/modules/b/inputs/in")'
OTHER_KEY = "c2VjcmV0LWJ1dC13cm9uZy1rZXktZm9yLXRoaXMtbW9kdWxl"


def test_wrong_key_and_unknown_module_are_refused(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    env = hub.env("m")
    good = env["EdgeHubConnectionString"]
    key = good.rsplit("SharedAccessKey=", 1)[1]
    wrong = {**env, "EdgeHubConnectionString": good.replace(key, OTHER_KEY)}
    with pytest.raises(CredentialError):
        sdk_module(wrong, connection_retry=False, connect=False).client.connect()
    ghost = {**env, "EdgeHubConnectionString": good.replace("ModuleId=m;", "ModuleId=ghost;")}
    with pytest.raises(CredentialError):
        sdk_module(ghost, connection_retry=False, connect=False).client.connect()
    assert hub.metric("edgeloop_hub_auth_failures_total", return_code="5") >= 2


@pytest.mark.parametrize(
    ("connect", "code"),
    [
        pytest.param(codec.Connect("x", protocol_name="MQIsdp", protocol_level=3), 1, id="mqtt-3.1"),
        pytest.param(codec.Connect("edgeloop-device"), 2, id="client-id-without-module"),
        pytest.param(codec.Connect("other-device/m", "u", b"p"), 2, id="other-device"),
        pytest.param(
            codec.Connect("edgeloop-device/m", "wronghub/edgeloop-device/m/", b"p"), 4, id="bad-username"
        ),
        pytest.param(codec.Connect("edgeloop-device/m", None, None), 4, id="no-username"),
    ],
)
def test_connack_codes(connect: codec.Connect, code: int, hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    with RawClient(hub.state_dir, hub.host) as raw:
        raw.send(connect)
        assert raw.recv() == codec.Connack(code)
        assert raw.closed_by_server()


def test_expired_token_is_refused(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    store = IdentityStore(hub.state_dir)
    token = make_sas_token(store, "m", ttl=-10)
    with RawClient(hub.state_dir, hub.host) as raw:
        raw.send(
            codec.Connect(
                "edgeloop-device/m",
                f"{store.iothub_hostname}/edgeloop-device/m/{USERNAME_QUERY}",
                token.encode(),
            )
        )
        assert raw.recv() == codec.Connack(5)


def test_sas_renewal_reconnects_without_resubscribing(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    # the SDK renews at expiry - 120 s: a 125 s token is renewed about 5 s after connecting
    b = sdk_module(hub.env("b"), sastoken_ttl=125)
    a = sdk_module(hub.env("a"), inputs=False)
    wait_for(lambda: hub.metric("edgeloop_hub_connects_total", id="edgeloop-device/b") >= 2, timeout=20)
    a.send("out", "after-renewal")
    assert b.next_input().data == b"after-renewal"


def test_takeover_of_a_stale_connection(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    with RawClient(hub.state_dir, hub.host) as stale:
        assert stale.connect_module("b") == 0
        b = sdk_module(hub.env("b"))
        assert stale.closed_by_server()
    sdk_module(hub.env("a"), inputs=False).send("out", "to-new-connection")
    assert b.next_input().data == b"to-new-connection"


def test_keepalive_timeout_disconnects(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    with RawClient(hub.state_dir, hub.host) as raw:
        assert raw.connect_module("m", keepalive=1) == 0
        raw.send(codec.Pingreq())
        assert raw.recv() == codec.Pingresp()
        assert raw.closed_by_server(timeout=4)  # silent for 1.5 x keep-alive


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param("connection-string", id="EdgeHubConnectionString"),
        pytest.param("workload", id="IOTEDGE-workload-unix-socket"),
        pytest.param("workload-http", id="IOTEDGE-workload-http"),
    ],
)
def test_both_environment_paths(
    mode: str, hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({"r": ROUTE}, {"a": {}, "b": {}}))
    env = hub.env("a", mode)
    if mode == "workload":
        assert env["IOTEDGE_WORKLOADURI"].startswith("unix://")
    elif mode == "workload-http":
        assert env["IOTEDGE_WORKLOADURI"].startswith("http://127.0.0.1:")
    b = sdk_module(hub.env("b", mode))
    sdk_module(env, inputs=False).send("out", mode)
    assert b.next_input().data == mode.encode()


def test_modulecred_prints_two_lines(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, {"m": {}}))
    out = subprocess.run(
        [sys.executable, "-m", "edgeloop_dev.hub", "modulecred", "--state-dir", str(hub.state_dir), "m"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 2
    assert out[0].startswith(
        f"EdgeHubConnectionString=HostName=edgeloop-local.azure-devices.net;GatewayHostName="
        f"{hub.host};DeviceId=edgeloop-device;ModuleId=m;SharedAccessKey="
    )
    assert out[1] == f"EdgeModuleCACertificateFile={hub.state_dir.resolve() / 'certs' / 'ca.pem'}"
