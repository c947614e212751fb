"""The client PKI folder (own/ trusted/ rejected/): own certificate made once, server certificates checked."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.uaerrors import BadCertificateUntrusted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_runtime import get_logger

_log = get_logger(__name__)

Validator = Callable[[x509.Certificate, Any], Awaitable[None]]


class Pki:
    """`own/cert.der` + `own/key.pem` (created on first use), `trusted/` (server certs), `rejected/`.

    A server certificate not in `trusted/` is refused and saved to `rejected/<sha1>.der` (unless
    `auto_accept`); moving it into `trusted/` trusts it from the next connection attempt on.
    """

    def __init__(self, root: Path, app_name: str, auto_accept: bool = False) -> None:
        self.root = root
        self.own, self.trusted, self.rejected = root / "own", root / "trusted", root / "rejected"
        self.app_name = app_name
        self.app_uri = f"urn:edgeloop:{app_name}:{socket.gethostname()}"
        self.auto_accept = auto_accept
        self.last_rejected: Path | None = None
        self.rejections = 0

    @property
    def cert(self) -> Path:
        """Our application certificate (DER)."""
        return self.own / "cert.der"

    @property
    def key(self) -> Path:
        """Our private key (PEM, mode 0600)."""
        return self.own / "key.pem"

    async def ensure(self) -> None:
        """Create the folders and, the first time only, our self-signed certificate (client auth)."""
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

    async def validator(self) -> Validator:
        """A `certificate_validator` for asyncua's Client: the trust list as it is now, else `rejected/`."""
        strict: CertificateValidator | None = None
        store = TrustStore([self.trusted], [])
        try:
            await store.load()
        except ValueError:  # asyncua cannot build an empty store: nothing is trusted yet
            pass
        else:
            strict = CertificateValidator(
                CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER,
                store,
            )
        basic = CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_SERVER
        )

        async def validate(cert: x509.Certificate, app: Any) -> None:
            try:
                if strict is None:
                    await basic.validate(cert, app)  # time range and URI first, as the strict check does
                    raise BadCertificateUntrusted()
                await strict.validate(cert, app)
            except Exception as exc:
                code = getattr(exc, "code", None)
                if code == ua.StatusCodes.BadCertificateUntrusted and self.auto_accept:
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
        """Keep a refused server certificate (DER, named by its SHA-1) so an operator can trust it."""
        der = cert.public_bytes(Encoding.DER)
        path = self.rejected / f"{hashlib.sha1(der).hexdigest()}.der"
        self.rejected.mkdir(parents=True, exist_ok=True)
        path.write_bytes(der)
        self.last_rejected = path
        self.rejections += 1
        return path

    def trust(self, path: Path) -> Path:
        """Move a certificate (usually from `rejected/`) into `trusted/`; the operator's action, scripted."""
        self.trusted.mkdir(parents=True, exist_ok=True)
        target = self.trusted / path.name
        shutil.move(str(path), target)
        return target

    def report(self) -> dict[str, Any]:
        """The reported-properties view: where the folders are, what was refused last."""
        return {
            "applicationUri": self.app_uri,
            "certificate": str(self.cert),
            "trusted": sorted(p.name for p in self.trusted.glob("*.der")) if self.trusted.exists() else [],
            "rejected": sorted(p.name for p in self.rejected.glob("*.der")) if self.rejected.exists() else [],
            "lastRejected": self.last_rejected.name if self.last_rejected else None,
            "autoAccept": self.auto_accept,
        }
