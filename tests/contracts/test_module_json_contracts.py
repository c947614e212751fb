"""Every module.json port names a contract the registry knows, carried with the registry's content type."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop_contracts.registry import CONTRACTS, ContractInfo
from edgeloop_dev.manifest.catalog import load_catalog
from edgeloop_dev.manifest.contract_names import Declared, declared, problem, registry_findings, undeclared

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(ROOT / "modules")

# Registered on branches being written beside this one (issue #13 item 1): until a branch is merged none of
# its names is in the registry, and a port naming one is an expected failure; as soon as one of a branch's
# names is registered, every port naming any of them must resolve (the merge turns the check strict).
BRANCHES = {
    "s6-c1 (enveloped contracts)": frozenset(
        {"score", "drift", "prediction", "model-evaluation", "anomaly", "writeRequest", "summary", "audit"}
        | {"alarm", "batch", "envelope"}
    ),
    "s6-c2 (PubSub)": frozenset({"opcua-pubsub"}),
}
UNMERGED = {
    name: branch for branch, names in BRANCHES.items() if not names & CONTRACTS.keys() for name in names
}


@pytest.mark.parametrize("item", list(declared(CATALOG)), ids=lambda d: f"{d.module}.{d.direction}.{d.port}")
def test_each_declared_contract_is_registered(item: Declared) -> None:
    if item.contract in UNMERGED:
        pytest.xfail(f"{item.contract!r} comes with branch {UNMERGED[item.contract]}, not merged yet")
    assert problem(item, CONTRACTS) is None


def test_every_port_of_every_module_names_a_contract() -> None:
    assert undeclared(CATALOG) == []


TOY = {
    "reading": ContractInfo("reading", "application/json", None, summary="a toy contract for this test"),
    "jpeg-frame": ContractInfo("jpeg-frame", "image/jpeg", None, enveloped=False),
}
TOY_PORTS = [
    pytest.param(Declared("m", "inputs", "in", "reading"), None, id="registered-input"),
    pytest.param(Declared("m", "outputs", "out", "*", "*"), None, id="any"),
    pytest.param(
        Declared("m", "outputs", "out", "reading", "application/json"), None, id="registered-output"
    ),
    pytest.param(
        Declared("m", "inputs", "in", "readings"),
        "contract 'readings' is not in the registry (registered: jpeg-frame, reading)",
        id="unknown-name",
    ),
    pytest.param(
        Declared("m", "outputs", "out", "jpeg-frame", "application/json"),
        "contentType 'application/json' but contract 'jpeg-frame' is carried as 'image/jpeg'",
        id="other-content-type",
    ),
]


@pytest.mark.parametrize(("item", "why"), TOY_PORTS)
def test_a_port_fits_the_registry_by_name_and_content_type(item: Declared, why: str | None) -> None:
    assert problem(item, TOY) == why


def test_registry_findings_say_which_module_json_and_port() -> None:
    catalog = {name: info for name, info in CATALOG.items() if name == "camera_ingest"}
    assert registry_findings(catalog, TOY) == []
    [finding] = registry_findings(catalog, {})
    assert str(finding) == (
        "modules/camera_ingest/module.json: edgeloop.outputs.frames: contract 'jpeg-frame' is not in the "
        "registry (registered: none) [contract-registry]"
    )
