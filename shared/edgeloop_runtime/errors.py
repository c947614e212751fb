"""The runtime's error hierarchy: every adapter maps third-party errors onto these, marked transient or fatal.

EdgeloopError
├── TransientError          retry with back-off (connection lost, timeout, throttled)
│   ├── HubConnectionError  the edgeHub connection failed or dropped
│   └── Backpressure        an input handler cannot take the message now (disk full): keep it
│                           unacknowledged with edgeHub and retry it later
├── FatalError              retrying cannot help (bad credentials, invalid configuration)
│   ├── ConfigError         a setting is invalid; names the field and where it came from
│   └── HubAuthError        edgeHub refused our credentials
├── ContractError           an input message or payload breaks its contract (goes to dead-letter)
│   └── MessageTooLargeError  an output exceeds edgeHub's 256 KB limit
└── MethodError             a direct method answers with a status other than 200
"""

from __future__ import annotations


class EdgeloopError(Exception):
    """Base of every error the runtime and the modules raise on purpose."""

    transient: bool = False


class TransientError(EdgeloopError):
    """A failure that may go away by itself; retry with capped back-off."""

    transient = True


class HubConnectionError(TransientError):
    """The connection to edgeHub failed, dropped or timed out."""


class Backpressure(TransientError):
    """Raised by an input handler: "retry later, don't acknowledge". The runtime keeps the message
    unacknowledged (edgeHub keeps it), retries the same message after `retry_after_s` (doubling up to
    a cap), counts it in /metrics and shows it in getStatus; it is never dead-lettered."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class FatalError(EdgeloopError):
    """A failure that retrying cannot fix."""


class ConfigError(FatalError):
    """A configuration value is invalid."""

    def __init__(self, message: str, *, field: str | None = None, origin: str | None = None) -> None:
        self.field = field
        self.origin = origin
        where = f"{origin} " if origin else ""
        prefix = f"{where}{field}: " if field else where
        super().__init__(f"{prefix}{message}")


class HubAuthError(FatalError):
    """edgeHub refused the module's credentials."""


class ContractError(EdgeloopError):
    """An input message or a method payload does not match its contract."""


class MessageTooLargeError(ContractError):
    """An output message exceeds edgeHub's message size limit."""

    def __init__(self, size: int, limit: int, output: str) -> None:
        self.size = size
        self.limit = limit
        self.output = output
        super().__init__(
            f"message for output {output!r} is {size} bytes as edgeHub counts it; the limit is {limit}"
        )


class MethodError(EdgeloopError):
    """A direct method handler's way to answer with a non-200 status."""

    def __init__(self, status: int, message: str, **details: object) -> None:
        self.status = status
        self.details = details
        super().__init__(message)

    def payload(self) -> dict[str, object]:
        """The JSON payload sent back to the caller."""
        return {"error": str(self), **self.details}
