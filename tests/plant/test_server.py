"""The plant's OPC UA server on loopback: values, ranges, write audit trail, security, outages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_dev.plant import NAMESPACE_URI, SCHEDULE_FILE, PlantOptions, PlantServer, free_port, read_audit

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def plant(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[PlantServer]:
    state = tmp_path_factory.mktemp("plant")
    async with PlantServer(PlantOptions(state_dir=state, port=free_port(), seed=3, tags=20)) as p:
        yield p


async def ns_of(client: Client) -> int:
    return int(await client.get_namespace_index(NAMESPACE_URI))


async def test_values_update_at_ten_hertz_with_timestamps(plant: PlantServer) -> None:
    async with Client(plant.endpoint) as c:
        node = c.get_node(f"ns={await ns_of(c)};s=Crusher.MotorPower")
        seen = []
        for _ in range(5):
            seen.append(await node.read_data_value())
            await asyncio.sleep(0.12)
    assert len({dv.SourceTimestamp for dv in seen}) == 5
    assert all(dv.StatusCode.is_good() and 0 < dv.Value.Value < 2000 for dv in seen)


async def test_load_tags_exist_when_asked_for(plant: PlantServer) -> None:
    async with Client(plant.endpoint) as c:
        v = await c.get_node(f"ns={await ns_of(c)};s=Load.Tag0019").read_value()
    assert -102 < v < 102


async def test_schedule_file_is_written_with_start_time(plant: PlantServer) -> None:
    doc = json.loads((plant.options.state_dir / SCHEDULE_FILE).read_text())
    assert doc["startedAt"].endswith("Z")
    assert doc["endpoint"] == plant.endpoint
    assert [f["id"] for f in doc["faults"]] == [f.id for f in plant.schedule.faults]


async def test_writable_nodes_have_engineering_ranges(plant: PlantServer) -> None:
    async with Client(plant.endpoint) as c:
        sp = c.get_node(f"ns={await ns_of(c)};s=Pump.SpeedSetpoint")
        rng = await (await sp.get_child("0:EURange")).read_value()
        access = await sp.read_attribute(ua.AttributeIds.UserAccessLevel)
    assert (rng.Low, rng.High) == (600.0, 1500.0)
    assert access.Value.Value & ua.AccessLevel.CurrentWrite.mask


async def test_every_write_is_audited_with_writer_and_status(plant: PlantServer) -> None:
    async with Client(plant.endpoint) as c:
        ns = await ns_of(c)
        sp = c.get_node(f"ns={ns};s=Pump.SpeedSetpoint")
        await sp.write_value(ua.DataValue(ua.Variant(1234.0, ua.VariantType.Double)))
        with pytest.raises(ua.UaStatusCodeError, match="BadWriteNotSupported"):
            await sp.write_value(1300.0)  # asyncua stamps a SourceTimestamp: refused like a strict PLC
        with pytest.raises(ua.UaStatusCodeError, match="BadTypeMismatch"):
            await sp.write_value(ua.DataValue(ua.Variant(7, ua.VariantType.Int32)))
        with pytest.raises(ua.UaStatusCodeError, match="BadUserAccessDenied"):
            await c.get_node(f"ns={ns};s=Pump.Flow").write_value(ua.DataValue(ua.Variant(1.0)))
        assert await sp.read_value() == 1234.0
    assert plant.model.setpoints["Pump.SpeedSetpoint"] == 1234.0
    recs = read_audit(plant.options.state_dir)[-4:]
    assert [(r["node"], r["status"]) for r in recs] == [
        ("Pump.SpeedSetpoint", "Good"),
        ("Pump.SpeedSetpoint", "BadWriteNotSupported"),
        ("Pump.SpeedSetpoint", "BadTypeMismatch"),
        ("Pump.Flow", "BadUserAccessDenied"),
    ]
    assert recs[0]["value"] == 1234.0 and recs[0]["writer"] == "anonymous" and recs[0]["ts"].endswith("Z")


async def test_outage_refuses_connections_then_comes_back(plant: PlantServer) -> None:
    task = asyncio.create_task(plant.outage(1.0))
    await asyncio.sleep(0.2)
    with pytest.raises((OSError, asyncio.TimeoutError)):
        async with Client(plant.endpoint, timeout=1):
            pass
    await task
    async with Client(plant.endpoint) as c:
        assert await c.get_node(f"ns={await ns_of(c)};s=Pump.Speed").read_value() > 0


async def make_cert(d: Path, name: str) -> tuple[Path, Path, str]:
    uri = f"urn:edgeloop:test:{name}"
    cert, key = d / f"{name}.der", d / f"{name}.pem"
    await setup_self_signed_certificate(
        key, cert, uri, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": name}
    )
    return cert, key, uri


async def secure_client(endpoint: str, cert: Path, key: Path, uri: str, **kw: str) -> Client:
    c = Client(endpoint, timeout=3)
    c.application_uri = uri
    if "user" in kw:
        c.set_user(kw["user"])
        c.set_password(kw["password"])
    await c.set_security(
        SecurityPolicyBasic256Sha256, str(cert), str(key), mode=ua.MessageSecurityMode.SignAndEncrypt
    )
    return c


async def test_sign_and_encrypt_with_trust_list_and_users(tmp_path: Path) -> None:
    state = tmp_path / "plant"
    opts = PlantOptions(
        state_dir=state, port=free_port(), scenario="steady", security="sign-encrypt", users={"op": "pw-1"}
    )
    trusted = await make_cert(tmp_path, "trusted-client")
    untrusted = await make_cert(tmp_path, "stranger")
    (state / "pki" / "trusted").mkdir(parents=True)
    (state / "pki" / "trusted" / "trusted-client.der").write_bytes(trusted[0].read_bytes())
    async with PlantServer(opts) as plant:
        c = await secure_client(plant.endpoint, *trusted, user="op", password="pw-1")
        async with c:
            sp = c.get_node(f"ns={await ns_of(c)};s=AI.Advisory")
            await sp.write_value(ua.DataValue(ua.Variant("check pump bearing", ua.VariantType.String)))
        rec = read_audit(state)[-1]
        assert rec["value"] == "check pump bearing"
        assert rec["writer"].startswith("user:op;cert:CN=") and "trusted-client;sha1=" in rec["writer"]

        with pytest.raises(ua.UaStatusCodeError, match=r"BadCertificateUntrusted|BadSecurityChecksFailed"):
            async with await secure_client(plant.endpoint, *untrusted, user="op", password="pw-1"):
                pass
        with pytest.raises(ua.UaStatusCodeError, match=r"BadUserAccessDenied|BadIdentityTokenRejected"):
            async with await secure_client(plant.endpoint, *trusted, user="op", password="wrong"):
                pass
        with pytest.raises(ua.UaError):
            async with Client(plant.endpoint, timeout=2):  # no security: no matching endpoint
                pass
