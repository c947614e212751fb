"""Client security set-up: application URI, user identity, a security policy with our PKI, endpoint choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from asyncua import ua
from asyncua.crypto.security_policies import (
    SecurityPolicyAes128Sha256RsaOaep,
    SecurityPolicyAes256Sha256RsaPss,
    SecurityPolicyBasic256Sha256,
)

from .pki import Pki

SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
POLICY = "Basic256Sha256"  # the default policy when none is named
POLICY_CLASSES: dict[str, Any] = {
    "Basic256Sha256": SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": SecurityPolicyAes256Sha256RsaPss,
}
_POLICY_URI = "http://opcfoundation.org/UA/SecurityPolicy#"
_MODES = {"None": 1, "Sign": 2, "SignAndEncrypt": 3}


def most_secure_endpoint(
    endpoints: list[Any], mode: str, policy: str | None = None
) -> tuple[SecurityMode, str]:
    """The (mode, policy) of the server endpoint with the highest SecurityLevel that we can speak, as OPC
    Publisher picks it: in `mode` exactly, or any mode for "Best" (which may end at None); only `policy`'s
    endpoints when one is named."""
    best: tuple[int, int, SecurityMode, str] | None = None
    for ep in endpoints:
        ep_policy = str(ep.SecurityPolicyUri).removeprefix(_POLICY_URI)
        ep_mode = {1: "None", 2: "Sign", 3: "SignAndEncrypt"}.get(int(ep.SecurityMode))
        if ep_mode is None or (ep_policy not in POLICY_CLASSES and ep_policy != "None"):
            continue
        if (mode != "Best" and ep_mode != mode) or (policy is not None and ep_policy != policy):
            continue
        rank: tuple[int, int, SecurityMode, str] = (
            int(ep.SecurityLevel or 0),
            _MODES[ep_mode],
            ep_mode,
            ep_policy,  # type: ignore[assignment]
        )
        if best is None or rank[:2] > best[:2]:
            best = rank
    if best is None:
        raise ValueError(f"the server offers no endpoint in security mode {mode} with a policy we support")
    return best[2], best[3]


def security_string(pki: Pki, mode: SecurityMode, policy: str = POLICY) -> str:
    """asyncua's security string (`Basic256Sha256,SignAndEncrypt,cert,key`); empty for mode None."""
    if mode == "None":
        return ""
    return f"{policy},{mode},{pki.cert},{pki.key}"


async def secure_client(
    client: Any,
    pki: Pki,
    mode: SecurityMode,
    username: str | None = None,
    password: str | None = None,
    policy: str = POLICY,
    *,
    user_certificate: Path | None = None,
    user_key: Path | None = None,
    user_key_password: str | None = None,
) -> None:
    """Configure an unconnected asyncua Client: URI, optional user (name and password, or an X.509 user
    certificate and key), and (unless mode None) our certificate,
    the security policy (Basic256Sha256 unless named) and a validator that checks the server against
    `trusted/` as it is now."""
    client.application_uri = pki.app_uri
    if username:
        client.set_user(username)
        client.set_password(password or "")
    if user_certificate is not None and user_key is not None:  # an X.509 user identity
        await client.load_client_certificate(str(user_certificate))
        await client.load_private_key(str(user_key), user_key_password or None)
    if mode == "None":
        return
    await pki.ensure()
    client.certificate_validator = await pki.validator()
    message_mode = (
        ua.MessageSecurityMode.SignAndEncrypt if mode == "SignAndEncrypt" else ua.MessageSecurityMode.Sign
    )
    if policy not in POLICY_CLASSES:
        raise ValueError(f"security policy {policy!r} is not supported ({', '.join(POLICY_CLASSES)})")
    await client.set_security(POLICY_CLASSES[policy], str(pki.cert), str(pki.key), mode=message_mode)
