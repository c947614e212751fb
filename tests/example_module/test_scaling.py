"""example_module's pure core: what a `values` body becomes, with no runtime, hub or I/O."""

from __future__ import annotations

import pytest

from edgeloop_runtime import ContractError
from example_module.scaling import Send, heartbeat_message, on_value, parse_value, scale
from example_module.settings import Settings


def _settings(**values: float) -> Settings:
    return Settings.model_validate(values)


def test_a_value_becomes_one_scaled_message_correlated_with_its_input() -> None:
    assert on_value({"value": 5}, _settings(gain=3), "in-1") == Send(
        "scaled", {"value": 15.0, "gain": 3.0}, "scaled", correlation_id="in-1"
    )


def test_an_envelope_is_read_through_to_its_data() -> None:
    envelope = {"v": 1, "kind": "scaled", "data": {"value": 2}}
    assert scale(envelope, _settings(gain=2)) == 4.0


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"value": "5"}, id="a-string"),
        pytest.param({"value": True}, id="a-bool"),
        pytest.param({"value": float("nan")}, id="not-finite"),
        pytest.param({"other": 1}, id="no-value"),
        pytest.param([5], id="not-an-object"),
    ],
)
def test_a_body_without_a_finite_number_is_a_contract_error(body: object) -> None:
    with pytest.raises(ContractError, match="finite number"):
        parse_value(body, 1e9)


def test_a_value_above_max_value_is_refused() -> None:
    with pytest.raises(ContractError, match="above maxValue"):
        scale({"value": 11}, _settings(max_value=10))


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        pytest.param(0.0, None, id="off"),
        pytest.param(2.0, Send("scaled", {"heartbeat": True}, "heartbeat"), id="on"),
    ],
)
def test_a_heartbeat_is_sent_only_when_a_period_is_set(period: float, expected: Send | None) -> None:
    assert heartbeat_message(_settings(heartbeat_seconds=period)) == expected
