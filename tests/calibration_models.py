"""Small ONNX models for the calibration tests, built with onnx.helper (no downloads)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, np.float32), name)


def residual_cnn(seed: int = 0, batch: int = 1) -> onnx.ModelProto:
    """conv 3->16 (an RGB stem: stays float) -> relu -> conv 16->32 -> relu -> conv 32->32
    -> add (residual) -> relu -> global pool -> flatten -> gemm 32->10 (N 10: float) and a
    second gemm 32->16 (quantized)."""
    rng = np.random.default_rng(seed)

    def weight(*shape):
        return rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))

    inits = [
        _init("w1", weight(16, 3, 3, 3)), _init("b1", rng.standard_normal(16) * 0.1),
        _init("w2", weight(32, 16, 3, 3)), _init("b2", rng.standard_normal(32) * 0.1),
        _init("w3", weight(32, 32, 3, 3)), _init("b3", rng.standard_normal(32) * 0.1),
        _init("fc", weight(10, 32)), _init("fcb", rng.standard_normal(10) * 0.1),
        _init("fc2", weight(16, 32)),
    ]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], **conv),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], **conv),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["c3"], **conv),
        helper.make_node("Add", ["c3", "r2"], ["s"]),
        helper.make_node("Relu", ["s"], ["r3"]),
        helper.make_node("GlobalAveragePool", ["r3"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1),
        helper.make_node("Gemm", ["f", "fc2"], ["z"], transB=1),
    ]
    graph = helper.make_graph(
        nodes, "residual_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [batch, 16])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def qdq_relu() -> onnx.ModelProto:
    """x -> QuantizeLinear -> DequantizeLinear -> Relu: a model quantized already."""
    inits = [numpy_helper.from_array(np.array(0.05, np.float32), "s"), numpy_helper.from_array(np.array(0, np.int8), "z")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["d"]),
        helper.make_node("Relu", ["d"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "qdq_relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def calibration_samples(count: int = 6, seed: int = 1) -> np.ndarray:
    """`count` inputs of `residual_cnn` (batch 1), stacked on the sample axis."""
    return np.random.default_rng(seed).standard_normal((count, 1, 3, 8, 8)).astype(np.float32)


@pytest.fixture
def cnn_module():
    from compiler.onnx_import import import_onnx

    return import_onnx(residual_cnn())


@pytest.fixture
def qdq_module():
    from compiler.onnx_import import import_onnx

    return import_onnx(qdq_relu())


@pytest.fixture
def cnn_data(tmp_path) -> str:
    path = str(tmp_path / "calibration.npz")
    np.savez(path, x=calibration_samples())
    return path
