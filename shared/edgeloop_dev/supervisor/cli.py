"""`edgeloop run`: the hub and the manifest's modules as local processes, with a live status table."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="run the local hub and every module of this repo named in a deployment manifest",
        description=__doc__,
    )
    parser.add_argument("--manifest", required=True, help="deployment manifest (JSON)")
    parser.add_argument("--state-dir", required=True, help="hub state, certificates and logs/<module>.log")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address of the hub (default 127.0.0.1)")
    parser.add_argument("--modules", default="", help="comma-separated modules to run (default: all)")
    parser.add_argument(
        "--env-file", default=None, help="`.env` whose variables expand $VARS in the manifest"
    )
    parser.add_argument(
        "--credentials",
        choices=("connection-string", "workload"),
        default="connection-string",
        help="EdgeHubConnectionString (as iotedgehubdev) or the IOTEDGE_* workload variables",
    )
    parser.add_argument(
        "--module-path",
        action="append",
        default=[],
        metavar="DIR",
        help="another folder holding module packages, besides modules/ (repeatable)",
    )
    parser.add_argument("--no-tui", action="store_true", help="print plain log lines instead of the table")
    parser.add_argument(
        "--agent-metrics-port",
        type=int,
        default=9599,
        help="edgeAgent's built-in metrics on HOST:PORT/metrics (0: a free port, -1: off; default 9599)",
    )
    parser.add_argument("--stop-grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument("--backoff-unit", type=float, default=1.0, help="first cool-off, doubled after each")
    parser.add_argument("--backoff-max", type=float, default=30.0, help="longest cool-off (seconds)")
    parser.add_argument("--max-restarts", type=int, default=5, help="fast failures in a row before `failed`")
    parser.add_argument(
        "--healthy-after", type=float, default=30.0, help="seconds of running that reset the back-off"
    )
    parser.add_argument(
        "--edge-agent-timings",
        action="store_true",
        help="edgeAgent's own back-off: 10 s doubling to 5 min, 20 restarts, 10 min",
    )
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    import asyncio

    from edgeloop_dev.supervisor.cli_run import run

    return asyncio.run(run(args))
