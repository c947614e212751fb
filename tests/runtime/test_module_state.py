"""A module's state: what on_start returns is what every handler reads as `ctx.state`, typed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from runtime_harness import run_module, wait_for

from edgeloop_runtime import Context, InputMessage, Module, ModuleSettings


@dataclass
class Tally:
    """A module's own objects: here what its input has seen."""

    seen: list[str] = field(default_factory=list)


def tally_module() -> tuple[Module[ModuleSettings, Tally], list[Tally]]:
    """A module whose on_start builds a Tally; the list holds the one it built."""
    mod = Module("tally", ModuleSettings, Tally, version="1.0.0")
    built: list[Tally] = []

    @mod.on_start
    async def start(ctx: Context[ModuleSettings, Tally]) -> Tally:
        built.append(Tally())
        return built[0]

    @mod.input("in")
    async def on_in(ctx: Context[ModuleSettings, Tally], msg: InputMessage) -> None:
        ctx.state.seen.append(msg.message_id or "")

    return mod, built


async def test_handlers_read_the_object_on_start_returned() -> None:
    mod, built = tally_module()
    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="m-1")
        await wait_for(lambda: built and built[0].seen, what="the input handler to record m-1")
    assert built[0].seen == ["m-1"]


async def test_on_start_returning_something_else_than_the_state_class_stops_the_module() -> None:
    mod = Module("liar", ModuleSettings, Tally, version="1.0.0")

    @mod.on_start
    async def start(ctx: Context[ModuleSettings, Tally]) -> Tally:
        return {"seen": []}  # type: ignore[return-value]  # the mistake this test is about

    async with run_module(mod) as running:
        code = await running.finish()
    assert code == 1


async def test_a_module_without_a_state_class_has_none() -> None:
    mod = Module("plain", ModuleSettings, version="1.0.0")
    states: list[object] = []

    @mod.input("in")
    async def on_in(ctx: Context[ModuleSettings, None], msg: InputMessage) -> None:
        states.append(ctx.state)

    async with run_module(mod) as running:
        await running.client.deliver("in", {}, message_id="m-1")
        await wait_for(lambda: states, what="the input handler to run")
    assert states == [None]


def test_a_second_on_start_is_refused_at_declaration() -> None:
    mod, _built = tally_module()

    async def another(ctx: Context[ModuleSettings, Tally]) -> Tally:
        return Tally()

    with pytest.raises(ValueError, match="one on_start per module"):
        mod.on_start(another)
