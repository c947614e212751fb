"""The write guard: allow-list, type, engineering limits, rate of change and minimum interval. No I/O."""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from edgeloop_contracts.write_request import MAX_ID_CHARS, WriteRequest
from edgeloop_runtime.errors import ContractError

from .settings import CONDITION_KINDS, NUMERIC, TargetSpec

_INT_RANGES = {
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
}


__all__ = ["MAX_ID_CHARS", "WriteRequest", "parse_request"]  # the contract's, re-exported for the service
MAX_EVENT_ID_BYTES = 64  # an OPC UA EventId is a short ByteString (16 bytes on most servers)


def parse_request(data: Any) -> WriteRequest:
    """Validate a writeRequest's data against its contract; raise ValueError naming what is wrong."""
    try:
        return WriteRequest.from_data(data)
    except ContractError as exc:
        raise ValueError(str(exc)) from exc


@dataclass(frozen=True)
class Verdict:
    """Whether a write may go ahead; `reason` says why not (machine-readable code + text)."""

    allowed: bool
    code: str = ""
    detail: str = ""


ALLOW = Verdict(True)


def _refuse(code: str, detail: str) -> Verdict:
    return Verdict(False, code, detail)


def coerce(spec: TargetSpec, value: Any) -> Any:
    """The value as the Python type the target's OPC UA type takes (call after `check_value` allowed it).

    An exactly integral float for an integer target (8.0 for Int32) is accepted and written as 8: JSON
    does not tell 8 from 8.0 and a rule's `value * scale` is a float. 8.5 is refused by `check_value`.
    """
    if spec.kind in CONDITION_KINDS:
        return value
    if spec.arguments is not None:
        return {name: coerce(arg.as_target(), value[name]) for name, arg in spec.arguments.items()}
    if spec.type in _INT_RANGES:
        return int(value)
    if spec.type in ("Double", "Float"):
        return float(value)
    return value


def check_value(spec: TargetSpec, value: Any) -> Verdict:
    """Type and engineering limits: refused, never clamped; never raises (huge integers, NaN included)."""
    if spec.kind in CONDITION_KINDS:
        return check_condition_value(spec, value)
    if spec.arguments is not None:
        return check_arguments(spec, value)
    if spec.type == "Boolean":
        return (
            ALLOW
            if isinstance(value, bool)
            else _refuse("wrong_type", f"expected a boolean, got {_show(value)}")
        )
    if spec.type == "String":
        if not isinstance(value, str):
            return _refuse("wrong_type", f"expected a string, got {type(value).__name__}")
        if len(value) > spec.max_length:
            return _refuse("out_of_range", f"string longer than {spec.max_length}")
        return ALLOW
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _refuse("wrong_type", f"expected a number for {spec.type}, got {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        return _refuse("out_of_range", f"{value} is not finite")
    if spec.type in _INT_RANGES:
        if isinstance(value, float) and not value.is_integer():
            return _refuse("wrong_type", f"{value} is not an integer for {spec.type}")
        lo, hi = _INT_RANGES[spec.type]
        if not lo <= value <= hi:
            return _refuse("out_of_range", f"{_show(value)} does not fit {spec.type}")
    elif isinstance(value, int) and not -(2**53) <= value <= 2**53:
        return _refuse("out_of_range", f"{_show(value)} is not exactly representable as {spec.type}")
    assert spec.min is not None and spec.max is not None
    if not spec.min <= value <= spec.max:
        return _refuse(
            "out_of_range", f"{_show(value)} outside the engineering range [{spec.min}, {spec.max}]"
        )
    return ALLOW


def check_arguments(spec: TargetSpec, value: Any) -> Verdict:
    """A call of several arguments: `{name: value}` with exactly the configured names, each checked."""
    assert spec.arguments is not None
    if not isinstance(value, dict):
        return _refuse("wrong_type", f"expected {{name: value}} for the arguments {list(spec.arguments)}")
    missing = [n for n in spec.arguments if n not in value]
    extra = sorted(str(n) for n in value if n not in spec.arguments)
    if missing or extra:
        return _refuse("wrong_type", f"arguments missing {missing}, unexpected {extra}")
    for name, arg in spec.arguments.items():
        verdict = check_value(arg.as_target(), value[name])
        if not verdict.allowed:
            return _refuse(verdict.code, f"argument {name!r}: {verdict.detail}")
    return ALLOW


def check_condition_value(spec: TargetSpec, value: Any) -> Verdict:
    """An Acknowledge/Confirm request: `{"eventId": base64 of the alarm event's EventId, "comment"?}`."""
    if not isinstance(value, dict):
        return _refuse("wrong_type", f"expected {{'eventId', 'comment'}} for {spec.kind}, got {_show(value)}")
    extra = sorted(set(value) - {"eventId", "comment"})
    if extra:
        return _refuse("wrong_type", f"unexpected keys {extra} for {spec.kind} (eventId, comment)")
    event_id, comment = value.get("eventId"), value.get("comment", "")
    if not isinstance(event_id, str) or not event_id:
        return _refuse(
            "wrong_type", "eventId must be the alarm event's EventId, base64 (as opcua_ingest sends it)"
        )
    try:
        raw = base64.b64decode(event_id, validate=True)
    except (binascii.Error, ValueError):
        return _refuse("wrong_type", f"eventId {_show(event_id)} is not base64")
    if not raw or len(raw) > MAX_EVENT_ID_BYTES:
        return _refuse("out_of_range", f"eventId is {len(raw)} bytes; 1 to {MAX_EVENT_ID_BYTES} expected")
    if not isinstance(comment, str):
        return _refuse("wrong_type", f"comment must be a string, got {_show(comment)}")
    if len(comment) > spec.max_length:
        return _refuse("out_of_range", f"comment longer than {spec.max_length}")
    return ALLOW


def _show(value: Any, limit: int = 80) -> str:
    """A short repr for a refusal reason (a 400-digit number or a 200 KB string is cut)."""
    text = (
        repr(value)
        if not isinstance(value, int) or abs(value) < 10**40
        else f"<{len(str(value))}-digit integer>"
    )
    return text if len(text) <= limit else text[:limit] + "..."


def check_age(source_ts: float | None, now: float, max_age_s: float | None, what: str) -> Verdict:
    """Stale (or from the future beyond `max_age_s`) decisions are refused; no timestamp, no write."""
    if max_age_s is None:
        return ALLOW
    if source_ts is None:
        return _refuse("stale", f"no usable {what} to measure the request's age against maxAgeS")
    age = now - source_ts
    if age > max_age_s:
        return _refuse("stale", f"{what} is {age:.1f} s old; maxAgeS is {max_age_s:g}")
    if age < -max_age_s:
        return _refuse("stale", f"{what} is {-age:.1f} s in the future; clocks disagree by more than maxAgeS")
    return ALLOW


def check_timing(
    spec: TargetSpec,
    value: Any,
    *,
    last: tuple[Any, float] | None,
    current: Any,
    now: float,
    rate_window_s: float,
    first_step_s: float,
) -> Verdict:
    """Minimum interval and rate of change against the last value actually written and when.

    With history: the change may be at most `maxRatePerS * elapsed` (no lower clamp on elapsed; capped
    at `rate_window_s`); elapsed below zero (a clock stepped back) refuses. Without history (first write
    to that node ever): the change from `current`, the value read back from the server, may be at most
    `maxRatePerS * first_step_s`. No base to measure from (unreadable, not a number): refused.
    """
    if last is not None and spec.min_interval_s > 0:
        since = now - last[1]
        if since < spec.min_interval_s:
            return _refuse(
                "too_soon", f"{since:.2f} s since the last write; the minimum is {spec.min_interval_s} s"
            )
    if spec.max_rate_per_s is None or spec.type not in NUMERIC:
        return ALLOW
    if last is not None:
        base, elapsed = last[0], min(now - last[1], rate_window_s)
        measured = f"in {elapsed:.2f} s since the last write"
    else:
        base, elapsed = current, first_step_s
        measured = f"from the server's value {_show(current)} on a first write (budget {first_step_s:g} s)"
    if isinstance(base, bool) or not isinstance(base, int | float) or not math.isfinite(float(base)):
        return _refuse("rate_of_change", f"no numeric value to measure the change from ({_show(base)})")
    if elapsed < 0:
        return _refuse("rate_of_change", f"the clock went back {-elapsed:.2f} s since the last write")
    allowed = spec.max_rate_per_s * elapsed
    step = abs(float(value) - float(base))
    if step > allowed:
        return _refuse(
            "rate_of_change",
            f"change of {step:g} {measured} exceeds {spec.max_rate_per_s:g}/s (max {allowed:g})",
        )
    return ALLOW


@dataclass
class TargetHistory:
    """When and what was last applied to a target."""

    last_applied_at: float | None = None
    last_value: Any = None


class WriteGuard:
    """The pure checks in one call, with an in-memory history (the service keeps its history on disk)."""

    def __init__(self, rate_window_s: float = 60.0, first_step_s: float = 1.0) -> None:
        self.rate_window_s = rate_window_s
        self.first_step_s = first_step_s
        self.history: dict[str, TargetHistory] = {}

    def check(
        self,
        *,
        enabled: bool,
        targets: dict[str, TargetSpec],
        request: WriteRequest,
        now: float,
        current: Any = None,
    ) -> Verdict:
        """Whether `request` may be written now; `current` is the node's value read before writing."""
        if not enabled:
            return _refuse("disabled", "write-back is disabled")
        spec = targets.get(request.target)
        if spec is None:
            return _refuse("not_allowed", f"target {request.target!r} is not in the allow-list")
        verdict = check_value(spec, request.value)
        if not verdict.allowed:
            return verdict
        hist = self.history.get(request.target)
        last = (
            None if hist is None or hist.last_applied_at is None else (hist.last_value, hist.last_applied_at)
        )
        return check_timing(
            spec, request.value, last=last, current=current, now=now, rate_window_s=self.rate_window_s,
            first_step_s=self.first_step_s,
        )  # fmt: skip

    def applied(self, target: str, value: Any, now: float) -> None:
        """Record an applied write."""
        self.history[target] = TargetHistory(now, value)
