"""File side of the manifest tools: the repository root, JSON and `.env` files, default paths."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import RenderError

TEMPLATE = Path("deployment/deployment.template.json")
DEBUG_TEMPLATE = Path("deployment/deployment.local.template.json")
GPU_OVERLAY = Path("deployment/gpu.overlay.json")
SCHEMA = Path("deployment/schema/deployment.schema.json")
LAYERED_SCHEMA = Path("deployment/schema/layered.schema.json")


def find_repo_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the current one) holding modules/ and deployment/;
    else the checkout this package lives in; else the current folder."""
    here = (start or Path.cwd()).resolve()
    candidates = [here, *here.parents, *Path(__file__).resolve().parents]
    for folder in candidates:
        if (folder / "modules").is_dir() and (folder / "deployment").is_dir():
            return folder
    return Path.cwd()


def read_json(path: Path) -> Any:
    """Parse a JSON file; RenderError with the line and column when it is not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise RenderError(f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc


def read_env_file(path: Path) -> dict[str, str]:
    """`KEY=VALUE` lines of a `.env` file, as iotedgedev reads it."""
    from edgeloop_dev.supervisor.envfile import parse_env_text
    from edgeloop_dev.supervisor.errors import ManifestError

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot read env file {path}: {exc.strerror or exc}") from exc
    try:
        return parse_env_text(text, source=str(path))
    except ManifestError as exc:
        raise RenderError(str(exc)) from exc


def variables(env_file: Path | None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env` values, overridden by the process environment (python-dotenv's default, as iotedgedev)."""
    values = read_env_file(env_file) if env_file is not None else {}
    values.update(os.environ if environ is None else environ)
    return values


def default_out(template: Path, platform: str, gpu: bool) -> Path:
    """`config/<template name less .template.json>.<platform>[.gpu].json`, as iotedgedev names it."""
    stem = template.name.removesuffix(".json").removesuffix(".template")
    return Path("config") / f"{stem}.{platform}{'.gpu' if gpu else ''}.json"


def write_json(path: Path, doc: object) -> None:
    """Write a manifest with 2-space indentation and a trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
