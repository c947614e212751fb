"""The hub's error hierarchy: every third-party or protocol failure is mapped to one of these."""

from __future__ import annotations

from edgeloop_runtime.errors import ConfigError, EdgeloopError

__all__ = ["AuthError", "ConfigError", "HubError", "MethodError", "ProtocolError", "TwinError"]


class HubError(EdgeloopError):
    """Base class of every error the local hub raises on purpose."""


class ProtocolError(HubError):
    """A client sent bytes that are not valid MQTT 3.1.1 (or not the IoT Hub dialect)."""


class AuthError(HubError):
    """A client could not be authenticated; `code` is the CONNACK return code to send."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class MethodError(HubError):
    """A direct method could not be delivered or answered; `status` is the HTTP-like status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class TwinError(HubError):
    """A twin request was malformed (bad JSON, not an object, unknown module)."""
