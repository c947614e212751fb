"""The example module's declaration: settings, the `values` input, a method, a config hook, a task."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from pydantic import Field

from edgeloop_runtime import (
    Context,
    ContractError,
    InputMessage,
    MethodError,
    Module,
    ModuleSettings,
    get_logger,
)
from edgeloop_runtime.metrics import Bound

_log = get_logger(__name__)


class Settings(ModuleSettings):
    """GAIN / gain scales every value; MAX_VALUE / maxValue refuses values above it."""

    gain: float = 1.0
    max_value: float = Field(default=1e9, gt=0)
    heartbeat_seconds: float = Field(default=0.0, ge=0)


@dataclass
class ExampleState:
    """The module's long-lived objects, built once by `start`: here only its own metric."""

    scaled: Bound


module = Module("example_module", Settings, ExampleState)


@module.on_start
async def start(ctx: Context[Settings, ExampleState]) -> ExampleState:
    return ExampleState(scaled=ctx.metrics.counter("values_scaled_total", "Values scaled so far."))


@module.on_config
async def check(ctx: Context[Settings, ExampleState], settings: Settings) -> None:
    if settings.gain == 0:
        raise ValueError("gain 0 would erase every value")
    _log.info("gain in force", gain=settings.gain)


def parse_value(body: object, limit: float) -> float:
    """The number in a `{"value": n}` body (bare, or as an envelope's data), or ContractError."""
    if isinstance(body, dict) and body.get("v") == 1 and isinstance(body.get("data"), dict):
        body = body["data"]
    value = body.get("value") if isinstance(body, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ContractError(f"'value' must be a finite number, got {value!r}")
    if abs(value) > limit:
        raise ContractError(f"'value' {value} is above maxValue {limit}")
    return float(value)


@module.input("values", queue_size=100, overflow="block")
async def on_values(ctx: Context[Settings, ExampleState], msg: InputMessage) -> None:
    value = parse_value(msg.json(), ctx.settings.max_value)
    await ctx.send(
        "scaled",
        {"value": value * ctx.settings.gain, "gain": ctx.settings.gain},
        kind="scaled",
        correlation_id=msg.message_id,
    )
    ctx.state.scaled.inc()


@module.method("scale")
async def scale(ctx: Context[Settings, ExampleState], payload: object) -> object:
    try:
        value = parse_value(payload, ctx.settings.max_value)
    except ContractError as exc:
        raise MethodError(400, str(exc)) from exc
    return {"value": value * ctx.settings.gain}


@module.task
async def heartbeat(ctx: Context[Settings, ExampleState]) -> None:
    while True:
        period = ctx.settings.heartbeat_seconds
        if period > 0:
            await ctx.send("scaled", {"heartbeat": True}, kind="heartbeat")
        await asyncio.sleep(period or 1.0)
