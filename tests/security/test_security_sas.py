"""SAS tokens against the real hub: a token signed for another module and a reused expired token are
refused (CONNACK 5, CredentialError in the SDK), counted in the hub's metrics, and never logged."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from azure.iot.device.exceptions import CredentialError

from edgeloop_dev.hub.harness import HubProcess, SdkModule, make_manifest
from edgeloop_dev.hub.identity import IdentityStore, make_sas_token
from edgeloop_dev.hub.mqtt import codec
from edgeloop_dev.hub.rawclient import USERNAME_QUERY, RawClient

MODULES: dict[str, dict[str, object]] = {"alpha": {}, "beta": {}}


def connect_raw(hub: HubProcess, module: str, token: str) -> int:
    """CONNECT as `module` presenting `token`; the CONNACK return code."""
    store = IdentityStore(hub.state_dir)
    username = f"{store.iothub_hostname}/{store.device_id}/{module}/{USERNAME_QUERY}"
    with RawClient(hub.state_dir, hub.host) as raw:
        raw.send(codec.Connect(f"{store.device_id}/{module}", username, token.encode()))
        ack = raw.recv()
        assert isinstance(ack, codec.Connack), ack
        if ack.return_code:
            assert raw.closed_by_server(), "a refused client is disconnected"
        return ack.return_code


def secrets_of(token: str) -> list[str]:
    sig = token.split("sig=", 1)[1].split("&", 1)[0]
    return [sig, unquote(sig)]


def assert_not_logged(hub: HubProcess, secrets: list[str], reason: str) -> None:
    """The refusal is in the hub's log with its reason; no secret is."""
    log = hub.log_path.read_text(errors="replace")
    assert "connect refused" in log and reason in log, "a refused CONNECT must be logged with its reason"
    for s in secrets:
        assert s not in log, "a secret reached the hub's log"


def test_a_token_signed_for_another_module_is_refused(
    hub_factory: Callable[..., HubProcess], sdk_module: Callable[..., SdkModule]
) -> None:
    hub = hub_factory(make_manifest({}, MODULES))
    store = IdentityStore(hub.state_dir)
    alpha_token = make_sas_token(store, "alpha")
    before = hub.metric("edgeloop_hub_auth_failures_total", return_code="5")

    assert connect_raw(hub, "alpha", alpha_token) == 0, "the token is valid for its own module"
    assert connect_raw(hub, "beta", alpha_token) == 5, "alpha's token must not open beta's session"
    # the same signature over beta's resource: the key is alpha's, so the signature cannot match
    forged = alpha_token.replace("modules%2Falpha", "modules%2Fbeta")
    assert forged != alpha_token
    assert connect_raw(hub, "beta", forged) == 5

    # the SDK, with beta's identity but alpha's key: CONNACK 5 is a CredentialError
    env = hub.env("beta")
    alpha_key = hub.env("alpha")["EdgeHubConnectionString"].rsplit("SharedAccessKey=", 1)[1]
    beta_key = env["EdgeHubConnectionString"].rsplit("SharedAccessKey=", 1)[1]
    assert alpha_key != beta_key
    wrong = {**env, "EdgeHubConnectionString": env["EdgeHubConnectionString"].replace(beta_key, alpha_key)}
    with pytest.raises(CredentialError):
        sdk_module(wrong, connection_retry=False, connect=False).client.connect()

    assert hub.metric("edgeloop_hub_auth_failures_total", return_code="5") >= before + 3
    assert_not_logged(
        hub, [*secrets_of(alpha_token), *secrets_of(forged), alpha_key, beta_key], "another resource"
    )


def test_a_reused_expired_token_is_refused(hub_factory: Callable[..., HubProcess]) -> None:
    hub = hub_factory(make_manifest({}, MODULES))
    store = IdentityStore(hub.state_dir)
    token = make_sas_token(store, "alpha", ttl=3)
    expiry = int(token.rsplit("se=", 1)[1])
    assert connect_raw(hub, "alpha", token) == 0, "accepted while valid"
    time.sleep(max(0.0, expiry - time.time()) + 1.1)
    before = hub.metric("edgeloop_hub_auth_failures_total", return_code="5")
    assert connect_raw(hub, "alpha", token) == 5, "the same token, replayed after its expiry"
    assert hub.metric("edgeloop_hub_auth_failures_total", return_code="5") == before + 1
    ident0 = store.get("alpha")
    assert ident0 is not None
    key = base64.b64decode(ident0.key).hex()
    ident = store.get("alpha")
    assert ident is not None
    assert_not_logged(hub, [*secrets_of(token), ident.key, key], "expired")
