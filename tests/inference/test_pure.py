"""Pure parts of inference: windows from PubSub, drift PSI, letterbox, NMS, repository validation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from inference_helpers import REPO, TESTSET, add_version, copy_repo, plant_messages

from inference.errors import BadInput, ModelRejected
from inference.models.metadata import AssetSpec, Batching, FieldBaseline, WindowSpec
from inference.models.repository import models, pick_version, read_version
from inference.sensor.drift import DriftMonitor, mean_shift, psi
from inference.sensor.windows import WindowAssembler
from inference.vision.post import nms
from inference.vision.pre import decode, jpeg_size, letterbox


def _assembler() -> WindowAssembler:
    meta = read_version(REPO, "sensor_anomaly", "1").metadata
    assert meta.window is not None
    return WindowAssembler(meta.window, meta.assets, {})


def test_windows_are_cut_every_stride_rows_with_newest_source_timestamp_and_ids() -> None:
    asm = _assembler()
    out = [w for i, m in enumerate(plant_messages(60)) for w in asm.feed(m, f"id-{i}")]
    assert [w.window_end for w in out] == [
        plant_messages(60)[i]["Messages"][0]["Timestamp"] for i in (29, 39, 49, 59)
    ]
    w = out[0]
    assert w.asset == "pump" and w.values.shape == (30, 8) and w.quality == "good"
    assert w.source_timestamp == w.window_end
    assert w.message_ids == tuple(f"id-{i}" for i in range(30))


@pytest.mark.parametrize("fields", [["Flow"], ["Flow", "Speed"]], ids=["one-field", "two-fields"])
def test_rows_hold_each_field_in_order_then_zero_padding(fields: list[str]) -> None:
    asm = WindowAssembler(
        WindowSpec(length=2, stride=1, width=3), {"pump": AssetSpec(fields=fields, index=0)}, {}
    )
    windows = []
    for i in range(2):
        payload = {
            f: {"Value": float(10 * i + k + 1), "SourceTimestamp": f"2027-01-15T08:00:0{i}Z"}
            for k, f in enumerate(fields)
        }
        windows += asm.feed({"Messages": [{"DataSetWriterId": "pump", "Payload": payload}]}, None)
    expected = [[10 * i + k + 1 for k in range(len(fields))] + [0] * (3 - len(fields)) for i in range(2)]
    assert [w.values.tolist() for w in windows] == [expected]


def test_bad_status_marks_the_window_bad_and_carries_the_last_value() -> None:
    asm = _assembler()
    msgs = plant_messages(30)
    msgs[10]["Messages"][0]["Payload"]["Flow"] = {
        "Value": None,
        "SourceTimestamp": "2026-11-22T10:00:01.000Z",
        "StatusCode": {"Code": 0x80310000, "Symbol": "BadNoCommunication"},
    }
    out = [w for m in msgs for w in asm.feed(m, None)]
    assert out[0].quality == "bad"
    assert out[0].values[10, 1] == out[0].values[9, 1]


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        pytest.param(lambda m: m.pop("Messages"), "bad_telemetry", id="no-messages"),
        pytest.param(lambda m: m["Messages"][0].pop("Payload"), "bad_telemetry", id="no-payload"),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].pop("Value"), "bad_telemetry", id="no-value"
        ),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].update(Value=math.nan), "bad_value", id="nan"
        ),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].update(Value=math.inf), "bad_value", id="inf"
        ),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].update(Value="12"), "bad_value", id="string"
        ),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].update(Value=True), "bad_value", id="bool"
        ),
        pytest.param(
            lambda m: m["Messages"][0]["Payload"]["Flow"].update(SourceTimestamp="yesterday"),
            "bad_telemetry",
            id="bad-timestamp",
        ),
    ],
)
def test_bad_telemetry_is_rejected_with_a_reason_and_leaves_state_untouched(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    asm = _assembler()
    msgs = plant_messages(31)
    for m in msgs[:29]:
        asm.feed(m, None)
    bad = msgs[29]
    mutate(bad)
    with pytest.raises(BadInput) as err:
        asm.feed(bad, None)
    assert err.value.reason == reason
    assert len(asm.feed(msgs[30], None)) == 1  # the bad message added no row; the next one completes


def test_psi_is_zero_on_the_baseline_and_large_on_a_shift() -> None:
    base = FieldBaseline(edges=[1, 2, 3], fractions=[0.25, 0.25, 0.25, 0.25])
    same = np.array([0.5, 1.5, 2.5, 3.5] * 50)
    assert psi(base, same) == pytest.approx(0.0, abs=1e-9)
    assert psi(base, same + 3) > 1.0
    mon = DriftMonitor({"pump": {"Flow": base}}, size=200, threshold=0.25)
    mon.add("pump", ["Flow"], (same + 3)[:, None])
    assert mon.due("pump") and mon.check("pump")["Flow"] > 1.0


def test_slow_field_is_judged_by_the_shift_of_its_mean_not_psi() -> None:
    # a slow signal: each window covers a sliver of the training range, so PSI is near its ceiling anyway
    slow = FieldBaseline(edges=[1, 2, 3], fractions=[0.25] * 4, mean=2.0, std=1.0, metric="meanShift",
                         meanShiftThreshold=3.0)  # fmt: skip
    sliver = np.full(200, 2.6)
    assert psi(slow, sliver) > 5.0
    assert mean_shift(slow, sliver) == pytest.approx(0.6)
    mon = DriftMonitor({"pump": {"Temp": slow}}, size=200, threshold=0.25)
    mon.add("pump", ["Temp"], sliver[:, None])
    assert mon.metric("pump", "Temp") == "meanShift" and mon.limit("pump", "Temp") == 3.0
    assert mon.check("pump")["Temp"] == pytest.approx(0.6)  # normal wander: below its threshold
    mon.add("pump", ["Temp"], (sliver + 3)[:, None])
    assert mon.check("pump")["Temp"] == pytest.approx(3.6)  # an offset of 3.6 sd: drifted


def test_jpeg_decode_letterbox_and_back() -> None:
    data = (TESTSET / "defect_000.jpg").read_bytes()
    assert jpeg_size(data) == (512, 384)
    img, w, h = decode(data, 256)
    assert img.shape == (192, 256, 3)  # decoded at half size: still covers the 256 input
    canvas, box = letterbox(img, w, h, 256, 114)
    assert canvas.shape == (256, 256, 3) and box.pad_y == 32 and box.scale == 0.5
    back = box.to_original(np.array([[0, 32, 256, 224]], np.float32))
    np.testing.assert_allclose(back, [[0, 0, 512, 384]])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(b"", "empty_image", id="empty"),
        pytest.param(b"not a jpeg at all", "corrupt_image", id="garbage"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x10JFIF", "corrupt_image", id="truncated"),
        pytest.param(b"\xff\xd8" + b"\x00" * (9 * 1024 * 1024), "image_too_large", id="huge"),
    ],
)
def test_unusable_images_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(BadInput) as err:
        decode(data, 256)
    assert err.value.reason == reason


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    keep = nms(boxes, np.array([0.6, 0.9, 0.5]), 0.5)
    assert keep.tolist() == [1, 2]


def test_repository_picks_the_highest_version_and_refuses_bad_ones(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    add_version(repo, "sensor_anomaly", "1", "2")
    add_version(repo, "sensor_anomaly", "1", "10", corrupt=True)
    assert models(repo) == ["defect_detector", "sensor_anomaly"]
    assert pick_version(repo, "sensor_anomaly", None) == "10"  # numeric order, not text
    with pytest.raises(ModelRejected) as err:
        read_version(repo, "sensor_anomaly", "10")
    assert err.value.reason == "checksum"
    meta = json.loads((repo / "sensor_anomaly" / "2" / "metadata.json").read_text())
    meta["inputs"][0]["dtype"] = "complex"
    (repo / "sensor_anomaly" / "2" / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelRejected) as err:
        read_version(repo, "sensor_anomaly", "2")
    assert err.value.reason == "bad_metadata"
    with pytest.raises(ModelRejected):
        pick_version(repo, "sensor_anomaly", "7")


def test_the_cpu_batch_size_applies_only_off_the_gpu() -> None:
    b = Batching.model_validate({"maxBatchSize": 16, "cpuMaxBatchSize": 2})
    assert b.for_provider(on_gpu=False).max_batch_size == 2
    assert b.for_provider(on_gpu=True).max_batch_size == 16
    assert Batching.model_validate({"maxBatchSize": 8}).for_provider(on_gpu=False).max_batch_size == 8


@pytest.mark.parametrize(
    ("declared", "on_gpu", "padded"),
    [
        pytest.param(None, True, True, id="default-on-gpu-pads"),
        pytest.param(None, False, False, id="default-on-cpu-does-not"),
        pytest.param(False, True, False, id="declared-off-wins-on-gpu"),
        pytest.param(True, False, True, id="declared-on-wins-on-cpu"),
    ],
)
def test_padding_to_one_batch_shape_is_on_for_gpu_providers_unless_declared(
    declared: bool | None, on_gpu: bool, padded: bool
) -> None:
    b = Batching.model_validate({"maxBatchSize": 16, "padBatch": declared})
    assert b.for_provider(on_gpu).pad_batch is padded
