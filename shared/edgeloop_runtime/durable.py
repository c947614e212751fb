"""Crash-safe small files on the module's volume: write a temp file, fsync, rename, fsync the folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves either the old content or the new, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_json(path: Path, obj: Any) -> None:
    """Write a JSON document crash-safely (see write_atomic)."""
    write_atomic(path, json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())


def read_json(path: Path) -> Any:
    """The JSON document at `path`, or None when there is none; ValueError when it is not JSON."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    return json.loads(text)
