"""The write guard: allow-list, type, engineering limits, rate of change and minimum interval. No I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .config import NUMERIC, TargetSpec

_INT_RANGES = {
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
}


@dataclass(frozen=True)
class WriteRequest:
    """A validated `writeRequest` (contract in DEVELOPERS.md)."""

    request_id: str
    target: str
    value: Any
    reason: str | None
    rule: str | None
    asset: str | None
    source_timestamp: str | None


def parse_request(data: Any) -> WriteRequest:
    """Validate a writeRequest's data; raise ValueError naming what is wrong."""
    if not isinstance(data, dict):
        raise ValueError("writeRequest data must be an object")
    missing = [k for k in ("requestId", "target", "value") if k not in data]
    if missing:
        raise ValueError(f"writeRequest lacks {', '.join(missing)}")
    if not isinstance(data["requestId"], str) or not data["requestId"]:
        raise ValueError("requestId must be a non-empty string")
    if not isinstance(data["target"], str) or not data["target"]:
        raise ValueError("target must be a non-empty string")
    opt = {k: data.get(k) for k in ("reason", "rule", "asset", "sourceTimestamp")}
    for key, value in opt.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} must be a string")
    return WriteRequest(
        data["requestId"], data["target"], data["value"], opt["reason"], opt["rule"], opt["asset"],
        opt["sourceTimestamp"],
    )  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    """Whether a write may go ahead; `reason` says why not (machine-readable code + text)."""

    allowed: bool
    code: str = ""
    detail: str = ""


ALLOW = Verdict(True)


def _refuse(code: str, detail: str) -> Verdict:
    return Verdict(False, code, detail)


def check_value(spec: TargetSpec, value: Any) -> Verdict:
    """Type and engineering limits: refused, never clamped."""
    if spec.type == "Boolean":
        return (
            ALLOW if isinstance(value, bool) else _refuse("wrong_type", f"expected a boolean, got {value!r}")
        )
    if spec.type == "String":
        if not isinstance(value, str):
            return _refuse("wrong_type", f"expected a string, got {type(value).__name__}")
        if len(value) > spec.max_length:
            return _refuse("out_of_range", f"string longer than {spec.max_length}")
        return ALLOW
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _refuse("wrong_type", f"expected a number for {spec.type}, got {value!r}")
    if not math.isfinite(value):
        return _refuse("out_of_range", f"{value} is not finite")
    if spec.type in _INT_RANGES:
        if isinstance(value, float) and not value.is_integer():
            return _refuse("wrong_type", f"{value} is not an integer for {spec.type}")
        lo, hi = _INT_RANGES[spec.type]
        if not lo <= value <= hi:
            return _refuse("out_of_range", f"{value} does not fit {spec.type}")
    assert spec.min is not None and spec.max is not None
    if not spec.min <= value <= spec.max:
        return _refuse("out_of_range", f"{value} outside the engineering range [{spec.min}, {spec.max}]")
    return ALLOW


@dataclass
class TargetHistory:
    """When and what was last applied to a target."""

    last_applied_at: float | None = None
    last_value: Any = None


class WriteGuard:
    """Decides every write; remembers applied writes per target for interval and rate limits."""

    def __init__(self, rate_window_s: float = 60.0) -> None:
        self.rate_window_s = rate_window_s
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
        hist = self.history.get(request.target, TargetHistory())
        if hist.last_applied_at is not None and spec.min_interval_s > 0:
            since = now - hist.last_applied_at
            if since < spec.min_interval_s:
                return _refuse(
                    "too_soon", f"{since:.2f} s since the last write; the minimum is {spec.min_interval_s} s"
                )
        if spec.max_rate_per_s is not None and spec.type in NUMERIC:
            base = (
                current
                if isinstance(current, int | float) and not isinstance(current, bool)
                else hist.last_value
            )
            if isinstance(base, int | float):
                elapsed = self.rate_window_s if hist.last_applied_at is None else now - hist.last_applied_at
                elapsed = min(max(elapsed, 1.0), self.rate_window_s)
                allowed = spec.max_rate_per_s * elapsed
                step = abs(float(request.value) - float(base))
                if step > allowed:
                    return _refuse(
                        "rate_of_change",
                        f"change of {step:g} in {elapsed:.1f} s exceeds {spec.max_rate_per_s:g}/s"
                        f" (max {allowed:g})",
                    )
        return ALLOW

    def applied(self, target: str, value: Any, now: float) -> None:
        """Record an applied write."""
        self.history[target] = TargetHistory(now, value)
