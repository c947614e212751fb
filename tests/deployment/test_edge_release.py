"""Shipped templates target IoT Edge 1.6 LTS, pass the ecosystem's own schemas, and fit the images."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DEPLOYMENT, PIPELINE, ROOT, TEMPLATES, load

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.layered import compose, unwrap
from edgeloop_dev.manifest.lint import lint_manifest
from edgeloop_dev.manifest.vendor_check import VendoredSchemas, vendor_findings

SHIPPED = {
    **TEMPLATES,
    "layered-base": DEPLOYMENT / "layered/base.template.json",
    "layered-site": DEPLOYMENT / "layered/site-pit-3.template.json",
    "gpu": DEPLOYMENT / "deployment.gpu.template.json",
    "debug-containers": DEPLOYMENT / "deployment.debug.containers.template.json",
}


@pytest.fixture(scope="module")
def vendored() -> VendoredSchemas:
    return VendoredSchemas.load(ROOT)


def _images(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "image" and isinstance(v, str)] + [
            image for v in node.values() for image in _images(v)
        ]
    if isinstance(node, list):
        return [image for v in node for image in _images(v)]
    return []


def _modules(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    agent = unwrap(doc)["modulesContent"]["$edgeAgent"]
    if "properties.desired" in agent:
        modules: dict[str, dict[str, Any]] = agent["properties.desired"]["modules"]
        return modules
    prefix = "properties.desired.modules."
    return {key[len(prefix) :]: value for key, value in agent.items() if key.startswith(prefix)}


def _routes(doc: dict[str, Any]) -> dict[str, Any]:
    hub = unwrap(doc)["modulesContent"]["$edgeHub"]
    if "properties.desired" in hub:
        routes: dict[str, Any] = hub["properties.desired"]["routes"]
        return routes
    prefix = "properties.desired.routes."
    return {key[len(prefix) :]: value for key, value in hub.items() if key.startswith(prefix)}


@pytest.mark.parametrize("kind", list(SHIPPED))
def test_runtime_images_are_iot_edge_1_6_lts_and_nothing_floats_on_latest(kind: str) -> None:
    images = [image for image in _images(load(SHIPPED[kind])) if not image.startswith("${MODULES.")]
    assert kind == "layered-site" or any("azureiotedge-hub" in image for image in images)
    for image in images:
        assert not image.endswith(":latest") and ":" in image.split("/")[-1], image
        if "azureiotedge-agent" in image or "azureiotedge-hub" in image:
            assert image.endswith(":1.6"), image


@pytest.mark.parametrize("kind", ["production", "debug", "layered-base", "gpu", "debug-containers"])
def test_edgehub_schema_version_is_the_one_template_4_0_requires(kind: str) -> None:
    doc = load(SHIPPED[kind])
    assert doc["$schema-template"] == "4.0.0"
    assert doc["modulesContent"]["$edgeHub"]["properties.desired"]["schemaVersion"] == "1.2"


@pytest.mark.parametrize("kind", ["production", "debug", "layered-base"])
def test_every_deadletter_output_is_routed(kind: str, catalog: dict[str, ModuleInfo]) -> None:
    doc = load(SHIPPED[kind])
    if kind == "layered-base":
        doc = compose(doc, load(SHIPPED["layered-site"]))
    routes = " ".join(r["route"] if isinstance(r, dict) else r for r in _routes(doc).values())
    for name in _modules(doc):
        info = catalog.get(name)
        if info is None or "deadletter" not in info.outputs:
            continue
        assert f"/messages/modules/{name}/outputs/deadletter INTO" in routes, name


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_templates_pass_schemastore_template_4_0(kind: str, vendored: VendoredSchemas) -> None:
    assert [str(f) for f in vendor_findings(load(TEMPLATES[kind]), vendored, template=True)] == []


@pytest.mark.parametrize(("kind", "platform", "gpu"), [("production", "amd64", False), ("production", "arm64v8", False), ("production", "amd64", True), ("debug", "amd64", False)])  # fmt: skip
def test_rendered_manifests_pass_schemastore_2_0_and_az(
    kind: str, platform: str, gpu: bool, render: Any, vendored: VendoredSchemas
) -> None:
    doc = render(kind, platform, gpu)
    assert "$schema-template" not in doc
    assert [str(f) for f in vendor_findings(doc, vendored, template=False)] == []


def test_lint_fails_where_the_vendored_schemas_fail(
    render: Any, catalog: dict[str, ModuleInfo], schema: dict[str, Any], vendored: VendoredSchemas
) -> None:
    doc = render("production", "amd64")
    doc["$schema-template"] = "4.0.0"  # what the renderer used to keep
    doc["modulesContent"]["$edgeHub"]["properties.desired"]["mqttBroker"] = {"bridges": [{"endpoint": "x"}]}
    found = {(f.rule, f.path) for f in lint_manifest(doc, catalog, schema, template=False, vendored=vendored)}
    assert ("schemastore", "") in found
    assert ("az-schema", "modulesContent.$edgeHub.properties.desired.mqttBroker.bridges.0.endpoint") in found
    old = load(TEMPLATES["production"])
    old["modulesContent"]["$edgeHub"]["properties.desired"]["schemaVersion"] = "1.1"
    found = {(f.rule, f.path) for f in lint_manifest(old, catalog, schema, template=True, vendored=vendored)}
    assert ("schemastore", "modulesContent.$edgeHub.properties.desired.schemaVersion") in found


def _create_options(module: dict[str, Any]) -> dict[str, Any]:
    options = module["settings"].get("createOptions", {})
    return json.loads(options) if isinstance(options, str) else dict(options)


@pytest.mark.parametrize("kind", ["production", "layered-base", "layered-site", "gpu", "debug-containers"])
def test_pipeline_containers_drop_capabilities_and_privilege_escalation(kind: str) -> None:
    modules = _modules(load(SHIPPED[kind]))
    ours = [name for name in modules if name in PIPELINE]
    assert ours
    for name in ours:
        host = _create_options(modules[name])["HostConfig"]
        assert host["ReadonlyRootfs"] is True, name
        assert host["CapDrop"] == ["ALL"], name
        assert host["SecurityOpt"] == ["no-new-privileges"], name


def _volumes(dockerfile: Path) -> set[str]:
    found: set[str] = set()
    for line in dockerfile.read_text().splitlines():
        if line.startswith("VOLUME "):
            found |= set(json.loads(line.removeprefix("VOLUME ")))
    return found


@pytest.mark.parametrize("kind", ["production", "layered-base", "layered-site"])
def test_writable_mounts_are_named_volumes_matching_the_image_volume_lines(kind: str) -> None:
    """A named volume starts with the image folder's owner (uid 10001); a host folder Docker creates is
    root's, where a non-root module cannot write. Read-only binds (configuration, models) may stay host paths."""
    for name, module in _modules(load(SHIPPED[kind])).items():
        if name not in PIPELINE:
            continue
        binds = _create_options(module)["HostConfig"].get("Binds", [])
        writable = {bind.split(":")[1] for bind in binds if not bind.endswith(":ro")}
        for bind in binds:
            if not bind.endswith(":ro"):
                assert re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+", bind.split(":")[0]), bind
        assert writable == _volumes(ROOT / "modules" / name / "Dockerfile.amd64"), name
