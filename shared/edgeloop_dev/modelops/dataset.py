"""`edgeloop dataset pull`: the evidence the router uploads (Blob / Azurite) -> a training folder.

Frames (`.jpg`, metadata `label`, optional `boxes` = JSON `[{"class", "bbox": [x1, y1, x2, y2]}]` in
pixels) become a YOLO detection set: `images/{train,val}/<name>.jpg`, `labels/{train,val}/<name>.txt`
(`class cx cy w h`, normalised), `data.yaml`; a frame labelled with a class but no boxes goes to the
classification layout `classify/{train,val}/<class>/<name>.jpg`; `normal` / `ok` / `none` /
`false_positive` frames are negatives (an empty label file). Windows (`.json`) become
`windows/<name>.json` (the document, label filled in) and one row each in `windows.csv`. Every item
keeps the model version that scored it (`manifest.jsonl`).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

UNLABELLED = "unlabelled"
NEGATIVE = frozenset({"normal", "ok", "none", "false_positive", "background"})
WINDOW_COLUMNS = (
    "name",
    "eventId",
    "asset",
    "model",
    "modelVersion",
    "anomalyKind",
    "label",
    "start",
    "file",
)


@dataclass(frozen=True)
class Evidence:
    """One blob: its path, bytes and metadata."""

    path: str
    data: bytes
    metadata: dict[str, str]


def list_evidence(
    connection_string: str, container: str, model: str | None, labelled: bool
) -> list[Evidence]:
    """Download the evidence blobs (labelled only, unless `labelled` is False), optionally of one model."""
    from azure.storage.blob import BlobServiceClient

    cc = BlobServiceClient.from_connection_string(connection_string).get_container_client(container)
    out = []
    for b in cc.list_blobs(include=["metadata"]):
        meta = dict(b.metadata or {})
        if labelled and meta.get("label", UNLABELLED) == UNLABELLED:
            continue
        if model and meta.get("model") != model:
            continue
        out.append(Evidence(b.name, cc.download_blob(b.name).readall(), meta))
    return out


def _split(name: str, val_share: float) -> str:
    """A stable split: the same blob always lands in the same half."""
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_share else "train"


def _yolo_lines(boxes: list[dict[str, Any]], names: list[str], w: int, h: int) -> list[str]:
    lines = []
    for b in boxes:
        x1, y1, x2, y2 = (float(v) for v in b["bbox"])
        cls = names.index(str(b["class"]))
        cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
        lines.append(f"{cls} {cx:.6f} {cy:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return lines


def write_dataset(items: list[Evidence], out: Path, val_share: float = 0.2) -> dict[str, int]:
    """Write the training folder; counts of what was written."""
    names: list[str] = []
    for e in items:
        for b in json.loads(e.metadata.get("boxes") or "[]"):
            if str(b["class"]) not in names:
                names.append(str(b["class"]))
    counts = {"detect": 0, "negative": 0, "classify": 0, "windows": 0}
    manifest = []
    rows = []
    for e in items:
        name = e.path.replace("/", "__").rsplit(".", 1)[0]
        label = e.metadata.get("label", UNLABELLED)
        split = _split(e.path, val_share)
        origin = {k: e.metadata.get(k) for k in ("asset", "model", "modelVersion", "eventId", "cameraId")}
        record = {"path": e.path, "name": name, "split": split, "label": label, **origin}
        if e.path.endswith(".jpg"):
            boxes = json.loads(e.metadata.get("boxes") or "[]")
            if boxes or label in NEGATIVE:
                img = cv2.imdecode(np.frombuffer(e.data, np.uint8), cv2.IMREAD_COLOR)
                if img is None:
                    continue  # not a decodable JPEG: not a training image
                h, w = img.shape[:2]
                (out / "images" / split).mkdir(parents=True, exist_ok=True)
                (out / "labels" / split).mkdir(parents=True, exist_ok=True)
                (out / "images" / split / f"{name}.jpg").write_bytes(e.data)
                lines = _yolo_lines(boxes, names, w, h)
                (out / "labels" / split / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in lines))
                counts["detect" if boxes else "negative"] += 1
                record["layout"] = "detect"
            else:
                folder = out / "classify" / split / label
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{name}.jpg").write_bytes(e.data)
                counts["classify"] += 1
                record["layout"] = "classify"
        elif e.path.endswith(".json"):
            doc = json.loads(e.data)
            doc["label"] = label
            (out / "windows").mkdir(parents=True, exist_ok=True)
            (out / "windows" / f"{name}.json").write_text(json.dumps(doc))
            rows.append({**{k: e.metadata.get(k) for k in WINDOW_COLUMNS}, "name": name, "label": label,
                         "file": f"windows/{name}.json"})  # fmt: skip
            counts["windows"] += 1
            record["layout"] = "window"
        manifest.append(record)
    out.mkdir(parents=True, exist_ok=True)
    if counts["detect"] or counts["negative"]:
        yaml = [f"path: {out.resolve()}", "train: images/train", "val: images/val", "names:"]
        yaml += [f"  {i}: {n}" for i, n in enumerate(names)]
        (out / "data.yaml").write_text("\n".join(yaml) + "\n")
    if rows:
        with open(out / "windows.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=WINDOW_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    (out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in manifest))
    return counts


def read_yolo(folder: Path) -> list[tuple[Path, list[tuple[int, float, float, float, float]]]]:
    """The detection set of a pulled folder: each image with its (class, cx, cy, w, h) rows."""
    out = []
    for img in sorted((folder / "images").rglob("*.jpg")):
        split = img.parent.name
        txt = folder / "labels" / split / f"{img.stem}.txt"
        rows = []
        for line in txt.read_text().splitlines() if txt.exists() else []:
            c, *v = line.split()
            rows.append((int(c), float(v[0]), float(v[1]), float(v[2]), float(v[3])))
        out.append((img, rows))
    return out


def yolo_names(folder: Path) -> list[str]:
    """Class names from data.yaml (`  <i>: <name>` lines)."""
    lines = (folder / "data.yaml").read_text().splitlines() if (folder / "data.yaml").exists() else []
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("  ") and ":" in line]
