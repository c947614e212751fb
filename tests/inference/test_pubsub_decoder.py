"""The shared PubSub contract's decoder gives the windows and scores the plain-JSON path gave, judged by the
assembler as it was before (inference_legacy_windows.py) on the same messages, malformed ones included: a
message the contract's types refuse (a bool where a string or number goes, `Messages` not a list, NaN, which is
not JSON) is BadInput `bad_telemetry` naming where; every other message gets the windows or the error the
legacy parser gave."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from inference_helpers import REPO, contract_refusal, plant_messages
from inference_legacy_windows import WindowAssembler as LegacyAssembler

from edgeloop_contracts import pubsub
from edgeloop_runtime import ContractError
from edgeloop_runtime.metrics import Metrics
from inference.errors import BadInput
from inference.models.repository import read_version
from inference.sensor.windows import Window, WindowAssembler
from inference.service import InferenceService
from inference.settings import Settings
from inference.telemetry_metrics import InferenceMetrics

ASSETS = ("pump", "crusher", "conveyor")


def _new_path(raw: bytes) -> Any:
    """What the module's telemetry input hands the service: the message's UTF-8 bytes."""
    return raw


def _decodes(raw: bytes) -> bool:
    try:
        pubsub.decode(raw)
    except ContractError:
        return False
    return True


def _outcome(asm: Any, parse: Callable[[bytes], Any], raw: bytes, mid: str | None) -> Any:
    """What `asm` makes of the message: windows as comparable tuples (values byte for byte), or the
    BadInput's reason and detail."""
    try:
        windows = asm.feed(parse(raw), mid)
    except BadInput as exc:
        return ("BadInput", exc.reason, exc.detail)
    return [
        (w.asset, w.asset_index, w.values.dtype.str, w.values.shape, w.values.tobytes(), w.quality,
         w.window_start, w.window_end, w.source_timestamp, w.message_ids)
        for w in windows
    ]  # fmt: skip


def _assemblers(fallback: dict[str, dict[str, float]]) -> tuple[LegacyAssembler, WindowAssembler]:
    meta = read_version(REPO, "sensor_anomaly", "1").metadata
    assert meta.window is not None
    return LegacyAssembler(meta.window, meta.assets, fallback), WindowAssembler(
        meta.window, meta.assets, fallback
    )


def test_well_formed_plant_telemetry_gives_identical_windows_and_parses_typed() -> None:
    legacy, new = _assemblers({})
    total = 0
    for i, msg in enumerate(plant_messages(400, assets=ASSETS)):
        raw = json.dumps(msg).encode()
        assert _decodes(raw)  # the contract takes every well-formed message
        old = _outcome(legacy, json.loads, raw, None)
        assert _outcome(new, _new_path, raw, None) == old, f"message {i}"
        total += len(old)
    assert total > 100  # windows were cut and compared, not only rows buffered


def _mutations() -> list[Callable[[dict[str, Any], random.Random], None]]:
    def set_value(v: Any) -> Callable[[dict[str, Any], random.Random], None]:
        def apply(m: dict[str, Any], r: random.Random) -> None:
            ds = r.choice(m["Messages"])
            ds["Payload"][r.choice(sorted(ds["Payload"]))]["Value"] = v

        return apply

    def set_dv(key: str, v: Any, drop_value: bool = False) -> Callable[[dict[str, Any], random.Random], None]:
        def apply(m: dict[str, Any], r: random.Random) -> None:
            ds = r.choice(m["Messages"])
            dv = ds["Payload"][r.choice(sorted(ds["Payload"]))]
            dv[key] = v
            if drop_value:
                dv.pop("Value", None)

        return apply

    def set_ds(key: str, v: Any) -> Callable[[dict[str, Any], random.Random], None]:
        def apply(m: dict[str, Any], r: random.Random) -> None:
            r.choice(m["Messages"])[key] = v

        return apply

    def drop(where: str, key: str) -> Callable[[dict[str, Any], random.Random], None]:
        def apply(m: dict[str, Any], r: random.Random) -> None:
            if where == "body":
                m.pop(key, None)
            elif where == "ds":
                r.choice(m["Messages"]).pop(key, None)
            else:
                ds = r.choice(m["Messages"])
                ds["Payload"][r.choice(sorted(ds["Payload"]))].pop(key, None)

        return apply

    def unwanted(m: dict[str, Any], r: random.Random) -> None:
        r.choice(m["Messages"])["Payload"]["NotAField"] = {"Value": "text", "SourceTimestamp": 3}

    def mixed(m: dict[str, Any], r: random.Random) -> None:  # a bad and an uncertain field in one row
        ds = r.choice(m["Messages"])
        a, b = r.sample(sorted(ds["Payload"]), 2)
        ds["Payload"][a]["StatusCode"] = {"Symbol": "BadSensorFailure"}
        ds["Payload"][b]["StatusCode"] = {"Code": 0x40000000}

    def same_instant(m: dict[str, Any], r: random.Random) -> None:  # equal timestamps spelt differently
        ds = r.choice(m["Messages"])
        dv = ds["Payload"][r.choice(sorted(ds["Payload"]))]
        dv["SourceTimestamp"] = dv["SourceTimestamp"].replace("Z", "+00:00")

    def body(key: str, v: Any) -> Callable[[dict[str, Any], random.Random], None]:
        def apply(m: dict[str, Any], r: random.Random) -> None:
            m[key] = v

        return apply

    return [
        set_value(3), set_value(True), set_value(None), set_value("1.5"), set_value(1e39), set_value(-1e39),
        set_value(10**40), set_value(float("nan")), set_value(float("inf")), set_value(-0.0), set_value(2**62),
        drop("dv", "Value"),
        set_dv("StatusCode", {"Symbol": "BadSensorFailure"}), set_dv("StatusCode", {"Symbol": "UncertainLastUsable"}),
        set_dv("StatusCode", {"Code": 0x80000000}), set_dv("StatusCode", {"Code": 0x40000000}),
        set_dv("StatusCode", {"Code": 0}), set_dv("StatusCode", {"Code": True}), set_dv("StatusCode", {"Symbol": 5}),
        set_dv("StatusCode", {"Symbol": "", "Code": 0x80000000}), set_dv("StatusCode", "Bad"),
        set_dv("StatusCode", None), set_dv("StatusCode", {"Symbol": "BadNoComm"}, drop_value=True),
        set_dv("StatusCode", None, drop_value=True), set_dv("Value", None, drop_value=False),
        set_dv("SourceTimestamp", ""), set_dv("SourceTimestamp", "not a time"), set_dv("SourceTimestamp", 5),
        set_dv("SourceTimestamp", "2026-11-22T09:00:00.000Z"), set_dv("SourceTimestamp", "2026-11-22T11:00:00+01:00"),
        set_dv("SourceTimestamp", None), drop("dv", "SourceTimestamp"), set_dv("ServerTimestamp", 7),
        drop("ds", "Timestamp"), set_ds("Timestamp", 12), set_ds("DataSetWriterId", 7), set_ds("DataSetWriterId", True),
        set_ds("DataSetWriterId", "unknown-asset"), drop("ds", "DataSetWriterId"), set_ds("MessageType", "ua-keepalive"),
        set_ds("MessageType", 3), set_ds("Payload", []), drop("ds", "Payload"), unwanted,
        mixed, mixed, same_instant, same_instant, body("MessageId", 42), drop("body", "MessageId"), body("Timestamp", "2026-11-22T10:00:00Z"), body("Timestamp", 1),
        body("Messages", {}), body("Messages", [1]), body("Extra", {"any": [1, 2]}),
    ]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_malformed_and_odd_messages_get_the_same_windows_or_the_same_error(seed: int) -> None:
    rnd = random.Random(seed)
    mutations = _mutations()
    # with a fallback for fields not seen yet (the model's training means), as the service builds it
    legacy, new = _assemblers({"pump": {"Flow": 10.0}} if seed == 3 else {})
    errors = fast = refused = 0
    for i, msg in enumerate(plant_messages(300, seed=seed, assets=ASSETS)):
        mutated = copy.deepcopy(msg)
        if rnd.random() < 0.4:
            for _ in range(rnd.choice((1, 1, 2))):
                try:
                    rnd.choice(mutations)(mutated, rnd)
                except (KeyError, TypeError, IndexError, AttributeError, ValueError):
                    pass  # an earlier mutation took away what this one changes
        raw = json.dumps(mutated).encode()
        mid = None if rnd.random() < 0.5 else f"id-{i}"
        got = _outcome(new, _new_path, raw, mid)
        if not _decodes(raw):
            assert contract_refusal(got), (i, mutated, got)
            refused += 1
            continue  # the legacy parser is not fed it either, so the two stay in step
        old = _outcome(legacy, json.loads, raw, mid)
        assert got == old, (i, mutated)
        fast += 1
        errors += isinstance(old, tuple)
    assert errors > 5 and fast > 150 and refused > 3  # the legacy errors, the typed path, refusals


@pytest.fixture
async def services() -> Any:
    made: list[InferenceService] = []
    for _ in range(2):
        svc = InferenceService(
            Settings(model_path=str(REPO), providers=["cpu"], rest_port=-1),
            InferenceMetrics(Metrics("inference", "test")),
        )
        await svc.load_all(svc.settings)
        made.append(svc)
    yield made
    for svc in made:
        await svc.manager.close()


class _Sent:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any, str | None, str | None]] = []

    async def send(
        self, output: str, data: Any, *, kind: str | None = None, message_id: str | None = None
    ) -> str:
        self.items.append((output, data, kind, message_id))
        return message_id or ""


async def test_scores_and_drift_sent_through_on_telemetry_are_identical(
    services: list[InferenceService],
) -> None:
    old_svc, new_svc = services
    old_out, new_out = _Sent(), _Sent()
    for msg in plant_messages(300, assets=ASSETS, start=600):
        raw = json.dumps(msg).encode()
        await old_svc.on_telemetry(old_out, json.loads(raw), None)
        await new_svc.on_telemetry(new_out, _new_path(raw), None)
    assert len(old_out.items) > 50 and {o for o, *_ in old_out.items} >= {"scores"}
    assert new_out.items == old_out.items


def test_a_window_values_are_float32_and_zero_padded_to_the_width() -> None:
    _, new = _assemblers({})
    windows: list[Window] = []
    for msg in plant_messages(40, assets=("pump",)):
        windows += new.feed(_new_path(json.dumps(msg).encode()), None)
    w = windows[0]
    meta = read_version(REPO, "sensor_anomaly", "1").metadata
    assert meta.window is not None
    n = len(meta.assets["pump"].fields)
    assert w.values.dtype == np.float32 and w.values.shape == (meta.window.length, meta.window.width)
    assert not w.values[:, n:].any() and w.values[:, :n].any()
