"""The contract docs are generated: schemas from the models, tables from module.json and the template's routes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import jsonschema
import msgspec
import pytest

from edgeloop_contracts.base import Contract
from edgeloop_contracts.registry import ContractInfo
from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.contract_check import compiled_routes
from edgeloop_dev.manifest.contract_docs import BEGIN, END, fields, schema, schema_files, section, updated

ROOT = Path(__file__).resolve().parents[2]


class Reading(Contract):
    """A toy contract for these tests."""

    KIND: ClassVar[str] = "reading"
    asset_id: str
    value: float
    unit: str | None = None


TOY = {
    "reading": ContractInfo("reading", "application/json", Reading, summary="one value"),
    "jpeg-frame": ContractInfo("jpeg-frame", "image/jpeg", None, enveloped=False, summary="JPEG bytes"),
}


def _info(name: str, inputs: dict[str, str], outputs: dict[str, tuple[str, str]]) -> ModuleInfo:
    return ModuleInfo(
        name,
        f"r/{name}",
        "1.0.0",
        inputs=tuple(inputs),
        outputs={k: t for k, (_, t) in outputs.items()},
        input_contracts=inputs,
        output_contracts={k: c for k, (c, _) in outputs.items()},
    )


CATALOG = {
    "producer": _info(
        "producer", {}, {"readings": ("reading", "application/json"), "deadletter": ("*", "*")}
    ),
    "consumer": _info(
        "consumer", {"readings": "reading", "frames": "jpeg-frame"}, {"results": ("result", "*")}
    ),
}
ROUTES = compiled_routes(
    {
        "routes": {
            "r": "FROM /messages/modules/producer/outputs/readings WHERE $body.value > 1 "
            'INTO BrokeredEndpoint("/modules/consumer/inputs/readings")',
            "up": "FROM /messages/modules/producer/* INTO $upstream",
        }
    }
)


def test_a_schema_is_msgspec_s_with_what_the_registry_says_of_the_contract() -> None:
    doc = schema(TOY["reading"])
    assert doc is not None
    generated = msgspec.json.schema(Reading)
    assert {k: doc[k] for k in generated} == generated
    assert doc["title"] == "reading"
    assert (
        doc["description"]
        == "the `data` of a version-1 envelope whose `kind` is 'reading', version 1: one value"
    )
    assert (doc["x-contentType"], doc["x-enveloped"]) == ("application/json", True)


def test_a_schema_is_valid_json_schema_that_accepts_an_encoded_body_and_refuses_a_wrong_one() -> None:
    doc = schema(TOY["reading"])
    assert doc is not None
    validator = jsonschema.Draft202012Validator(doc)
    validator.check_schema(doc)
    assert validator.is_valid(json.loads(msgspec.json.encode(Reading(asset_id="p1", value=2.5))))
    assert [e.message for e in validator.iter_errors({"assetId": "p1", "value": "high"})] == [
        "'high' is not of type 'number'"
    ]


def test_a_contract_without_a_model_has_no_schema_file() -> None:
    assert schema(TOY["jpeg-frame"]) is None
    assert list(schema_files(TOY)) == ["docs/contracts/reading.schema.json"]


def test_fields_are_the_wire_names_with_optional_ones_marked() -> None:
    assert fields(msgspec.json.schema(Reading)) == "`assetId`, `value`, `unit?`"


def test_each_output_row_names_its_receivers_through_the_routes_and_its_contract() -> None:
    text = section(TOY, CATALOG, CATALOG, ROUTES, "t.json")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[:3] == [
        "| `consumer/results` | nowhere | `result` (not registered yet) | - |",
        "| `producer/readings` | `consumer/readings` (WHERE $body.value > 1), `$upstream` | `reading` | "
        "[schema](docs/contracts/reading.schema.json): `assetId`, `value`, `unit?` |",
        "| `producer/deadletter` | `$upstream` | any (`*`) | - |",
    ]


def test_each_contract_row_lists_the_ports_that_declare_it() -> None:
    text = section(TOY, CATALOG, CATALOG, ROUTES, "t.json")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert rows[3:] == [
        "| `jpeg-frame` | image/jpeg | no | - | `consumer/frames` | JPEG bytes |",
        "| `reading` | application/json | yes | `producer/readings` | `consumer/readings` | one value |",
    ]


def test_the_section_replaces_only_what_is_between_the_markers() -> None:
    text = f"# head\n{BEGIN}\nold\n{END}\ntail\n"
    assert updated(text, f"{BEGIN}\nnew\n{END}") == f"# head\n{BEGIN}\nnew\n{END}\ntail\n"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/contract_docs.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_the_checkout_s_contract_docs_are_up_to_date() -> None:
    result = run("--check")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """What the script reads and writes, copied: DEVELOPERS.md, every module.json, the template, the schemas."""
    shutil.copy(ROOT / "DEVELOPERS.md", tmp_path / "DEVELOPERS.md")
    for path in (ROOT / "modules").glob("*/module.json"):
        (tmp_path / "modules" / path.parent.name).mkdir(parents=True)
        shutil.copy(path, tmp_path / "modules" / path.parent.name / "module.json")
    (tmp_path / "deployment").mkdir()
    shutil.copy(ROOT / "deployment/deployment.template.json", tmp_path / "deployment")
    shutil.copytree(ROOT / "docs/contracts", tmp_path / "docs/contracts")
    return tmp_path


def test_check_fails_naming_a_stale_table_and_writing_fixes_it(checkout: Path) -> None:
    developers = checkout / "DEVELOPERS.md"
    meta = json.loads((checkout / "modules/inference/module.json").read_text())
    meta["edgeloop"]["outputs"]["drift"]["contract"] = "drift-v2"
    (checkout / "modules/inference/module.json").write_text(json.dumps(meta))
    result = run("--check", "--root", str(checkout))
    assert (result.returncode, result.stdout.splitlines()) == (
        1,
        ["out of date (run scripts/contract_docs.py):", "  DEVELOPERS.md"],
    )
    assert run("--root", str(checkout)).returncode == 0
    assert "| `inference/drift` | `upstream_router/drift` | `drift-v2` (not registered yet) | - |" in (
        developers.read_text()
    )
    assert run("--check", "--root", str(checkout)).returncode == 0


def test_check_fails_on_a_schema_of_no_registered_contract(checkout: Path) -> None:
    (checkout / "docs/contracts").mkdir(parents=True, exist_ok=True)
    (checkout / "docs/contracts/ghost.schema.json").write_text("{}")
    result = run("--check", "--root", str(checkout))
    assert result.returncode == 1
    assert "docs/contracts/ghost.schema.json (no such contract)" in result.stdout
