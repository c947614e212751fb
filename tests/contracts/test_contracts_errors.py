"""Bad input is a ContractError that names the field, for a body and for the envelope around it."""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec
import pytest
from contract_samples import SAMPLES

from edgeloop_contracts import decode_envelope, envelope_from_data
from edgeloop_contracts.anomaly import Anomaly
from edgeloop_contracts.audit import Audit
from edgeloop_contracts.score import ModelRef, Score
from edgeloop_contracts.summary import FieldStats, Summary
from edgeloop_contracts.write_request import WriteRequest
from edgeloop_runtime.errors import ContractError


def _score(**change: Any) -> dict[str, Any]:
    data = SAMPLES["score"].to_data()
    data.update(change)
    return {k: v for k, v in data.items() if v is not None or k == "threshold"}


@pytest.mark.parametrize(
    ("model", "data", "names"),
    [
        pytest.param(Score, {k: v for k, v in _score().items() if k != "asset"}, "`asset`", id="score-no-asset"),
        pytest.param(Score, _score(asset=""), "$.asset", id="score-empty-asset"),
        pytest.param(Score, _score(score="x"), "$.score", id="score-not-number"),
        pytest.param(Score, _score(score=True), "$.score", id="score-boolean"),
        pytest.param(Score, _score(model={"version": "1"}), "`name` - at `$.model`", id="score-model-no-name"),
        pytest.param(Score, _score(quality="so-so"), "$.quality", id="score-bad-quality"),
        pytest.param(Score, _score(contributions={"Flow": "high"}), "$.contributions", id="score-contribution"),
        pytest.param(Anomaly, {**SAMPLES["anomaly"].to_data(), "state": "opened"}, "$.state", id="anomaly-state"),
        pytest.param(Anomaly, {**SAMPLES["anomaly"].to_data(), "window": {"timestamps": []}}, "`fields` - at `$.window`", id="anomaly-window"),
        pytest.param(WriteRequest, {"target": "x", "value": 1}, "`requestId`", id="request-no-id"),
        pytest.param(WriteRequest, {"requestId": "r", "target": 5, "value": 1}, "$.target", id="request-target-number"),
        pytest.param(WriteRequest, {"requestId": "r" * 257, "target": "x", "value": 1}, "$.requestId", id="request-id-too-long"),
        pytest.param(WriteRequest, {"requestId": "r", "target": "x"}, "`value`", id="request-no-value"),
        pytest.param(Summary, {**SAMPLES["summary"].to_data(), "fields": {"Flow": {"min": 1}}}, "`max` - at `$.fields[...]`", id="summary-field"),
        pytest.param(Audit, {**SAMPLES["audit"].to_data(), "result": "done"}, "$.result", id="audit-result"),
    ],
)  # fmt: skip
def test_a_bad_body_names_its_field(model: Any, data: dict[str, Any], names: str) -> None:
    with pytest.raises(ContractError, match=rf"^{model.KIND}: ") as caught:
        model.from_data(data)
    assert names in str(caught.value)
    with pytest.raises(ContractError) as again:  # the same from the bytes
        model.decode(json.dumps(data))
    assert names in str(again.value)


NAN = float("nan")


@pytest.mark.parametrize(
    ("build", "field"),
    [
        pytest.param(lambda: Score(asset="pump", model=ModelRef("pca"), score=NAN), "`score`", id="score"),
        pytest.param(lambda: Score(asset="pump", model=ModelRef("pca"), score=1, threshold=math.inf), "`threshold`", id="score-threshold"),
        pytest.param(lambda: msgspec.structs.replace(SAMPLES["drift"], features={"Flow": NAN}), "`features`", id="drift-feature"),
        pytest.param(lambda: FieldStats(NAN, 1.0, 1.0, 1), "`fields`", id="summary-field"),
        pytest.param(lambda: msgspec.structs.replace(SAMPLES["anomaly"], score=-math.inf), "`score`", id="anomaly-score"),
    ],
)  # fmt: skip
def test_json_has_no_nan_so_a_contract_refuses_it_where_it_is_built(build: Any, field: str) -> None:
    with pytest.raises(ContractError, match=f"{field} must be a finite number"):
        build()


ENVELOPE = {"v": 1, "kind": "score", "id": "m1", "ts": "t", "source": {"module": "m", "version": "1"},
            "correlationId": None}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "names"),
    [
        pytest.param({"id": 5}, "$.id", id="id-number"),
        pytest.param({"source": {"module": "m"}}, "`version` - at `$.source`", id="source-no-version"),
        pytest.param({"v": 2}, "version 2", id="other-version"),
        pytest.param({"data": {"asset": "pump"}}, "`model` - at `$.data`", id="data-breaks-its-contract"),
    ],
)
def test_a_bad_envelope_names_its_field(change: dict[str, Any], names: str) -> None:
    env = {**ENVELOPE, "data": SAMPLES["score"].to_data(), **change}
    with pytest.raises(ContractError, match=r"^envelope: ") as caught:
        envelope_from_data(env, Score)
    assert names in str(caught.value)


def test_bytes_that_are_not_json_are_a_contract_error() -> None:
    with pytest.raises(ContractError, match="not valid JSON"):
        decode_envelope(b"\xff not json", Score)
