"""asyncua's errors mapped onto the runtime's hierarchy, in one place for both OPC UA modules."""

from __future__ import annotations

import asyncio

from asyncua import ua
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from edgeloop_runtime.errors import EdgeloopError, FatalError, TransientError


class SecurityRejectedError(TransientError):
    """Certificate or credentials refused; retried slowly, since an operator may fix the trust list."""


SECURITY_STATUSES = frozenset({
    "BadCertificateUntrusted", "BadSecurityChecksFailed", "BadCertificateInvalid", "BadCertificateUriInvalid",
    "BadCertificateTimeInvalid", "BadCertificateUseNotAllowed", "BadIdentityTokenRejected",
    "BadIdentityTokenInvalid", "BadUserAccessDenied", "BadSecurityPolicyRejected", "BadCertificateRevoked",
    "BadCertificateIssuerRevoked", "BadCertificateRevocationUnknown", "BadCertificateChainIncomplete",
})  # fmt: skip


def status_name(exc: BaseException) -> str:
    """The OPC UA status symbol of an asyncua error, or the exception's class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return str(ua.StatusCode(code).name)
    return type(exc).__name__


def map_error(exc: BaseException, where: str) -> EdgeloopError:
    """The runtime error for an asyncua or network failure (`raise map_error(e, url) from e`).

    Refused certificates, identities and policies → SecurityRejectedError; other Bad statuses, socket
    errors and timeouts → TransientError; a ValueError (bad input of ours) → FatalError.
    """
    if isinstance(exc, EdgeloopError):
        return exc
    if isinstance(exc, UaStatusCodeError):
        name = status_name(exc)
        if name in SECURITY_STATUSES:
            return SecurityRejectedError(f"{where}: {name}")
        return TransientError(f"{where}: {name}")
    if isinstance(exc, OSError | ConnectionError | asyncio.TimeoutError | TimeoutError):
        return TransientError(f"{where}: {type(exc).__name__}: {str(exc) or 'timeout'}")
    if isinstance(exc, UaError):
        text = str(exc)
        if "No matching endpoints" in text:
            return SecurityRejectedError(
                f"{where}: the server offers no endpoint with that security ({text})"
            )
        return TransientError(f"{where}: {text}")
    if isinstance(exc, ValueError):
        return FatalError(f"{where}: {exc}")
    return TransientError(f"{where}: {type(exc).__name__}: {exc}")
