"""Both templates lint clean, render for amd64 and arm64v8 (and GPU), and wire the whole pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from deploy_helpers import PIPELINE, ROOT, TEMPLATES, load

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.createoptions import joined
from edgeloop_dev.manifest.lint import lint_manifest
from edgeloop_dev.routes import Router, compile_route, parse_routes


def agent(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc["modulesContent"]["$edgeAgent"]["properties.desired"]
    return result


def hub(doc: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = doc["modulesContent"]["$edgeHub"]["properties.desired"]
    return result


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_template_lints_clean(kind: str, catalog: dict[str, ModuleInfo], schema: dict[str, Any]) -> None:
    findings = lint_manifest(load(TEMPLATES[kind]), catalog, schema, template=True)
    assert [str(f) for f in findings] == []


RENDERS = [
    pytest.param("production", "amd64", False, id="production-amd64"),
    pytest.param("production", "arm64v8", False, id="production-arm64v8"),
    pytest.param("production", "amd64", True, id="production-amd64-gpu"),
    pytest.param("debug", "amd64", False, id="debug-amd64"),
]


@pytest.mark.parametrize(("kind", "platform", "gpu"), RENDERS)
def test_rendered_manifest_lints_clean_with_images_from_module_json(
    kind: str, platform: str, gpu: bool, render: Any, catalog: dict[str, ModuleInfo], schema: dict[str, Any]
) -> None:
    doc = render(kind, platform, gpu)
    assert [str(f) for f in lint_manifest(doc, catalog, schema, template=False)] == []
    text = json.dumps(doc)
    assert "${" not in text
    for name in PIPELINE:
        info = catalog[name]
        suffix = ".debug" if kind == "debug" else (".gpu" if gpu and name == "inference" else "")
        expected = f"myregistry.azurecr.io/edgeloop/{name}:{info.version}-{platform}{suffix}"
        assert agent(doc)["modules"][name]["settings"]["image"] == expected


def test_arm64v8_gpu_is_refused_until_inference_ships_that_image(render: Any) -> None:
    from edgeloop_dev.manifest.errors import RenderError

    with pytest.raises(RenderError, match=r"inference: module.json declares no 'arm64v8\.gpu' platform"):
        render("production", "arm64v8", True)


def test_gpu_render_requests_the_gpu_for_inference_only(render: Any) -> None:
    plain, gpu = render("production", "amd64"), render("production", "amd64", True)
    for name, module in agent(gpu)["modules"].items():
        options = json.loads(joined(module["settings"]))
        requests = options.get("HostConfig", {}).get("DeviceRequests")
        if name == "inference":
            assert requests == [{"Driver": "nvidia", "Count": -1, "Capabilities": [["gpu"]]}]
            assert module["env"]["REQUIRE_GPU"] == {"value": "true"}
            assert json.loads(module["env"]["PROVIDERS"]["value"])[-1] == "cpu"
        else:
            assert requests is None, name
            assert module == agent(plain)["modules"][name]
    assert "DeviceRequests" not in json.dumps(plain)


EDGES = {
    ("opcua_ingest", "telemetry", "inference", "telemetry"),
    ("opcua_ingest", "telemetry", "anomaly_filter", "telemetry"),
    ("opcua_ingest", "telemetry", "upstream_router", "alarms"),  # WHERE dataSetMessageType = 'ua-event'
    ("camera_ingest", "frames", "inference", "frames"),
    ("camera_ingest", "frames", "upstream_router", "frames"),
    ("inference", "scores", "anomaly_filter", "scores"),
    ("anomaly_filter", "actions", "opcua_writeback", "requests"),
    ("anomaly_filter", "anomalies", "upstream_router", "anomalies"),
    ("anomaly_filter", "summaries", "upstream_router", "summaries"),
    ("opcua_writeback", "audit", "upstream_router", "audit"),
    ("inference", "drift", "upstream_router", "drift"),
    ("upstream_router", "upstream", "$upstream", ""),
}


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_routes_wire_the_whole_pipeline(kind: str) -> None:
    edges = set()
    for spec in parse_routes(hub(load(TEMPLATES[kind]))):
        route = compile_route(spec)
        sink = route.endpoint
        target = (sink.module or "", sink.input or "") if sink.kind == "module" else ("$upstream", "")
        edges.add((route.scope.module, route.scope.output, *target))
        assert 0 <= spec.priority <= 9 and spec.ttl_secs > 0, spec
    assert edges - {e for e in edges if e[1] == "deadletter"} == EDGES


@pytest.mark.parametrize("kind", list(TEMPLATES))
def test_the_local_hub_accepts_the_template(kind: str) -> None:
    """`edgeloop hub` reads the same manifest: its routes compile, every module twin has desired properties."""
    from edgeloop_dev.hub.app import load_manifest

    config = load_manifest(TEMPLATES[kind])
    assert (
        len(Router(parse_routes(config.edgehub_desired), default_ttl_secs=config.default_ttl_secs).routes)
        == 17
    )
    assert set(PIPELINE) <= set(config.module_desired)


def test_write_requests_have_the_highest_priority_and_a_short_ttl() -> None:
    """A stale write request must expire rather than reach the plant late."""
    routes = hub(load(TEMPLATES["production"]))["routes"]
    assert routes["actionsToWriteback"]["priority"] == 0
    assert routes["actionsToWriteback"]["timeToLiveSecs"] <= 60


def test_every_module_has_startup_order_restart_policy_and_desired_properties() -> None:
    doc = load(TEMPLATES["production"])
    for name in PIPELINE:
        module = agent(doc)["modules"][name]
        assert module["restartPolicy"] == "always"
        assert module["startupOrder"] > agent(doc)["systemModules"]["edgeHub"]["startupOrder"]
        assert doc["modulesContent"][name]["properties.desired"], name
    order = {name: agent(doc)["modules"][name]["startupOrder"] for name in PIPELINE}
    # consumers before producers: nothing is produced before its destination is up
    assert order["upstream_router"] < order["opcua_writeback"] < order["anomaly_filter"] < order["inference"]
    assert order["inference"] < order["opcua_ingest"] and order["inference"] < order["camera_ingest"]


def test_production_binds_state_and_runs_read_only() -> None:
    modules = agent(load(TEMPLATES["production"]))["modules"]
    binds = {
        name: modules[name]["settings"]["createOptions"]["HostConfig"].get("Binds", []) for name in PIPELINE
    }
    # twin-delivered model versions are written into the repository: a writable named volume
    assert any(b.endswith(":/models") and not b.startswith("/") for b in binds["inference"])
    for name in PIPELINE:  # STATE_DIR (last valid configuration, durable state) on a volume
        state = modules[name]["env"]["STATE_DIR"]["value"]
        assert any(b.endswith(f":{state}") for b in binds[name]), name
    assert any(b.endswith(":/pki") for b in binds["opcua_ingest"])
    assert any(b.endswith(":/pki") for b in binds["opcua_writeback"])
    assert any(b.endswith(":/data") for b in binds["upstream_router"])
    assert modules["upstream_router"]["env"]["STORE_PATH"]["value"].startswith("/data/")
    for name in PIPELINE:
        host = modules[name]["settings"]["createOptions"]["HostConfig"]
        assert host["ReadonlyRootfs"] is True and "/tmp" in host["Tmpfs"], name


def test_metrics_collector_scrapes_every_module() -> None:
    modules = agent(load(TEMPLATES["production"]))["modules"]
    endpoints = modules["IoTEdgeMetricsCollector"]["env"]["MetricsEndpointsCSV"]["value"].split(",")
    expected = {"http://edgeHub:9600/metrics", "http://edgeAgent:9600/metrics"}
    for name in PIPELINE:
        port = modules[name]["env"].get("METRICS_PORT", {"value": "9600"})["value"]
        expected.add(f"http://{name}:{port}/metrics")
    assert set(endpoints) == expected


def test_debug_template_runs_here() -> None:
    """No GPU, no Microsoft modules, distinct metrics ports beside the hub's 9600, the plant on loopback."""
    doc = load(TEMPLATES["debug"])
    modules = agent(doc)["modules"]
    assert set(modules) == set(PIPELINE)
    ports = [int(modules[name]["env"]["METRICS_PORT"]["value"]) for name in PIPELINE]
    assert len(set(ports)) == len(ports) and 9600 not in ports
    assert "DeviceRequests" not in json.dumps(doc)
    assert modules["opcua_writeback"]["env"]["ENDPOINT"]["value"] == "opc.tcp://127.0.0.1:4840"
    assert json.loads(modules["inference"]["env"]["PROVIDERS"]["value"]) == ["cpu"]
    assert modules["upstream_router"]["env"]["BLOB_CONNECTION_STRING"]["value"].startswith("$")
    for name in PIPELINE:
        assert modules[name]["settings"]["image"] == f"${{MODULES.{name}.debug}}"


def test_no_credentials_in_the_templates() -> None:
    """Credentials are `$VARIABLES` (from .env, never committed)."""
    for path in TEMPLATES.values():
        doc = load(path)
        for cred in agent(doc)["runtime"]["settings"].get("registryCredentials", {}).values():
            assert all(value.startswith("$") for value in cred.values())
        for name, module in agent(doc)["modules"].items():
            for key, env in module.get("env", {}).items():
                if any(word in key.upper() for word in ("PASSWORD", "KEY", "CONNECTION_STRING")):
                    assert "$" in str(env["value"]), f"{name}.{key}"


def test_the_supervisor_plans_every_debug_module() -> None:
    """`edgeloop run` reads the debug template: every module is one of this repo's, none skipped."""
    from edgeloop_dev.supervisor.spec import local_packages, plan

    result = plan(load(TEMPLATES["debug"]), local_packages(ROOT / "modules"))
    assert sorted(spec.name for spec in result.modules) == sorted(PIPELINE)
    assert result.skipped == ()


ALL_TEMPLATES = sorted(path.name for path in (ROOT / "deployment").glob("*.template.json"))


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_template_warns_only_of_the_outputs_no_deployment_consumes_yet(
    name: str, catalog: dict[str, ModuleInfo], schema: dict[str, Any]
) -> None:
    """inference's predictions (opt-in copy of /predict results) and evaluation (shadow summaries) go nowhere."""
    findings = lint_manifest(load(ROOT / "deployment" / name), catalog, schema, template=True, warnings=True)
    assert [(f.rule, f.path.rsplit(".", 1)[1], f.message.rsplit(": ", 1)[1]) for f in findings] == [
        ("output-unrouted", "inference", "predictions, evaluation")
    ]
