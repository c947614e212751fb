"""The module images, built once per test session by scripts/build_images (podman caches the layers)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from podman_flags import ROOT, podman_ready


@pytest.fixture(scope="session")
def built() -> Iterator[None]:
    """All seven amd64 images on the locally built base, or a skip naming what is missing."""
    reason = podman_ready()
    if reason:
        pytest.skip(reason)
    if os.environ.get("EDGELOOP_IMAGES_BUILT") == "1":  # by hand: scripts/build_images --local-base just ran
        yield
        return
    build = subprocess.run(
        ["scripts/build_images", "--local-base"], cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    yield
