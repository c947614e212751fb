"""`python -m edgeloop_dev.hub COMMAND`: only the hub's commands (hub, modulecred, invoke, twin, upstream)."""

from __future__ import annotations

import argparse
import sys

from edgeloop_dev.hub.cli import register


def main() -> int:
    """Parse and run one of the hub's subcommands."""
    parser = argparse.ArgumentParser(prog="edgeloop-hub")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args()
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
