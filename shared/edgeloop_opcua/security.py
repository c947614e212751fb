"""Client security set-up: application URI, user identity, Basic256Sha256 with our PKI."""

from __future__ import annotations

from typing import Any, Literal

from asyncua import ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from .pki import Pki

SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
POLICY = "Basic256Sha256"


def security_string(pki: Pki, mode: SecurityMode) -> str:
    """asyncua's security string (`Basic256Sha256,SignAndEncrypt,cert,key`); empty for mode None."""
    if mode == "None":
        return ""
    return f"{POLICY},{mode},{pki.cert},{pki.key}"


async def secure_client(
    client: Any, pki: Pki, mode: SecurityMode, username: str | None = None, password: str | None = None
) -> None:
    """Configure an unconnected asyncua Client: URI, optional user, and (unless mode None) our certificate,
    Basic256Sha256 and a validator that checks the server against `trusted/` as it is now."""
    client.application_uri = pki.app_uri
    if username:
        client.set_user(username)
        client.set_password(password or "")
    if mode == "None":
        return
    await pki.ensure()
    client.certificate_validator = await pki.validator()
    message_mode = (
        ua.MessageSecurityMode.SignAndEncrypt if mode == "SignAndEncrypt" else ua.MessageSecurityMode.Sign
    )
    await client.set_security(SecurityPolicyBasic256Sha256, str(pki.cert), str(pki.key), mode=message_mode)
