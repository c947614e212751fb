"""The plant's security: its own certificate, the client trust list, users, and the writer's identity."""

from __future__ import annotations

import hashlib
import hmac
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.uaerrors import BadCertificateUntrusted
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PLANT_APP_URI = "urn:edgeloop:plant:server"


def pki_dirs(state_dir: Path) -> tuple[Path, Path]:
    """(own, trusted) under the plant's state dir, created if missing."""
    own, trusted = state_dir / "pki" / "own", state_dir / "pki" / "trusted"
    own.mkdir(parents=True, exist_ok=True)
    trusted.mkdir(parents=True, exist_ok=True)
    return own, trusted


async def ensure_server_certificate(state_dir: Path, host: str) -> tuple[Path, Path]:
    """Create (once) the plant's self-signed application certificate; return (cert.der, key.pem)."""
    own, _ = pki_dirs(state_dir)
    cert, key = own / "cert.der", own / "key.pem"
    names = sorted({host, "localhost", socket.gethostname()})
    await setup_self_signed_certificate(
        key,
        cert,
        PLANT_APP_URI,
        names[0] if host in ("0.0.0.0", "") else host,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        {"commonName": "edgeloop plant", "organizationName": "edgeloop"},
    )
    return cert, key


async def trust_validator(trusted_dir: Path) -> Callable[[x509.Certificate, Any], Awaitable[None]]:
    """A validator that accepts only client certificates in `trusted_dir` (TRUSTED_VALIDATION, not BASIC).

    The folder is read again on every connection attempt, as a DCS's trust list is: a client certificate
    copied in is trusted from the next attempt on, without restarting the plant. An empty folder trusts
    nobody (asyncua cannot build an empty store, so that case is answered here).
    """

    async def validate(cert: x509.Certificate, app: Any) -> None:
        store = TrustStore([trusted_dir], [])
        try:
            await store.load()
        except ValueError:
            raise BadCertificateUntrusted() from None
        checker = CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_CLIENT, store
        )
        await checker.validate(cert, app)

    return validate


def cert_identity(der: bytes | None) -> str | None:
    """`CN=<common name>;sha1=<thumbprint>` of a DER certificate, or None."""
    if not der:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        cn = str(cns[0].value) if cns else "?"
    except ValueError:
        cn = "?"
    return f"CN={cn};sha1={hashlib.sha1(der).hexdigest()}"


class PlantUserManager:
    """Username/password check (when users are configured) that names every session's identity.

    The `User.name` it returns is what the write audit trail records: `anonymous`, `user:<name>`,
    plus `;cert:CN=...;sha1=...` when the secure channel carries a client certificate.
    """

    def __init__(self, users: dict[str, str] | None) -> None:
        self._users = dict(users or {})

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        """Return the session's user, or None to refuse it (BadUserAccessDenied)."""
        if self._users:
            expected = self._users.get(username or "")
            if expected is None or not hmac.compare_digest(expected, password or ""):
                return None
            who = f"user:{username}"
        else:
            who = f"user:{username}" if username else "anonymous"
        cert = cert_identity(certificate if isinstance(certificate, bytes) else None)
        if cert:
            who += f";cert:{cert}"
        return User(role=UserRole.User, name=who)
