"""asyncua adapter for writes: one lazily (re)connected client per endpoint; errors mapped in one place."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import socket
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from edgeloop_runtime import get_logger
from edgeloop_runtime.errors import TransientError

from .config import Settings
from .service import WriteRefusedError

_log = get_logger(__name__)
_NSU = re.compile(r"^nsu=([^;]+);(.+)$")
_NOT_TRANSIENT = {
    "BadNodeIdUnknown", "BadNodeIdInvalid", "BadTypeMismatch", "BadUserAccessDenied", "BadNotWritable",
    "BadWriteNotSupported", "BadOutOfRange", "BadAttributeIdInvalid", "BadIndexRangeInvalid",
}  # fmt: skip


def map_error(exc: BaseException, where: str) -> Exception:
    """WriteRefusedError for a definitive Bad status, TransientError for everything worth retrying."""
    if isinstance(exc, UaStatusCodeError):
        name = str(ua.StatusCode(exc.code).name)
        if name in _NOT_TRANSIENT:
            return WriteRefusedError(name)
        return TransientError(f"{where}: {name}")
    if isinstance(exc, OSError | ConnectionError | asyncio.TimeoutError | TimeoutError | UaError):
        return TransientError(f"{where}: {type(exc).__name__}: {exc or 'timeout'}")
    if isinstance(exc, ValueError):
        return WriteRefusedError(f"invalid: {exc}")
    return TransientError(f"{where}: {type(exc).__name__}: {exc}")


_VTYPES = {
    "Double": ua.VariantType.Double, "Float": ua.VariantType.Float, "Int16": ua.VariantType.Int16,
    "Int32": ua.VariantType.Int32, "Int64": ua.VariantType.Int64, "UInt16": ua.VariantType.UInt16,
    "UInt32": ua.VariantType.UInt32, "Boolean": ua.VariantType.Boolean, "String": ua.VariantType.String,
}  # fmt: skip


class OpcUaAccess:
    """Implements the service's NodeAccess over asyncua; `async with` closes every client."""

    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._clients: dict[str, Client] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._namespaces: dict[str, list[str]] = {}

    async def __aenter__(self) -> OpcUaAccess:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Disconnect every client."""
        for url in list(self._clients):
            await self._drop(url)

    async def _drop(self, url: str) -> None:
        self._namespaces.pop(url, None)
        client = self._clients.pop(url, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2.0)

    async def _client(self, url: str) -> Client:
        lock = self._locks.setdefault(url, asyncio.Lock())
        async with lock:
            client = self._clients.get(url)
            if client is not None:
                return client
            client = Client(url, timeout=self.timeout_s)
            await self._secure(client)
            try:
                await asyncio.wait_for(client.connect(), self.timeout_s * 2)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await client.disconnect()
                raise map_error(exc, url) from exc
            self._clients[url] = client
            return client

    async def _secure(self, client: Client) -> None:
        s = self.settings
        pki = Path(s.pki_dir)
        app_uri = f"urn:edgeloop:opcua_writeback:{socket.gethostname()}"
        client.application_uri = app_uri
        if s.username:
            client.set_user(s.username)
            client.set_password(s.password or "")
        if s.security_mode == "None":
            return
        own, trusted, rejected = pki / "own", pki / "trusted", pki / "rejected"
        for d in (own, trusted, rejected):
            d.mkdir(parents=True, exist_ok=True)
        cert, key = own / "cert.der", own / "key.pem"
        await setup_self_signed_certificate(
            key, cert, app_uri, socket.gethostname(), [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "edgeloop opcua_writeback", "organizationName": "edgeloop"},
        )  # fmt: skip
        store = TrustStore([trusted], [])
        await store.load()
        strict = CertificateValidator(
            CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER, store
        )

        async def validate(server_cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
            try:
                await strict.validate(server_cert, app)
            except Exception:
                if s.auto_accept_untrusted:
                    return
                der = server_cert.public_bytes(Encoding.DER)
                (rejected / f"{hashlib.sha1(der).hexdigest()}.der").write_bytes(der)
                _log.error("server certificate rejected; move it into trusted/ to trust it", pki=str(pki))
                raise

        client.certificate_validator = validate
        await client.set_security(
            SecurityPolicyBasic256Sha256, str(cert), str(key), mode=ua.MessageSecurityMode.SignAndEncrypt
        )

    async def _node(self, client: Client, endpoint: str, node_id: str) -> Any:
        """A Node; `nsu=URI;...` is resolved against the server's namespace array (fetched once)."""
        m = _NSU.match(node_id)
        if m:
            namespaces = self._namespaces.get(endpoint)
            if namespaces is None:
                namespaces = self._namespaces[endpoint] = list(await client.get_namespace_array())
            uri, rest = m.groups()
            if uri not in namespaces:
                raise WriteRefusedError(f"BadNodeIdUnknown (namespace {uri} is not on the server)")
            node_id = f"ns={namespaces.index(uri)};{rest}"
        return client.get_node(node_id)

    async def read(self, endpoint: str, node_id: str) -> Any:
        """The node's current value."""
        client = await self._client(endpoint)
        try:
            return await (await self._node(client, endpoint, node_id)).read_value()
        except WriteRefusedError:
            raise
        except Exception as exc:
            err = map_error(exc, endpoint)
            if isinstance(err, TransientError):
                await self._drop(endpoint)
            raise err from exc

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        """Write `DataValue(Variant(value, vtype))` with no timestamps and check the status."""
        client = await self._client(endpoint)
        try:
            node = await self._node(client, endpoint, node_id)
            await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(ua.Variant(value, _VTYPES[vtype])))
        except WriteRefusedError:
            raise
        except Exception as exc:
            err = map_error(exc, endpoint)
            if isinstance(err, TransientError):
                await self._drop(endpoint)
            raise err from exc
