"""`edgeloop plant`: run the plant simulator (an OPC UA server standing in for a DCS)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .faults import SCENARIOS


def register(subparsers: Any) -> None:
    """Add the `plant` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "plant",
        help="run the plant simulator (OPC UA server: conveyor, crusher, slurry pump)",
        description="OPC UA plant simulator with seeded faults; writes plant-faults.json and "
        "plant-writes.jsonl to --state-dir.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=4840)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", choices=SCENARIOS, default="demo")
    p.add_argument("--state-dir", type=Path, default=Path(".edgeloop/plant"))
    p.add_argument("--security", choices=("none", "sign-encrypt", "all"), default="none")
    p.add_argument("--tags", type=int, default=None, help="extra load tags (default 1000 for 'load')")
    p.add_argument("--rate", type=float, default=10.0, help="update rate in Hz (default 10)")
    p.add_argument(
        "--users-file", type=Path, default=None, help='JSON {"user": "password"}; refuses anonymous'
    )
    p.add_argument(
        "--allow-timestamped-writes", action="store_true", help="accept writes that carry a SourceTimestamp"
    )
    p.add_argument(
        "--no-ai-permissive",
        action="store_true",
        help="start with the DCS permissive (AI writes allowed) false",
    )
    p.add_argument(
        "--hold-faults",
        action="store_true",
        help="inject no fault until SIGUSR1; the schedule's times count from then (startedAt is null until)",
    )
    p.add_argument("--print-schedule", action="store_true", help="print the fault schedule and exit")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from .faults import fault_schedule
    from .server import PlantOptions, PlantServer

    if args.print_schedule:
        print(fault_schedule(args.seed, args.scenario).to_json())
        return 0
    users = json.loads(args.users_file.read_text(encoding="utf-8")) if args.users_file else None
    opts = PlantOptions(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        seed=args.seed,
        scenario=args.scenario,
        security=args.security,
        tags=args.tags,
        rate_hz=args.rate,
        users=users,
        strict_writes=not args.allow_timestamped_writes,
        ai_permissive=not args.no_ai_permissive,
        hold_faults=args.hold_faults,
    )
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("edgeloop_dev.plant").setLevel(logging.INFO)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        plant = PlantServer(opts)
        if hasattr(signal, "SIGUSR1"):  # before the server starts: SIGUSR1's default action ends a process
            loop.add_signal_handler(signal.SIGUSR1, plant.start_faults)
        async with plant:
            print(f"plant: {plant.endpoint} scenario={opts.scenario} seed={opts.seed} state={opts.state_dir}")
            await stop.wait()

    asyncio.run(serve())
    return 0
