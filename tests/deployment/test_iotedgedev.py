"""The real `iotedgedev solution genconfig` reads the repository as it is and writes what `edgeloop manifest render` writes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy_helpers import DEPLOYMENT, ROOT
from tool_venv import tool_venv


def _checkout(tmp_path: Path) -> Path:
    """deployment/ and modules/ (module.json and Dockerfiles) with .env from deployment/.env.example."""
    repo = tmp_path / "repo"
    shutil.copytree(DEPLOYMENT, repo / "deployment")
    for module_json in ROOT.glob("modules/*/module.json"):
        target = repo / module_json.relative_to(ROOT)
        target.parent.mkdir(parents=True)
        shutil.copy(module_json, target)
        for dockerfile in module_json.parent.glob("Dockerfile*"):
            shutil.copy(dockerfile, target.parent / dockerfile.name)
    shutil.copy(DEPLOYMENT / ".env.example", repo / ".env")
    return repo


CASES = [
    pytest.param("deployment/deployment.template.json", "amd64", "../modules", id="full-amd64"),
    pytest.param("deployment/deployment.template.json", "arm64v8", "../modules", id="full-arm64v8"),
    # a layer one folder deeper: MODULES_PATH from the environment (it wins over .env)
    pytest.param("deployment/layered/site-pit-3.template.json", "amd64", "../../modules", id="layer-amd64"),
    # the GPU flavour as a template of its own: iotedgedev knows no overlay, but `${MODULES.x.amd64.gpu}`
    pytest.param("deployment/deployment.gpu.template.json", "amd64", "../modules", id="gpu-amd64"),
]


@pytest.mark.parametrize(("template", "platform", "modules_path"), CASES)
def test_genconfig_output_equals_edgeloop_render(
    tmp_path: Path, template: str, platform: str, modules_path: str
) -> None:
    bin_dir = tool_venv()
    repo = _checkout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINER_REGISTRY", "MODULES_PATH"))}
    gen = subprocess.run(
        [
            str(bin_dir / "iotedgedev"),
            "solution",
            "genconfig",
            "-f",
            template,
            "-P",
            platform,
        ],
        cwd=repo,
        env={**env, "PATH": f"{bin_dir}:{env['PATH']}", "MODULES_PATH": modules_path},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert gen.returncode == 0, gen.stdout[-3000:] + gen.stderr[-3000:]
    (written,) = (repo / "config").glob("*.json")  # iotedgedev names it after its own settings
    theirs = json.loads(written.read_text())
    ours_path = tmp_path / "ours.json"
    render = subprocess.run(
        [sys.executable, "-m", "edgeloop_dev.cli", "manifest", "render", "--platform", platform,
         "--template", str(repo / template), "--env-file", str(repo / ".env"),
         "--modules-dir", str(repo / "modules"), "--out", str(ours_path)],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert render.returncode == 0, render.stdout + render.stderr
    ours = json.loads(ours_path.read_text())
    assert "${MODULES." not in json.dumps(theirs)
    assert theirs == ours


def test_the_gpu_template_is_the_template_with_the_gpu_overlay() -> None:
    """deployment.gpu.template.json is what `render --gpu` makes of deployment.template.json, with the
    inference image pinned to its amd64.gpu platform (iotedgedev applies no overlay)."""
    from edgeloop_runtime.settings import merge_patch

    template = json.loads((DEPLOYMENT / "deployment.template.json").read_text())
    overlay = json.loads((DEPLOYMENT / "gpu.overlay.json").read_text())
    expected = merge_patch(template, {k: v for k, v in overlay.items() if k != "$comment"})
    modules = expected["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    modules["inference"]["settings"]["image"] = "${MODULES.inference.amd64.gpu}"
    assert json.loads((DEPLOYMENT / "deployment.gpu.template.json").read_text()) == expected, (
        "regenerate deployment/deployment.gpu.template.json from the template and gpu.overlay.json"
    )
