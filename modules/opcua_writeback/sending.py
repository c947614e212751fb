"""One write or method call sent with its retries, and a Good write verified by reading it back."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any, Protocol

from edgeloop_runtime.errors import TransientError

from .guard import WriteRequest
from .records import audit_record
from .settings import CONDITION_KINDS, Settings, TargetSpec
from .store import Written


class WriteRefusedError(Exception):
    """The server refused the write with a Bad status (not transient)."""

    def __init__(self, status: str) -> None:
        self.status = status
        super().__init__(status)


class NotSentError(TransientError):
    """The write never left the module (no session could be opened): safe to try again."""


class NodeAccess(Protocol):
    """What the service needs from the OPC UA adapter."""

    async def read(self, endpoint: str, node_id: str) -> Any:
        """The node's current value (raises TransientError when the server is unreachable)."""
        ...

    async def write(self, endpoint: str, node_id: str, value: Any, vtype: str) -> None:
        """Write a DataValue without timestamps; raise WriteRefusedError, NotSentError or TransientError."""
        ...

    async def call(self, endpoint: str, object_id: str, method_id: str, value: Any, vtype: str) -> Any:
        """Call a method with one argument; its outputs. Raises as `write` does."""
        ...

    async def condition(
        self, endpoint: str, condition_id: str, kind: str, event_id: str, comment: str
    ) -> Any:
        """Call a condition's Acknowledge or Confirm (EventId from base64, Comment). Raises as `write`."""
        ...

    async def call_args(
        self, endpoint: str, object_id: str, method_id: str, args: list[tuple[str, Any, str]]
    ) -> Any:
        """Call a method of several arguments `(name, value, type)`, checked against its InputArguments
        first (a mismatch is WriteRefusedError, nothing called). Raises as `write`."""
        ...


def _same(a: Any, b: Any, tol: float) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=tol)
    return bool(a == b)


@dataclass(frozen=True)
class Sent:
    """A write that went out: its audit when already final (None: a Good write still to be read back),
    and the node's new history entry (None: the server did not take it)."""

    request: WriteRequest
    spec: TargetSpec
    endpoint: str
    node: str
    value: Any
    audit: dict[str, Any] | None
    mark: Written | None
    attempts: int


async def send(
    access: NodeAccess, settings: Settings, request: WriteRequest, spec: TargetSpec, endpoint: str, value: Any
) -> tuple[dict[str, Any] | None, bool | None, int]:
    """The audit (None for a Good-status variable write: `verify` reads it back), whether the server
    took the write: True (Good status), False, None (unknown), and the attempts made.

    Retries only a write that was never sent; a write whose answer was lost is settled by reading
    the node back, or stays unknown."""
    attempts = 0
    last = ""
    delay = settings.retry_backoff_s
    outputs: Any = None
    while True:
        attempts += 1
        try:
            if spec.kind in CONDITION_KINDS:
                outputs = await access.condition(
                    endpoint, spec.node_id, spec.kind, value["eventId"], value.get("comment", "")
                )
            elif spec.kind == "method" and spec.arguments is not None:
                assert spec.object_id is not None  # checked by the settings
                args: list[tuple[str, Any, str]] = [
                    (name, value[name], a.type) for name, a in spec.arguments.items()
                ]
                outputs = await access.call_args(endpoint, spec.object_id, spec.node_id, args)
            elif spec.kind == "method":
                assert spec.object_id is not None  # checked by the settings
                outputs = await access.call(endpoint, spec.object_id, spec.node_id, value, spec.type)
            else:
                await access.write(endpoint, spec.node_id, value, spec.type)
            break
        except WriteRefusedError as exc:
            return (
                audit_record(
                    request, None, spec, "failed", f"server refused: {exc.status}", attempts=attempts
                ),
                False,
                attempts,
            )
        except NotSentError as exc:
            last = str(exc)
            if attempts >= settings.max_attempts:
                return audit_record(request, None, spec, "failed",
                                    f"gave up after {attempts} attempts, nothing sent: {last}",
                                    attempts=attempts), False, attempts  # fmt: skip
            await asyncio.sleep(delay)
            delay *= 2
        except TransientError as exc:  # sent, no answer: it may or may not have been applied
            if spec.kind != "variable":  # nothing to read back: the operator must look
                why = f"no answer to the method call ({exc}); not called again"
                return (
                    audit_record(request, None, spec, "indeterminate", why, attempts=attempts),
                    None,
                    attempts,
                )
            try:
                seen = await access.read(endpoint, spec.node_id)
            except (TransientError, WriteRefusedError) as read_exc:
                return audit_record(request, None, spec, "indeterminate",
                                    f"no answer to the write ({exc}) and no read-back ({read_exc});"
                                    " not written again", attempts=attempts), None, attempts  # fmt: skip
            if _same(seen, value, settings.verify_tolerance):
                return audit_record(request, None, spec, "applied",
                                    f"{request.reason or 'applied'} (confirmed by read-back after"
                                    f" the write's answer was lost: {exc})",
                                    read_back=seen, attempts=attempts), True, attempts  # fmt: skip
            why = f"no answer to the write ({exc}) and the node reads {seen!r}; not written again"
            return (
                audit_record(request, None, spec, "indeterminate", why, read_back=seen, attempts=attempts),
                None,
                attempts,
            )
    if spec.kind != "variable":  # Good status: called; its outputs are the read-back
        why = request.reason or "called"
        return (
            audit_record(request, None, spec, "applied", why, read_back=outputs, attempts=attempts),
            True,
            attempts,
        )
    return None, True, attempts  # Good status: `verify` reads it back


async def verify(access: NodeAccess, settings: Settings, sent: Sent) -> dict[str, Any]:
    """The audit of a Good-status variable write, after reading the node back."""
    request, spec, value = sent.request, sent.spec, sent.value
    try:
        read_back = await access.read(sent.endpoint, spec.node_id)
    except (TransientError, WriteRefusedError) as exc:
        return audit_record(request, None, spec, "applied",
                            f"{request.reason or 'applied'} (Good status; read-back failed: {exc})",
                            attempts=sent.attempts)  # fmt: skip
    if not _same(read_back, value, settings.verify_tolerance):
        return audit_record(
            request, None, spec, "failed",
            f"the server took the write but read-back {read_back!r} differs from the value written",
            read_back=read_back, attempts=sent.attempts,
        )  # fmt: skip
    return audit_record(
        request,
        None,
        spec,
        "applied",
        request.reason or "applied",
        read_back=read_back,
        attempts=sent.attempts,
    )
