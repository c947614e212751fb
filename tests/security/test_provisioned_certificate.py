"""A site's provisioned application certificate is used as it is: never regenerated, its URI is ours."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_opcua import Pki
from edgeloop_opcua.pki import certificate_uri


def provision(folder: Path, uri: str, host: str) -> bytes:
    """A certificate made elsewhere (another host name and URI than this machine's), as a site installs it."""
    own = folder / "own"
    own.mkdir(parents=True)
    asyncio.run(
        setup_self_signed_certificate(
            own / "key.pem",
            own / "cert.der",
            uri,
            host,
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "site"},
        )
    )
    return (own / "cert.der").read_bytes()


def test_a_provisioned_certificate_is_kept_byte_for_byte(tmp_path: Path) -> None:
    before = provision(tmp_path, "urn:site:dcs-writer", "writer-01.plant.local")
    asyncio.run(Pki(tmp_path, "opcua_writeback").ensure())
    assert (tmp_path / "own" / "cert.der").read_bytes() == before


def test_the_session_uses_the_provisioned_certificates_uri(tmp_path: Path) -> None:
    provision(tmp_path, "urn:site:dcs-writer", "writer-01.plant.local")
    pki = Pki(tmp_path, "opcua_writeback")
    asyncio.run(pki.ensure())
    assert pki.app_uri == "urn:site:dcs-writer"


def test_without_a_certificate_one_is_made_with_our_uri(tmp_path: Path) -> None:
    pki = Pki(tmp_path, "opcua_writeback")
    asyncio.run(pki.ensure())
    assert certificate_uri(pki.cert.read_bytes()) == pki.app_uri
