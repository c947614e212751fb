"""Module Dockerfiles are generated from one template, up to date, and lint clean with hadolint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfiles_match_the_template() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/dockerfiles.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfiles_lint_clean() -> None:
    files = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("modules/*/Dockerfile.*"))
    if (ROOT / "modules/inference/module.json").exists():
        assert "modules/inference/Dockerfile.amd64.gpu" in files
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), *files], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_images_carry_only_their_module() -> None:
    text = (ROOT / "modules/example_module/Dockerfile.amd64").read_text()
    copies = [line for line in text.splitlines() if line.startswith("COPY ")]
    assert "COPY modules/example_module modules/example_module" in copies
    assert not any("edgeloop_dev" in line or "modules/inference" in line for line in copies)
    assert "USER 10001:10001" in text and "HEALTHCHECK" in text
