"""The seam between the runtime and edgeHub: a small protocol, and its azure-iot-device adapter."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .acks import DELIVERY_PROPERTY, HeldAcks
from .errors import EdgeloopError, FatalError, HubAuthError, HubConnectionError, MessageTooLargeError
from .messages import InputMessage, MethodRequest, OutgoingMessage
from .nodelay import send_without_delay

MessageHandler = Callable[[InputMessage], Awaitable[None]]
MethodHandler = Callable[[MethodRequest], Awaitable[None]]
DesiredHandler = Callable[[dict[str, Any]], Awaitable[None]]

# The SDK's handler setters block until SUBACK; they never get longer than this.
_SETTER_TIMEOUT_S = 30.0


class HubClient(Protocol):
    """What the runtime needs from edgeHub. Handlers are coroutines run on the SDK's own loop."""

    async def connect(self) -> None: ...
    async def shutdown(self) -> None: ...
    async def send_to_output(self, message: OutgoingMessage, output: str) -> None: ...
    async def get_twin(self) -> dict[str, Any]: ...
    async def patch_reported(self, patch: dict[str, Any]) -> None: ...
    async def send_method_response(self, request_id: str, status: int, payload: Any) -> None: ...
    async def set_message_handler(self, handler: MessageHandler | None) -> None: ...
    async def set_method_handler(self, handler: MethodHandler | None) -> None: ...
    async def set_desired_handler(self, handler: DesiredHandler | None) -> None: ...
    def settle(self, delivery: str | None) -> None:
        """The input message with this delivery ticket is handled: edgeHub may forget it (any thread)."""
        ...

    def unacknowledged(self) -> int:
        """Inputs received whose PUBACK still waits for the module (0 where not tracked)."""
        ...


def map_sdk_error(exc: BaseException) -> EdgeloopError:
    """Map an azure-iot-device exception to the runtime's hierarchy (the one place that does)."""
    from azure.iot.device import exceptions as sdk

    if isinstance(exc, sdk.CredentialError):
        return HubAuthError(f"edgeHub refused the credentials: {exc}")
    if isinstance(
        exc,
        sdk.ConnectionFailedError
        | sdk.ConnectionDroppedError
        | sdk.OperationTimeout
        | sdk.OperationCancelled
        | sdk.NoConnectionError
        | sdk.ClientError
        | sdk.ServiceError,
    ):
        return HubConnectionError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, OSError):
        return FatalError(f"IoT Edge environment not usable: {exc}")
    return HubConnectionError(f"unexpected SDK failure {type(exc).__name__}: {exc}")


class SdkHubClient:
    """HubClient on azure-iot-device's asyncio IoTHubModuleClient, from the edge environment."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._acks = HeldAcks.attach(client)
        send_without_delay(client)

    @classmethod
    def from_edge_environment(cls, **kwargs: Any) -> SdkHubClient:
        """Create the SDK client the way every IoT Edge module does: IOTEDGE_* or EdgeHubConnectionString."""
        from azure.iot.device.aio import IoTHubModuleClient

        try:
            client = IoTHubModuleClient.create_from_edge_environment(**kwargs)
        except (OSError, ValueError) as exc:
            raise FatalError(f"IoT Edge environment not configured: {exc}") from exc
        return cls(client)

    async def _call(self, coro: Awaitable[Any]) -> Any:
        try:
            return await coro
        except ValueError as exc:
            raise FatalError(str(exc)) from exc
        except Exception as exc:
            raise map_sdk_error(exc) from exc

    async def connect(self) -> None:
        await self._call(self._client.connect())

    async def shutdown(self) -> None:
        await self._call(self._client.shutdown())

    async def send_to_output(self, message: OutgoingMessage, output: str) -> None:
        from azure.iot.device import Message

        sdk_message = Message(  # type: ignore[no-untyped-call]
            message.data,
            message_id=message.message_id,
            content_encoding=message.content_encoding,
            content_type=message.content_type,
        )
        if message.correlation_id:
            sdk_message.correlation_id = message.correlation_id
        sdk_message.custom_properties.update(message.properties)
        try:
            await self._client.send_message_to_output(sdk_message, output)
        except ValueError as exc:  # the SDK's own 256 KB check
            raise MessageTooLargeError(len(message.data), 262144, output) from exc
        except Exception as exc:
            raise map_sdk_error(exc) from exc

    async def get_twin(self) -> dict[str, Any]:
        twin: dict[str, Any] = await self._call(self._client.get_twin())
        return twin

    async def patch_reported(self, patch: dict[str, Any]) -> None:
        await self._call(self._client.patch_twin_reported_properties(patch))

    async def send_method_response(self, request_id: str, status: int, payload: Any) -> None:
        from azure.iot.device import MethodResponse

        await self._call(self._client.send_method_response(MethodResponse(request_id, status, payload)))

    async def _set(self, attribute: str, handler: Any) -> None:
        # The setters block the calling thread until SUBACK (connecting first if needed);
        # keep that off the module's loop.
        try:
            await asyncio.wait_for(
                asyncio.to_thread(setattr, self._client, attribute, handler), timeout=_SETTER_TIMEOUT_S
            )
        except TimeoutError:
            raise
        except Exception as exc:
            raise map_sdk_error(exc) from exc

    async def set_message_handler(self, handler: MessageHandler | None) -> None:
        if handler is None:
            await self._set("on_message_received", None)
            return

        async def on_message(message: Any) -> None:
            properties = {k: str(v) for k, v in (message.custom_properties or {}).items()}
            await handler(
                InputMessage(
                    input_name=message.input_name or "",
                    data=message.data if isinstance(message.data, bytes) else str(message.data).encode(),
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    content_type=message.content_type,
                    content_encoding=message.content_encoding,
                    properties=properties,
                    delivery=properties.pop(DELIVERY_PROPERTY, None),
                )
            )

        await self._set("on_message_received", on_message)

    def settle(self, delivery: str | None) -> None:
        if delivery is not None and self._acks is not None:
            self._acks.settle(delivery)

    def unacknowledged(self) -> int:
        return self._acks.pending() if self._acks is not None else 0

    async def set_method_handler(self, handler: MethodHandler | None) -> None:
        if handler is None:
            await self._set("on_method_request_received", None)
            return

        async def on_method(request: Any) -> None:
            await handler(MethodRequest(request.request_id, request.name, request.payload))

        await self._set("on_method_request_received", on_method)

    async def set_desired_handler(self, handler: DesiredHandler | None) -> None:
        if handler is None:
            await self._set("on_twin_desired_properties_patch_received", None)
            return

        async def on_patch(patch: Any) -> None:
            await handler(dict(patch))

        await self._set("on_twin_desired_properties_patch_received", on_patch)
