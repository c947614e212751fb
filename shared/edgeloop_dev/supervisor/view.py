"""The live status table (rich) and its plain-text counterpart, rendered from a snapshot."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from edgeloop_dev.supervisor.policy import ModuleState
from edgeloop_dev.supervisor.status import ModuleStatus, Snapshot

STYLES = {
    ModuleState.RUNNING: "green",
    ModuleState.STARTING: "cyan",
    ModuleState.PENDING: "dim",
    ModuleState.BACKOFF: "yellow",
    ModuleState.UNHEALTHY: "magenta",
    ModuleState.STOPPING: "cyan",
    ModuleState.STOPPED: "dim",
    ModuleState.FAILED: "bold red",
}


def duration(seconds: float | None) -> str:
    """`1h02m`, `3m05s`, `12s`; empty for None."""
    if seconds is None:
        return ""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def state_text(status: ModuleStatus) -> str:
    """The state, with the time left before a restart while backing off."""
    if status.state is ModuleState.BACKOFF and status.next_start_in_s is not None:
        return f"backoff ({status.next_start_in_s:.1f}s)"
    return status.state.value


def render(snapshot: Snapshot, state_dir: str = "") -> RenderableType:
    """The table of the hub and every module, then the last log lines of each failing module."""
    table = Table(title="edgeloop run", title_justify="left", expand=False)
    for column, justify in (
        ("module", "left"),
        ("state", "left"),
        ("pid", "right"),
        ("restarts", "right"),
        ("uptime", "right"),
        ("msgs in", "right"),
        ("msgs out", "right"),
        ("last error", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for status in (snapshot.hub, *snapshot.modules):
        is_hub = status is snapshot.hub
        table.add_row(
            status.name,
            Text(state_text(status), style=STYLES.get(status.state, "")),
            str(status.pid or ""),
            str(status.restarts),
            duration(status.uptime_s),
            "" if is_hub else str(status.messages_in),
            "" if is_hub else str(status.messages_out),
            Text(status.last_error[:120], style="red" if status.last_error else ""),
        )
    for skipped in snapshot.skipped:
        table.add_row(
            skipped.name, Text("not run", style="dim"), "", "", "", "", "", Text(skipped.reason, style="dim")
        )
    parts: list[RenderableType] = [table]
    parts.extend(
        Panel(
            Text("\n".join(status.last_lines)),
            title=f"{status.name}: last log lines",
            border_style=STYLES[status.state],
        )
        for status in (snapshot.hub, *snapshot.modules)
        if status.state in (ModuleState.FAILED, ModuleState.BACKOFF) and status.last_lines
    )
    footer = f"logs in {state_dir}/logs  ·  Ctrl-C stops modules, then the hub" if state_dir else ""
    if footer:
        parts.append(Text(footer, style="dim"))
    return Group(*parts)


def plain(snapshot: Snapshot) -> str:
    """The same table as plain text lines (for a final summary in CI logs)."""
    return "\n".join(
        f"{status.name:<18} {state_text(status):<16} pid={status.pid or '-'} restarts={status.restarts} "
        f"in={status.messages_in} out={status.messages_out}"
        + (f" error={status.last_error}" if status.last_error else "")
        for status in (snapshot.hub, *snapshot.modules)
    )
