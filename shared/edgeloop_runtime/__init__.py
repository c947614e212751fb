"""The edgeloop module runtime: every IoT Edge module in the suite is a small program on top of it."""

from __future__ import annotations

from .client import HubClient, SdkHubClient
from .context import Context
from .envelope import MAX_MESSAGE_BYTES, Envelope, make_envelope, new_id, parse_envelope, utc_now_iso
from .errors import (
    Backpressure,
    ConfigError,
    ContractError,
    EdgeloopError,
    FatalError,
    HubAuthError,
    HubConnectionError,
    MessageTooLargeError,
    MethodError,
    TransientError,
)
from .logs import get_logger
from .messages import InputMessage, MethodRequest, OutgoingMessage
from .module import Module
from .settings import ModuleSettings

__all__ = [
    "MAX_MESSAGE_BYTES",
    "Backpressure",
    "ConfigError",
    "Context",
    "ContractError",
    "EdgeloopError",
    "Envelope",
    "FatalError",
    "HubAuthError",
    "HubClient",
    "HubConnectionError",
    "InputMessage",
    "MessageTooLargeError",
    "MethodError",
    "MethodRequest",
    "Module",
    "ModuleSettings",
    "OutgoingMessage",
    "SdkHubClient",
    "TransientError",
    "get_logger",
    "make_envelope",
    "new_id",
    "parse_envelope",
    "utc_now_iso",
]
