"""Property: on any stream of PubSub messages, odd and malformed ones mixed in, the window assembler gives
the windows (values byte for byte, provenance) or the errors that the assembler as it was before gave, except
that a message the shared contract's types refuse is BadInput `bad_telemetry` naming where (and leaves the
buffers as they were, so the streams stay in step)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from inference_helpers import contract_refusal
from inference_legacy_windows import WindowAssembler as LegacyAssembler

from inference.errors import BadInput
from inference.models.metadata import AssetSpec, WindowSpec
from inference.sensor.windows import WindowAssembler

ASSETS = {
    "pump": AssetSpec(fields=["Flow", "Speed", "Vibration"], index=0),
    "conveyor": AssetSpec(fields=["Load", "BeltSpeed"], index=1),
}
WINDOW = WindowSpec(length=4, stride=2, width=4)
NAMES = ["Flow", "Speed", "Vibration", "Load", "BeltSpeed", "Other"]
TIMES = [f"2026-11-22T10:00:0{i}Z" for i in range(4)] + [
    "2026-11-22T10:00:01+00:00",  # the same instant as another, spelt differently
    "2026-11-22T11:00:02+01:00",
    "2026-11-22T10:00:02.000500Z",
]
ODD_TIMES = ["", "not a time", 5, None]

good_value = st.floats(-1e6, 1e6, allow_nan=False)
value = st.one_of(
    good_value,
    good_value,
    st.floats(),  # NaN, infinities, beyond float32
    st.integers(-(2**70), 2**70),
    st.sampled_from([None, True, "1.5", -0.0]),
)
status = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional={"Symbol": st.sampled_from(["BadSensorFailure", "UncertainLastUsable", "Good", "", 3])}
    ),
    st.fixed_dictionaries({"Code": st.sampled_from([0, 0x40000000, 0x80000000, 0xC0000000, True])}),
    st.just("Bad"),
)


valid_status = st.sampled_from(
    [
        None,
        None,
        None,
        {"Symbol": "BadSensorFailure"},
        {"Symbol": "UncertainLastUsable"},
        {"Code": 0x80000000},
    ]
)


@st.composite
def data_value(draw: st.DrawFn, ts: str, odd: bool) -> dict[str, Any]:
    """A float, mostly good, at the dataset's timestamp or another; in an odd message anything the shape
    allows (which may well be rejected)."""
    if not odd or draw(st.booleans()):
        dv: dict[str, Any] = {"Value": draw(good_value), "SourceTimestamp": ts}
        if draw(st.integers(0, 3)) == 0:
            dv["SourceTimestamp"] = draw(st.sampled_from(TIMES))
        if (code := draw(valid_status)) is not None:
            dv["StatusCode"] = code
        return dv
    dv = {}
    if draw(st.booleans()):
        dv["Value"] = draw(value)
    if draw(st.booleans()):
        dv["StatusCode"] = draw(status)
    if draw(st.booleans()):
        dv["SourceTimestamp"] = draw(st.sampled_from(TIMES + ODD_TIMES))
    return dv


@st.composite
def dataset(draw: st.DrawFn, odd: bool) -> dict[str, Any]:
    ts = draw(st.sampled_from(TIMES))
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=0 if odd else 2, max_size=6))
    ds: dict[str, Any] = {
        "DataSetWriterId": draw(
            st.sampled_from(["pump", "pump", "conveyor"] + (["mill", 7, True] if odd else []))
        ),
        "Payload": {name: draw(data_value(ts, odd)) for name in names},
    }
    if draw(st.integers(0, 7)) == 0:
        ds["MessageType"] = draw(st.sampled_from(["ua-keepalive", "ua-keyframe"] + ([3] if odd else [])))
    if odd and draw(st.booleans()):
        ds["Timestamp"] = draw(st.sampled_from(TIMES + ODD_TIMES))
    if odd and draw(st.integers(0, 7)) == 0:
        ds["Payload"] = draw(st.sampled_from([None, [], "x"]))
    return ds


@st.composite
def network_message(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """Three in four well-formed (so that windows get cut), the rest odd."""
    odd = draw(st.integers(0, 3)) == 0
    body: dict[str, Any] = {"Messages": draw(st.lists(dataset(odd), min_size=1, max_size=3))}
    if draw(st.booleans()):
        body["MessageId"] = draw(st.sampled_from(["n-1", "n-2", ""] + ([42] if odd else [])))
    if odd and draw(st.booleans()):
        body["Timestamp"] = draw(st.sampled_from(TIMES + ODD_TIMES))
    mid = draw(st.sampled_from([None, None, "id-1", "id-2", "id-3"]))
    return json.dumps(body).encode(), mid


def _strict_json(raw: bytes) -> bool:
    """Whether the bytes are JSON as RFC 8259 has it (Python's reader also takes NaN and Infinity)."""
    try:
        json.loads(raw, parse_constant=_refuse)
    except ValueError:
        return False
    return True


def _refuse(token: str) -> Any:
    raise ValueError(f"{token} is not JSON")


def _outcome(asm: Any, body: Any, mid: str | None) -> Any:
    try:
        windows = asm.feed(body, mid)
    except BadInput as exc:
        return ("BadInput", exc.reason, exc.detail)
    return [
        (w.asset, w.asset_index, w.values.dtype.str, w.values.shape, w.values.tobytes(), w.quality,
         w.window_start, w.window_end, w.source_timestamp, w.message_ids)
        for w in windows
    ]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=st.lists(network_message(), min_size=1, max_size=60), fallback=st.booleans())
@example(  # an empty network Timestamp under a field with none: refused for the same reason as before
    stream=[
        (b'{"Messages":[{"DataSetWriterId":"pump","Payload":{"Flow":{"Value":0.0}}}],"Timestamp":""}', None)
    ],
    fallback=False,
)
def test_any_message_stream_gives_the_legacy_windows_from_bytes_or_parsed_json(
    stream: list[tuple[bytes, str | None]], fallback: bool
) -> None:
    means = {"pump": {"Flow": 10.0}} if fallback else {}
    legacy = LegacyAssembler(WINDOW, ASSETS, means)
    typed, plain = WindowAssembler(WINDOW, ASSETS, means), WindowAssembler(WINDOW, ASSETS, means)
    for raw, mid in stream:
        got = _outcome(typed, raw, mid)
        if not _strict_json(raw):  # json.dumps spells a non-finite float NaN / Infinity, which is not JSON
            assert contract_refusal(got), f"bytes with NaN/Infinity were not refused: {got!r}"
            continue  # neither the parsed-JSON path nor the legacy parser are fed it: all stay in step
        assert _outcome(plain, json.loads(raw), mid) == got  # bytes or parsed JSON: one contract
        if contract_refusal(got):
            event("refused by the contract")
            continue  # the legacy parser is not fed it either, so the streams stay in step
        old = _outcome(legacy, json.loads(raw), mid)
        assert got == old
        event("windows cut" if old and not isinstance(old, tuple) else "no window")
