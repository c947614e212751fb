"""Every module input under random bytes, random JSON and mutated contract messages: nothing dies, each
bad message is handled or dead-lettered with `edgeloopError` and counted, outputs stay strict JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fuzz_harness import CASES, LiveModule, Outcome, json_outputs_are_valid
from fuzz_modules import ALL, module_env
from fuzz_profiles import fuzz_settings
from fuzz_strategies import bodies, jpeg_frames
from hypothesis import given
from hypothesis import strategies as st

from edgeloop_runtime import ContractError
from upstream_router.thinning import check_summary

_running: dict[str, LiveModule] = {}


@pytest.fixture(scope="module")
def running(live: Callable[..., LiveModule]) -> Iterator[Callable[[str], LiveModule]]:
    """One running instance per module for the whole file."""

    def get(name: str) -> LiveModule:
        m = _running.get(name)
        if m is None or m.task is None or m.task.done():
            _running[name] = live(ALL[name], module_env(name, live.tmp))  # type: ignore[attr-defined]
        return _running[name]

    yield get
    _running.clear()


def json_object(body: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def must_deadletter_non_objects(outcome: Outcome, body: bytes) -> None:
    if json_object(body) is None:
        assert outcome.deadlettered, f"a body that is not a JSON object was not dead-lettered: {body[:80]!r}"


def audit_for_every_request(outcome: Outcome, body: bytes) -> None:
    audits = [m for m in outcome.sent if m.output == "audit"]
    if outcome.deadlettered:
        return  # the audit itself could not be sent (e.g. NaN value): the request is in the dead letter
    assert len(audits) == 1, "every write request gets exactly one audit event"
    audit = audits[0].json()
    assert audit["kind"] == "audit"
    if json_object(body) is None:
        assert audit["data"]["result"] == "refused"


def router_keeps_every_envelope(outcome: Outcome, body: bytes) -> None:
    obj = json_object(body)
    if obj is not None and isinstance(obj.get("id"), str):
        assert not outcome.deadlettered, "an envelope with an id must be stored, not dead-lettered"
    else:
        assert outcome.deadlettered


def router_keeps_every_mergeable_summary(outcome: Outcome, body: bytes) -> None:
    obj = json_object(body)
    if outcome.deadlettered and obj is not None and isinstance(obj.get("id"), str):
        # a summary the thinning could not merge is refused at intake (upstream_router.thinning)
        with pytest.raises(ContractError):
            check_summary(obj.get("data"))
        return
    router_keeps_every_envelope(outcome, body)


def accepted(outcome: Outcome, body: bytes) -> None:
    assert not outcome.deadlettered, "a dead letter from another module is always kept"


# (module, input, body strategy, per-message check, scale of the profile's case count)
TARGETS: list[Any] = [
    ("example_module", "values", "value", must_deadletter_non_objects, 1.0),
    ("opcua_writeback", "requests", "writeRequest", audit_for_every_request, 1.0),
    ("inference", "telemetry", "telemetry", must_deadletter_non_objects, 1.0),
    ("anomaly_filter", "scores", "score", must_deadletter_non_objects, 1.0),
    ("anomaly_filter", "telemetry", "telemetry", must_deadletter_non_objects, 1.0),
    ("upstream_router", "anomalies", "anomaly", router_keeps_every_envelope, 0.7),
    ("upstream_router", "summaries", "summary", router_keeps_every_mergeable_summary, 0.7),
    ("upstream_router", "audit", "audit", router_keeps_every_envelope, 0.7),
    ("upstream_router", "drift", "drift", router_keeps_every_envelope, 0.7),
]


def _run_target(m: LiveModule, input_name: str, body: bytes, check: Any, **kwargs: Any) -> None:
    outcome = m.deliver(input_name, body, message_id="fuzz-msg", **kwargs)
    check(outcome, body)
    json_outputs_are_valid(outcome)
    assert m.task is not None and not m.task.done(), f"{m.module.name} died on {body[:120]!r}"


def _make_test(name: str, input_name: str, contract: str, check: Any, scale: float) -> Any:
    @fuzz_settings(scale)
    @given(batch=st.lists(bodies(contract), min_size=1, max_size=12))
    def run(running: Callable[[str], LiveModule], batch: list[bytes]) -> None:
        m = running(name)
        for body in batch:
            _run_target(m, input_name, body, check)
            CASES[f"input {name}/{input_name}"] += 1
        assert m.alive()

    return run


for _n, _i, _c, _chk, _s in TARGETS:
    globals()[f"test_{_n}_{_i}_survives_bad_messages"] = _make_test(_n, _i, _c, _chk, _s)


# ---- binary inputs ------------------------------------------------------------------------------
props = st.fixed_dictionaries(
    {},
    optional={
        "cameraId": st.sampled_from(["camera-1", "", "c" * 300]) | st.text(max_size=10),
        "seq": st.sampled_from(["1", "-1", "x", "99999999999999999999", "١٢", "²"]) | st.text(max_size=5),
        "captureTs": st.sampled_from(["2027-01-15T08:00:00.000Z", "garbage"]),
        "width": st.text(max_size=5),
        "height": st.text(max_size=5),
    },
)


def frame_scored_or_deadlettered(outcome: Outcome, body: bytes) -> None:
    scores = [m for m in outcome.sent if m.output == "scores"]
    assert outcome.deadlettered or len(scores) == 1, "every frame is scored or dead-lettered"


@fuzz_settings(1.0)
@given(frames=st.lists(st.tuples(jpeg_frames(), props), min_size=1, max_size=8))
def test_inference_frames_survive_bad_jpegs(
    running: Callable[[str], LiveModule], frames: list[tuple[bytes, dict[str, str]]]
) -> None:
    m = running("inference")
    for data, p in frames:
        _run_target(
            m, "frames", data, frame_scored_or_deadlettered, properties=dict(p), content_type="image/jpeg"
        )
        CASES["input inference/frames"] += 1
    assert m.alive()


@fuzz_settings(1.0)
@given(frames=st.lists(st.tuples(jpeg_frames(), props), min_size=1, max_size=8))
def test_upstream_router_frames_survive_bad_jpegs(
    running: Callable[[str], LiveModule], frames: list[tuple[bytes, dict[str, str]]]
) -> None:
    m = running("upstream_router")

    def check(outcome: Outcome, body: bytes, p: dict[str, str]) -> None:
        assert outcome.deadlettered == (not p.get("cameraId"))

    for data, p in frames:
        outcome = m.deliver("frames", data, properties=dict(p), content_type="image/jpeg")
        check(outcome, data, p)
        CASES["input upstream_router/frames"] += 1
    assert m.alive()


dead_letter_props = st.fixed_dictionaries(
    {},
    optional={
        "edgeloopError": st.text(max_size=600),
        "edgeloopInput": st.text(max_size=20),
        "edgeloopOriginalMessageId": st.text(max_size=40),
        "$.cmid": st.text(max_size=20),
    },
)


@fuzz_settings(1.0)
@given(
    batch=st.lists(
        st.tuples(
            st.one_of(st.binary(max_size=300), st.integers(16_000, 20_000).map(lambda n: b"\x80" * n)),
            dead_letter_props,
            st.sampled_from([None, "utf-8", "utf-16", "gzip", "no-such-codec"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_upstream_router_deadletter_keeps_anything(
    running: Callable[[str], LiveModule], batch: list[tuple[bytes, dict[str, str], str | None]]
) -> None:
    m = running("upstream_router")
    for data, p, encoding in batch:
        outcome = m.deliver("deadletter", data, properties=dict(p), content_encoding=encoding)
        accepted(outcome, data)
        CASES["input upstream_router/deadletter"] += 1
    assert m.alive()


# ---- every module: an input it does not have ----------------------------------------------------
@pytest.mark.parametrize("name", list(ALL))
def test_unknown_input_is_deadlettered_and_counted(running: Callable[[str], LiveModule], name: str) -> None:
    m = running(name)
    if not m.module.inputs:
        assert m.client.message_handler is None, "a module without inputs must not take messages"
        return
    before = m.metric("edgeloop_message_errors_total", input="no-such-input", reason="unknown_input")
    m.run(m.client.deliver("no-such-input", b"\x00garbage"))
    dead = m.client.outputs("deadletter")
    assert dead and dead[-1].message.properties["edgeloopInput"] == "no-such-input"
    assert (
        m.metric("edgeloop_message_errors_total", input="no-such-input", reason="unknown_input") == before + 1
    )
    assert m.alive()


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_write_request_is_audited(running: Callable[[str], LiveModule], value: str) -> None:
    m = running("opcua_writeback")
    body = (
        '{"v": 1, "kind": "writeRequest", "id": "r1", "data": {"requestId": "r1", "target": "valve", '
        f'"value": {value}}}}}'
    ).encode()
    outcome = m.deliver("requests", body)
    audits = [s.json()["data"] for s in outcome.sent if s.output == "audit"]
    assert len(audits) == 1 and audits[0]["result"] == "refused"
