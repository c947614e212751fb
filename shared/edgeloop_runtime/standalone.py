"""A HubClient for running a module without IoT Edge (e.g. inference's REST API on Kubernetes)."""

from __future__ import annotations

from typing import Any

from .client import DesiredHandler, MessageHandler, MethodHandler
from .logs import get_logger
from .messages import OutgoingMessage

_log = get_logger(__name__)
STANDALONE_ENV = "STANDALONE"


def standalone_requested(env: dict[str, str] | Any) -> bool:
    """Whether the environment asks for a module without edgeHub (STANDALONE=true)."""
    return str(env.get(STANDALONE_ENV, "")).strip().lower() in ("1", "true", "yes")


class StandaloneClient:
    """No edgeHub: configuration comes from the environment only, outputs go nowhere (counted by the
    runtime's metrics as sent), and no inputs, methods or twin patches ever arrive."""

    def __init__(self) -> None:
        self._warned: set[str] = set()

    async def connect(self) -> None:
        _log.info("standalone: no edgeHub; outputs are discarded, configuration is the environment's")

    async def shutdown(self) -> None:
        return None

    async def send_to_output(self, message: OutgoingMessage, output: str) -> None:
        if output not in self._warned:
            self._warned.add(output)
            _log.info("standalone: discarding output (there is no edgeHub to route it)", output=output)

    async def get_twin(self) -> dict[str, Any]:
        return {"desired": {}, "reported": {}}

    async def patch_reported(self, patch: dict[str, Any]) -> None:
        return None

    async def send_method_response(self, request_id: str, status: int, payload: Any) -> None:
        return None

    async def set_message_handler(self, handler: MessageHandler | None) -> None:
        return None

    async def set_method_handler(self, handler: MethodHandler | None) -> None:
        return None

    async def set_desired_handler(self, handler: DesiredHandler | None) -> None:
        return None

    def settle(self, delivery: str | None) -> None:
        return None

    def unacknowledged(self) -> int:
        return 0
