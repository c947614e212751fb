"""The fleet example: the base and the site layer validate, compose like IoT Hub composes them, and render."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deploy_helpers import DEPLOYMENT, PIPELINE, load

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.errors import RenderError
from edgeloop_dev.manifest.layered import compose, is_layered
from edgeloop_dev.manifest.lint import lint_layer, lint_manifest
from edgeloop_dev.manifest.render import RenderOptions, render_manifest
from edgeloop_dev.manifest.schema_check import load_schema

LAYERED = DEPLOYMENT / "layered"


@pytest.fixture(scope="module")
def layered_schema() -> dict[str, Any]:
    return load_schema(DEPLOYMENT / "schema" / "layered.schema.json")


def test_the_base_is_a_full_deployment_that_lints_clean(
    catalog: dict[str, ModuleInfo], schema: dict[str, Any]
) -> None:
    base = load(LAYERED / "base.template.json")
    assert not is_layered(base)
    assert [str(f) for f in lint_manifest(base, catalog, schema, template=True)] == []


def test_the_site_layer_validates_alone_and_composed_onto_the_base(
    catalog: dict[str, ModuleInfo], schema: dict[str, Any], layered_schema: dict[str, Any]
) -> None:
    base, site = load(LAYERED / "base.template.json"), load(LAYERED / "site-pit-3.template.json")
    assert is_layered(site)
    assert [str(f) for f in lint_layer(site, None, catalog, schema, layered_schema, template=True)] == []
    assert [str(f) for f in lint_layer(site, base, catalog, schema, layered_schema, template=True)] == []


def test_composed_fleet_runs_the_whole_pipeline() -> None:
    composed = compose(load(LAYERED / "base.template.json"), load(LAYERED / "site-pit-3.template.json"))
    modules = composed["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    assert set(PIPELINE) <= set(modules)
    full = load(DEPLOYMENT / "deployment.template.json")
    assert set(composed["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]) == set(
        full["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    )
    rules = composed["modulesContent"]["anomaly_filter"]["properties.desired"]["rules"]
    assert rules["summaryPeriodS"] == 600  # the path the layer sets
    assert rules["rules"]  # the base's rules stay


def test_a_layer_route_to_a_missing_module_is_caught_against_the_base(
    catalog: dict[str, ModuleInfo], schema: dict[str, Any], layered_schema: dict[str, Any]
) -> None:
    base, site = load(LAYERED / "base.template.json"), load(LAYERED / "site-pit-3.template.json")
    del site["content"]["modulesContent"]["$edgeAgent"]["properties.desired.modules.opcua_writeback"]
    del site["content"]["modulesContent"]["opcua_writeback"]
    findings = lint_layer(site, base, catalog, schema, layered_schema, template=True)
    assert {f.rule for f in findings} == {"route-unknown-module"}
    assert all(f.message.startswith("with the base layer:") for f in findings)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("properties.desired.runtime", {"type": "docker"}, id="layer-sets-the-runtime"),
        pytest.param("properties.desired.modules.x", {"type": "docker"}, id="module-without-settings"),
    ],
)
def test_the_layered_schema_refuses_what_a_layer_cannot_carry(
    key: str,
    value: object,
    catalog: dict[str, ModuleInfo],
    schema: dict[str, Any],
    layered_schema: dict[str, Any],
) -> None:
    site = load(LAYERED / "site-pit-3.template.json")
    site["content"]["modulesContent"]["$edgeAgent"][key] = value
    findings = lint_layer(site, None, catalog, schema, layered_schema, template=True)
    assert findings and {f.rule for f in findings} == {"schema"}


def test_compose_refuses_a_layer_key_that_is_not_a_desired_path() -> None:
    with pytest.raises(RenderError, match=r"a layer sets properties\.desired or properties\.desired\.<path>"):
        compose(load(LAYERED / "base.template.json"), {"modulesContent": {"m": {"tags": {}}}})


def test_the_layer_renders_with_images_and_chunked_create_options(
    catalog: dict[str, ModuleInfo],
    example_variables: dict[str, str],
    schema: dict[str, Any],
    layered_schema: dict[str, Any],
) -> None:
    site = render_manifest(
        load(LAYERED / "site-pit-3.template.json"),
        catalog,
        RenderOptions("arm64v8", variables=example_variables, strict=True),
    )
    module = site["content"]["modulesContent"]["$edgeAgent"]["properties.desired.modules.opcua_ingest"]
    assert (
        module["settings"]["image"]
        == f"myregistry.azurecr.io/edgeloop/opcua_ingest:{catalog['opcua_ingest'].version}-arm64v8"
    )
    assert isinstance(module["settings"]["createOptions"], str)
    assert [str(f) for f in lint_layer(site, None, catalog, schema, layered_schema, template=False)] == []


def test_fleet_targets_the_site_above_the_base() -> None:
    fleet = json.loads((LAYERED / "fleet.json").read_text(encoding="utf-8"))["deployments"]
    base, site = fleet
    assert not base["layered"] and site["layered"]
    assert site["priority"] > base["priority"]
    assert "tags.site='pit-3'" in site["targetCondition"]
    for entry in fleet:
        assert (LAYERED / entry["template"]).is_file()
    readme = (LAYERED / "README.md").read_text(encoding="utf-8")
    assert (
        "az iot edge deployment create" in readme
        and "--layered" in readme
        and "az iot edge set-modules" in readme
    )
    for entry in fleet:
        assert entry["targetCondition"] in readme
