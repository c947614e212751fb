"""anomaly_filter on the runtime: inputs `scores` and `telemetry`; outputs anomalies, actions, summaries."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgeloop_contracts.anomaly import Anomaly
from edgeloop_runtime import Backpressure, Context, InputMessage, Module, get_logger
from edgeloop_runtime.metrics import Bound

from .emits import Emit
from .engine import FilterEngine
from .settings import Settings
from .state_file import EPISODES_FILE, StateFile

_log = get_logger(__name__)


@dataclass
class FilterState:
    """The filter's engine, its episode file, its metrics and what the next configure must restore."""

    engine: FilterEngine
    state_file: StateFile
    events: Bound
    emitted: Bound
    rules: Bound
    # Open episodes come back once the configured rules are in force (the first configure call).
    restore: dict[str, Any] | None
    last_input: float = field(default_factory=time.monotonic)
    counted: Counter[str] = field(default_factory=Counter)
    # One decision at a time (scores, telemetry, a new rule set): a save or a roll-back must never
    # take in another input's half-sent step.
    deciding: asyncio.Lock = field(default_factory=asyncio.Lock)


module = Module("anomaly_filter", Settings, FilterState)


def _engine(ctx: Context[Settings, FilterState]) -> FilterEngine:
    return ctx.state.engine


@module.on_start
async def start(ctx: Context[Settings, FilterState]) -> FilterState:
    state_file = StateFile(ctx.state_dir / EPISODES_FILE)
    st = FilterState(
        engine=FilterEngine(ctx.settings.rule_set(), buffer_len=ctx.settings.buffer_samples),
        state_file=state_file,
        events=ctx.metrics.counter("events_total", "Filter events by kind.", ["event"]),
        emitted=ctx.metrics.counter(
            "anomalies_total", "Anomaly events sent, by kind and state.", ["anomaly_kind", "state"]
        ),
        rules=ctx.metrics.gauge("rules", "Rules in force."),
        restore=state_file.load(),
    )
    st.rules.set(len(ctx.settings.rule_set().rules))
    return st


@module.on_config
async def configure(ctx: Context[Settings, FilterState], settings: Settings) -> None:
    """Validate and swap the rule set; raising refuses it and the old rules stay in force."""
    rules = settings.rule_set()  # ConfigError refuses the patch
    engine = ctx.state.engine
    async with ctx.state.deciding:
        emits = engine.set_rules(rules)
        restored, ctx.state.restore = ctx.state.restore, None
        if restored is not None:
            emits += engine.restore(restored)
            _log.info("episodes restored", open=_open(engine))
        await _send_all(ctx, emits)
        try:
            ctx.state.state_file.save(engine.snapshot())
        except OSError as exc:  # saved with the next input; the rules still apply
            _log.warning("episode state not saved", error=str(exc))
    ctx.state.rules.set(len(rules.rules))
    _log.info("rule set in force", rules=[r.name for r in rules.rules])


def _open(engine: FilterEngine) -> list[str]:
    return [f"{rule}/{asset}" for (rule, asset), ep in engine.episodes.items() if ep.is_open]


async def _decide(ctx: Context[Settings, FilterState], step: Callable[[FilterEngine], list[Emit]]) -> None:
    """Step the engine, send its effects, then persist its state; a failure undoes the step.

    The state is saved only after every effect went out: a kill in between re-runs the step on the
    redelivered input and re-sends the same ids (deduplicated downstream), never a new decision. A
    failure rolls the engine back to the saved state, so a retried input decides the same again."""
    async with ctx.state.deciding:
        await _decide_now(ctx, step)


async def _decide_now(
    ctx: Context[Settings, FilterState], step: Callable[[FilterEngine], list[Emit]]
) -> None:
    engine = _engine(ctx)
    state = ctx.state.state_file
    try:
        try:
            emits = step(engine)
        finally:
            _count(ctx)
        await _send_all(ctx, emits)
    except BaseException:
        engine.load(state.saved)
        raise
    try:
        state.save(engine.snapshot())
    except OSError as exc:
        # The effects are out and the engine is right in memory; only the save is missing. Keep the
        # input with edgeHub: its retry is a duplicate (no new effect) and saves once the disk allows.
        raise Backpressure(f"episode state not saved: {exc}", retry_after_s=0.5) from exc


async def _send_all(ctx: Context[Settings, FilterState], emits: list[Emit]) -> None:
    # Write requests first: they close the loop into the plant, and sending the larger anomaly event
    # (with its evidence) first held them back by 10-70 ms (bench_closed_loop --hops). A kill in
    # between re-runs the step and re-sends the same ids either way.
    for e in sorted(emits, key=_actions_first):
        await ctx.send(
            e.output,
            e.body,
            kind=e.kind,
            message_id=e.message_id,
            correlation_id=e.correlation_id,
            oversize="compress",
        )
        if e.output == "anomalies":
            kind, state = _kind_and_state(e.body)
            ctx.state.emitted.labels(anomaly_kind=kind, state=state).inc()
    _count(ctx)


def _kind_and_state(body: Anomaly | object) -> tuple[str, str]:
    """An anomaly's kind and state for the metric (from its JSON data when compliance reduced it)."""
    if isinstance(body, Anomaly):
        return body.anomaly_kind, body.state
    data = body if isinstance(body, dict) else {}
    return str(data.get("anomalyKind")), str(data.get("state"))


def _actions_first(e: Emit) -> bool:
    return e.output != "actions"


def _count(ctx: Context[Settings, FilterState]) -> None:
    engine = _engine(ctx)
    seen = ctx.state.counted
    for key, n in engine.counts.items():
        if n > seen[key]:
            ctx.state.events.labels(event=key).inc(n - seen[key])
            seen[key] = n


@module.input("scores", queue_size=1000, overflow="block")
async def on_scores(ctx: Context[Settings, FilterState], msg: InputMessage) -> None:
    ctx.state.last_input = time.monotonic()
    body = msg.json()
    await _decide(ctx, lambda engine: engine.on_score(body))


@module.input("telemetry", queue_size=2000, overflow="block")
async def on_telemetry(ctx: Context[Settings, FilterState], msg: InputMessage) -> None:
    ctx.state.last_input = time.monotonic()
    body = msg.json()
    await _decide(ctx, lambda engine: engine.on_telemetry(body))


@module.task
async def flush_summaries(ctx: Context[Settings, FilterState]) -> None:
    """Close summary periods that ended: by source time, or all of them after a long silence."""
    while True:
        await asyncio.sleep(ctx.settings.summary_flush_seconds)
        engine = _engine(ctx)
        idle = time.monotonic() - ctx.state.last_input
        before = None if idle > 2 * engine.rules.summary_period_s else engine.latest_ts
        if before is None and idle <= 2 * engine.rules.summary_period_s:
            continue
        await _send_all(ctx, engine.flush_summaries(before))


@module.status_provider
def status(ctx: Context[Settings, FilterState]) -> dict[str, Any]:
    engine = ctx.state.engine
    return {
        "rules": [r.name for r in engine.rules.rules],
        "open": _open(engine),
        "dataQuality": sorted(engine.dq),
        "counts": dict(engine.counts),
    }
