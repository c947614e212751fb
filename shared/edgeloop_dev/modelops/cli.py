"""`edgeloop dataset pull`, `edgeloop model package`, `edgeloop model publish`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    ds = sub.add_parser("dataset", help="the retraining dataset").add_subparsers(dest="action", required=True)
    p = ds.add_parser("pull", help="labelled evidence from Blob -> a training folder (YOLO / CSV layouts)")
    p.add_argument("--connection-string", default=os.environ.get("BLOB_CONNECTION_STRING"))
    p.add_argument("--container", default=os.environ.get("BLOB_CONTAINER", "edgeloop-dataset"))
    p.add_argument("--model", help="only evidence scored by this model")
    p.add_argument("--all", action="store_true", help="unlabelled evidence too")
    p.add_argument("--val-share", type=float, default=0.2)
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_pull)

    md = sub.add_parser("model", help="model versions").add_subparsers(dest="action", required=True)
    p = md.add_parser("package", help="write a repository version: model + metadata.json + sha256")
    p.add_argument("model", type=Path, help="the .onnx file")
    p.add_argument("--repo", type=Path, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--metadata", type=Path, help="a (partial) metadata.json to include")
    p.set_defaults(func=_package)
    p = md.add_parser("publish", help="upload a packaged version and set the device twin's modelDelivery")
    p.add_argument("vdir", type=Path, help="the version folder `model package` wrote")
    p.add_argument("--connection-string", default=os.environ.get("BLOB_CONNECTION_STRING"))
    p.add_argument("--container", default="models")
    p.add_argument("--shadow", action="store_true", help="also run it in shadow beside the active version")
    p.add_argument("--state-dir", type=Path, help="a local hub's state dir: push the patch to it")
    p.add_argument("--module", default="inference")
    p.set_defaults(func=_publish)


def _pull(args: argparse.Namespace) -> int:
    from .dataset import list_evidence, write_dataset

    if not args.connection_string:
        print("set BLOB_CONNECTION_STRING or pass --connection-string", file=sys.stderr)
        return 2
    items = list_evidence(args.connection_string, args.container, args.model, not args.all)
    counts = write_dataset(items, args.out, args.val_share)
    print(json.dumps({"out": str(args.out), **counts}))
    return 0


def _package(args: argparse.Namespace) -> int:
    from .package import package

    meta = json.loads(args.metadata.read_text()) if args.metadata else None
    vdir = package(args.model, args.repo, args.name, args.version, meta)
    meta = json.loads((vdir / "metadata.json").read_text())
    print(
        json.dumps(
            {"folder": str(vdir), "name": meta["name"], "version": meta["version"], "sha256": meta["sha256"]}
        )
    )
    return 0


def _publish(args: argparse.Namespace) -> int:
    from .package import desired_patch, publish

    if not args.connection_string:
        print("set BLOB_CONNECTION_STRING or pass --connection-string", file=sys.stderr)
        return 2
    spec = publish(args.vdir, args.connection_string, args.container)
    name = json.loads((args.vdir / "metadata.json").read_text())["name"]
    patch = desired_patch(name, spec, args.shadow)
    if args.state_dir is not None:
        from edgeloop_dev.hub.client import patch_desired

        patch_desired(args.state_dir, args.module, patch)
    shown = json.loads(json.dumps(patch))
    shown["modelDelivery"][name]["url"] = spec["url"].split("?", 1)[0] + "?<SAS>"  # never print the token
    print(json.dumps(shown))
    return 0
