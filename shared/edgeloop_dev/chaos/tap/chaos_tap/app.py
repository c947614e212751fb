"""chaos_tap on the runtime: one JSON line per message routed to it, appended to TAP_FILE."""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from edgeloop_runtime import Context, InputMessage, Module, ModuleSettings

TAP_INPUTS = ("telemetry", "scores", "anomalies", "actions", "audit")


class Settings(ModuleSettings):
    """TAP_FILE: where the witness lines go (appended; flushed per line)."""

    tap_file: str = "chaos-tap.jsonl"


@dataclass
class TapState:
    """The witness file, open for appending."""

    out: IO[str]


module = Module("chaos_tap", Settings, TapState, version="0.1.0")


def _body(msg: InputMessage) -> Any:
    data = msg.data
    if (msg.content_encoding or "").lower() == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)


def _bad_fields(body: dict[str, Any]) -> list[str]:
    """Telemetry fields carrying a Bad status (a connection gap or a bad sensor)."""
    out: list[str] = []
    for message in body.get("Messages") or []:
        payload = message.get("Payload") if isinstance(message, dict) else None
        for name, value in (payload or {}).items():
            status = value.get("StatusCode") if isinstance(value, dict) else None
            symbol = status.get("Symbol") if isinstance(status, dict) else None
            if isinstance(symbol, str) and symbol.startswith("Bad"):
                out.append(f"{message.get('DataSetWriterId')}/{name}:{symbol}")
    return out


def witness(msg: InputMessage, now: float) -> dict[str, Any]:
    """The line recorded for one message: ids, kind and what identifies the event (pure)."""
    line: dict[str, Any] = {"t": round(now, 3), "in": msg.input_name, "mid": msg.message_id}
    try:
        body = _body(msg)
    except (ValueError, OSError) as exc:
        return {**line, "error": str(exc)[:200]}
    if not isinstance(body, dict):
        return {**line, "error": "not an object"}
    if msg.input_name == "telemetry":
        bad = _bad_fields(body)
        return {**line, "bad": bad} if bad else line
    raw = body.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    line.update(kind=body.get("kind"), id=body.get("id"), corr=body.get("correlationId"))
    if msg.input_name == "scores":
        line.update(asset=data.get("asset"), quality=data.get("quality"))
        return line
    for key in ("eventId", "requestId", "asset", "state", "anomalyKind", "severity", "result", "target"):
        if data.get(key) is not None:
            line[key] = data[key]
    return line


@module.on_start
async def start(ctx: Context[Settings, TapState]) -> TapState:
    path = Path(ctx.settings.tap_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a", encoding="utf-8", buffering=1)  # noqa: ASYNC230 - once, at start
    ctx.exit_stack.callback(handle.close)
    return TapState(handle)


async def _record(ctx: Context[Settings, TapState], msg: InputMessage) -> None:
    ctx.state.out.write(json.dumps(witness(msg, time.time()), separators=(",", ":")) + "\n")


for _name in TAP_INPUTS:
    module.input(_name, queue_size=5000, overflow="block")(_record)
