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


def _normal_signals(asset: str, fields: list[str], n: int, seed: int) -> np.ndarray:
    """Normal operating data for one asset (switch to the plant simulator's generator once its API lands)."""
    return _fallback_signals(asset, fields, n, seed)


def _fallback_signals(asset: str, fields: list[str], n: int, seed: int) -> np.ndarray:
    """Correlated 10 Hz signals like the plant simulator's: one load drives current, vibration, heat, flow."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    # slow load: two sinusoids plus a smoothed random walk, in [0.4, 1.0]
    walk = np.cumsum(rng.normal(0.0, 0.01, n))
    walk = np.convolve(walk - walk.mean(), np.ones(200) / 200, mode="same")
    load = 0.7 + 0.12 * np.sin(2 * np.pi * t / 600.0) + 0.05 * np.sin(2 * np.pi * t / 97.0) + 0.5 * walk
    load = np.clip(load, 0.4, 1.0)
    current = 20.0 + 60.0 * load + rng.normal(0, 0.8, n)
    # bearing temperature: first-order lag of the current (tau 120 s)
    alpha = 0.1 / 120.0
    temp = np.empty(n)
    temp[0] = 35.0 + 0.4 * current[0]
    for i in range(1, n):
        temp[i] = temp[i - 1] + alpha * (35.0 + 0.4 * current[i] - temp[i - 1])
    temp += rng.normal(0, 0.15, n)
    vibration = 1.5 + 2.5 * load + 0.3 * np.sin(2 * np.pi * t * 1.3) + np.abs(rng.normal(0, 0.25, n))
    speed = 1.2 + 1.8 * load + rng.normal(0, 0.03, n)
    flow = 80.0 + 220.0 * load + rng.normal(0, 3.0, n)
    pressure = 1.0 + 4.0 * (flow / 300.0) ** 2 + rng.normal(0, 0.05, n)
    by_name = {
        "MotorCurrent": current,
        "BearingTemperature": temp,
        "Vibration": vibration,
        "BeltSpeed": speed,
        "Flow": flow,
        "DischargePressure": pressure,
        "FeedRate": 150.0 + 250.0 * load + rng.normal(0, 4.0, n),
    }
    return np.stack([by_name[f] for f in fields], axis=1)


# asset = DataSetWriterId, field = DisplayName (as the plant simulator publishes them)
ASSETS: dict[str, list[str]] = {
    "conveyor": ["MotorCurrent", "BeltSpeed", "Vibration", "BearingTemperature"],
    "crusher": ["MotorCurrent", "FeedRate", "Vibration", "BearingTemperature"],
    "pump": ["MotorCurrent", "Flow", "DischargePressure", "Vibration", "BearingTemperature"],
}


def _windows(x: np.ndarray) -> np.ndarray:
    starts = range(0, len(x) - WINDOW + 1, STRIDE)
    return np.stack([x[s : s + WINDOW] for s in starts])


def _q(a: np.ndarray, decimals: int = 5) -> np.ndarray:
    """Round to a fixed grid so that tiny float differences between machines do not change the file."""
    return np.round(a.astype(np.float64), decimals).astype(np.float32)


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
    for a, (asset, fields) in enumerate(ASSETS.items()):
        raw = _normal_signals(asset, fields, SAMPLES_PER_ASSET, seed + a)
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
        "drift": {"metric": "psi", "threshold": 0.25, "windowSize": 600, "baseline": baseline},
        "training": {"seed": seed, "samplesPerAsset": SAMPLES_PER_ASSET, "components": COMPONENTS},
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
