#!/usr/bin/env python3
"""Chaos suite, long form: `scripts/chaos.py --scenario all --minutes N` on one running pipeline."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from rich.console import Console

from edgeloop_dev.chaos.pipeline import ChaosPipeline, PipelineOptions
from edgeloop_dev.chaos.report import markdown, print_report
from edgeloop_dev.chaos.scenarios import SCENARIOS, Profile

ORDER = ("baseline", "kill_each", "random_kills", "hub_restart", "link_cut", "plant_restart", "blob_outage",
         "store_quota", "refused_restart", "kill_mid_episode", "disk_fill")  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", action="append", choices=[*ORDER, "all"], default=None,
                    help="scenario to run (repeatable; default all)")  # fmt: skip
    ap.add_argument("--minutes", type=float, default=3.0, help="length of each outage in the long form")
    ap.add_argument("--short", action="store_true", help="the CI durations instead of the long form")
    ap.add_argument("--seed", type=int, default=35, help="plant fault schedule seed")
    ap.add_argument("--state-dir", type=Path, default=Path("state/chaos"))
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    return ap.parse_args(argv)


async def run(args: argparse.Namespace, console: Console) -> int:
    from edgeloop_dev.chaos.session import ChaosSession

    names = (
        [n for n in ORDER if n in SCENARIOS] if not args.scenario or "all" in args.scenario else args.scenario
    )
    profile = Profile.short() if args.short else Profile.long(args.minutes)
    started = time.monotonic()
    options = PipelineOptions(state_dir=args.state_dir, seed=args.seed, router_disk_mb=64)
    async with ChaosPipeline(options) as pipe:
        console.print(
            f"pipeline up in {time.monotonic() - started:.0f} s on {pipe.host}; state in {pipe.dir}"
        )
        session = ChaosSession(pipe, profile)
        for name in names:
            console.print(f"[bold]{name}[/] ...")
            res = await session.run(name)
            console.print(f"  {name}: {'ok' if not res.failures else res.failures}", soft_wrap=True)
        await session.total()
        out = session.save()
    print_report(session.results, console)
    console.print(markdown(session.results), soft_wrap=True)
    if args.json:
        args.json.write_text(out.read_text(encoding="utf-8"), encoding="utf-8")
    console.print(f"results: {out}; total {time.monotonic() - started:.0f} s")
    return 1 if any(r.failures for r in session.results) else 0


def main() -> int:
    args = parse_args()
    console = Console(width=160)
    try:
        return asyncio.run(run(args, console))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
