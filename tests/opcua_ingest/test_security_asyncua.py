"""Every security policy and mode against asyncua's server too (node-opcua is the other judge)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Server, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_dev.plant import free_port
from edgeloop_opcua import Pki
from opcua_ingest.opcua import EndpointSession
from opcua_ingest.publishednodes import parse_published_nodes
from opcua_ingest.service import IngestPipeline

URI = "urn:edgeloop:test:asyncua-server"
P = ua.SecurityPolicyType
POLICIES = [P.Basic256Sha256_Sign, P.Basic256Sha256_SignAndEncrypt, P.Aes128Sha256RsaOaep_Sign,
            P.Aes128Sha256RsaOaep_SignAndEncrypt, P.Aes256Sha256RsaPss_Sign, P.Aes256Sha256RsaPss_SignAndEncrypt]  # fmt: skip


@contextlib.asynccontextmanager
async def asyncua_server(tmp_path: Path) -> AsyncIterator[str]:
    """asyncua's server on 127.0.0.x with every policy but None, a Counter that changes every 50 ms."""
    host = f"127.0.0.{random.randint(2, 254)}"
    endpoint = f"opc.tcp://{host}:{free_port(host)}"
    key, cert = tmp_path / "srv_key.pem", tmp_path / "srv_cert.der"
    await setup_self_signed_certificate(key, cert, URI, "localhost", [ExtendedKeyUsageOID.SERVER_AUTH],
                                        {"commonName": "asyncua test server"})  # fmt: skip
    server = Server()
    await server.init()
    server.set_endpoint(endpoint)
    await server.set_application_uri(URI)
    await server.load_certificate(str(cert))
    await server.load_private_key(str(key))
    server.set_security_policy(POLICIES)
    idx = await server.register_namespace("urn:edgeloop:test")
    counter = await (await server.nodes.objects.add_object(idx, "Plant")).add_variable(
        ua.NodeId("Counter", idx), "Counter", 0
    )

    async def tick() -> None:
        n = 0
        while True:
            n += 1
            await counter.write_value(n)
            await asyncio.sleep(0.05)

    async with server:
        task = asyncio.create_task(tick())
        try:
            yield endpoint
        finally:
            task.cancel()


async def values_with(tmp_path: Path, endpoint: str, **security: Any) -> tuple[int, str]:
    """How many Counter values one session got with these entry fields, and the security it reports."""
    doc = [{"EndpointUrl": endpoint, "DataSetWriterId": "w", "DataSetPublishingInterval": 100, **security,
            "OpcNodes": [{"Id": "nsu=urn:edgeloop:test;s=Counter", "DisplayName": "Counter"}]}]  # fmt: skip
    got: list[dict[str, Any]] = []

    async def send(msg: dict[str, Any]) -> None:
        got.append(msg)

    pipeline = IngestPipeline(send, publisher_id="t", max_bytes=250_000, flush_interval_s=0.1,
                              queue_size=1000, flush_on_response=True)  # fmt: skip
    session = EndpointSession(parse_published_nodes(doc).endpoints[0], pipeline,
                              Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True), max_backoff_s=1.0)  # fmt: skip
    tasks = [asyncio.create_task(pipeline.run()), asyncio.create_task(session.run())]
    deadline = time.monotonic() + 60
    try:
        while not got and time.monotonic() < deadline:  # waits for the first message of values
            await asyncio.sleep(0.1)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return sum(len(d["Payload"]) for m in got for d in m["Messages"]), session.status.security


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
async def test_every_policy_and_mode_against_asyncua(tmp_path: Path, policy: str, mode: str) -> None:
    async with asyncua_server(tmp_path) as endpoint:
        n, used = await values_with(
            tmp_path, endpoint, EndpointSecurityPolicy=policy, EndpointSecurityMode=mode
        )
    assert n and used == f"{policy}/{mode}", (n, used)


async def test_use_security_without_a_policy_against_asyncua(tmp_path: Path) -> None:
    async with asyncua_server(tmp_path) as endpoint:
        n, used = await values_with(tmp_path, endpoint, UseSecurity=True)
    assert n and used.endswith("/SignAndEncrypt"), used
