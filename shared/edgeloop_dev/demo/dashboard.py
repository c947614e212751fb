"""The live terminal dashboard (rich): modules, plant signals and faults, anomalies, write-backs, upstream."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.layout import Layout
from rich.panel import Panel
from rich.table import Table

from edgeloop_dev.demo.observe import DemoState
from edgeloop_dev.demo.signals import SignalWatch, sparkline
from edgeloop_dev.plant import Fault
from edgeloop_dev.supervisor.status import Snapshot

_STATE_STYLE = {"running": "green", "starting": "yellow", "backoff": "yellow", "failed": "bold red"}


def modules_table(snapshot: Snapshot | None) -> Table:
    table = Table(expand=True, box=None)
    for column in ("module", "state", "restarts", "in", "out"):
        table.add_column(column, justify="right" if column in ("restarts", "in", "out") else "left")
    if snapshot is None:
        return table
    for status in (snapshot.hub, *snapshot.modules):
        state = str(getattr(status.state, "value", status.state))
        style = _STATE_STYLE.get(state, "")
        table.add_row(
            status.name,
            f"[{style}]{state}[/]" if style else state,
            str(status.restarts),
            str(status.messages_in),
            str(status.messages_out),
        )
    return table


def signals_table(watch: SignalWatch) -> Table:
    table = Table(expand=True, box=None)
    table.add_column("signal")
    table.add_column("value", justify="right")
    table.add_column("trend")
    for tag, history in watch.history.items():
        value = watch.latest.get(tag)
        status = watch.status.get(tag, "")
        shown = "-" if value is None else f"{value:9.2f}"
        if status and status != "Good":
            shown = f"[red]{status}[/]"
        table.add_row(tag, shown, sparkline(list(history)))
    return table


def faults_panel(faults: list[Fault], elapsed: float | None) -> Table:
    """The next and recent faults; `elapsed` since the faults started, None while they are held."""
    table = Table(expand=True, box=None)
    table.add_column("fault")
    table.add_column("asset")
    table.add_column("when", justify="right")
    if elapsed is None:
        table.add_row("(held until the pipeline is live)", "", "")
        return table
    shown = [f for f in faults if f.end_s > elapsed - 60][:8]
    for fault in shown:
        if fault.active(elapsed):
            when = "[bold red]ACTIVE[/]"
        elif fault.start_s > elapsed:
            when = f"in {fault.start_s - elapsed:5.0f}s"
        else:
            when = f"{elapsed - fault.end_s:5.0f}s ago"
        table.add_row(fault.kind, fault.asset, when)
    return table


def anomalies_panel(state: DemoState) -> Group:
    lines = [label for _, label in list(state.recent)[-10:]] or ["(none yet)"]
    return Group(*lines)


def writeback_panel(state: DemoState) -> Group:
    lines = [
        f"applied {state.audits['applied']}  refused {state.audits['refused']}  "
        f"dry-run {state.audits['dry-run']}  failed {state.audits['failed']}",
        f"plant audit trail: {len(state.plant_writes)} writes",
    ]
    lines += [f"  {r.get('node', '?')} = {r.get('value')!r}" for r in state.plant_writes[-6:]]
    return Group(*lines)


def upstream_panel(state: DemoState, router: dict[str, Any]) -> Group:
    """Messages and bytes sent, by class; the budget and the link in words (not Python reprs)."""
    router = router if isinstance(router, dict) else {}
    lines = [
        f"messages {state.upstream_messages}   bytes {state.upstream_bytes:,}",
        "by class: " + (", ".join(f"{k} {v}" for k, v in sorted(state.by_class.items())) or "-"),
    ]
    budget = router.get("budget") or {}
    if isinstance(budget, dict) and budget:
        per_hour = budget.get("bytesPerHour")
        if per_hour is None:
            lines.append("budget: unlimited")
        else:
            lines.append(f"budget: {per_hour:,.0f} B/h, {budget.get('tokens') or 0:,} B available now")
    link = router.get("link")
    if isinstance(link, dict):
        up = "up" if link.get("up") else ("forced down" if link.get("forcedDown") else "down")
        text = f"link: {up}, {link.get('outages', 0)} outages, {link.get('failures', 0)} failed sends"
        if link.get("lastError") and not link.get("up"):
            text += f" (last: {link['lastError']})"
        lines.append(text)
    queues = router.get("queues")
    if isinstance(queues, dict) and queues:
        waiting = {
            c: q.get("messages", 0) for c, q in queues.items() if isinstance(q, dict) and q.get("messages")
        }
        lines.append("waiting: " + (", ".join(f"{c} {int(n)}" for c, n in sorted(waiting.items())) or "none"))
    return Group(*lines)


def model_panel(inference: dict[str, Any]) -> Group:
    """Each loaded model with its version and the provider it runs on, and any refused version."""
    models = inference.get("models") or {}
    loaded = models.get("loaded", {}) if isinstance(models, dict) else {}
    lines = [
        f"{name} v{info.get('version', '?')} on {info.get('provider', '?')}"
        for name, info in sorted(loaded.items())
        if isinstance(info, dict)
    ]
    refused = models.get("refused", {}) if isinstance(models, dict) else {}
    lines += (
        [f"refused: {name} ({why})" for name, why in sorted(refused.items())]
        if isinstance(refused, dict)
        else []
    )
    return Group(*(lines or ["(waiting for inference)"]))


def render(
    started: float,
    duration: float | None,
    snapshot: Snapshot | None,
    watch: SignalWatch,
    faults: list[Fault],
    plant_elapsed: float | None,
    state: DemoState,
    router: dict[str, Any],
    inference: dict[str, Any],
) -> Layout:
    """The whole screen for one refresh."""
    elapsed = time.monotonic() - started
    title = f"edgeloop demo  {elapsed:5.0f}s" + (f" / {duration:.0f}s" if duration else "  (Ctrl-C stops)")
    layout = Layout()
    layout.split_column(Layout(name="top", ratio=3), Layout(name="bottom", ratio=2))
    layout["top"].split_row(
        Layout(Panel(modules_table(snapshot), title=title)),
        Layout(Panel(signals_table(watch), title="plant signals")),
        Layout(Panel(faults_panel(faults, plant_elapsed), title="injected faults")),
    )
    layout["bottom"].split_row(
        Layout(Panel(anomalies_panel(state), title="anomalies")),
        Layout(Panel(writeback_panel(state), title="write-back")),
        Layout(Panel(upstream_panel(state, router), title="upstream")),
        Layout(Panel(model_panel(inference), title="model")),
    )
    return layout
