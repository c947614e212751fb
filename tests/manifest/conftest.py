"""A small valid manifest and module catalog: each lint test breaks exactly one thing in them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from edgeloop_dev.manifest.catalog import ModuleInfo
from edgeloop_dev.manifest.schema_check import load_schema

ROOT = Path(__file__).resolve().parents[2]

CATALOG = {
    "producer": ModuleInfo(
        "producer",
        "${CONTAINER_REGISTRY_ADDRESS}/edgeloop/producer",
        "1.2.3",
        {"amd64": "./Dockerfile.amd64", "amd64.debug": "./Dockerfile.amd64.debug", "arm64v8": "./D"},
        inputs=(),
        outputs={"readings": "application/json", "frames": "image/jpeg", "deadletter": "*"},
    ),
    "consumer": ModuleInfo(
        "consumer",
        "${CONTAINER_REGISTRY_ADDRESS}/edgeloop/consumer",
        "0.4.0",
        {"amd64": "./Dockerfile.amd64", "amd64.gpu": "./Dockerfile.amd64.gpu", "arm64v8": "./D"},
        inputs=("readings", "frames"),
        outputs={"results": "application/json"},
    ),
}


def _module(image: str, order: int, create: object) -> dict[str, Any]:
    return {
        "version": "1.0",
        "type": "docker",
        "status": "running",
        "restartPolicy": "always",
        "startupOrder": order,
        "env": {"LOG_LEVEL": {"value": "INFO"}},
        "settings": {"image": image, "createOptions": create},
    }


BASE: dict[str, Any] = {
    "modulesContent": {
        "$edgeAgent": {
            "properties.desired": {
                "schemaVersion": "1.1",
                "runtime": {"type": "docker", "settings": {"minDockerVersion": "v1.25"}},
                "systemModules": {
                    "edgeAgent": {
                        "type": "docker",
                        "settings": {
                            "image": "mcr.microsoft.com/azureiotedge-agent:1.6",
                            "createOptions": {},
                        },
                    },
                    "edgeHub": {
                        "type": "docker",
                        "status": "running",
                        "restartPolicy": "always",
                        "startupOrder": 0,
                        "settings": {"image": "mcr.microsoft.com/azureiotedge-hub:1.6", "createOptions": {}},
                    },
                },
                "modules": {
                    "producer": _module("${MODULES.producer}", 2, {"HostConfig": {"ReadonlyRootfs": True}}),
                    "consumer": _module("${MODULES.consumer}", 1, {"HostConfig": {"Binds": ["/a:/b"]}}),
                    "vendor": _module("mcr.microsoft.com/some-vendor-module:1.0", 3, {}),
                },
            }
        },
        "$edgeHub": {
            "properties.desired": {
                "schemaVersion": "1.2",
                "routes": {
                    "readings": {
                        "route": "FROM /messages/modules/producer/outputs/readings WHERE $body.v = 1 "
                        'INTO BrokeredEndpoint("/modules/consumer/inputs/readings")',
                        "priority": 1,
                        "timeToLiveSecs": 60,
                    },
                    "frames": 'FROM /messages/modules/producer/outputs/frames INTO BrokeredEndpoint("/modules/consumer/inputs/frames")',
                    "deadletter": "FROM /messages/modules/producer/outputs/deadletter INTO $upstream",
                    "vendorIn": 'FROM /messages/modules/consumer/outputs/results INTO BrokeredEndpoint("/modules/vendor/inputs/anything")',
                    "vendorOut": "FROM /messages/modules/vendor/outputs/whatever INTO $upstream",
                    "up": {
                        "route": "FROM /messages/modules/consumer/outputs/* INTO $upstream",
                        "priority": 0,
                    },
                },
                "storeAndForwardConfiguration": {"timeToLiveSecs": 7200},
            }
        },
        "consumer": {"properties.desired": {"gain": 2, "names": ["a", "b"]}},
    }
}


@pytest.fixture
def manifest() -> dict[str, Any]:
    """A fresh copy of the small valid template."""
    return copy.deepcopy(BASE)


@pytest.fixture
def catalog() -> dict[str, ModuleInfo]:
    """module.json declarations of `producer` and `consumer`."""
    return dict(CATALOG)


@pytest.fixture(scope="session")
def schema() -> dict[str, Any]:
    """The schema shipped in deployment/schema/."""
    return load_schema(ROOT / "deployment/schema/deployment.schema.json")
