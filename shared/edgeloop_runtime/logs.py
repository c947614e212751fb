"""Structured logging: one JSON object per line on stderr, with secrets redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

# Patterns that must never reach a log line, whatever a caller passes in.
_SECRET_PATTERNS = (
    re.compile(r"(SharedAccessKey=)[^;\"'\s]+", re.IGNORECASE),
    re.compile(r"(AccountKey=)[^;\"'\s]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=?\s*)[^\"'\s]+", re.IGNORECASE),
    re.compile(r"(sig=)[^&;\"'\s]+", re.IGNORECASE),
    re.compile(
        r"(\"?(?:password|passwd|secret|token|apikey|api_key)\"?\s*[:=]\s*\"?)[^\",;\s}]+", re.IGNORECASE
    ),
)
_SECRET_KEYS = {
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "sharedaccesskey",
    "connectionstring",
    "apikey",
}

REDACTED = "***"


def redact(text: str) -> str:
    """Return text with every known secret pattern replaced."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def redact_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return fields with secret-looking keys masked and string values redacted."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        normalized = key.lower().replace("_", "").replace("-", "")
        if normalized in _SECRET_KEYS or normalized.endswith(("password", "secret", "connectionstring")):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact(value)
        elif isinstance(value, Mapping):
            out[key] = redact_fields(value)
        else:
            out[key] = value
    return out


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: ts, level, module, logger, event, and the event's fields."""

    def __init__(self, module: str) -> None:
        super().__init__()
        self.module = module

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "module": self.module,
            "logger": record.name,
            "event": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            line.update(redact_fields(fields))
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(line, default=str)


class EventLogger:
    """A logger whose calls take an event name plus keyword fields: `log.info("sent", output="x")`."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def _log(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if self._logger.isEnabledFor(level):
            self._logger.log(level, event, exc_info=exc_info, extra={"fields": fields}, stacklevel=3)

    def debug(self, event: str, **fields: Any) -> None:
        self._log(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._log(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._log(logging.WARNING, event, False, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, False, fields)

    def exception(self, event: str, **fields: Any) -> None:
        self._log(logging.ERROR, event, True, fields)


def get_logger(name: str) -> EventLogger:
    """Return the event logger for a Python module name."""
    return EventLogger(logging.getLogger(name))


def configure_logging(module: str, level: str = "INFO") -> None:
    """Send every log record to stderr as JSON lines; quiet the SDK's chatty loggers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(module))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("azure.iot.device", "paho", "asyncua", "aiohttp.access", "azure.core", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
