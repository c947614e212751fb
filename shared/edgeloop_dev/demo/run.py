"""Run the demo: plant, Blob target, hub and modules; watch; stop; summarize; report."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from edgeloop_dev.demo.dashboard import render
from edgeloop_dev.demo.observe import UPSTREAM_FILE, DemoState, JsonlTail, parse_ts
from edgeloop_dev.demo.ready import LIVE_TIMEOUT_S, SENSOR_MODEL, pipeline_live, waiting_for
from edgeloop_dev.demo.report import write_report
from edgeloop_dev.demo.services import REPO_ROOT, blob_target, render_debug_manifest, require_free
from edgeloop_dev.demo.signals import SignalWatch
from edgeloop_dev.demo.summary import Summary, summarize
from edgeloop_dev.plant import AUDIT_FILE, SCHEDULE_FILE, PlantOptions, PlantProcess, fault_schedule
from edgeloop_dev.supervisor.supervisor import Supervisor, SupervisorConfig


@dataclass(frozen=True)
class DemoOptions:
    """What `edgeloop demo` takes."""

    state_dir: Path
    duration_s: float | None = 120.0
    seed: int = 7
    host: str = "127.0.0.1"
    plant_port: int = 4840
    tui: bool = True
    scenario: str = "tour"
    load_tags: int | None = None  # extra plant tags (the `load` scenario's default is 1000)
    env: dict[str, dict[str, str]] = field(default_factory=dict)  # module -> env overrides
    routes: dict[str, str] = field(default_factory=dict)  # extra edgeHub routes (benches tap outputs)


class Demo:
    """One demo run over a fresh state directory."""

    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self.state = DemoState()
        self.dir = options.state_dir.resolve()
        self.upstream = JsonlTail(self.dir / UPSTREAM_FILE)
        self.writes = JsonlTail(self.dir / "plant" / AUDIT_FILE)
        self.schedule = fault_schedule(options.seed, options.scenario)
        self.plant_start = time.time()  # the faults' zero: set again when they start
        self.faults_started = False  # held until the pipeline is live (`_start_faults`)
        self.router: dict[str, Any] = {}
        self.inference: dict[str, Any] = {}
        self.on_tick: Callable[[Supervisor], None] | None = None  # benchmarks sample processes here
        self.plant: PlantProcess | None = None

    def _prepare(self) -> None:
        if self.dir.exists():
            shutil.rmtree(self.dir)  # a demo starts from a clean slate; DIR is the demo's own
        (self.dir / "plant").mkdir(parents=True)
        require_free(self.options.host, 8883, "the local hub (MQTT)")
        require_free(self.options.host, self.options.plant_port, "the plant simulator (OPC UA)")

    async def run(self) -> Summary:
        self._prepare()
        opts = self.options
        self.console.print(f"[bold]edgeloop demo[/] state in {self.dir}")
        plant = PlantProcess(
            PlantOptions(
                state_dir=self.dir / "plant",
                host=opts.host,
                port=opts.plant_port,
                seed=opts.seed,
                scenario=opts.scenario,
                tags=opts.load_tags,
                hold_faults=True,  # started once the pipeline is live (`_start_faults`)
            ),
            log_path=self.dir / "logs" / "plant.log",
        )
        (self.dir / "logs").mkdir(exist_ok=True)
        self.plant = plant
        plant.start()
        blob, azurite = blob_target(self.dir)
        self.console.print(f"plant: {plant.endpoint}   blob storage: {blob.description}")
        manifest = render_debug_manifest(
            self.dir,
            {
                "BLOB_CONNECTION_STRING": blob.connection_string,
                "EDGELOOP_STATE_DIR": str(self.dir),
            },
            plant.endpoint,
            opts.env,
            load_tags=opts.load_tags or 0,
            routes=opts.routes,
        )
        config = SupervisorConfig(manifest=manifest, state_dir=self.dir, host=opts.host, repo_root=REPO_ROOT)
        try:
            async with Supervisor(config) as supervisor:
                await self._watch(supervisor)
        finally:
            self._collect()
            plant.stop()
            if azurite is not None:
                azurite.stop()
        elapsed = time.time() - self.plant_start if self.faults_started else 0.0
        summary = summarize(self.state, self.schedule.faults, self.plant_start, elapsed)
        (self.dir / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2), encoding="utf-8")
        report = write_report(self.state, self.schedule.faults, self.plant_start, summary, self.dir)
        self._print_summary(summary, report)
        return summary

    def _plant_start(self) -> float:
        try:
            doc = json.loads((self.dir / "plant" / SCHEDULE_FILE).read_text(encoding="utf-8"))
            return parse_ts(doc.get("started_at") or doc.get("startedAt")) or time.time()
        except (OSError, ValueError):
            return time.time()

    def _collect(self) -> None:
        for event in self.upstream.read():
            self.state.add_upstream(event, self.dir)
        for record in self.writes.read():
            self.state.add_plant_write(record)

    async def _poll_modules(self, supervisor: Supervisor) -> None:
        from edgeloop_dev.hub import client as hub

        while True:
            with contextlib.suppress(Exception):
                reply = await asyncio.to_thread(
                    hub.invoke_method, self.dir, "upstream_router", "getQueueStatus", None, 3
                )
                if isinstance(reply, dict) and reply.get("status") == 200:
                    self.router = reply.get("payload") or {}
            with contextlib.suppress(Exception):
                twin = await asyncio.to_thread(hub.get_twin, self.dir, "inference")
                self.inference = dict(twin.get("reported", {}))
            await asyncio.sleep(2)

    async def _start_faults(self, supervisor: Supervisor, since: float) -> bool:
        """Start the plant's held faults once the pipeline is live (or has had LIVE_TIMEOUT_S to be)."""
        live = await pipeline_live(supervisor.status())
        if not live and time.monotonic() - since < LIVE_TIMEOUT_S:
            return False
        if not live:
            waiting = ", ".join(waiting_for(supervisor.status())) or f"{SENSOR_MODEL} to score windows"
            self.console.print(
                f"[yellow]pipeline not live after {LIVE_TIMEOUT_S:.0f} s[/] (waiting for "
                f"{waiting}); the faults start anyway"
            )
        if self.plant is not None:
            await asyncio.to_thread(self.plant.start_faults)
        self.plant_start = self._plant_start()
        self.faults_started = True
        self.console.print(f"faults start now ({self.options.scenario}, seed {self.options.seed})")
        return True

    async def _watch(self, supervisor: Supervisor) -> None:
        """Hold the faults until the pipeline is live, then run for the duration, refreshing the screen."""
        duration = self.options.duration_s
        started = time.monotonic()
        watch = SignalWatch(f"opc.tcp://{self.options.host}:{self.options.plant_port}")
        background = [asyncio.create_task(watch.run()), asyncio.create_task(self._poll_modules(supervisor))]

        def screen() -> Any:
            return render(
                started,
                duration,
                supervisor.status(),
                watch,
                list(self.schedule.faults),
                time.time() - self.plant_start if self.faults_started else None,
                self.state,
                self.router,
                self.inference,
            )

        try:
            live = (
                Live(screen(), console=self.console, refresh_per_second=2, screen=False)
                if self.options.tui
                else None
            )
            with live or contextlib.nullcontext():
                last_line = 0.0
                while not self.faults_started or duration is None or time.monotonic() - started < duration:
                    await asyncio.sleep(0.5)
                    if not self.faults_started and await self._start_faults(supervisor, started):
                        started = time.monotonic()  # the duration counts from the faults' start
                    self._collect()
                    if self.on_tick is not None:
                        self.on_tick(supervisor)
                    if live is not None:
                        live.update(screen())
                    elif time.monotonic() - last_line >= 10:
                        last_line = time.monotonic()
                        self._progress_line(started)
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)

    def _progress_line(self, started: float) -> None:
        s = self.state
        self.console.print(
            f"{time.monotonic() - started:5.0f}s  anomalies opened {len(s.anomaly_opens)}  "
            f"write-backs applied {s.audits['applied']} refused {s.audits['refused']}  "
            f"upstream {s.upstream_messages} msgs / {s.upstream_bytes:,} B"
        )

    def _print_summary(self, summary: Summary, report: Path) -> None:
        table = Table(title="edgeloop demo summary", show_header=False)
        for key, value in summary.to_dict().items():
            if key == "faults_by_kind":
                for kind, (injected, detected) in value.items():
                    table.add_row(f"  {kind}", f"{detected} of {injected} detected")
                continue
            table.add_row(key, str(value))
        self.console.print(table)
        verdict = "[green]the loop closed[/]" if summary.loop_closed else "[red]the loop did NOT close[/]"
        self.console.print(f"{verdict}; report: {report}; state: {self.dir}")


def run_demo(options: DemoOptions) -> int:
    """Run the demo and return the exit code (1 if a --duration run did not close the loop)."""
    console = Console()
    demo = Demo(options, console)
    try:
        summary = asyncio.run(demo.run())
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 2
    if options.duration_s and not summary.loop_closed:
        console.print("missing: " + "; ".join(summary.missing), style="red")
        return 1
    return 0
