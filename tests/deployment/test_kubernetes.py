"""deployment/kubernetes: the inference image as Deployment + Service + HPA, valid and wired together."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from deploy_helpers import DEPLOYMENT
from jsonschema import Draft202012Validator

from edgeloop_dev.manifest.catalog import ModuleInfo

K8S = DEPLOYMENT / "kubernetes"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads((K8S / "schema" / "k8s-subset.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, Any]]:
    """The objects of inference.yaml by kind."""
    docs = list(yaml.safe_load_all((K8S / "inference.yaml").read_text(encoding="utf-8")))
    return {doc["kind"]: doc for doc in docs}


def errors(validator: Draft202012Validator, doc: object) -> list[str]:
    return ["/".join(map(str, e.absolute_path)) + ": " + e.message for e in validator.iter_errors(doc)]


def test_every_object_validates(validator: Draft202012Validator, objects: dict[str, dict[str, Any]]) -> None:
    assert set(objects) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for kind, doc in objects.items():
        assert errors(validator, doc) == [], kind


def container(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = objects["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    return result


def test_the_deployment_asks_for_a_gpu_and_serves_rest_on_5000(
    objects: dict[str, dict[str, Any]], catalog: dict[str, ModuleInfo]
) -> None:
    c = container(objects)
    assert c["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert c["resources"]["requests"]["nvidia.com/gpu"] == c["resources"]["limits"]["nvidia.com/gpu"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == 5000
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["REST_PORT"] == "5000" and env["REQUIRE_GPU"] == "true"
    info = catalog["inference"]
    assert c["image"].endswith(f"/edgeloop/inference:{info.version}-amd64.gpu")
    assert "amd64.gpu" in info.platforms
    assert c["securityContext"]["readOnlyRootFilesystem"] is True


def test_service_and_hpa_point_at_the_deployment(objects: dict[str, dict[str, Any]]) -> None:
    deployment, service, hpa = objects["Deployment"], objects["Service"], objects["HorizontalPodAutoscaler"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    names = {p["name"] for p in container(objects)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= names
    assert {p["port"] for p in service["spec"]["ports"]} >= {5000}
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["apiVersion"], ref["kind"], ref["name"]) == (
        "apps/v1",
        "Deployment",
        deployment["metadata"]["name"],
    )
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


def _set(path: list[str | int], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


POD = ["spec", "template", "spec"]
BROKEN = [
    pytest.param("Deployment", _set(["apiVersion"], "extensions/v1beta1"), id="deployment-old-api-version"),
    pytest.param(
        "Deployment",
        _set([*POD, "containers", 0, "resources", "limits", "nvidia.com/gpu"], "one"),
        id="gpu-not-a-quantity",
    ),
    pytest.param(
        "Deployment",
        _set([*POD, "containers", 0, "readinessProbe", "httpGet", "path"], "health"),
        id="probe-path-not-absolute",
    ),
    pytest.param(
        "Deployment",
        _set([*POD, "containers", 0, "ports", 0, "containerPort"], 70000),
        id="port-out-of-range",
    ),
    pytest.param("Service", _set(["spec", "type"], "Ingress"), id="service-type-unknown"),
    pytest.param("HorizontalPodAutoscaler", _set(["spec", "minReplicas"], 0), id="hpa-min-replicas-zero"),
    pytest.param(
        "HorizontalPodAutoscaler",
        _set(["spec", "targetCPUUtilizationPercentage"], 70),
        id="hpa-v1-field-in-v2",
    ),
]


@pytest.mark.parametrize(("kind", "mutate"), BROKEN)
def test_the_schema_catches_mistakes(
    kind: str,
    mutate: Callable[[dict[str, Any]], None],
    validator: Draft202012Validator,
    objects: dict[str, dict[str, Any]],
) -> None:
    doc = copy.deepcopy(objects[kind])
    mutate(doc)
    assert errors(validator, doc)
