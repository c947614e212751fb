"""Compliance is enforced in the router for every upstream-bound stream, dead letters included."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ur_factories import anomaly, envelope, summary

from edgeloop_runtime import InputMessage
from edgeloop_runtime.compliance import REDACTED, CompliancePolicy
from upstream_router.batching import decode
from upstream_router.budget import Budget
from upstream_router.deadletters import deadletter_body
from upstream_router.router import Policy, Router
from upstream_router.store import Store

SRC = {"module": "upstream_router", "version": "0"}
POLICY = CompliancePolicy.model_validate(
    {
        "streams": {
            "audit": {"allow": ["requestId", "result", "target", "request"], "redact": ["request.reason"]},
            "drift": {"allow": ["model", "psi"]},
        },
        "redactKeys": ["password", "operator"],
    }
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "q.db") as s:
        yield s


def sent_upstream(store: Store, input_name: str, env: dict[str, Any]) -> dict[str, Any]:
    """The one event the router sends upstream after accepting `env` on `input_name`."""
    r = Router(store, Budget(None), Policy(), source=SRC, compliance=POLICY)
    r.accept(input_name, env, 1.0)
    enc = r.next_batch(1e9, flush=True)
    assert enc is not None
    [event] = decode(enc.payload, enc.content_encoding)
    return event


AUDIT = {
    "requestId": "r1",
    "result": "applied",
    "target": "pumpSetpoint",
    "request": {"value": 3, "reason": "operator Bob said so", "password": "hunter2"},
    "plantUser": "bob",
}


@pytest.mark.parametrize(
    ("input_name", "env", "gone", "kept"),
    [
        pytest.param("audit", envelope("audit", AUDIT), ["plantUser", "hunter2", "Bob"], ["r1"], id="audit"),
        pytest.param(
            "drift",
            envelope("drift", {"model": "pca", "psi": 0.3, "samples": [1, 2], "password": "hunter2"}),
            ["samples", "hunter2"],
            ["psi"],
            id="drift",
        ),
        pytest.param(
            "anomalies",
            anomaly(window=False, evidence={"rule": "vib", "operator": "alice"}),
            ["alice"],
            ["vib"],
            id="anomalies",
        ),
        pytest.param(
            "summaries",
            envelope("summary", {**summary()["data"], "operator": "alice"}),
            ["alice"],
            ["Flow"],
            id="summaries",
        ),
    ],
)
def test_every_stream_leaves_reduced_and_redacted(
    store: Store, input_name: str, env: dict[str, Any], gone: list[str], kept: list[str]
) -> None:
    text = json.dumps(sent_upstream(store, input_name, env))
    assert [g for g in gone if g in text] == []
    assert all(k in text for k in kept)


def test_credentials_are_redacted_by_default_without_any_configuration(store: Store) -> None:
    r = Router(store, Budget(None), Policy(), source=SRC)
    r.accept("drift", envelope("drift", {"model": "pca", "connectionString": "AccountKey=abc"}), 1.0)
    enc = r.next_batch(1e9, flush=True)
    assert enc is not None
    [event] = decode(enc.payload, enc.content_encoding)
    assert event["data"]["connectionString"] == REDACTED


def dead(body: bytes, encoding: str = "utf-8") -> InputMessage:
    return InputMessage("deadletter", body, content_type="application/json", content_encoding=encoding)


def test_a_json_dead_letter_goes_with_its_keys_redacted() -> None:
    body = json.dumps({"data": {"asset": "pump", "password": "hunter2", "operator": "bob"}}).encode()
    out = deadletter_body(dead(body), POLICY)
    assert out["bodyEncoding"] == "json"
    assert out["body"]["data"] == {"asset": "pump", "password": REDACTED, "operator": REDACTED}


def test_a_compressed_dead_letter_is_read_and_redacted_too() -> None:
    body = gzip.compress(json.dumps({"password": "hunter2"}).encode())
    out = deadletter_body(dead(body, "gzip"), POLICY)
    assert out["body"] == {"password": REDACTED}


def test_a_dead_letter_that_is_not_json_goes_as_size_and_hash_only() -> None:
    body = b"user=bob password=hunter2 \xff\xfe"
    out = deadletter_body(dead(body), POLICY)
    assert out["body"] is None and out["bodyEncoding"] == "omitted"
    assert out["bodyBytes"] == len(body) and len(out["bodySha256"]) == 64


def test_a_large_dead_letter_is_cut_after_redaction_never_before() -> None:
    body = json.dumps({"password": "hunter2", "pad": "x" * 20000}).encode()
    out = deadletter_body(dead(body), POLICY)
    assert out["truncated"] and "hunter2" not in out["body"]
