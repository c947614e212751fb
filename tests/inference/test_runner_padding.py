"""OrtRunner pads a short batch to the model's one batch shape and answers only for the real rows."""

from __future__ import annotations

import numpy as np
import pytest
from inference_helpers import REPO
from onnx import TensorProto, helper

from inference.engine.session import OrtRunner, create_session, example_feeds
from inference.models.metadata import TensorSpec
from inference.models.repository import read_version


def _runner(model: str, pad: bool) -> OrtRunner:
    files = read_version(REPO, model, "1")
    batching = files.metadata.batching.model_copy(update={"max_batch_size": 8, "pad_batch": pad})
    meta = files.metadata.model_copy(update={"batching": batching})
    sess, report = create_session(files.data, ["cpu"], 1)
    return OrtRunner(sess, report, meta)


def _feeds(runner: OrtRunner, n: int) -> dict[str, np.ndarray]:
    feeds = example_feeds(runner.meta, n)
    rng = np.random.default_rng(n)
    for name, value in feeds.items():
        if value.dtype == np.float32:
            feeds[name] = rng.random(value.shape, np.float32)
        else:
            feeds[name] = (np.arange(n) % 3).astype(value.dtype)  # the sensor model's asset index
    return feeds


@pytest.mark.parametrize("model", ["sensor_anomaly", "defect_detector"])
@pytest.mark.parametrize("n", [1, 3, 8], ids=["one-row", "three-rows", "full-batch"])
def test_a_padded_batch_gives_each_real_row_the_unpadded_result(model: str, n: int) -> None:
    padded, plain = _runner(model, pad=True), _runner(model, pad=False)
    assert (padded.pad_to, plain.pad_to) == (8, 0)
    feeds = _feeds(plain, n)
    calls: list[int] = []
    run = padded.sess.run

    def spy(names: list[str], inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        calls.append(len(next(iter(inputs.values()))))
        return run(names, inputs)

    padded.sess.run = spy  # type: ignore[method-assign]
    got, want = padded.run(feeds), plain.run(feeds)
    assert calls == [8]  # always the one shape
    for g, w in zip(got, want, strict=True):
        assert g.shape[0] == n
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_an_input_without_a_batch_dimension_is_passed_as_it_is() -> None:
    """y = x * scale with x [-1, 2] batched and scale [1] not: only x is padded, only y cut back."""
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "scale"], ["y"])],
        "scale",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, [1]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    base = read_version(REPO, "sensor_anomaly", "1").metadata
    meta = base.model_copy(
        update={
            "inputs": [
                TensorSpec(name="x", dtype="float32", shape=[-1, 2]),
                TensorSpec(name="scale", dtype="float32", shape=[1]),
            ],
            "outputs": [TensorSpec(name="y", dtype="float32", shape=[-1, 2])],
            "batching": base.batching.model_copy(update={"max_batch_size": 4, "pad_batch": True}),
        }
    )
    sess, report = create_session(model.SerializeToString(), ["cpu"], 1)
    runner = OrtRunner(sess, report, meta)
    x = np.array([[1.0, 2.0]], np.float32)
    (y,) = runner.run({"x": x, "scale": np.array([3.0], np.float32)})
    np.testing.assert_array_equal(y, [[3.0, 6.0]])
