"""example_module on the runtime: its state, the `values` input, the `scale` method, a config hook, a task."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgeloop_runtime import Context, ContractError, InputMessage, MethodError, Module, get_logger
from edgeloop_runtime.metrics import Bound

from .scaling import Send, heartbeat_message, on_value, scale
from .settings import Settings

_log = get_logger(__name__)


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


async def _send(ctx: Context[Settings, ExampleState], effect: Send) -> None:
    await ctx.send(effect.output, effect.data, kind=effect.kind, correlation_id=effect.correlation_id)


@module.input("values", queue_size=100, overflow="block")
async def on_values(ctx: Context[Settings, ExampleState], msg: InputMessage) -> None:
    await _send(ctx, on_value(msg.json(), ctx.settings, msg.message_id))
    ctx.state.scaled.inc()


@module.method("scale")
async def scale_method(ctx: Context[Settings, ExampleState], payload: object) -> object:
    try:
        return {"value": scale(payload, ctx.settings)}
    except ContractError as exc:
        raise MethodError(400, str(exc)) from exc


@module.task
async def heartbeat(ctx: Context[Settings, ExampleState]) -> None:
    while True:
        effect = heartbeat_message(ctx.settings)
        if effect is not None:
            await _send(ctx, effect)
        await asyncio.sleep(ctx.settings.heartbeat_seconds or 1.0)
