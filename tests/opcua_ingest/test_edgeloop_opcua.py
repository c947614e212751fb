"""edgeloop_opcua, the OPC UA client code both OPC UA modules share: the PKI folder, trust decisions, security strings, error mapping, node ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.ua.uaerrors import BadCertificateUntrusted, BadNodeIdUnknown, UaError
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_opcua import (
    Pki,
    SecurityRejectedError,
    map_error,
    needs_namespaces,
    resolve_node_id,
    secure_client,
    security_string,
    status_name,
)
from edgeloop_runtime.errors import FatalError, TransientError

SERVER_URI = "urn:test:server"


async def server_cert(folder: Path) -> tuple[x509.Certificate, Path]:
    key, cert = folder / "srv_key.pem", folder / "srv_cert.der"
    await setup_self_signed_certificate(
        key, cert, SERVER_URI, "localhost", [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "test server"}
    )
    return x509.load_der_x509_certificate(cert.read_bytes()), cert


def app() -> Any:
    return ua.ApplicationDescription(ApplicationUri=SERVER_URI)


async def test_own_certificate_is_made_once_and_kept(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki", "opcua_ingest")
    await pki.ensure()
    first = pki.cert.read_bytes()
    assert pki.key.stat().st_mode & 0o777 == 0o600
    assert {p.name for p in (tmp_path / "pki").iterdir()} == {"own", "trusted", "rejected"}
    await Pki(tmp_path / "pki", "opcua_ingest").ensure()
    assert pki.cert.read_bytes() == first, "a restart keeps the identity the server trusts"
    cert = x509.load_der_x509_certificate(first)
    uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert pki.app_uri in uris.get_values_for_type(x509.UniformResourceIdentifier)


async def test_untrusted_server_is_refused_saved_then_trusted_after_the_move(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki", "opcua_ingest")
    await pki.ensure()
    cert, _ = await server_cert(tmp_path)
    validate = await pki.validator()
    with pytest.raises(BadCertificateUntrusted):
        await validate(cert, app())
    (saved,) = pki.rejected.glob("*.der")
    assert pki.last_rejected == saved and pki.rejections == 1
    assert pki.report()["rejected"] == [saved.name] and pki.report()["lastRejected"] == saved.name
    moved = pki.trust(saved)
    assert moved.parent == pki.trusted and not saved.exists()
    await (await pki.validator())(cert, app())  # a fresh validator reads the trust list as it is now
    assert pki.rejections == 1 and pki.report()["trusted"] == [saved.name]


async def test_auto_accept_takes_untrusted_but_still_checks_the_uri(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki", "opcua_ingest", auto_accept=True)
    await pki.ensure()
    cert, _ = await server_cert(tmp_path)
    await (await pki.validator())(cert, app())
    assert pki.rejections == 0
    with pytest.raises(Exception) as refused:
        await (await pki.validator())(cert, ua.ApplicationDescription(ApplicationUri="urn:someone:else"))
    assert status_name(refused.value) == "BadCertificateUriInvalid"


async def test_security_string_and_plain_client_setup(tmp_path: Path) -> None:
    pki = Pki(tmp_path / "pki", "opcua_writeback")
    assert security_string(pki, "None") == ""
    assert security_string(pki, "SignAndEncrypt") == f"Basic256Sha256,SignAndEncrypt,{pki.cert},{pki.key}"
    plain = Client("opc.tcp://127.0.0.1:4840")
    await secure_client(plain, pki, "None", "operator", "pw")
    assert plain.application_uri == pki.app_uri and not pki.cert.exists()
    assert plain._username == "operator"  # what asyncua sends in the UserNameIdentityToken
    # SignAndEncrypt needs the server's endpoints: covered against the plant in test_security_e2e.py


@pytest.mark.parametrize(
    "exc, kind, text",
    [
        pytest.param(
            BadCertificateUntrusted(), SecurityRejectedError, "BadCertificateUntrusted", id="untrusted"
        ),
        pytest.param(
            ua.UaStatusCodeError(ua.StatusCodes.BadUserAccessDenied),
            SecurityRejectedError,
            "BadUserAccessDenied",
            id="bad-user",
        ),
        pytest.param(
            UaError("No matching endpoints: x"), SecurityRejectedError, "no endpoint", id="no-endpoint"
        ),
        pytest.param(BadNodeIdUnknown(), TransientError, "BadNodeIdUnknown", id="other-status"),
        pytest.param(
            ConnectionRefusedError(111, "refused"), TransientError, "ConnectionRefused", id="refused"
        ),
        pytest.param(TimeoutError(), TransientError, "timeout", id="timeout"),
        pytest.param(ValueError("bad id"), FatalError, "bad id", id="our-bug"),
    ],
)
def test_errors_map_to_the_runtime_hierarchy(exc: BaseException, kind: type, text: str) -> None:
    err = map_error(exc, "opc.tcp://plant:4840")
    assert type(err) is kind and text in str(err) and str(err).startswith("opc.tcp://plant:4840")
    assert map_error(err, "elsewhere") is err


def test_status_name() -> None:
    assert status_name(BadNodeIdUnknown()) == "BadNodeIdUnknown"
    assert status_name(KeyError("x")) == "KeyError"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param("nsu=urn:edgeloop:plant;s=Pump.Flow", "ns=2;s=Pump.Flow", id="nsu"),
        pytest.param("ns=3;i=42", "ns=3;i=42", id="ns"),
        pytest.param("i=2258", "i=2258", id="standard"),
    ],
)
def test_node_ids_resolve_against_the_namespace_array(text: str, expected: str) -> None:
    namespaces = ["http://opcfoundation.org/UA/", "urn:server", "urn:edgeloop:plant"]
    assert resolve_node_id(text, namespaces).to_string() == expected
    assert needs_namespaces(text) == text.startswith("nsu=")


@pytest.mark.parametrize(
    "text", [pytest.param("nsu=urn:nope;s=X", id="unknown-ns"), pytest.param("x=1", id="junk")]
)
def test_bad_node_ids_are_value_errors(text: str) -> None:
    with pytest.raises(ValueError):
        resolve_node_id(text, ["http://opcfoundation.org/UA/"])
