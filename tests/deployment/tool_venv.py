"""The ecosystem's own tools (iotedgedev, iotedgehubdev), pinned, in a venv of their own beside .venv."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from deploy_helpers import ROOT

TOOLS = ("iotedgedev==3.3.9", "iotedgehubdev==0.14.19")
VENV = ROOT / ".venv" / "edgeloop-tools" / "iotedge"


def tool_venv() -> Path:
    """The venv's bin folder, created and filled on first use (they conflict with .venv's pins)."""
    stamp = VENV / "installed.txt"
    if stamp.is_file() and stamp.read_text() == "\n".join(TOOLS):
        return VENV / "bin"
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
    install = subprocess.run(
        [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *TOOLS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    stamp.write_text("\n".join(TOOLS))
    return VENV / "bin"
