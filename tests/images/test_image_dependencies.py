"""Every module image's dependency set resolves on each image platform (amd64, arm64v8, amd64.gpu) from the
package index, wheels only, nothing installed (scripts/resolve_image_deps.py)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from podman_flags import ROOT

SCRIPT = ROOT / "scripts/resolve_image_deps.py"


def _index_unreachable() -> str | None:
    try:
        with urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=15):
            return None
    except OSError as exc:
        return f"PyPI unreachable ({exc}): the dependency sets cannot be resolved here"


@pytest.mark.timeout(900)
@pytest.mark.parametrize(
    "platform", ["amd64", "arm64v8", pytest.param("amd64.gpu", marks=pytest.mark.slow)]
)  # the GPU set downloads onnxruntime-gpu's and CUDA's metadata: minutes
def test_every_module_set_resolves_for_the_platform(platform: str) -> None:
    reason = _index_unreachable()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--platform", platform], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]  # "does not resolve: <platform>: <package> ..."
    modules = sorted(p.parent.name for p in ROOT.glob(f"modules/*/Dockerfile.{platform}"))
    header = next(line for line in result.stdout.splitlines() if line.startswith("| project |"))
    assert header == "| project | " + " | ".join(modules) + " |"
    assert "| paho-mqtt | 1.6.1" in result.stdout  # sdist only on PyPI: built here as a pure-Python wheel


def test_a_project_without_a_wheel_is_named(tmp_path: Path) -> None:
    reason = _index_unreachable()
    if reason:
        pytest.skip(reason)
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import resolve_image_deps as rid
    finally:
        sys.path.remove(str(SCRIPT.parent))
    with pytest.raises(rid.ResolveError, match=r"arm64v8: tensorrt-cu13-libs has no wheel for aarch64"):
        rid.resolve(["tensorrt-cu13-libs>=10"], rid.TARGETS["arm64v8"], tmp_path)
