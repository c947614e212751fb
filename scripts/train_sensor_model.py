"""Train and export the sensor-window anomaly model (per-asset PCA reconstruction) to the repository."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edgeloop_dev.plant.faults import fault_schedule
from edgeloop_dev.plant.model import PlantModel
from edgeloop_dev.plant.tags import ASSETS as PLANT_ASSETS
from edgeloop_dev.plant.tags import PROCESS_TAGS
from inference.models.metadata import FieldBaseline
from inference.sensor.drift import psi

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "modules" / "inference" / "model_repository"
MODEL_NAME = "sensor_anomaly"
VERSION = "1"
OPSET = 17
IR_VERSION = 8
WINDOW = 30  # rows per window (one row per DataSetMessage of the asset)
STRIDE = 10
COMPONENTS = 8
SAMPLES_PER_ASSET = 24_000  # 40 minutes at 10 Hz
BINS = 10
SAMPLE_HZ = 10.0
DRIFT_WINDOW = 600  # rows per asset between drift checks (one minute at 10 Hz)
PSI_MIN = 0.25  # the usual "significant shift" PSI
PSI_MARGIN = 1.25
# about half PSI's ceiling with 10 bins (~8.3): a field calibrated above it is judged by meanShift
PSI_CAP = 4.0
MEAN_SHIFT_MIN = 3.0  # training standard deviations
WARMUP_ROWS = 1800  # the plant's first three minutes (bearings cooling to steady state) are not calibration
_PREFIX = {t.asset: t.name.split(".", 1)[0] for t in PROCESS_TAGS}


def _asset_fields() -> dict[str, list[str]]:
    """asset (the plant's DataSetWriterId) -> fields (its tags' DisplayNames), from the tag catalogue."""
    out: dict[str, list[str]] = {asset: [] for asset in PLANT_ASSETS}
    for tag in PROCESS_TAGS:
        out[tag.asset].append(tag.display_name)
    return out


ASSETS = _asset_fields()


def normal_signals(seed: int, n: int) -> dict[str, np.ndarray]:
    """Normal operation (no faults) from the plant simulator's process model at 10 Hz, per asset."""
    model = PlantModel(fault_schedule(seed, "steady"), seed=seed)
    rows = [model.step(i / SAMPLE_HZ) for i in range(n)]
    return {
        asset: np.array([[r[f"{_PREFIX[asset]}.{f}"].value for f in fields] for r in rows], np.float64)
        for asset, fields in ASSETS.items()
    }


def _windows(x: np.ndarray) -> np.ndarray:
    starts = range(0, len(x) - WINDOW + 1, STRIDE)
    return np.stack([x[s : s + WINDOW] for s in starts])


def _q(a: np.ndarray, decimals: int = 5) -> np.ndarray:
    """Round to a fixed grid so that tiny float differences between machines do not change the file; a
    value that rounds to zero is +0.0 (BLAS kernels differ per CPU in the sign of the near-zero ones)."""
    return (np.round(a.astype(np.float64), decimals) + 0.0).astype(np.float32)


def _psi_threshold(base: dict[str, Any], values: np.ndarray) -> float:
    """Calibrated PSI threshold of one field: slow process signals (densities, pressures) wander, so a
    drift window of normal operation does not cover the whole training distribution; the threshold is
    the largest PSI of any drift window of the training data after the start-up transient, with a margin,
    and at least PSI_MIN."""
    fb = FieldBaseline.model_validate(base)
    starts = range(WARMUP_ROWS, len(values) - DRIFT_WINDOW + 1, DRIFT_WINDOW)
    normal = max(psi(fb, values[s : s + DRIFT_WINDOW]) for s in starts)
    return round(max(PSI_MIN, PSI_MARGIN * normal), 3)


def _drift_rule(base: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    """PSI with its calibrated threshold where PSI can tell drift from normal wander at this window size;
    otherwise (slow signals whose one-minute windows each cover a sliver of the training range, so PSI
    is near its ceiling in normal operation) the shift of the window mean, calibrated the same way."""
    threshold = _psi_threshold(base, values)
    if threshold <= PSI_CAP:
        return {"metric": "psi", "psiThreshold": threshold}
    starts = range(WARMUP_ROWS, len(values) - DRIFT_WINDOW + 1, DRIFT_WINDOW)
    normal = max(abs(float(values[s : s + DRIFT_WINDOW].mean()) - base["mean"]) / base["std"] for s in starts)
    return {"metric": "meanShift", "meanShiftThreshold": round(max(MEAN_SHIFT_MIN, PSI_MARGIN * normal), 3)}


def train(seed: int) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Fit per-asset normalisation, PCA, score scale and drift baselines; return metadata and tensors."""
    width = max(len(f) for f in ASSETS.values())
    n_assets = len(ASSETS)
    dim = WINDOW * width
    mean = np.zeros((n_assets, width), np.float32)
    std = np.ones((n_assets, width), np.float32)
    comps = np.zeros((n_assets, dim, COMPONENTS), np.float32)
    scale = np.ones((n_assets,), np.float32)
    assets_meta: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    signals = normal_signals(seed, SAMPLES_PER_ASSET)
    for a, (asset, fields) in enumerate(ASSETS.items()):
        raw = signals[asset]
        mu, sd = raw.mean(axis=0), raw.std(axis=0) + 1e-6
        mean[a, : len(fields)] = _q(mu, 4)
        std[a, : len(fields)] = _q(sd, 4)
        z = np.zeros((len(raw), width))
        z[:, : len(fields)] = (raw - mean[a, : len(fields)]) / std[a, : len(fields)]
        w = _windows(z).reshape(-1, dim)
        # PCA on uncentred normalised windows (the window mean carries the operating point)
        _, _, vt = np.linalg.svd(w, full_matrices=False)
        p = vt[:COMPONENTS].T
        p *= np.sign(p[np.argmax(np.abs(p), axis=0), np.arange(COMPONENTS)])  # deterministic sign
        comps[a] = _q(p, 5)
        r = w - w @ comps[a].astype(np.float64) @ comps[a].T.astype(np.float64)
        train_scores = (r**2).sum(axis=1) / (WINDOW * width)
        scale[a] = _q(np.array([np.quantile(train_scores, 0.995)]), 5)[0]
        assets_meta[asset] = {"index": a, "fields": fields}
        baseline[asset] = {}
        for f, field in enumerate(fields):
            edges = np.quantile(raw[:, f], np.linspace(0, 1, BINS + 1))[1:-1]
            counts = np.bincount(np.searchsorted(edges, raw[:, f], side="right"), minlength=BINS)
            baseline[asset][field] = {
                "edges": [round(float(e), 4) for e in edges],
                "fractions": [round(float(c) / len(raw), 5) for c in counts],
                "mean": round(float(mu[f]), 4),
                "std": round(float(sd[f]), 4),
            }
            baseline[asset][field].update(_drift_rule(baseline[asset][field], raw[:, f]))
    meta: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": VERSION,
        "kind": "window",
        "description": "Per-asset PCA reconstruction of normalised windows; score 1.0 = 99.5th pct of normal",
        "inputs": [
            {"name": "window", "dtype": "float32", "shape": [-1, WINDOW, width]},
            {"name": "asset", "dtype": "int64", "shape": [-1]},
        ],
        "outputs": [
            {"name": "score", "dtype": "float32", "shape": [-1]},
            {"name": "contributions", "dtype": "float32", "shape": [-1, width]},
        ],
        "window": {"length": WINDOW, "stride": STRIDE, "width": width},
        "assets": assets_meta,
        "threshold": 1.0,
        "batching": {"maxBatchSize": 64, "maxQueueDelayMs": 5.0},
        "drift": {"metric": "psi", "threshold": PSI_MIN, "windowSize": DRIFT_WINDOW, "baseline": baseline},
        "training": {
            "seed": seed,
            "samplesPerAsset": SAMPLES_PER_ASSET,
            "source": "edgeloop_dev.plant.model.PlantModel (steady)",
            "components": COMPONENTS,
        },
    }
    return meta, {"mean": mean, "std": std, "components": comps, "scale": scale}


def build_onnx(t: dict[str, np.ndarray], width: int) -> onnx.ModelProto:
    """score = sum of contributions; contribution = a feature's squared PCA residual / asset scale."""
    dim = WINDOW * width
    c = numpy_helper.from_array
    inits = [
        c(t["mean"], "mean_table"),
        c(t["std"], "std_table"),
        c(t["components"], "components_table"),
        c(t["scale"], "scale_table"),
        c(np.array([1], np.int64), "axis1"),
        c(np.array([-1, dim], np.int64), "flat_shape"),
        c(np.array([-1, WINDOW, width], np.int64), "win_shape"),
        c(np.array([WINDOW * width], np.float32), "norm"),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["mean_table", "asset"], ["mu"], axis=0),
        n("Gather", ["std_table", "asset"], ["sd"], axis=0),
        n("Unsqueeze", ["mu", "axis1"], ["mu3"]),
        n("Unsqueeze", ["sd", "axis1"], ["sd3"]),
        n("Sub", ["window", "mu3"], ["centred"]),
        n("Div", ["centred", "sd3"], ["z"]),
        n("Reshape", ["z", "flat_shape"], ["zf"]),
        n("Unsqueeze", ["zf", "axis1"], ["zrow"]),
        n("Gather", ["components_table", "asset"], ["p"], axis=0),
        n("MatMul", ["zrow", "p"], ["proj"]),
        n("Transpose", ["p"], ["pt"], perm=[0, 2, 1]),
        n("MatMul", ["proj", "pt"], ["recon3"]),
        n("Squeeze", ["recon3", "axis1"], ["recon"]),
        n("Sub", ["zf", "recon"], ["resid"]),
        n("Mul", ["resid", "resid"], ["sq"]),
        n("Reshape", ["sq", "win_shape"], ["sq3"]),
        n("ReduceSum", ["sq3", "axis1"], ["per_field"], keepdims=0),
        n("Gather", ["scale_table", "asset"], ["sc"], axis=0),
        n("Unsqueeze", ["sc", "axis1"], ["sc2"]),
        n("Mul", ["sc2", "norm"], ["denom"]),
        n("Div", ["per_field", "denom"], ["contributions"]),
        n("ReduceSum", ["contributions", "axis1"], ["score"], keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        MODEL_NAME,
        [
            helper.make_tensor_value_info("window", TensorProto.FLOAT, ["batch", WINDOW, width]),
            helper.make_tensor_value_info("asset", TensorProto.INT64, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["batch"]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["batch", width]),
        ],
        inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edgeloop-train"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


def write_version(out: Path, name: str, version: str, model: onnx.ModelProto, meta: dict[str, Any]) -> Path:
    """Write `<out>/<name>/<version>/model.onnx` and `metadata.json` (with the model's sha256)."""
    vdir = out / name / version
    vdir.mkdir(parents=True, exist_ok=True)
    data = model.SerializeToString(deterministic=True)
    (vdir / "model.onnx").write_bytes(data)
    meta = {**meta, "sha256": hashlib.sha256(data).hexdigest(), "opset": OPSET, "irVersion": IR_VERSION}
    (vdir / "metadata.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return vdir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model repository root")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    meta, tensors = train(args.seed)
    model = build_onnx(tensors, meta["window"]["width"])
    vdir = write_version(args.out, MODEL_NAME, VERSION, model, meta)
    print(f"wrote {vdir} ({(vdir / 'model.onnx').stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
