"""The method dispatcher on its own: a request and a small host in, a response out, no runner."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from edgeloop_runtime.errors import ContractError, MethodError
from edgeloop_runtime.messages import MethodRequest
from edgeloop_runtime.methods import BoundMethod, MethodResponse, dispatch


@dataclass
class Host:
    """The least a module must offer the dispatcher."""

    handlers: Mapping[str, BoundMethod] = field(default_factory=dict)
    name: str = "demo"
    version: str = "1.2.3"
    errors: list[tuple[str, str]] = field(default_factory=list)

    def status(self) -> dict[str, Any]:
        return {"status": "running"}

    def record_error(self, where: str, error: BaseException) -> None:
        self.errors.append((where, str(error)))


def request(name: str, payload: Any = None) -> MethodRequest:
    return MethodRequest(name=name, payload=payload, request_id="r-1")


async def echo(payload: Any) -> Any:
    return {"echo": payload}


async def bad_input(payload: Any) -> Any:
    raise MethodError(422, "payload must name a target")


async def bad_contract(payload: Any) -> Any:
    raise ContractError("not JSON")


async def broken(payload: Any) -> Any:
    raise RuntimeError("boom")


async def test_ping_answers_the_module_name_and_version() -> None:
    response = await dispatch(Host(), request("ping"))
    assert response == MethodResponse(200, {"pong": True, "module": "demo", "version": "1.2.3"})


async def test_get_status_answers_what_the_host_reports() -> None:
    assert await dispatch(Host(), request("getStatus")) == MethodResponse(200, {"status": "running"})


async def test_a_modules_method_gets_the_payload_and_its_answer_is_returned() -> None:
    response = await dispatch(Host({"echo": echo}), request("echo", {"x": 1}))
    assert response == MethodResponse(200, {"echo": {"x": 1}})


async def test_an_unknown_method_is_404_listing_every_method() -> None:
    response = await dispatch(Host({"echo": echo}), request("nope"))
    assert response.status == 404
    assert response.payload == {"error": "unknown method 'nope'", "methods": ["echo", "getStatus", "ping"]}


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        pytest.param(bad_input, 422, id="method-error-keeps-its-status"),
        pytest.param(bad_contract, 400, id="contract-error-is-400"),
        pytest.param(broken, 500, id="any-other-error-is-500"),
    ],
)
async def test_a_failing_handler_answers_an_error_status(handler: BoundMethod, status: int) -> None:
    assert (await dispatch(Host({"m": handler}), request("m"))).status == status


async def test_only_an_unexpected_failure_becomes_the_last_error() -> None:
    host = Host({"bad": bad_input, "broken": broken})
    await dispatch(host, request("bad"))
    await dispatch(host, request("broken"))
    assert host.errors == [("method:broken", "boom")]
