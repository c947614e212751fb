"""The shipped models are reproducible from the training scripts, load in ONNX Runtime and keep contract."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from edgeloop_dev.plant.faults import fault_schedule
from edgeloop_dev.plant.model import PlantModel

ROOT = Path(__file__).resolve().parents[2]
REPO = ROOT / "modules" / "inference" / "model_repository"
TESTSET = ROOT / "tests" / "data" / "vision" / "defects"


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("script", "model", "with_testset"),
    [
        pytest.param("train_sensor_model.py", "sensor_anomaly", False, id="sensor-window-pca"),
        pytest.param("train_vision_model.py", "defect_detector", True, id="defect-detector"),
    ],
)
def test_rerunning_the_training_script_reproduces_the_committed_files(
    tmp_path: Path, script: str, model: str, with_testset: bool
) -> None:
    args = [sys.executable, str(ROOT / "scripts" / script), "--out", str(tmp_path / "repo")]
    if with_testset:
        args += ["--testset", str(tmp_path / "testset")]
    subprocess.run(args, check=True, capture_output=True, timeout=110)
    assert _digests(tmp_path / "repo" / model) == _digests(REPO / model)
    if with_testset:
        assert _digests(tmp_path / "testset") == _digests(TESTSET)


@pytest.mark.parametrize("model", ["sensor_anomaly", "defect_detector"])
def test_shipped_model_has_explicit_opset_ir_and_matching_checksum(model: str) -> None:
    vdir = REPO / model / "1"
    meta = json.loads((vdir / "metadata.json").read_text())
    data = (vdir / "model.onnx").read_bytes()
    assert hashlib.sha256(data).hexdigest() == meta["sha256"]
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version <= 13
    assert [o.version for o in proto.opset_import if o.domain == ""] == [meta["opset"]]
    assert meta["opset"] <= 26
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == [i["name"] for i in meta["inputs"]]
    assert [o.name for o in sess.get_outputs()] == [o["name"] for o in meta["outputs"]]


def test_sensor_model_scores_plant_windows_low_and_a_spike_high() -> None:
    vdir = REPO / "sensor_anomaly" / "1"
    meta = json.loads((vdir / "metadata.json").read_text())
    sess = ort.InferenceSession(str(vdir / "model.onnx"), providers=["CPUExecutionProvider"])
    length, width = meta["window"]["length"], meta["window"]["width"]
    fields = meta["assets"]["pump"]["fields"]
    plant = PlantModel(fault_schedule(99, "steady"), seed=99)  # a seed the model was not trained on
    rows = [plant.step(i / 10.0) for i in range(600)]
    w = np.zeros((2, length, width), np.float32)
    for f, name in enumerate(fields):
        w[:, :, f] = [r[f"Pump.{name}"].value for r in rows[-length:]]
    vib = fields.index("Vibration")
    w[1, length // 2, vib] += 20 * meta["drift"]["baseline"]["pump"]["Vibration"]["std"]
    idx = np.full(2, meta["assets"]["pump"]["index"], np.int64)
    score, contrib = sess.run(None, {"window": w, "asset": idx})
    assert score[0] < meta["threshold"] < score[1]
    assert int(np.argmax(contrib[1])) == vib
    np.testing.assert_allclose(contrib.sum(axis=1), score, rtol=1e-4)
