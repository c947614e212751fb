"""Trust decisions over an OPC UA trust list: trusted certificates, issuer (CA) certificates and their CRLs.

The OPC UA rule (Part 4 6.1.3): a certificate is trusted when it is in the trusted list itself, or when its
chain, built from the trusted and issuer certificates, ends at a trusted certificate (a trusted CA trusts
what it signed; an issuer alone trusts nothing). A certificate revoked by a CRL of its issuer is refused,
whichever list that CRL sits in. A CA without a CRL is not treated as revoking anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding

_MAX_DEPTH = 8


def _load_certs(folder: Path) -> list[x509.Certificate]:
    out = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix.lower() == ".der":
            out.append(x509.load_der_x509_certificate(path.read_bytes()))
        elif path.suffix.lower() in (".pem", ".crt"):
            out.append(x509.load_pem_x509_certificate(path.read_bytes()))
    return out


def _load_crls(folder: Path) -> list[x509.CertificateRevocationList]:
    out = []
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.suffix.lower() == ".crl" or path.suffix.lower() == ".der":
            data = path.read_bytes()
            out.append(
                x509.load_pem_x509_crl(data) if data.startswith(b"-----") else x509.load_der_x509_crl(data)
            )
        elif path.suffix.lower() == ".pem":
            out.append(x509.load_pem_x509_crl(path.read_bytes()))
    return out


@dataclass
class TrustList:
    """`trusted/` (+ `trusted/crl/`) and `issuers/` (+ `issuers/crl/`) as they are on disk now."""

    trusted: list[x509.Certificate] = field(default_factory=list)
    issuers: list[x509.Certificate] = field(default_factory=list)
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)

    @classmethod
    def load(cls, trusted: Path, issuers: Path) -> TrustList:
        """Read the folders (missing ones are empty)."""
        return cls(
            _load_certs(trusted),
            _load_certs(issuers),
            _load_crls(trusted / "crl") + _load_crls(issuers / "crl"),
        )

    def _der(self, cert: x509.Certificate) -> bytes:
        return cert.public_bytes(Encoding.DER)

    def _issuer_of(self, cert: x509.Certificate) -> x509.Certificate | None:
        for candidate in self.trusted + self.issuers:
            if candidate.subject != cert.issuer:
                continue
            try:
                cert.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        return None

    def _revoked(self, cert: x509.Certificate, issuer: x509.Certificate) -> bool:
        for crl in self.crls:
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
            if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
                return True
        return False

    def decide(self, cert: x509.Certificate) -> str:
        """ "trusted", "untrusted" or "revoked" for a peer certificate."""
        trusted = {self._der(c) for c in self.trusted}
        current = cert
        for _ in range(_MAX_DEPTH):
            issuer = self._issuer_of(current)
            if issuer is not None and issuer.subject != current.subject and self._revoked(current, issuer):
                return "revoked"
            if self._der(current) in trusted:
                return "trusted"
            if issuer is None or issuer.subject == current.subject:
                return "untrusted"  # self-signed (or no issuer known) and not in the trusted list
            current = issuer
        return "untrusted"
