"""The `edgeloop` command line: one dispatcher, each tool registers its own subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each tool package has a `cli` module with `register(subparsers)`; its handlers import heavy
# dependencies lazily so that `edgeloop --help` stays fast.
_TOOLS = (
    "edgeloop_dev.hub.cli",  # hub, modulecred, invoke, twin, upstream
    "edgeloop_dev.supervisor.cli",  # run
    "edgeloop_dev.plant.cli",  # plant
    "edgeloop_dev.manifest.cli",  # manifest render | lint
    "edgeloop_dev.demo.cli",  # demo
    "edgeloop_dev.modelops.cli",  # dataset pull, model package | publish
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every available tool's subcommands."""
    parser = argparse.ArgumentParser(prog="edgeloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _TOOLS:
        try:
            tool = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # tool not built yet
            raise
        tool.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
