"""deployment/kubernetes: the inference image as Deployment + Service + PDB + KEDA ScaledObject, valid and wired together."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_helpers import DEPLOYMENT, ROOT
from jsonschema import Draft202012Validator

from edgeloop_dev.manifest.catalog import ModuleInfo

K8S = DEPLOYMENT / "kubernetes"
KUBERNETES = "1.37.0"  # kubernetes-validate's schemas for this release


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


def _set(path: list[str | int], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return mutate


POD = ["spec", "template", "spec"]


def test_every_object_validates(validator: Draft202012Validator, objects: dict[str, dict[str, Any]]) -> None:
    assert set(objects) == {"Deployment", "Service", "PodDisruptionBudget", "ScaledObject"}
    for kind, doc in objects.items():
        assert errors(validator, doc) == [], kind


@pytest.mark.parametrize("kind", ["Deployment", "Service", "PodDisruptionBudget"])
def test_builtin_objects_pass_kubernetes_validate_strict(
    kind: str, objects: dict[str, dict[str, Any]]
) -> None:
    kubernetes_validate.validate(objects[kind], KUBERNETES, strict=True)


@pytest.mark.parametrize(
    "mutate",
    [
        pytest.param(_set(["apiVersion"], "extensions/v1beta1"), id="removed-api-version"),
        pytest.param(_set([*POD, "containers", 0, "imagePullPolice"], "Always"), id="misspelt-field"),
        pytest.param(
            _set([*POD, "containers", 0, "ports", 0, "containerPort"], "http"), id="port-not-a-number"
        ),
    ],
)
def test_kubernetes_validate_catches_mistakes(
    mutate: Callable[[dict[str, Any]], None], objects: dict[str, dict[str, Any]]
) -> None:
    doc = copy.deepcopy(objects["Deployment"])
    mutate(doc)
    with pytest.raises((kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError)):
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_rollout_needs_no_spare_gpu(objects: dict[str, dict[str, Any]]) -> None:
    """One GPU per pod and per node: a surge pod would wait Pending for a GPU that is not there."""
    rolling = objects["Deployment"]["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxSurge"] == 0 and rolling["maxUnavailable"] == 1
    pdb = objects["PodDisruptionBudget"]["spec"]
    assert pdb["maxUnavailable"] == 1 and "minAvailable" not in pdb  # minAvailable 1 would block every drain
    pod_labels = objects["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()


def test_scaling_follows_queue_wait_and_depth_from_the_module_metrics(
    objects: dict[str, dict[str, Any]],
) -> None:
    spec = objects["ScaledObject"]["spec"]
    ref = spec["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", objects["Deployment"]["metadata"]["name"])
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    queries = [t["metadata"]["query"] for t in spec["triggers"]]
    assert all(t["type"] == "prometheus" for t in spec["triggers"])
    sources = (ROOT / "modules/inference/telemetry_metrics.py").read_text() + (
        ROOT / "shared/edgeloop_runtime/metrics.py"
    ).read_text()
    assert '"stage_seconds"' in sources and any(
        "edgeloop_inference_stage_seconds_bucket" in q for q in queries
    )
    assert '"edgeloop_input_queue_length"' in sources and any(
        "edgeloop_input_queue_length" in q for q in queries
    )
    assert not any("cpu" in q for q in queries)


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


def test_service_points_at_the_deployment(objects: dict[str, dict[str, Any]]) -> None:
    deployment, service = objects["Deployment"], objects["Service"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    names = {p["name"] for p in container(objects)["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= names
    assert {p["port"] for p in service["spec"]["ports"]} >= {5000}


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
    pytest.param("PodDisruptionBudget", _set(["spec", "minAvailable"], 1), id="pdb-both-bounds"),
    pytest.param(
        "ScaledObject",
        _set(["spec", "triggers", 0, "metadata", "threshold"], 0.05),
        id="keda-threshold-not-a-string",
    ),
    pytest.param("ScaledObject", _set(["spec", "minReplicas"], 1), id="keda-hpa-field-name"),
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
