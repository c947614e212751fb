"""Rendering a template: images from module.json, variables, the GPU overlay and createOptions parts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgeloop_dev.manifest.catalog import ModuleInfo, parse_module_json
from edgeloop_dev.manifest.createoptions import joined
from edgeloop_dev.manifest.errors import RenderError
from edgeloop_dev.manifest.files import default_out
from edgeloop_dev.manifest.render import RenderOptions, render_manifest

VARS = {"CONTAINER_REGISTRY_ADDRESS": "registry.example"}
OVERLAY = {
    "$comment": "not merged",
    "modulesContent": {
        "$edgeAgent": {
            "properties.desired": {
                "modules": {
                    "consumer": {
                        "env": {"PROVIDERS": {"value": '["cuda","cpu"]'}},
                        "settings": {"createOptions": {"HostConfig": {"DeviceRequests": [{"Count": -1}]}}},
                    }
                }
            }
        }
    },
}


def modules(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    return result


@pytest.mark.parametrize(
    ("platform", "producer", "consumer"),
    [
        pytest.param(
            "amd64",
            "registry.example/edgeloop/producer:1.2.3-amd64",
            "registry.example/edgeloop/consumer:0.4.0-amd64",
            id="amd64",
        ),
        pytest.param(
            "arm64v8",
            "registry.example/edgeloop/producer:1.2.3-arm64v8",
            "registry.example/edgeloop/consumer:0.4.0-arm64v8",
            id="arm64v8",
        ),
    ],
)
def test_images_are_repository_version_platform(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo], platform: str, producer: str, consumer: str
) -> None:
    out = render_manifest(manifest, catalog, RenderOptions(platform, variables=VARS))
    assert modules(out)["producer"]["settings"]["image"] == producer
    assert modules(out)["consumer"]["settings"]["image"] == consumer
    assert modules(out)["vendor"]["settings"]["image"] == "mcr.microsoft.com/some-vendor-module:1.0"


def test_debug_placeholder_picks_the_debug_platform(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["settings"]["image"] = "${MODULES.producer.debug}"
    out = render_manifest(manifest, catalog, RenderOptions("amd64", variables=VARS))
    assert modules(out)["producer"]["settings"]["image"].endswith("producer:1.2.3-amd64.debug")


def test_a_platform_the_module_does_not_declare_is_an_error(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["settings"]["image"] = "${MODULES.producer.debug}"
    with pytest.raises(
        RenderError,
        match=r"producer: module.json declares no 'arm64v8.debug' platform \(declared: amd64, amd64.debug, arm64v8\)",
    ):
        render_manifest(manifest, catalog, RenderOptions("arm64v8", variables=VARS))


def test_gpu_render_merges_the_overlay_and_takes_the_gpu_image(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    out = render_manifest(
        manifest, catalog, RenderOptions("amd64", gpu=True, variables=VARS, gpu_overlay=OVERLAY)
    )
    consumer = modules(out)["consumer"]
    assert consumer["settings"]["image"] == "registry.example/edgeloop/consumer:0.4.0-amd64.gpu"
    assert consumer["env"]["PROVIDERS"] == {"value": '["cuda","cpu"]'}
    assert consumer["env"]["LOG_LEVEL"] == {"value": "INFO"}  # merged, not replaced
    options = json.loads(joined(consumer["settings"]))
    assert options["HostConfig"] == {"Binds": ["/a:/b"], "DeviceRequests": [{"Count": -1}]}
    assert modules(out)["producer"]["settings"]["image"].endswith(
        "producer:1.2.3-amd64"
    )  # not in the overlay
    assert "$comment" not in out


def test_without_gpu_the_overlay_is_ignored(manifest: dict[str, Any], catalog: dict[str, ModuleInfo]) -> None:
    out = render_manifest(manifest, catalog, RenderOptions("amd64", variables=VARS, gpu_overlay=OVERLAY))
    assert "DeviceRequests" not in modules(out)["consumer"]["settings"]["createOptions"]


def test_gpu_needs_a_gpu_image(manifest: dict[str, Any], catalog: dict[str, ModuleInfo]) -> None:
    with pytest.raises(RenderError, match=r"declares no 'arm64v8\.gpu' platform"):
        render_manifest(
            manifest, catalog, RenderOptions("arm64v8", gpu=True, variables=VARS, gpu_overlay=OVERLAY)
        )


def test_variables_are_expanded_in_values_from_dotenv_and_braces(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["env"]["URL"] = {"value": "opc.tcp://$PLANT_HOST:${PLANT_PORT}/ua"}
    out = render_manifest(
        manifest,
        catalog,
        RenderOptions("amd64", variables={**VARS, "PLANT_HOST": "dcs", "PLANT_PORT": "4840"}),
    )
    assert modules(out)["producer"]["env"]["URL"] == {"value": "opc.tcp://dcs:4840/ua"}


def test_missing_variables_fail_naming_each_place(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["env"]["PASSWORD"] = {"value": "$PLANT_PASSWORD"}
    with pytest.raises(RenderError) as info:
        render_manifest(manifest, catalog, RenderOptions("amd64", variables={}, strict=True))
    text = str(info.value)
    assert "modules.producer.settings.image: ${CONTAINER_REGISTRY_ADDRESS}" in text
    assert "modules.producer.env.PASSWORD.value: $PLANT_PASSWORD" in text
    assert "deployment/.env.example" in text


def test_without_strict_unresolved_variables_stay_as_iotedgedev_leaves_them(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    out = render_manifest(manifest, catalog, RenderOptions("amd64", variables={}))
    assert (
        modules(out)["producer"]["settings"]["image"]
        == "${CONTAINER_REGISTRY_ADDRESS}/edgeloop/producer:1.2.3-amd64"
    )


def test_unknown_module_placeholder_is_an_error(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["settings"]["image"] = "${MODULES.ghost}"
    with pytest.raises(RenderError, match=r"\$\{MODULES.ghost\} names no module with a module.json"):
        render_manifest(manifest, catalog, RenderOptions("amd64", variables=VARS))


def test_create_options_are_minified_and_split_every_512_characters(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    env = [f"VAR{i}={'v' * 90}" for i in range(20)]  # about 1,900 characters
    modules(manifest)["producer"]["settings"]["createOptions"] = {"Env": env}
    settings = modules(render_manifest(manifest, catalog, RenderOptions("amd64", variables=VARS)))[
        "producer"
    ]["settings"]
    parts = ["createOptions", "createOptions01", "createOptions02", "createOptions03"]
    assert [key for key in settings if key.startswith("createOptions")] == parts
    assert [len(settings[key]) for key in parts[:-1]] == [512, 512, 512]
    assert json.loads(joined(settings)) == {"Env": env}


def test_create_options_over_8_parts_cannot_be_rendered(
    manifest: dict[str, Any], catalog: dict[str, ModuleInfo]
) -> None:
    modules(manifest)["producer"]["settings"]["createOptions"] = {"Env": ["X=" + "y" * 4100]}
    with pytest.raises(
        RenderError,
        match=r"modules.producer.settings: createOptions is 4114 characters, over the tooling's limit of 8 chunks",
    ):
        render_manifest(manifest, catalog, RenderOptions("amd64", variables=VARS))


def test_the_template_is_not_modified(manifest: dict[str, Any], catalog: dict[str, ModuleInfo]) -> None:
    before = json.dumps(manifest, sort_keys=True)
    render_manifest(manifest, catalog, RenderOptions("amd64", gpu=True, variables=VARS, gpu_overlay=OVERLAY))
    assert json.dumps(manifest, sort_keys=True) == before


@pytest.mark.parametrize(
    ("template", "platform", "gpu", "expected"),
    [
        pytest.param(
            "deployment.template.json", "amd64", False, "config/deployment.amd64.json", id="production"
        ),
        pytest.param(
            "deployment.local.template.json",
            "arm64v8",
            False,
            "config/deployment.local.arm64v8.json",
            id="debug",
        ),
        pytest.param("deployment.template.json", "amd64", True, "config/deployment.amd64.gpu.json", id="gpu"),
    ],
)
def test_default_output_names_follow_iotedgedev(
    template: str, platform: str, gpu: bool, expected: str
) -> None:
    from pathlib import Path

    assert default_out(Path("deployment") / template, platform, gpu).as_posix() == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        pytest.param([], "expected a JSON object", id="not-an-object"),
        pytest.param(
            {"image": {"repository": "r", "tag": {"version": 1, "platforms": {}}}},
            "'version' must be a str",
            id="version-not-string",
        ),
        pytest.param(
            {
                "image": {"repository": "r", "tag": {"version": "1", "platforms": {}}},
                "edgeloop": {"outputs": ["a"]},
            },
            "edgeloop.outputs must map output names to content types",
            id="outputs-not-a-map",
        ),
    ],
)
def test_bad_module_json_is_a_clear_error(doc: object, message: str) -> None:
    with pytest.raises(RenderError, match=message):
        parse_module_json("m", doc)
