#!/usr/bin/env python3
"""List the retraining dataset the router uploads to Blob Storage, filtered by label, asset and model.

Layout: <container>/<asset>/<yyyy-mm-dd>/<model>-<version>/<eventId>-<state>.{json,jpg}, with metadata
asset, model, modelVersion, anomalyKind, severity, eventId, state, start and label ("unlabelled" until
a person labels it). `--set-label PATH LABEL` writes a label into a blob's metadata.

    BLOB_CONNECTION_STRING=... .venv/bin/python scripts/list_dataset.py [--container edgeloop-dataset]
        [--labelled | --all] [--asset pump] [--model sensor_anomaly] [--format jsonl|csv]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from typing import Any

from azure.storage.blob import BlobServiceClient

UNLABELLED = "unlabelled"
COLUMNS = (
    "url",
    "path",
    "contentType",
    "size",
    "asset",
    "model",
    "modelVersion",
    "anomalyKind",
    "severity",
    "eventId",
    "state",
    "start",
    "label",
)


def rows(svc: BlobServiceClient, container: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    cc = svc.get_container_client(container)
    prefix = f"{args.asset}/" if args.asset else None
    out = []
    for b in cc.list_blobs(name_starts_with=prefix, include=["metadata"]):
        meta = b.metadata or {}
        label = meta.get("label", UNLABELLED)
        if args.labelled and label == UNLABELLED:
            continue
        if args.model and meta.get("model") != args.model:
            continue
        out.append(
            {
                "url": cc.get_blob_client(b.name).url,
                "path": b.name,
                "contentType": b.content_settings.content_type if b.content_settings else None,
                "size": b.size,
                **{k: meta.get(k) for k in COLUMNS[4:]},
                "label": label,
            }
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connection-string", default=os.environ.get("BLOB_CONNECTION_STRING"))
    ap.add_argument("--container", default=os.environ.get("BLOB_CONTAINER", "edgeloop-dataset"))
    ap.add_argument(
        "--api-version", default=None, help="e.g. 2025-11-05 for an Azurite without --skipApiVersionCheck"
    )
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--labelled", action="store_true", help="only blobs with a label (the default)")
    group.add_argument("--all", action="store_true", help="labelled and unlabelled blobs")
    ap.add_argument("--asset")
    ap.add_argument("--model")
    ap.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    ap.add_argument("--set-label", nargs=2, metavar=("PATH", "LABEL"))
    args = ap.parse_args()
    if not args.connection_string:
        print("set BLOB_CONNECTION_STRING or pass --connection-string", file=sys.stderr)
        return 2
    args.labelled = not args.all
    kwargs = {"api_version": args.api_version} if args.api_version else {}
    svc = BlobServiceClient.from_connection_string(args.connection_string, **kwargs)
    if args.set_label:
        path, label = args.set_label
        blob = svc.get_blob_client(args.container, path)
        meta = dict(blob.get_blob_properties().metadata or {})
        meta["label"] = label
        blob.set_blob_metadata(meta)
        print(json.dumps({"path": path, "label": label}))
        return 0
    found = rows(svc, args.container, args)
    if args.format == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(found)
    else:
        for r in found:
            print(json.dumps(r))
    print(f"{len(found)} blobs", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
