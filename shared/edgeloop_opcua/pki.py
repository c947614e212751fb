"""The client PKI folder (own/ trusted/ issuers/ rejected/): own certificate made once, server certificates
checked against the trust list (trusted and issuer certificates, their CRLs)."""

from __future__ import annotations

import hashlib
import shutil
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.uaerrors import BadCertificateRevoked, BadCertificateUntrusted
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_runtime import get_logger

from .chain import TrustList

_log = get_logger(__name__)

Validator = Callable[[x509.Certificate, Any], Awaitable[None]]


class Pki:
    """`own/cert.der` + `own/key.pem` (created on first use), `trusted/` (server or CA certs, CRLs in
    `trusted/crl/`), `issuers/` (CA certs that complete a chain without trusting it, CRLs in `issuers/crl/`),
    `rejected/`.

    A server certificate that the trust list does not trust (chapter and verse in `chain.py`) is refused and
    saved to `rejected/<sha1>.der` (unless `auto_accept`); moving it into `trusted/` trusts it from the next
    connection attempt on. One revoked by a CRL is refused whatever `auto_accept` says.
    """

    def __init__(self, root: Path, app_name: str, auto_accept: bool = False) -> None:
        self.root = root
        self.own, self.trusted, self.rejected = root / "own", root / "trusted", root / "rejected"
        self.issuers = root / "issuers"
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
        """Create the folders and, when there is none, our self-signed certificate (client auth).

        A certificate already there (one the site provisioned, perhaps signed by its CA and trusted by the
        DCS under that name) is used as it is, never regenerated: asyncua's helper would replace one whose
        host name or URI differ from this container's. Our application URI is then the certificate's, as a
        server checks that the session's URI matches its certificate.
        """
        for d in (self.own, self.trusted, self.rejected):
            d.mkdir(parents=True, exist_ok=True)
        if self.cert.exists() and self.key.exists() and not self._own_and_expiring():
            uri = certificate_uri(self.cert.read_bytes())
            if uri is not None and uri != self.app_uri:
                _log.info("using the provisioned application certificate", path=str(self.cert), uri=uri)
                self.app_uri = uri
            return
        _log.info(
            "creating the application certificate (first start, or ours and expiring)",
            path=str(self.cert),
            uri=self.app_uri,
        )
        await setup_self_signed_certificate(
            self.key,
            self.cert,
            self.app_uri,
            socket.gethostname(),
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": f"edgeloop {self.app_name}", "organizationName": "edgeloop"},
        )
        self.key.chmod(0o600)

    def _own_and_expiring(self) -> bool:
        """True for a certificate this module made (self-signed, our name) expiring within 30 days."""
        try:
            cert = x509.load_der_x509_certificate(self.cert.read_bytes())
        except ValueError:
            return False  # unreadable: left for the operator to see, never silently replaced
        ours = cert.issuer == cert.subject and f"edgeloop {self.app_name}" in cert.subject.rfc4514_string()
        return ours and cert.not_valid_after_utc < datetime.now(UTC) + timedelta(days=30)

    async def validator(self) -> Validator:
        """A `certificate_validator` for asyncua's Client: the trust list as it is now, else `rejected/`."""
        trust = TrustList.load(self.trusted, self.issuers)
        basic = CertificateValidator(
            CertificateValidatorOptions.BASIC_VALIDATION | CertificateValidatorOptions.PEER_SERVER
        )

        async def validate(cert: x509.Certificate, app: Any) -> None:
            try:
                await basic.validate(cert, app)  # time range and URI first
                decision = trust.decide(cert)
                if decision == "revoked":
                    raise BadCertificateRevoked()
                if decision != "trusted":
                    raise BadCertificateUntrusted()
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

    @property
    def user(self) -> Path:
        """The user certificate store: `user/certs/<name>.der|pem` and `user/private/<name>.pem`."""
        return self.root / "user"

    def user_identity(self, subject: str) -> tuple[Path, Path]:
        """The user certificate whose subject (RFC 4514) or common name is `subject`, and its private key
        (`user/private/` with the certificate's file stem), as OPC Publisher's user certificate store."""
        for path in sorted((self.user / "certs").glob("*")):
            if path.suffix.lower() not in (".der", ".pem", ".crt"):
                continue
            data = path.read_bytes()
            cert = (
                x509.load_pem_x509_certificate(data)
                if data.startswith(b"-----")
                else x509.load_der_x509_certificate(data)
            )
            names = {cert.subject.rfc4514_string()} | {
                str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
            }
            if subject not in names:
                continue
            key = self.user / "private" / f"{path.stem}.pem"
            if not key.exists():
                raise FileNotFoundError(f"user certificate {path.name} has no private key at {key}")
            return path, key
        raise FileNotFoundError(f"no user certificate with subject {subject!r} in {self.user / 'certs'}")

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
            "issuers": sorted(p.name for p in self.issuers.glob("*.*")) if self.issuers.exists() else [],
            "lastRejected": self.last_rejected.name if self.last_rejected else None,
            "autoAccept": self.auto_accept,
        }


def certificate_uri(der: bytes) -> str | None:
    """The application URI in a DER certificate's subjectAltName, or None (none there, or unreadable)."""
    try:
        san = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        )
    except (ValueError, x509.ExtensionNotFound):
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None
