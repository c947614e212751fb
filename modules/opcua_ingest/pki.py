"""The client PKI dir (own/trusted/rejected): own certificate made once, server certificates checked."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.uaerrors import UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_runtime import get_logger

_log = get_logger(__name__)


class Pki:
    """`own/cert.der` + `own/key.pem` (created on first use), `trusted/` (server certs), `rejected/`."""

    def __init__(self, root: Path, app_name: str, auto_accept: bool = False) -> None:
        self.root = root
        self.own, self.trusted, self.rejected = root / "own", root / "trusted", root / "rejected"
        self.app_uri = f"urn:edgeloop:{app_name}:{socket.gethostname()}"
        self.app_name = app_name
        self.auto_accept = auto_accept

    @property
    def cert(self) -> Path:
        """Our application certificate (DER)."""
        return self.own / "cert.der"

    @property
    def key(self) -> Path:
        """Our private key (PEM)."""
        return self.own / "key.pem"

    async def ensure(self) -> None:
        """Create the directories and, the first time only, our self-signed certificate (1 year)."""
        for d in (self.own, self.trusted, self.rejected):
            d.mkdir(parents=True, exist_ok=True)
        if not (self.cert.exists() and self.key.exists()):
            _log.info("creating the application certificate", path=str(self.cert), uri=self.app_uri)
        await setup_self_signed_certificate(
            self.key,
            self.cert,
            self.app_uri,
            socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"edgeloop {self.app_name}", "organizationName": "edgeloop"},
        )
        self.key.chmod(0o600)

    async def validator(self) -> Any:
        """A certificate_validator hook for asyncua's Client: trust list, else rejected/ (or auto-accept)."""
        store = TrustStore([self.trusted], [])
        await store.load()
        strict = CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER, store
        )
        basic = CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_SERVER
        )

        async def validate(cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
            try:
                await strict.validate(cert, app)
            except Exception as exc:
                code = getattr(exc, "code", None)
                untrusted = code == ua.StatusCodes.BadCertificateUntrusted
                if untrusted and self.auto_accept:
                    await basic.validate(cert, app)  # time range and URI still checked
                    _log.warning(
                        "auto-accepted an untrusted server certificate", subject=cert.subject.rfc4514_string()
                    )
                    return
                path = self.save_rejected(cert)
                _log.error(
                    "server certificate rejected; move it into trusted/ to trust it",
                    subject=cert.subject.rfc4514_string(),
                    saved=str(path),
                    status=ua.StatusCode(code).name if isinstance(code, int) else str(exc),
                )
                raise

        return validate

    def save_rejected(self, cert: x509.Certificate) -> Path:
        """Keep a rejected server certificate so an operator can trust it."""
        der = cert.public_bytes(Encoding.DER)
        path = self.rejected / f"{hashlib.sha1(der).hexdigest()}.der"
        self.rejected.mkdir(parents=True, exist_ok=True)
        path.write_bytes(der)
        return path


__all__ = ["Pki", "UaStatusCodeError"]
