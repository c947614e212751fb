"""The `edgeloop run` program: build the supervisor from the arguments, show it, stop it on a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from rich.console import Console
from rich.live import Live

from edgeloop_dev.supervisor.errors import SupervisorError
from edgeloop_dev.supervisor.policy import BackoffConfig
from edgeloop_dev.supervisor.status import Event
from edgeloop_dev.supervisor.supervisor import Supervisor, SupervisorConfig
from edgeloop_dev.supervisor.view import plain, render


def config_from_args(args: argparse.Namespace) -> SupervisorConfig:
    """The supervisor's configuration from `edgeloop run`'s arguments."""
    backoff = (
        BackoffConfig.edge_agent()
        if args.edge_agent_timings
        else BackoffConfig(args.backoff_unit, args.backoff_max, args.max_restarts, args.healthy_after)
    )
    modules = tuple(name.strip() for name in args.modules.split(",") if name.strip()) or None
    return SupervisorConfig(
        manifest=Path(args.manifest),
        state_dir=Path(args.state_dir),
        host=args.host,
        modules=modules,
        env_file=Path(args.env_file) if args.env_file else None,
        credentials=args.credentials,
        backoff=backoff,
        stop_grace_s=args.stop_grace,
        python_path=tuple(Path(folder).resolve() for folder in args.module_path),
        agent_metrics_port=None if getattr(args, "agent_metrics_port", -1) < 0 else args.agent_metrics_port,
    )


async def run(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM; 0 after a clean stop, 1 if the hub fails, 2 for a bad manifest."""
    err = Console(stderr=True)
    tui = not args.no_tui and sys.stdout.isatty()

    def print_event(event: Event) -> None:
        print(event.line(), flush=True)

    try:
        supervisor = Supervisor(config_from_args(args), on_event=None if tui else print_event)
    except SupervisorError as exc:
        err.print(f"[red]edgeloop run: {exc}[/red]")
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    live = Live(render(supervisor.status()), refresh_per_second=2, screen=False) if tui else None
    code = 0
    with live if live is not None else contextlib.nullcontext():
        starting = asyncio.create_task(supervisor.start())
        updater = asyncio.create_task(_refresh(live, supervisor)) if live is not None else None
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done() and starting.exception() is not None:
            err.print(f"[red]edgeloop run: {starting.exception()}[/red]")
            code = 1
        else:
            await stop.wait()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
        stopper.cancel()
        await supervisor.stop()
        if updater is not None:
            updater.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await updater
        if live is not None:
            live.update(render(supervisor.status(), str(args.state_dir)))
    if not tui:
        print(plain(supervisor.status()), flush=True)
    return code


async def _refresh(live: Live, supervisor: Supervisor) -> None:
    state_dir = str(supervisor.config.state_dir)
    while True:
        live.update(render(supervisor.status(), state_dir))
        await asyncio.sleep(0.5)
