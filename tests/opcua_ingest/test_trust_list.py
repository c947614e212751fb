"""The trust list as OPC UA defines it: trusted certificates and CAs, issuer CAs that only complete chains,
and CRLs that revoke, against certificates made here with a real CA hierarchy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.ua.uaerrors import BadCertificateRevoked, BadCertificateUntrusted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edgeloop_opcua import Pki

URI = "urn:test:server"


def put(folder: Path, name: str, data: bytes | x509.Certificate) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    raw = data.public_bytes(Encoding.DER) if isinstance(data, x509.Certificate) else data
    (folder / name).write_bytes(raw)


def app() -> Any:
    return ua.ApplicationDescription(ApplicationUri=URI)


@pytest.fixture
async def pki(tmp_path: Path) -> Pki:
    p = Pki(tmp_path / "pki", "opcua_ingest")
    await p.ensure()
    return p


async def test_a_trusted_ca_trusts_what_it_signed(pki: Pki, ca: Any) -> None:
    root = ca("root")
    put(pki.trusted, "root.der", root.cert)
    await (await pki.validator())(root.server(), app())


async def test_an_issuer_completes_the_chain_to_a_trusted_root(pki: Pki, ca: Any) -> None:
    root = ca("root")
    line = ca("line CA", parent=root)
    put(pki.trusted, "root.der", root.cert)
    put(pki.issuers, "line.der", line.cert)
    await (await pki.validator())(line.server(), app())


async def test_an_issuer_alone_trusts_nothing(pki: Pki, ca: Any) -> None:
    root = ca("root")
    put(pki.issuers, "root.der", root.cert)
    with pytest.raises(BadCertificateUntrusted):
        await (await pki.validator())(root.server(), app())
    assert pki.last_rejected is not None, "refused certificates are kept for the operator"


@pytest.mark.parametrize("where", ["trusted", "issuers"])
async def test_a_crl_revokes_a_certificate_even_a_trusted_one(pki: Pki, where: str, ca: Any) -> None:
    root = ca("root")
    server, other = root.server(), root.server()
    put(pki.trusted, "root.der", root.cert)
    put(pki.trusted, "server.der", server)
    put(pki.root / where / "crl", "root.crl", root.crl(server))
    validate = await pki.validator()
    with pytest.raises(BadCertificateRevoked):
        await validate(server, app())
    await validate(other, app())


async def test_auto_accept_never_accepts_a_revoked_certificate(tmp_path: Path, ca: Any) -> None:
    pki = Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True)
    await pki.ensure()
    root = ca("root")
    server = root.server()
    put(pki.issuers, "root.der", root.cert)
    put(pki.issuers / "crl", "root.crl", root.crl(server))
    with pytest.raises(BadCertificateRevoked):
        await (await pki.validator())(server, app())
    await (await pki.validator())(root.server(), app()), "an untrusted but unrevoked one is auto-accepted"


async def test_a_crl_signed_by_someone_else_revokes_nothing(pki: Pki, ca: Any) -> None:
    root, forger = ca("root"), ca("root")  # same name, other key
    server = root.server()
    put(pki.trusted, "root.der", root.cert)
    put(pki.trusted / "crl", "forged.crl", forger.crl(server))
    await (await pki.validator())(server, app())
