"""Every direct method of every module under random payloads: a 2xx/4xx answer (503 where the module says
the link is down) with a strict-JSON payload, never 500, never a crash; unknown names answer 404."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fuzz_harness import CASES, LiveModule
from fuzz_modules import ALL, module_env
from fuzz_profiles import fuzz_settings
from fuzz_strategies import any_json, mutated, wrong_values
from hypothesis import given
from hypothesis import strategies as st

# A valid payload per method, the seed of the mutated ones.
VALID: dict[str, Any] = {
    "ping": None,
    "getStatus": None,
    "scale": {"value": 2.5},
    "setEnabled": {"enabled": True},
    "setBandwidthBudget": {"bytesPerHour": 1_000_000},
    "reloadModels": {"force": False},
    "flush": {},
    "getQueueStatus": None,
}
# Statuses a method may answer besides 200 and 4xx, with the reason.
ALLOWED_5XX: dict[str, set[int]] = {"flush": {503}}  # the upstream link is down: messages stay stored


@pytest.fixture(scope="module")
def running(live: Callable[..., LiveModule]) -> Iterator[Callable[[str], LiveModule]]:
    modules: dict[str, LiveModule] = {}

    def get(name: str) -> LiveModule:
        if name not in modules:
            modules[name] = live(ALL[name], module_env(name, live.tmp))  # type: ignore[attr-defined]
        return modules[name]

    yield get


def payloads(method: str) -> st.SearchStrategy[Any]:
    seed = VALID.get(method)
    return st.one_of(
        st.just(seed),
        mutated(st.just(seed)) if seed is not None else any_json,
        any_json,
        wrong_values,
    )


def _check(name: str, method: str, status: int, payload: Any) -> None:
    assert status != 500, f"{name}.{method} failed with 500: {payload!r}"
    assert 200 <= status < 500 or status in ALLOWED_5XX.get(method, set()), (status, payload)
    json.dumps(payload, allow_nan=False)  # a strict-JSON answer
    if status >= 400:
        assert isinstance(payload, dict) and payload.get("error"), "an error answer says what is wrong"


def _methods(name: str) -> list[str]:
    return ["ping", "getStatus", *sorted(ALL[name].methods)]


CALLS: list[Any] = [
    pytest.param(name, method, id=f"{name}.{method}") for name in ALL for method in _methods(name)
]
SCALES = {"reloadModels": 0.1, "getStatus": 0.25, "ping": 0.25}


def _make_test(name: str, method: str) -> Any:
    @fuzz_settings(SCALES.get(method, 1.0))
    @given(batch=st.lists(payloads(method), min_size=1, max_size=8))
    def run(running: Callable[[str], LiveModule], batch: list[Any]) -> None:
        m = running(name)
        for payload in batch:
            status, answer = m.call(method, payload)
            _check(name, method, status, answer)
            CASES[f"method {name}.{method}"] += 1
        assert m.task is not None and not m.task.done()
        assert m.alive()

    return run


for _name in ALL:
    for _method in _methods(_name):
        globals()[f"test_{_name}_{_method}_payloads"] = _make_test(_name, _method)


@fuzz_settings(0.5)
@given(name=st.sampled_from(sorted(ALL)), method=st.text(max_size=40), payload=any_json)
def test_unknown_method_names_answer_404(
    running: Callable[[str], LiveModule], name: str, method: str, payload: Any
) -> None:
    m = running(name)
    if method in _methods(name):
        return
    status, answer = m.call(method, payload)
    CASES["method <unknown name>"] += 1
    assert status == 404 and repr(method) in answer["error"] and "ping" in answer["methods"]
