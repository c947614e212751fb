"""Write the contracts' JSON Schemas (docs/contracts/) and DEVELOPERS.md's contract tables from the registry.

The tables sit between markers in DEVELOPERS.md ("Message contracts between modules"), so the prose around
them stays; who sends and receives what comes from each module.json and the routes of
deployment/deployment.template.json. `--check` fails when anything is out of date (tests/contracts runs it);
it works with whatever edgeloop_contracts.registry.CONTRACTS holds, so rerun it after adding a contract.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgeloop_contracts.registry import CONTRACTS
from edgeloop_dev.manifest.catalog import load_catalog
from edgeloop_dev.manifest.contract_check import compiled_routes
from edgeloop_dev.manifest.contract_docs import BEGIN, END, schema_files, section, updated
from edgeloop_dev.manifest.lint import module_map

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "deployment/deployment.template.json"


def generated(root: Path) -> dict[str, str]:
    """Every generated file's path (relative to `root`) -> its wanted text."""
    template = json.loads((root / TEMPLATE).read_text(encoding="utf-8"))
    routes = compiled_routes(template["modulesContent"]["$edgeHub"]["properties.desired"])
    developers = (root / "DEVELOPERS.md").read_text(encoding="utf-8")
    if BEGIN not in developers or END not in developers:
        raise SystemExit(f"DEVELOPERS.md has no {BEGIN} ... {END} markers")
    catalog = load_catalog(root / "modules")
    deployed, _ = module_map(template, catalog)
    tables = section(CONTRACTS, catalog, deployed, routes, TEMPLATE)
    return {"DEVELOPERS.md": updated(developers, tables), **schema_files(CONTRACTS)}


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say what is out of date (exit 1)")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to work on (default: this one)")
    args = parser.parse_args(argv)
    root: Path = args.root
    wanted = generated(root)
    schema_dir = root / "docs" / "contracts"
    extra = [
        p for p in sorted(schema_dir.glob("*.schema.json")) if p.relative_to(root).as_posix() not in wanted
    ]
    stale = [path for path, text in wanted.items() if _text(root / path) != text]
    if args.check:
        problems = [f"  {p}" for p in stale] + [f"  {p.relative_to(root)} (no such contract)" for p in extra]
        if problems:
            print("out of date (run scripts/contract_docs.py):", *problems, sep="\n")
            return 1
        return 0
    for path in stale:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(wanted[path], encoding="utf-8")
    for path in extra:
        path.unlink()
    print(f"{len(stale)} written, {len(extra)} removed, {len(wanted) - len(stale)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
