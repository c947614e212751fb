"""`edgeloop demo`: the README's main command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `demo` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole closed loop against the simulated plant, with a live dashboard",
        description="Starts the plant simulator, Blob Storage (Azurite), the local hub and every module of "
        "deployment/deployment.local.template.json; shows a live dashboard; writes a summary and a report.",
    )
    p.add_argument(
        "--duration", type=float, default=120.0, help="seconds to run; 0 runs until Ctrl-C (default 120)"
    )
    p.add_argument(
        "--state-dir", type=Path, default=Path(".demo"), help="where everything is kept (wiped first)"
    )
    p.add_argument("--seed", type=int, default=7, help="the plant's fault schedule seed")
    p.add_argument(
        "--scenario",
        default="tour",
        help="the plant's scenario: tour (every fault kind on every asset in 2 min, then as demo), demo, "
        "or dense (a fault every few s)",
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback address for the hub (port 8883)")
    p.add_argument("--plant-port", type=int, default=4840)
    p.add_argument("--no-tui", action="store_true", help="plain progress lines instead of the live dashboard")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from edgeloop_dev.demo.run import DemoOptions, run_demo

    return run_demo(
        DemoOptions(
            state_dir=args.state_dir,
            duration_s=args.duration or None,
            seed=args.seed,
            host=args.host,
            plant_port=args.plant_port,
            scenario=args.scenario,
            tui=not args.no_tui and sys.stdout.isatty(),
        )
    )
