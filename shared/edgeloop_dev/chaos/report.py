"""The per-scenario report table: faults injected/delivered, messages lost, duplicates, time to recover."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from edgeloop_dev.chaos.checker import ScenarioResult


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(results: Sequence[ScenarioResult], title: str = "edgeloop chaos") -> Table:
    """A rich table, one row per scenario."""
    t = Table(title=title)
    for column in ("scenario", "faults injected", "expected", "delivered", "lost", "duplicates (bad)",
                   "recovery s", "telemetry s", "upstream s", "steady s", "verdict"):  # fmt: skip
        t.add_column(column, justify="left" if column in ("scenario", "verdict") else "right")
    for r in results:
        verdict = "[green]ok[/]" if not r.failures else f"[red]{len(r.failures)} failure(s)[/]"
        t.add_row(
            r.name, str(r.faults_injected), str(r.faults_expected), str(r.faults_delivered), str(r.lost),
            f"{r.duplicates} ({r.bad_duplicates})", _s(r.recovery_s), _s(r.telemetry_s), _s(r.upstream_s),
            _s(r.steady_s), verdict,
        )  # fmt: skip
    return t


def markdown(results: Sequence[ScenarioResult]) -> str:
    """The same table as Markdown (for the README)."""
    head = (
        "| scenario | faults injected | expected | delivered | lost | duplicates (bad) | recovery s "
        "| failures |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---|"]
    lines.extend(
        (
            f"| {r.name} | {r.faults_injected} | {r.faults_expected} | {r.faults_delivered} | {r.lost} | "
            f"{r.duplicates} ({r.bad_duplicates}) | {_s(r.recovery_s)} | {'; '.join(r.failures) or 'none'} |"
        )
        for r in results
    )
    return "\n".join(lines)


def print_report(results: Sequence[ScenarioResult], console: Console | None = None) -> None:
    """Print the table and every failure under it."""
    console = console or Console(width=160)
    console.print(table(results))
    for r in results:
        for failure in r.failures:
            console.print(f"[red]{r.name}:[/] {failure}", soft_wrap=True)
