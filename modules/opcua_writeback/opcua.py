"""asyncua adapter for writes: one lazily (re)connected client per endpoint; errors mapped in one place."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.ua.uaerrors import UaStatusCodeError

from edgeloop_opcua import Pki, needs_namespaces, resolve_node_id, secure_client, status_name
from edgeloop_opcua import map_error as map_connection_error
from edgeloop_runtime.errors import TransientError

from .service import NotSentError, WriteRefusedError
from .settings import Settings

_NOT_TRANSIENT = {
    "BadNodeIdUnknown", "BadNodeIdInvalid", "BadTypeMismatch", "BadUserAccessDenied", "BadNotWritable",
    "BadWriteNotSupported", "BadOutOfRange", "BadAttributeIdInvalid", "BadIndexRangeInvalid",
    "BadMethodInvalid", "BadArgumentsMissing", "BadInvalidArgument", "BadTooManyArguments",
    "BadNotExecutable", "BadNotImplemented", "BadEventIdUnknown", "BadConditionBranchAlreadyAcked",
    "BadConditionBranchAlreadyConfirmed", "BadConditionDisabled",
}  # fmt: skip


def map_error(exc: BaseException, where: str) -> Exception:
    """WriteRefusedError for a definitive Bad status of a write, else the shared connection mapping
    (SecurityRejectedError / TransientError, both retried)."""
    if isinstance(exc, UaStatusCodeError) and status_name(exc) in _NOT_TRANSIENT:
        return WriteRefusedError(status_name(exc))
    if isinstance(exc, ValueError):
        return WriteRefusedError(f"invalid: {exc}")
    return map_connection_error(exc, where)


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
        self.pki: Pki | None = None

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
        pki = self.pki
        if pki is None or (pki.root, pki.auto_accept) != (Path(s.pki_dir), s.auto_accept_untrusted):
            pki = self.pki = Pki(Path(s.pki_dir), "opcua_writeback", s.auto_accept_untrusted)
        await secure_client(client, pki, s.security_mode, s.username, s.password)

    async def _node(self, client: Client, endpoint: str, node_id: str) -> Any:
        """A Node; `nsu=URI;...` is resolved against the server's namespace array (fetched once)."""
        namespaces: list[str] = []
        if needs_namespaces(node_id):
            cached = self._namespaces.get(endpoint)
            if cached is None:
                cached = self._namespaces[endpoint] = list(await client.get_namespace_array())
            namespaces = cached
        try:
            return client.get_node(resolve_node_id(node_id, namespaces))
        except ValueError as exc:
            raise WriteRefusedError(f"BadNodeIdUnknown ({exc})") from exc

    async def _mapped(self, exc: Exception, endpoint: str) -> Exception:
        """`map_error`'s verdict on `exc`; a transient one also drops the endpoint's session."""
        err = map_error(exc, endpoint)
        if isinstance(err, TransientError):
            await self._drop(endpoint)
        return err

    @contextlib.asynccontextmanager
    async def _preparing(self, endpoint: str) -> AsyncIterator[None]:
        """Before a request leaves (session, node, variant): a lost connection is NotSentError, as nothing
        reached the server; a refusal stays WriteRefusedError; other errors as `map_error` says."""
        try:
            yield
        except WriteRefusedError:
            raise
        except Exception as exc:
            err = await self._mapped(exc, endpoint)
            if isinstance(err, TransientError):
                raise NotSentError(str(err)) from exc
            raise err from exc

    @contextlib.asynccontextmanager
    async def _sending(self, endpoint: str, cannot_encode: str | None) -> AsyncIterator[None]:
        """While a request may have left: the value failing to encode is WriteRefusedError (the request never
        left; `cannot_encode` names it, None where encoding was checked before), a lost connection is a
        TransientError whose outcome is unknown (never NotSentError), other errors as `map_error` says."""
        try:
            yield
        except Exception as exc:
            if cannot_encode is not None and isinstance(exc, (struct.error, TypeError, OverflowError)):
                raise WriteRefusedError(f"{cannot_encode}: {exc}") from exc
            raise await self._mapped(exc, endpoint) from exc

    async def read(self, endpoint: str, node_id: str) -> Any:
        """The node's current value."""
        client = await self._client(endpoint)
        try:
            return await (await self._node(client, endpoint, node_id)).read_value()
        except WriteRefusedError:
            raise
        except Exception as exc:
            raise await self._mapped(exc, endpoint) from exc

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        """Write `DataValue(Variant(value, vtype))` with no timestamps and check the status.

        NotSentError when no session could be opened or the node not resolved (nothing left the module);
        WriteRefusedError for a Bad status or a value the type cannot encode; TransientError otherwise.
        """
        async with self._preparing(endpoint):
            client = await self._client(endpoint)
            node = await self._node(client, endpoint, node_id)
            variant = ua.Variant(value, _VTYPES[vtype])
        async with self._sending(endpoint, f"cannot encode {value!r} as {vtype}"):
            await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(variant))

    async def call(self, endpoint: str, object_id: str, method_id: str, value: Any, vtype: str) -> Any:
        """Call `method_id` on `object_id` with one argument `Variant(value, vtype)`; its output(s).

        Errors as `write`: NotSentError before the call left, WriteRefusedError for a Bad status
        (BadMethodInvalid, BadInvalidArgument, BadUserAccessDenied ...), TransientError otherwise.
        """
        async with self._preparing(endpoint):
            client = await self._client(endpoint)
            obj = await self._node(client, endpoint, object_id)
            method = await self._node(client, endpoint, method_id)
            variant = ua.Variant(value, _VTYPES[vtype])
        async with self._sending(endpoint, f"cannot encode {value!r} as {vtype}"):
            return await obj.call_method(method, variant)

    async def condition(
        self, endpoint: str, condition_id: str, kind: str, event_id: str, comment: str
    ) -> Any:
        """Call Acknowledge or Confirm (AcknowledgeableConditionType) on a condition with the event's EventId
        and a comment. Errors as `call`: a server refusal (BadEventIdUnknown, BadConditionBranchAlreadyAcked
        ...) is WriteRefusedError."""
        method = ua.NodeId(
            ua.ObjectIds.AcknowledgeableConditionType_Acknowledge
            if kind == "acknowledge"
            else ua.ObjectIds.AcknowledgeableConditionType_Confirm
        )
        async with self._preparing(endpoint):
            client = await self._client(endpoint)
            node = await self._node(client, endpoint, condition_id)
            args = (
                ua.Variant(base64.b64decode(event_id, validate=True), ua.VariantType.ByteString),
                ua.Variant(ua.LocalizedText(comment), ua.VariantType.LocalizedText),
            )
        async with self._sending(endpoint, None):
            return await node.call_method(method, *args)

    async def call_args(
        self, endpoint: str, object_id: str, method_id: str, args: list[tuple[str, Any, str]]
    ) -> Any:
        """Call a method of several arguments: the method's InputArguments are read first and must name and
        type exactly the configured ones (else WriteRefusedError, nothing called); the variants go in the
        server's order. Errors otherwise as `call`."""
        async with self._preparing(endpoint):
            client = await self._client(endpoint)
            obj = await self._node(client, endpoint, object_id)
            method = await self._node(client, endpoint, method_id)
            variants = _signature(await _input_arguments(method), args)
        async with self._sending(endpoint, f"cannot encode the arguments {args!r}"):
            return await obj.call_method(method, *variants)


async def _input_arguments(method: Any) -> list[Any]:
    """The method's InputArguments (an empty list when it has none)."""
    try:
        prop = await method.get_child("0:InputArguments")
    except UaStatusCodeError as exc:
        if status_name(exc) == "BadNoMatch":
            return []
        raise
    return list(await prop.read_value() or [])


def _signature(declared: list[Any], args: list[tuple[str, Any, str]]) -> list[ua.Variant]:
    """The call's variants in the server's order, or WriteRefusedError naming the first disagreement."""
    given = {name: (value, vtype) for name, value, vtype in args}
    names = [str(a.Name) for a in declared]
    if sorted(names) != sorted(given):
        raise WriteRefusedError(f"signature: the method takes {names}, the target configures {list(given)}")
    variants = []
    for a in declared:
        value, vtype = given[str(a.Name)]
        server = a.DataType
        if (
            server.NamespaceIndex != 0
            or server.Identifier != _VTYPES[vtype].value
            or a.ValueRank not in (-1, -2, -3)  # scalar, any, scalar-or-1D
        ):
            raise WriteRefusedError(
                f"signature: argument {a.Name!r} is {server.to_string()} (rank {a.ValueRank}) on the server,"
                f" the target configures a scalar {vtype}"
            )
        variants.append(ua.Variant(value, _VTYPES[vtype]))
    return variants
