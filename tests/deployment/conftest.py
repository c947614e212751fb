"""The repository's templates, rendered once per platform with deployment/.env.example's values."""

from __future__ import annotations

from typing import Any

import pytest
from deploy_helpers import DEPLOYMENT, ROOT, TEMPLATES, load

from edgeloop_dev.manifest.catalog import ModuleInfo, load_catalog
from edgeloop_dev.manifest.files import read_env_file
from edgeloop_dev.manifest.render import RenderOptions, render_manifest
from edgeloop_dev.manifest.schema_check import load_schema


@pytest.fixture(scope="session")
def catalog() -> dict[str, ModuleInfo]:
    """Every module.json in modules/."""
    return load_catalog(ROOT / "modules")


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    """deployment/schema/deployment.schema.json."""
    return load_schema(DEPLOYMENT / "schema" / "deployment.schema.json")


@pytest.fixture(scope="session")
def example_variables() -> dict[str, str]:
    """deployment/.env.example's values (placeholders, but every name the templates use)."""
    return read_env_file(DEPLOYMENT / ".env.example")


@pytest.fixture(scope="session")
def render(catalog: dict[str, ModuleInfo], example_variables: dict[str, str]) -> Any:
    """render(kind, platform, gpu=False) -> a concrete manifest, strict about placeholders."""

    def _render(kind: str, platform: str, gpu: bool = False) -> dict[str, Any]:
        options = RenderOptions(
            platform,
            gpu=gpu,
            variables=example_variables,
            gpu_overlay=load(DEPLOYMENT / "gpu.overlay.json"),
            strict=True,
        )
        return render_manifest(load(TEMPLATES[kind]), catalog, options)

    return _render
