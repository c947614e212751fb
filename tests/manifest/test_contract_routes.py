"""A route joins an output and an input of the same contract (`*` takes any); outputs routed nowhere warn."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.cli import main
from edgeloop_dev.manifest.catalog import ModuleInfo, parse_module_json
from edgeloop_dev.manifest.errors import RenderError
from edgeloop_dev.manifest.lint import lint_manifest

ROUTES = "modulesContent.$edgeHub.properties.desired.routes"


def sink(module: str, name: str) -> str:
    return f'BrokeredEndpoint("/modules/{module}/inputs/{name}")'


def routes(m: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = m["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    return result


@pytest.fixture
def contracted(catalog: dict[str, ModuleInfo]) -> dict[str, ModuleInfo]:
    """The conftest catalog with contracts: readings carry `reading`, frames `jpeg-frame`, results `result`."""
    producer, consumer = catalog["producer"], catalog["consumer"]
    return {
        "producer": dataclasses.replace(
            producer, output_contracts={"readings": "reading", "frames": "jpeg-frame", "deadletter": "*"}
        ),
        "consumer": dataclasses.replace(
            consumer,
            inputs=(*consumer.inputs, "anything"),
            input_contracts={"readings": "reading", "frames": "jpeg-frame", "anything": "*"},
            output_contracts={"results": "result"},
        ),
    }


def errors(manifest: dict[str, Any], catalog: dict[str, ModuleInfo], schema: Any) -> list[str]:
    return [str(f) for f in lint_manifest(manifest, catalog, schema, template=True)]


def test_routes_between_ports_of_the_same_contract_are_clean(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    assert errors(manifest, contracted, schema) == []


def test_a_route_between_two_contracts_names_route_output_input_and_both_contracts(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    routes(manifest)["frames"] = (
        f"FROM /messages/modules/producer/outputs/frames INTO {sink('consumer', 'readings')}"
    )
    findings = lint_manifest(manifest, contracted, schema, template=True)
    assert [(f.rule, f.path, f.severity) for f in findings] == [
        ("route-contract", f"{ROUTES}.frames", "error")
    ]
    assert findings[0].message == (
        "route frames connects output producer/frames (contract 'jpeg-frame') "
        "to input consumer/readings (contract 'reading')"
    )


@pytest.mark.parametrize(
    "route",
    [
        pytest.param(
            f"FROM /messages/modules/producer/outputs/deadletter INTO {sink('consumer', 'readings')}",
            id="any-output-into-a-contract",
        ),
        pytest.param(
            f"FROM /messages/modules/producer/outputs/frames INTO {sink('consumer', 'anything')}",
            id="a-contract-into-an-any-input",
        ),
    ],
)
def test_star_on_either_side_matches_any_contract(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any, route: str
) -> None:
    routes(manifest)["extra"] = route
    assert errors(manifest, contracted, schema) == []


def test_a_wildcard_source_is_checked_for_each_output_it_selects(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    routes(manifest)["all"] = f"FROM /messages/modules/producer/outputs/* INTO {sink('consumer', 'readings')}"
    findings = lint_manifest(manifest, contracted, schema, template=True)
    assert [f.message for f in findings] == [
        "route all connects output producer/frames (contract 'jpeg-frame') "
        "to input consumer/readings (contract 'reading')"
    ]


def test_a_source_naming_no_module_is_not_checked(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    """Its condition decides whose messages pass (here: leaf devices' only), which the lint cannot tell."""
    routes(manifest)["leaf"] = (
        f"FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO {sink('consumer', 'readings')}"
    )
    assert errors(manifest, contracted, schema) == []


def test_a_side_without_a_declared_contract_is_not_checked(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    contracted["producer"] = dataclasses.replace(contracted["producer"], output_contracts={})
    routes(manifest)["frames"] = (
        f"FROM /messages/modules/producer/outputs/frames INTO {sink('consumer', 'readings')}"
    )
    assert errors(manifest, contracted, schema) == []


def test_outputs_routed_nowhere_are_one_warning_per_module_listing_them(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    del routes(manifest)["frames"]
    findings = lint_manifest(manifest, contracted, schema, template=True, warnings=True)
    assert [(f.rule, f.severity) for f in findings] == [("output-unrouted", "warning")]
    assert findings[0].path == "modulesContent.$edgeAgent.properties.desired.modules.producer"
    assert findings[0].message.endswith("routed nowhere (edgeHub drops what they send): frames")
    assert "warning: " in str(findings[0])


def test_warnings_are_only_given_when_asked(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    del routes(manifest)["deadletter"]
    assert errors(manifest, contracted, schema) == []
    warned = lint_manifest(manifest, contracted, schema, template=True, warnings=True)
    assert [f.message.rsplit(": ", 1)[1] for f in warned] == ["deadletter"]


def test_a_source_of_every_message_routes_every_output(
    manifest: dict[str, Any], contracted: dict[str, ModuleInfo], schema: Any
) -> None:
    del routes(manifest)["frames"], routes(manifest)["deadletter"]
    routes(manifest)["everything"] = "FROM /messages/* INTO $upstream"
    assert lint_manifest(manifest, contracted, schema, template=True, warnings=True) == []


def test_contracts_and_content_types_parse_from_the_object_forms() -> None:
    doc = {
        "image": {"repository": "r", "tag": {"version": "1", "platforms": {}}},
        "edgeloop": {
            "inputs": {"scores": {"contract": "score"}},
            "outputs": {
                "anomalies": {"contract": "anomaly", "contentType": "application/json"},
                "deadletter": {"contract": "*", "contentType": "*"},
            },
        },
    }
    info = parse_module_json("m", doc)
    assert (info.inputs, info.input_contracts) == (("scores",), {"scores": "score"})
    assert info.outputs == {"anomalies": "application/json", "deadletter": "*"}
    assert info.output_contracts == {"anomalies": "anomaly", "deadletter": "*"}
    assert info.is_json_output("anomalies")


@pytest.mark.parametrize(
    ("edgeloop", "message"),
    [
        pytest.param(
            {"inputs": {"a": {"contract": 3}}}, "edgeloop.inputs.a: 'contract' must be", id="input-contract"
        ),
        pytest.param({"inputs": {"a": "score"}}, "edgeloop.inputs must be a list", id="input-bare-string"),
        pytest.param(
            {"outputs": {"a": {"contract": "score"}}},
            "edgeloop.outputs must map",
            id="output-no-content-type",
        ),
        pytest.param(
            {"outputs": {"a": {"contract": "", "contentType": "*"}}},
            "edgeloop.outputs.a: 'contract' must be",
            id="output-empty-contract",
        ),
    ],
)
def test_bad_contract_declarations_are_clear_errors(edgeloop: dict[str, Any], message: str) -> None:
    doc = {"image": {"repository": "r", "tag": {"version": "1", "platforms": {}}}, "edgeloop": edgeloop}
    with pytest.raises(RenderError, match=message):
        parse_module_json("m", doc)


def _workspace(tmp: Path, manifest: dict[str, Any], readings_input: str) -> Path:
    ports = {
        "producer": ({}, {"readings": ("reading", "application/json"), "deadletter": ("*", "*")}),
        "consumer": (
            {"readings": readings_input, "frames": "jpeg-frame"},
            {"results": ("result", "application/json")},
        ),
    }
    for name, (inputs, outputs) in ports.items():
        folder = tmp / "modules" / name
        folder.mkdir(parents=True)
        doc = {
            "image": {"repository": f"r/{name}", "tag": {"version": "1.0.0", "platforms": {"amd64": "./D"}}},
            "edgeloop": {
                "inputs": {k: {"contract": v} for k, v in inputs.items()},
                "outputs": {k: {"contract": c, "contentType": t} for k, (c, t) in outputs.items()},
            },
        }
        (folder / "module.json").write_text(json.dumps(doc), encoding="utf-8")
    del routes(manifest)["frames"], routes(manifest)["deadletter"]
    path = tmp / "deployment.template.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def test_lint_cli_prints_warnings_and_still_passes(
    tmp_path: Path, manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    template = _workspace(tmp_path, manifest, "reading")
    assert main(["manifest", "lint", str(template), "--modules-dir", str(tmp_path / "modules")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{template}: modulesContent.$edgeAgent.properties.desired.modules.producer: warning: producer outputs "
        "routed nowhere (edgeHub drops what they send): deadletter [output-unrouted]",
        f"{template}: ok (template, 1 warning)",
    ]


def test_lint_cli_fails_on_a_contract_mismatch(
    tmp_path: Path, manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    template = _workspace(tmp_path, manifest, "score")
    assert main(["manifest", "lint", str(template), "--modules-dir", str(tmp_path / "modules")]) == 1
    out = capsys.readouterr().out
    assert "route readings connects output producer/readings (contract 'reading') to input " in out
    assert "consumer/readings (contract 'score') [route-contract]" in out
