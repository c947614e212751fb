"""Hypothesis strategies: arbitrary JSON, the message contracts of DEVELOPERS.md, mutations, JPEG frames."""

from __future__ import annotations

import copy
import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import cv2
import numpy as np
from hypothesis import strategies as st

MAX_INPUT_BYTES = 256 * 1024 - 4096

# ---- arbitrary JSON ----------------------------------------------------------------------------
SPECIAL_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, -1e308, 5e-324])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    SPECIAL_FLOATS,
    st.text(max_size=30),
)
huge = st.one_of(
    st.integers(2_000, 200_000).map(lambda n: "x" * n),
    st.integers(1_000, 30_000).map(lambda n: [1.5] * n),
    st.integers(1, 400).map(lambda depth: _nested(depth)),
    st.integers(500, 5_000).map(lambda n: {f"k{i}": i for i in range(n)}),
)
any_json: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=10,
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def dumps(obj: Any) -> bytes:
    """JSON as a sender would write it; NaN/Infinity as Python writes them (json.loads accepts them)."""
    return json.dumps(obj).encode()


# ---- timestamps --------------------------------------------------------------------------------
T0 = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
iso_ts = st.integers(0, 7 * 24 * 3600 * 1000).map(
    lambda ms: (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
)
bad_ts = st.one_of(
    st.sampled_from(["", "yesterday", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999+14:00",
                     "2027-02-30T00:00:00Z", "2027-01-15T25:00:00Z", "2027-01-15", "2027-01-15T08:00:00+99:00",
                     "-2027-01-15T08:00:00Z", "2027-01-15T08:00:00.0000000000001Z"]),
    st.text(max_size=40),
    scalars,
)  # fmt: skip
wrong_values = st.one_of(scalars, huge, any_json, bad_ts)

# ---- OPC UA PubSub telemetry (opcua_ingest/telemetry) -------------------------------------------
ASSETS = {
    "pump": ["Speed", "Flow", "DischargePressure", "SuctionPressure", "MotorCurrent", "BearingTemp",
             "Vibration", "SlurryDensity"],
    "conveyor": ["BeltSpeed", "Load", "MotorCurrent", "BearingTemp", "Vibration"],
    "crusher": ["FeedRate", "MotorPower", "MotorCurrent", "BearingTemp", "Vibration"],
}  # fmt: skip
STATUS_CODES: list[dict[str, Any] | None] = [
    None, None, None,
    {"Code": 0x80310000, "Symbol": "BadNoCommunication"},
    {"Code": 0x808A0000, "Symbol": "BadServerNotConnected"},
    {"Code": 0x40000000, "Symbol": "Uncertain"},
    {"Code": 0x80000000},
]  # fmt: skip
values = st.one_of(st.floats(-1e4, 1e4, allow_nan=False), st.integers(-1000, 1000))

# Valid contract documents are built from one drawn seed (fast: thousands per second); hypothesis
# still shrinks the seed and draws the mutations applied on top.


def _ts(r: random.Random) -> str:
    ms = r.randrange(7 * 24 * 3600 * 1000)
    return (T0 + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _value(r: random.Random) -> float | int:
    return r.uniform(-1e4, 1e4) if r.random() < 0.8 else r.randint(-1000, 1000)


def make_telemetry(seed: int) -> dict[str, Any]:
    """A PubSub network message as opcua_ingest sends it (1-3 dataset messages)."""
    r = random.Random(seed)
    messages = []
    for _ in range(r.randint(1, 3)):
        asset = r.choice([*ASSETS, "unknown-asset"])
        fields = ASSETS.get(asset, ["X", "Y"])
        kind = r.choice(["ua-deltaframe", "ua-keyframe", "ua-deltaframe", "ua-keepalive"])
        msg: dict[str, Any] = {
            "DataSetWriterId": asset,
            "DataSetWriterGroup": "plant",
            "SequenceNumber": r.randrange(2**32),
            "MessageType": kind,
            "Timestamp": _ts(r),
        }
        if kind != "ua-keepalive":
            payload = {}
            for f in r.sample(fields, r.randint(1, len(fields))):
                dv: dict[str, Any] = {
                    "Value": _value(r),
                    "SourceTimestamp": _ts(r),
                    "ServerTimestamp": _ts(r),
                }
                status = r.choice(STATUS_CODES)
                if status is not None:
                    dv["StatusCode"] = status
                payload[f] = dv
            msg["Payload"] = payload
        messages.append(msg)
    return {"MessageId": str(uuid.UUID(int=r.getrandbits(128))), "MessageType": "ua-data",
            "PublisherId": "fuzz", "Messages": messages}  # fmt: skip


def envelope(kind: str, data: Any, msg_id: str, correlation: str | None = None) -> dict[str, Any]:
    return {
        "v": 1,
        "kind": kind,
        "id": msg_id,
        "ts": "2027-01-15T08:00:00.000Z",
        "source": {"module": "fuzz", "version": "0"},
        "correlationId": correlation,
        "data": data,
    }


def _id(r: random.Random) -> str:
    return str(uuid.UUID(int=r.getrandbits(128), version=4))


def _model(r: random.Random) -> dict[str, Any]:
    return {"name": r.choice(["sensor_anomaly", "pca"]), "version": "1"}


def make_score(r: random.Random) -> dict[str, Any]:
    asset = r.choice([*ASSETS, "camera-1"])
    start, end = sorted((_ts(r), _ts(r)))
    data: dict[str, Any] = {
        "type": r.choice(["window", "frame"]),
        "asset": asset,
        "model": _model(r),
        "score": r.uniform(0, 10),
        "threshold": 1.0,
        "contributions": {f: r.uniform(0, 5) for f in ASSETS.get(asset, ["spot"])[:3]},
        "quality": r.choice(["good", "good", "uncertain", "bad"]),
        "windowStart": start,
        "windowEnd": end,
        "sourceTimestamp": end,
        "sourceMessageIds": [_id(r) for _ in range(r.randint(0, 3))],
    }
    if data["type"] == "frame":
        data.update(cameraId=asset, seq=r.randrange(10**6), captureTs=end,
                    detections=[{"class": "spot", "confidence": 0.9, "bbox": [1, 2, 30, 40]}])  # fmt: skip
    return data


def make_write_request(r: random.Random) -> dict[str, Any]:
    value = r.choice([r.uniform(-50, 150), r.randint(-10, 200), r.random() < 0.5, "auto", "x" * 20])
    return {
        "requestId": _id(r),
        "target": r.choice(["valve", "mode", "flag", "rated", "not-allowed"]),
        "value": value,
        "reason": "fuzz",
        "rule": r.choice([None, "vib-high"]),
        "asset": "pump",
        "sourceTimestamp": _ts(r),
    }


def make_anomaly(r: random.Random) -> dict[str, Any]:
    start = _ts(r)
    return {
        "eventId": _id(r),
        "state": r.choice(["open", "escalate", "close"]),
        "asset": r.choice(list(ASSETS)),
        "anomalyKind": r.choice(["vib", "dataQuality"]),
        "severity": r.choice(["info", "warning", "critical"]),
        "score": r.uniform(0, 10),
        "thresholds": {"raise": 1.0, "clear": 0.8},
        "start": start,
        "end": r.choice([None, _ts(r)]),
        "evidence": {"rule": "vib", "cameraId": r.choice([None, "camera-1"])},
        "model": {"name": "pca", "version": "3"},
        "sourceTimestamp": start,
        "window": r.choice([None, {"timestamps": [start], "fields": {"Vibration": [7.5]}}]),
    }


def make_summary(r: random.Random) -> dict[str, Any]:
    lo = r.uniform(-100, 100)
    return {
        "asset": r.choice(list(ASSETS)),
        "periodStart": _ts(r),
        "periodEnd": _ts(r),
        "fields": {"Flow": {"min": lo, "max": lo + 1, "mean": lo + 0.5, "count": r.randint(0, 100)}},
        "anomalies": r.randint(0, 3),
    }


def make_audit(r: random.Random) -> dict[str, Any]:
    return {
        "requestId": _id(r),
        "target": r.choice(["valve", "x"]),
        "nodeId": "ns=2;s=Valve",
        "value": _value(r),
        "result": r.choice(["applied", "refused", "dry-run", "failed"]),
        "reason": "fuzz",
        "readBack": r.choice([None, _value(r)]),
        "attempts": r.randint(0, 3),
        "sourceTimestamp": _ts(r),
        "appliedAt": r.choice([None, _ts(r)]),
    }


def make_drift(r: random.Random) -> dict[str, Any]:
    feats = {f: r.uniform(0, 1) for f in r.sample(["Flow", "Speed"], r.randint(0, 2))}
    return {"model": _model(r), "features": feats, "threshold": 0.2,
            "drifted": [f for f, v in feats.items() if v > 0.2], "windowSize": r.randint(1, 1000)}  # fmt: skip


def _enveloped(kind: str, make: Any) -> st.SearchStrategy[dict[str, Any]]:
    def build(seed: int) -> dict[str, Any]:
        r = random.Random(seed)
        return envelope(kind, make(r), _id(r), r.choice([None, _id(r)]))

    return st.integers(0, 2**32 - 1).map(build)


def make_value(seed: int) -> dict[str, Any]:
    r = random.Random(seed)
    v = _value(r)
    return {"value": v} if r.random() < 0.5 else envelope("scaled", {"value": v}, _id(r))


CONTRACTS: dict[str, st.SearchStrategy[Any]] = {
    "telemetry": st.integers(0, 2**32 - 1).map(make_telemetry),
    "score": _enveloped("score", make_score),
    "writeRequest": _enveloped("writeRequest", make_write_request),
    "anomaly": _enveloped("anomaly", make_anomaly),
    "summary": _enveloped("summary", make_summary),
    "audit": _enveloped("audit", make_audit),
    "drift": _enveloped("drift", make_drift),
    "value": st.integers(0, 2**32 - 1).map(make_value),
}

# ---- mutation of valid documents ----------------------------------------------------------------
ACTIONS = ("replace", "delete", "wrong_type", "special", "huge", "wrap", "dup_key_case")


def _paths(doc: Any, prefix: tuple[Any, ...] = (), limit: int = 20) -> list[tuple[Any, ...]]:
    """Paths to mutate: every container and leaf, descending into the first `limit` items of each."""
    out: list[tuple[Any, ...]] = [prefix]
    if len(prefix) > 30:
        return out
    if isinstance(doc, dict):
        for k, v in list(doc.items())[:limit]:
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:limit]):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return doc


def _delete(doc: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return None
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    del parent[path[-1]]
    return doc


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Any], max_mutations: int = 3) -> Any:
    """A valid document with 1..n of its values deleted, retyped, made NaN/Inf/huge or wrapped."""
    doc = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(1, max_mutations))):
        paths = _paths(doc)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        action = draw(st.sampled_from(ACTIONS))
        if action == "delete":
            doc = _delete(doc, path)
        elif action == "special":
            doc = _set(doc, path, draw(SPECIAL_FLOATS))
        elif action == "huge":
            doc = _set(doc, path, draw(huge))
        elif action == "wrap":
            doc = _set(doc, path, [_get(doc, path)] if draw(st.booleans()) else {"v": _get(doc, path)})
        elif action == "dup_key_case" and path and isinstance(path[-1], str):
            doc = _set(doc, (*path[:-1], path[-1].upper()), draw(wrong_values))
        else:
            doc = _set(doc, path, draw(wrong_values if action == "replace" else scalars))
    return doc


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def bodies(contract: str) -> st.SearchStrategy[bytes]:
    """Bytes for an input that expects `contract`: valid, mutated, arbitrary JSON or arbitrary bytes."""
    valid = CONTRACTS[contract]
    strategy = st.one_of(
        valid.map(dumps),
        mutated(valid).map(dumps),
        mutated(valid).map(dumps),
        any_json.map(dumps),
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"v":1}', b"NaN", b"1e999999"]),
    )
    # edgeHub refuses anything over 256 KB, so no module ever receives it; keep room for the
    # dead letter's properties (see test_fuzz_runtime_limits.py for the boundary itself)
    return strategy.filter(lambda b: len(b) <= MAX_INPUT_BYTES)


# ---- JPEG frames ---------------------------------------------------------------------------------
def _jpeg(w: int, h: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return bytes(buf)


SMALL_JPEGS = [_jpeg(w, h, i) for i, (w, h) in enumerate([(8, 8), (64, 48), (320, 240), (17, 999)])]


def _sof_offset(data: bytes) -> int:
    for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
        at = data.find(marker)
        if at >= 0:
            return at
    raise ValueError("no SOF")


def declare_size(data: bytes, w: int, h: int) -> bytes:
    """The same JPEG with its frame header claiming another size."""
    at = _sof_offset(data)
    b = bytearray(data)
    b[at + 5 : at + 7] = h.to_bytes(2, "big")
    b[at + 7 : at + 9] = w.to_bytes(2, "big")
    return bytes(b)


@st.composite
def jpeg_frames(draw: st.DrawFn) -> bytes:
    """Valid small JPEGs, truncated, bit-flipped, with huge or zero declared sizes, or garbage."""
    base = draw(st.sampled_from(SMALL_JPEGS))
    kind = draw(st.sampled_from(["valid", "truncated", "flipped", "declared", "garbage", "soi_garbage"]))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "flipped":
        b = bytearray(base)
        for _ in range(draw(st.integers(1, 20))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(b)
    if kind == "declared":
        w = draw(st.sampled_from([0, 1, 8, 4096, 16384, 65535]) | st.integers(0, 65535))
        h = draw(st.sampled_from([0, 1, 8, 4096, 16384, 65535]) | st.integers(0, 65535))
        return declare_size(base, w, h)
    if kind == "garbage":
        return draw(st.binary(max_size=400))
    if kind == "soi_garbage":
        return b"\xff\xd8" + draw(st.binary(max_size=400))
    return base


def new_id() -> str:
    return str(uuid.uuid4())
