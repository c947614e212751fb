"""Every module of the suite, and the settings that let each start with nothing external."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anomaly_filter.app
import camera_ingest.app
import example_module.app
import inference.app
import opcua_ingest.app
import opcua_writeback.app
import upstream_router.app
from edgeloop_runtime import Module

ALL: dict[str, Module[Any, Any]] = {
    "example_module": example_module.app.module,
    "opcua_ingest": opcua_ingest.app.module,
    "opcua_writeback": opcua_writeback.app.module,
    "camera_ingest": camera_ingest.app.module,
    "inference": inference.app.module,
    "anomaly_filter": anomaly_filter.app.module,
    "upstream_router": upstream_router.app.module,
}


def module_env(name: str, tmp: Path) -> dict[str, str]:
    """Settings that let each module start with nothing external: unreachable endpoint, no blob."""
    envs: dict[str, dict[str, str]] = {
        "example_module": {},
        "opcua_ingest": {"PKI_DIR": str(tmp / "pki-ingest")},
        "opcua_writeback": {
            "PKI_DIR": str(tmp / "pki-writeback"),
            "STATE_DIR": str(tmp / "writeback-state"),
            "ENDPOINT": "opc.tcp://127.0.0.1:1",
            "RETRY_BACKOFF_S": "0",
            "MAX_ATTEMPTS": "1",
            "TARGETS": '{"valve": {"nodeId": "ns=2;s=Valve", "min": 0, "max": 100},'
            ' "mode": {"nodeId": "ns=2;s=Mode", "type": "String", "maxLength": 8},'
            ' "flag": {"nodeId": "ns=2;s=Flag", "type": "Boolean"},'
            ' "rated": {"nodeId": "ns=2;s=Rated", "type": "Int16", "min": -5, "max": 5, "maxRatePerS": 1}}',
        },
        "camera_ingest": {"SOURCE": str(tmp / "no-such-camera"), "REOPEN_MAX_SECONDS": "1"},
        "inference": {"REST_PORT": "-1", "PROVIDERS": '["cpu"]', "INTRA_OP_THREADS": "1"},
        "anomaly_filter": {},
        "upstream_router": {"STORE_PATH": str(tmp / "router" / "queue.db"), "STORE_SYNC": "normal"},
    }
    return {**envs[name], "STATE_DIR": str(tmp / "state" / name)}  # never the working directory
