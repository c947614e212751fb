"""`edgeloop manifest render | lint` as a user runs them: files in, files and one line per finding out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.cli import main

MODULE_JSON = {
    "producer": (["x"], {"readings": "application/json", "frames": "image/jpeg", "deadletter": "*"}),
    "consumer": (["readings", "frames"], {"results": "application/json"}),
}


@pytest.fixture
def workspace(tmp_path: Path, manifest: dict[str, Any]) -> Path:
    """A template, a modules/ folder with two module.json files and a .env file."""
    for name, (inputs, outputs) in MODULE_JSON.items():
        folder = tmp_path / "modules" / name
        folder.mkdir(parents=True)
        doc = {
            "image": {
                "repository": f"${{CONTAINER_REGISTRY_ADDRESS}}/edgeloop/{name}",
                "tag": {
                    "version": "2.0.1",
                    "platforms": {"amd64": "./Dockerfile.amd64", "arm64v8": "./Dockerfile.arm64v8"},
                },
            },
            "edgeloop": {"inputs": inputs, "outputs": outputs},
        }
        (folder / "module.json").write_text(json.dumps(doc), encoding="utf-8")
    (tmp_path / "deployment.template.json").write_text(json.dumps(manifest), encoding="utf-8")
    (tmp_path / "site.env").write_text(
        "# registry\nCONTAINER_REGISTRY_ADDRESS=acr.example.io\n", encoding="utf-8"
    )
    return tmp_path


def render(workspace: Path, *extra: str) -> int:
    return main(
        [
            "manifest",
            "render",
            "--template",
            str(workspace / "deployment.template.json"),
            "--modules-dir",
            str(workspace / "modules"),
            "--env-file",
            str(workspace / "site.env"),
            *extra,
        ]
    )


def test_render_writes_a_manifest_that_lints_clean(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = workspace / "config" / "deployment.arm64v8.json"
    assert render(workspace, "--platform", "arm64v8", "--out", str(out)) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    image = doc["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["producer"]["settings"][
        "image"
    ]
    assert image == "acr.example.io/edgeloop/producer:2.0.1-arm64v8"
    assert "wrote" in capsys.readouterr().out
    assert main(["manifest", "lint", str(out), "--modules-dir", str(workspace / "modules")]) == 0
    assert capsys.readouterr().out.strip().endswith("ok (rendered)")


def test_render_without_the_variables_fails_and_says_what_is_missing(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONTAINER_REGISTRY_ADDRESS", raising=False)
    (workspace / "site.env").write_text("OTHER=1\n", encoding="utf-8")
    out = workspace / "out.json"
    assert render(workspace, "--platform", "amd64", "--out", str(out)) == 1
    assert "CONTAINER_REGISTRY_ADDRESS" in capsys.readouterr().out
    assert not out.exists()


def test_the_environment_overrides_the_env_file(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTAINER_REGISTRY_ADDRESS", "ci-registry.io")
    out = workspace / "out.json"
    assert render(workspace, "--platform", "amd64", "--out", str(out)) == 0
    assert "ci-registry.io/edgeloop/consumer:2.0.1-amd64" in out.read_text(encoding="utf-8")


def test_lint_prints_one_line_per_finding_and_exits_1(
    workspace: Path, manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    routes = manifest["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    routes["frames"] = (
        'FROM /messages/modules/producer/outputs/frames WHERE $body.w > 1 INTO BrokeredEndpoint("/modules/consumer/inputs/nope")'
    )
    routes["readings"]["timeToLiveSecs"] = -1
    bad = workspace / "bad.template.json"
    bad.write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["manifest", "lint", str(bad), "--modules-dir", str(workspace / "modules")]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3, lines
    assert all(
        line.startswith(f"{bad}: modulesContent.$edgeHub.properties.desired.routes.") for line in lines
    )
    assert sorted(line.rsplit("[", 1)[1] for line in lines) == [
        "route-body-not-json]",
        "route-ttl]",
        "route-unknown-input]",
    ]


def test_lint_reports_a_file_that_is_not_json(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = workspace / "broken.json"
    broken.write_text('{"modulesContent": ', encoding="utf-8")
    assert main(["manifest", "lint", str(broken)]) == 1
    assert "not JSON at line 1, column 20" in capsys.readouterr().out


def test_lint_checks_a_template_as_a_template(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = workspace / "deployment.template.json"
    assert main(["manifest", "lint", str(template), "--modules-dir", str(workspace / "modules")]) == 0
    assert "ok (template)" in capsys.readouterr().out
    assert (
        main(
            [
                "manifest",
                "lint",
                "--kind",
                "rendered",
                str(template),
                "--modules-dir",
                str(workspace / "modules"),
            ]
        )
        == 1
    )
    assert "[unresolved-placeholder]" in capsys.readouterr().out
