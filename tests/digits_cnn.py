"""A small CNN trained on scikit-learn's bundled digits (8x8 images, 1797 samples; no
download), in numpy, then exported to ONNX with onnx.helper: the model of the int8
accuracy target (issue 12: INT8 top-1 within 0.5 points of fp32).

    conv 1->16 3x3, relu, conv 16->32 3x3, relu, max-pool 2, flatten, gemm 512->64, relu, gemm 64->10

Training is plain Adam on softmax cross-entropy, written out (no torch), seeded: the same
weights on every run. `python -m tests.digits_cnn` prints top-1 fp32 against int8 for each
calibration method (the figures in BENCHMARKS.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

BATCH = 50
"""The exported model's batch: the reference interpreter runs 50 images at once."""
SEED = 0
EPOCHS = 12


@dataclass(frozen=True)
class Split:
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def digits() -> Split:
    """The digits as (N, 1, 8, 8) float32 in [0, 1]; a fixed split, 1347 train / 450 test."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    order = np.random.default_rng(SEED).permutation(len(x))
    train, test = order[:1347], order[1347:]
    return Split(x[train], data.target[train], x[test], data.target[test])


# --- the network, forward and backward ------------------------------------------------------


def _im2col(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N*H*W, C*9): the 3x3 patches (padding 1) a conv multiplies."""
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    patches = np.stack([padded[:, :, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=2)
    return patches.transpose(0, 3, 4, 1, 2).reshape(n * h * w, c * 9)


def _col2im(cols: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, c, h, w = shape
    patches = cols.reshape(n, h, w, c, 9).transpose(0, 3, 4, 1, 2)
    padded = np.zeros((n, c, h + 2, w + 2), cols.dtype)
    for k in range(9):
        i, j = divmod(k, 3)
        padded[:, :, i : i + h, j : j + w] += patches[:, :, k]
    return padded[:, :, 1:-1, 1:-1]


def _init(rng: np.random.Generator) -> dict[str, np.ndarray]:
    def he(*shape):
        return (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))).astype(np.float32)

    return {
        "w1": he(16, 1, 3, 3), "b1": np.zeros(16, np.float32),
        "w2": he(32, 16, 3, 3), "b2": np.zeros(32, np.float32),
        "w3": he(64, 512), "b3": np.zeros(64, np.float32),
        "w4": he(10, 64), "b4": np.zeros(10, np.float32),
    }


def _conv(x, w, b):
    n, _, h, wd = x.shape
    cols = _im2col(x)
    out = cols @ w.reshape(len(w), -1).T + b
    return out.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), cols


def _forward(p, x):
    c1, cols1 = _conv(x, p["w1"], p["b1"])
    r1 = np.maximum(c1, 0)
    c2, cols2 = _conv(r1, p["w2"], p["b2"])
    r2 = np.maximum(c2, 0)
    n = len(x)
    blocks = r2.reshape(n, 32, 4, 2, 4, 2)
    pooled = blocks.max(axis=(3, 5))
    flat = pooled.reshape(n, 512)
    h = flat @ p["w3"].T + p["b3"]
    r3 = np.maximum(h, 0)
    logits = r3 @ p["w4"].T + p["b4"]
    return logits, (x, cols1, c1, r1, cols2, c2, r2, blocks, pooled, flat, h, r3)


def _backward(p, cache, dlogits):
    x, cols1, c1, r1, cols2, c2, r2, blocks, pooled, flat, h, r3 = cache
    n = len(x)
    g = {"w4": dlogits.T @ r3, "b4": dlogits.sum(0)}
    dh = (dlogits @ p["w4"]) * (h > 0)
    g["w3"], g["b3"] = dh.T @ flat, dh.sum(0)
    dpooled = (dh @ p["w3"]).reshape(pooled.shape)
    mask = blocks == pooled[:, :, :, None, :, None]
    dr2 = (mask * dpooled[:, :, :, None, :, None]).reshape(r2.shape)  # ties: every max gets it
    dc2 = (dr2 * (c2 > 0)).transpose(0, 2, 3, 1).reshape(-1, 32)
    g["w2"], g["b2"] = (dc2.T @ cols2).reshape(p["w2"].shape), dc2.sum(0)
    dr1 = _col2im(dc2 @ p["w2"].reshape(32, -1), r1.shape)
    dc1 = (dr1 * (c1 > 0)).transpose(0, 2, 3, 1).reshape(-1, 16)
    g["w1"], g["b1"] = (dc1.T @ cols1).reshape(p["w1"].shape), dc1.sum(0)
    return {k: v / n for k, v in g.items()}


def train(split: Split) -> dict[str, np.ndarray]:
    """Adam (lr 2e-3) on mini-batches of 32 for `EPOCHS` epochs, seeded."""
    rng = np.random.default_rng(SEED)
    params = _init(rng)
    moments = {k: (np.zeros_like(v), np.zeros_like(v)) for k, v in params.items()}
    step = 0
    for _ in range(EPOCHS):
        order = rng.permutation(len(split.train_x))
        for start in range(0, len(order), 32):
            batch = order[start : start + 32]
            logits, cache = _forward(params, split.train_x[batch])
            probs = np.exp(logits - logits.max(1, keepdims=True))
            probs /= probs.sum(1, keepdims=True)
            probs[np.arange(len(batch)), split.train_y[batch]] -= 1
            step += 1
            for k, grad in _backward(params, cache, probs).items():
                m, v = moments[k]
                m[:] = 0.9 * m + 0.1 * grad
                v[:] = 0.999 * v + 0.001 * grad**2
                update = 2e-3 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
                params[k] = (params[k] - update).astype(np.float32)
    return params


def numpy_top1(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_forward(params, x)[0].argmax(1) == y) * 100)


# --- ONNX -------------------------------------------------------------------------------------


def export(params: dict[str, np.ndarray], batch: int = BATCH) -> onnx.ModelProto:
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], **conv),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], **conv),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("MaxPool", ["r2"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r3"]),
        helper.make_node("Gemm", ["r3", "w4", "b4"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [batch, 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        [numpy_helper.from_array(v, k) for k, v in params.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# --- top-1 through optc's reference interpreter -----------------------------------------------


def compiled(model: onnx.ModelProto, precision: str, calibration=None):
    """The model at `--compile-to graph` and `precision` (int8: with `calibration`, the
    CalibrationOptions), as optc prints it."""
    from compiler.calibration import int8_pipeline
    from compiler.onnx_import import import_onnx
    from compiler.pipelines import with_precision
    from tests.support import apply_pipeline

    module = import_onnx(model)
    spec = int8_pipeline(module, "graph", calibration) if precision == "int8" else with_precision("graph", precision)
    return apply_pipeline(module, spec)


def top1(module, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 (%) of `module` (batch `BATCH`) over `x`, `y` (a multiple of the batch)."""
    from runtime.reference import run

    right = 0
    for start in range(0, len(x), BATCH):
        logits = run(module, {"image": x[start : start + BATCH]})["logits"]
        right += int(np.sum(logits.argmax(1) == y[start : start + BATCH]))
    return right * 100.0 / len(x)


def calibration_file(split: Split, folder: str, samples: int = 5) -> str:
    """`samples` batches of training images, stacked on the batch axis."""
    path = os.path.join(folder, "digits-calibration.npz")
    np.savez(path, image=split.train_x[: samples * BATCH])
    return path


def figures(methods=("minmax", "percentile", "entropy", "mse")) -> dict[str, float]:
    """Top-1 (%) on the held-out split: fp32 and int8 per method."""
    from compiler.calibration import CalibrationOptions

    split = digits()
    model = export(train(split))
    results = {"fp32": top1(compiled(model, "fp32"), split.test_x, split.test_y)}
    with tempfile.TemporaryDirectory() as folder:
        data = calibration_file(split, folder)
        for method in methods:
            module = compiled(model, "int8", CalibrationOptions(data=data, method=method))
            results[f"int8 {method}"] = top1(module, split.test_x, split.test_y)
    return results


if __name__ == "__main__":
    for name, value in figures().items():
        print(f"{name:<18} {value:.2f}")
    sys.exit(0)
