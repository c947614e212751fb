"""What a handler sees: current settings, outputs, reported properties, metrics, health."""

from __future__ import annotations

import gzip
import json
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec

from edgeloop_contracts.base import Contract
from edgeloop_contracts.envelope import Envelope, Source

from .envelope import MAX_MESSAGE_BYTES, edgehub_size, make_envelope, new_id, utc_now_iso
from .errors import ContractError, EdgeloopError, MessageTooLargeError
from .logs import get_logger
from .messages import OutgoingMessage
from .metrics import Metrics
from .settings import ModuleSettings, state_path

if TYPE_CHECKING:
    from .client import HubClient

S = TypeVar("S", bound=ModuleSettings)
T = TypeVar("T")
Oversize = Literal["error", "compress", "split"]

_log = get_logger(__name__)
_ENCODER = msgspec.json.Encoder()


class Context(Generic[S, T]):
    """The module's handle on the runtime, passed to every handler, hook and task.

    `S` is the module's settings class, `T` its state: what its `on_start` hook returned.
    """

    def __init__(self, name: str, version: str, settings: S, client: HubClient, metrics: Metrics) -> None:
        self.module_name = name
        self.version = version
        self._settings = settings
        # The module's own durable folder (STATE_DIR, env-only): persisted state lives here.
        self.state_dir = state_path(settings, name)
        self._client = client
        self.metrics = metrics
        self.exit_stack = AsyncExitStack()
        self.started_at = time.monotonic()
        self.status = "starting"
        self.last_error: dict[str, Any] | None = None
        self.healthy = True
        self.health_reason = ""
        self.endpoints: dict[str, str] = {}
        self._state: T
        self._has_state = False

    @property
    def settings(self) -> S:
        """The configuration in force now (replaced atomically when a twin patch is applied)."""
        return self._settings

    def _replace_settings(self, settings: S) -> None:
        self._settings = settings

    @property
    def state(self) -> T:
        """The module's own long-lived objects (services, adapters, metrics): what `on_start` returned."""
        if not self._has_state:
            raise RuntimeError(f"{self.module_name}: ctx.state is read before on_start returned it")
        return self._state

    def _set_state(self, state: T) -> None:
        self._state = state
        self._has_state = True

    async def send(
        self,
        output: str,
        data: Any,
        *,
        kind: str | None = None,
        envelope: bool = True,
        message_id: str | None = None,
        correlation_id: str | None = None,
        properties: dict[str, str] | None = None,
        oversize: Oversize = "error",
    ) -> str:
        """Send JSON on an output (enveloped unless envelope=False); return the message id.

        `data` is a Contract (its KIND is the envelope's kind unless `kind` says otherwise; msgspec
        encodes it) or plain JSON data. Over edgeHub's 256 KB limit: `error` raises MessageTooLargeError,
        `compress` gzips the body (content_encoding "gzip", so routes can no longer query $body), `split`
        sends a list in parts that share a correlation id.
        """
        message_id = message_id or new_id()
        if isinstance(data, Contract):
            body = self._contract_body(data, kind, envelope, message_id, correlation_id)
        else:
            body = _dumps(
                make_envelope(
                    kind or output,
                    data,
                    module=self.module_name,
                    version=self.version,
                    message_id=message_id,
                    correlation_id=correlation_id,
                )
                if envelope
                else data
            )
        props = dict(properties or {})
        encoding = "utf-8"
        if self._too_large(output, body, props, message_id, correlation_id):
            if oversize == "compress":
                body, encoding = gzip.compress(body, mtime=0), "gzip"
            elif oversize == "split" and isinstance(data, list) and len(data) > 1:
                return await self._send_split(output, data, kind, envelope, message_id, correlation_id, props)
            if self._too_large(output, body, props, message_id, correlation_id):
                size = edgehub_size(body, props, self._system(output, message_id, correlation_id))
                self.metrics.send_failures.labels(output=output, reason="too_large").inc()
                raise MessageTooLargeError(size, MAX_MESSAGE_BYTES, output)
        await self._send(
            output,
            OutgoingMessage(body, message_id, correlation_id, "application/json", encoding, props),
        )
        return message_id

    def _contract_body(
        self, data: Contract, kind: str | None, envelope: bool, message_id: str, correlation_id: str | None
    ) -> bytes:
        """A contract's body: msgspec encodes the envelope and the typed data in one pass."""
        wrapped = Envelope(
            kind=kind or data.KIND,
            id=message_id,
            ts=utc_now_iso(),
            source=Source(self.module_name, self.version),
            correlation_id=correlation_id,
            data=data,
        )
        try:
            return _ENCODER.encode(wrapped if envelope else data)
        except (TypeError, ValueError, msgspec.EncodeError) as exc:
            raise ContractError(f"output is not valid JSON: {exc}") from exc

    async def _send_split(
        self,
        output: str,
        data: list[Any],
        kind: str | None,
        envelope: bool,
        message_id: str,
        correlation_id: str | None,
        props: dict[str, str],
    ) -> str:
        half = len(data) // 2
        for index, part in enumerate((data[:half], data[half:])):
            await self.send(
                output,
                part,
                kind=kind,
                envelope=envelope,
                message_id=f"{message_id}.{index}",
                correlation_id=correlation_id or message_id,
                properties=props,
                oversize="split",
            )
        return message_id

    async def send_bytes(
        self,
        output: str,
        payload: bytes,
        *,
        content_type: str,
        content_encoding: str | None = None,
        message_id: str | None = None,
        correlation_id: str | None = None,
        properties: dict[str, str] | None = None,
    ) -> str:
        """Send a binary payload (for instance a JPEG frame) with its own content type."""
        message_id = message_id or new_id()
        props = dict(properties or {})
        if self._too_large(output, payload, props, message_id, correlation_id):
            size = edgehub_size(payload, props, self._system(output, message_id, correlation_id))
            self.metrics.send_failures.labels(output=output, reason="too_large").inc()
            raise MessageTooLargeError(size, MAX_MESSAGE_BYTES, output)
        await self._send(
            output,
            OutgoingMessage(payload, message_id, correlation_id, content_type, content_encoding, props),
        )
        return message_id

    def _system(self, output: str, message_id: str, correlation_id: str | None) -> dict[str, str]:
        system = {
            "outputName": output,
            "messageId": message_id,
            "contentType": "application/json",
            "contentEncoding": "utf-8",
            "connectionModuleId": self.module_name,
        }
        if correlation_id:
            system["cid"] = correlation_id
        return system

    def _too_large(
        self, output: str, body: bytes, props: dict[str, str], message_id: str, correlation_id: str | None
    ) -> bool:
        return edgehub_size(body, props, self._system(output, message_id, correlation_id)) > MAX_MESSAGE_BYTES

    async def _send(self, output: str, message: OutgoingMessage) -> None:
        try:
            await self._client.send_to_output(message, output)
        except EdgeloopError as exc:
            self.metrics.send_failures.labels(output=output, reason=type(exc).__name__).inc()
            raise
        self.metrics.sent.labels(output=output).inc()
        self.metrics.sent_bytes.labels(output=output).inc(len(message.data))

    async def report(self, patch: dict[str, Any]) -> None:
        """Patch reported properties; a failure is logged, never raised."""
        try:
            await self._client.patch_reported(patch)
        except EdgeloopError as exc:
            _log.warning("reported properties not updated", error=str(exc), keys=list(patch))

    def record_error(self, where: str, error: BaseException | str) -> dict[str, Any]:
        """Remember the last error (reported and shown by getStatus)."""
        self.last_error = {"at": utc_now_iso(), "where": where, "error": str(error)}
        return self.last_error

    def set_health(self, ok: bool, reason: str = "") -> None:
        """Mark the module healthy or not (drives /healthz and `edgeloop_up`)."""
        self.healthy = ok
        self.health_reason = reason
        self.metrics.up.set(1 if ok and self.status == "running" else 0)


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ContractError(f"output is not valid JSON: {exc}") from exc
