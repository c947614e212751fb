"""Direct methods: a pure dispatcher, with `ping` and `getStatus` built in for every module."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ContractError, MethodError
from .logs import get_logger
from .messages import MethodRequest

_log = get_logger(__name__)
BUILTIN_METHODS = ("ping", "getStatus")

BoundMethod = Callable[[Any], Awaitable[Any]]


class MethodHost(Protocol):
    """What the dispatcher needs of a running module, and nothing more."""

    @property
    def name(self) -> str:
        """The module's name."""

    @property
    def version(self) -> str:
        """The module's version."""

    @property
    def handlers(self) -> Mapping[str, BoundMethod]:
        """The module's own methods by name, each bound to its context: `async (payload) -> payload`."""

    def status(self) -> dict[str, Any]:
        """What getStatus answers."""

    def record_error(self, where: str, error: BaseException) -> None:
        """Remember a handler's failure as the module's last error."""


@dataclass(frozen=True)
class MethodResponse:
    """A method's answer: HTTP-like status and JSON payload."""

    status: int
    payload: Any


def method_names(handlers: Mapping[str, object]) -> list[str]:
    """Every method a module answers: the built-in ones and its own, sorted."""
    return sorted([*BUILTIN_METHODS, *handlers])


async def dispatch(host: MethodHost, request: MethodRequest) -> MethodResponse:
    """Run one method call and return its response; never raises."""
    if request.name == "ping":
        return MethodResponse(200, {"pong": True, "module": host.name, "version": host.version})
    if request.name == "getStatus":
        return MethodResponse(200, host.status())
    handlers = host.handlers
    handler = handlers.get(request.name)
    if handler is None:
        return MethodResponse(
            404, {"error": f"unknown method {request.name!r}", "methods": method_names(handlers)}
        )
    try:
        return MethodResponse(200, await handler(request.payload))
    except MethodError as exc:
        return MethodResponse(exc.status, exc.payload())
    except ContractError as exc:
        return MethodResponse(400, {"error": str(exc)})
    except Exception as exc:
        host.record_error(f"method:{request.name}", exc)
        _log.exception("method handler failed", method=request.name)
        return MethodResponse(500, {"error": f"{type(exc).__name__}: {exc}"})
