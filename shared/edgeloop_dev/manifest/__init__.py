"""Deployment manifest tools: render a template like `iotedgedev genconfig`, and lint a manifest."""

from __future__ import annotations

from .catalog import ModuleInfo, load_catalog
from .errors import RenderError
from .findings import Finding
from .lint import lint_manifest
from .render import RenderOptions, render_manifest

__all__ = [
    "Finding",
    "ModuleInfo",
    "RenderError",
    "RenderOptions",
    "lint_manifest",
    "load_catalog",
    "render_manifest",
]
