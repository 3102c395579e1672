"""Neural-network ops: every ONNX op, its attribute variants and opset forms, imported
and run by the reference interpreter against onnxruntime; then the importer's errors and
the IR the older Softmax form becomes."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import ReshapeOp, SoftmaxOp
from runtime.reference import run
from runtime.reference.interpreter import entry
from tests.support import assert_matches_onnxruntime, make_model, random_inputs, run_onnxruntime

F32, F16, F64, I8, U8, I32, I64 = (
    TensorProto.FLOAT,
    TensorProto.FLOAT16,
    TensorProto.DOUBLE,
    TensorProto.INT8,
    TensorProto.UINT8,
    TensorProto.INT32,
    TensorProto.INT64,
)
NUMPY = {F32: np.float32, F16: np.float16, F64: np.float64}


def model(op, *inputs, dtype=F32, opset=17, outputs=1, **attrs):
    """One node. Each input is a shape (a graph input of `dtype`, random at run time), an
    array (an initializer) or None (an omitted optional input); outputs are y0, y1, ..."""
    names = [f"i{k}" if v is not None else "" for k, v in enumerate(inputs)]
    graph_inputs = {n: (list(v), dtype) for n, v in zip(names, inputs) if isinstance(v, list | tuple)}
    inits = {n: v for n, v in zip(names, inputs) if isinstance(v, np.ndarray)}
    outs = [f"y{k}" for k in range(outputs)]
    return make_model([helper.make_node(op, names, outs, **attrs)], graph_inputs, outs, inits, opset)


def positive(*shape, dtype=F32) -> np.ndarray:
    """Variances: random but bounded away from zero."""
    return (np.random.default_rng(1).random(shape) + 0.5).astype(NUMPY[dtype])


def bn(shape, dtype=F32, opset=17, **attrs):
    c = shape[1]
    return model("BatchNormalization", shape, [c], [c], [c], positive(c, dtype=dtype), dtype=dtype, opset=opset, **attrs)


# id -> model
CASES = {
    # Conv
    "conv-1d-pads": model("Conv", [1, 4, 10], [6, 4, 3], pads=[1, 2]),
    "conv-2d-bias-strides-pads": model("Conv", [1, 3, 9, 9], [4, 3, 3, 3], [4], strides=[2, 2], pads=[1, 0, 2, 1]),
    "conv-2d-dilations": model("Conv", [2, 3, 9, 8], [4, 3, 3, 2], dilations=[2, 3]),
    "conv-2d-1x1": model("Conv", [1, 8, 5, 5], [4, 8, 1, 1], [4]),
    "conv-2d-groups": model("Conv", [1, 4, 9, 9], [6, 2, 3, 3], [6], group=2, strides=[2, 1]),
    "conv-2d-depthwise": model("Conv", [1, 4, 8, 8], [8, 1, 3, 3], group=4, pads=[1, 1, 1, 1]),
    "conv-3d": model("Conv", [1, 2, 5, 6, 7], [3, 2, 3, 3, 3], strides=[1, 2, 1], dilations=[1, 1, 2]),
    "conv-same-upper": model("Conv", [1, 2, 8, 7], [3, 2, 3, 4], auto_pad="SAME_UPPER", strides=[2, 2]),
    "conv-same-lower": model("Conv", [1, 2, 8, 7], [3, 2, 3, 4], auto_pad="SAME_LOWER", strides=[2, 2]),
    "conv-valid": model("Conv", [1, 2, 8, 7], [3, 2, 3, 3], auto_pad="VALID", strides=[2, 2]),
    "conv-kernel-shape-attr-11": model("Conv", [1, 2, 6, 6], [3, 2, 3, 3], opset=11, kernel_shape=[3, 3]),
    "conv-f16": model("Conv", [1, 4, 6, 6], [6, 2, 3, 3], [6], dtype=F16, group=2),
    # ConvTranspose
    "convt-1d": model("ConvTranspose", [1, 2, 5], [2, 3, 3], strides=[2]),
    "convt-2d-bias-pads": model("ConvTranspose", [1, 2, 5, 4], [2, 3, 3, 3], [3], strides=[2, 3], pads=[1, 0, 2, 1]),
    "convt-output-padding": model("ConvTranspose", [1, 2, 4, 4], [2, 3, 3, 3], strides=[3, 2], output_padding=[2, 1]),
    "convt-groups-dilations": model(
        "ConvTranspose", [1, 4, 5], [4, 3, 3], strides=[3], group=2, dilations=[2], pads=[1, 2], output_padding=[2]
    ),
    "convt-3d": model("ConvTranspose", [1, 2, 3, 4, 5], [2, 3, 2, 3, 2], strides=[1, 2, 2]),
    "convt-same-upper": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    "convt-same-lower": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], auto_pad="SAME_LOWER"),
    "convt-same-small-kernel": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 1, 1], strides=[2, 2], auto_pad="SAME_UPPER"),
    "convt-valid": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], auto_pad="VALID"),
    "convt-output-shape": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[8, 9]),
    "convt-output-shape-same-upper": model(
        "ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[8, 8], auto_pad="SAME_UPPER"
    ),
    "convt-output-shape-beyond-full": model("ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[12, 11]),
    "convt-output-shape-and-padding": model(
        "ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[10, 10], output_padding=[1, 1]
    ),
    "convt-opset-11": model("ConvTranspose", [1, 2, 4, 4], [2, 3, 2, 2], [3], opset=11, strides=[2, 2]),
    "convt-f16": model("ConvTranspose", [1, 2, 4, 4], [2, 3, 3, 3], dtype=F16, strides=[2, 2]),
    # MaxPool
    "maxpool-resnet": model("MaxPool", [1, 3, 12, 12], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "maxpool-1d": model("MaxPool", [2, 3, 9], kernel_shape=[2], strides=[2]),
    "maxpool-3d": model("MaxPool", [1, 2, 5, 6, 7], kernel_shape=[2, 3, 2], strides=[1, 2, 2]),
    "maxpool-ceil": model("MaxPool", [1, 3, 6, 7], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "maxpool-ceil-last-window-in-pad": model(
        "MaxPool", [1, 3, 5, 5], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1
    ),
    "maxpool-dilations": model("MaxPool", [1, 3, 10, 10], kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2], ceil_mode=1),
    "maxpool-same-upper": model("MaxPool", [1, 3, 7, 8], kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_UPPER"),
    "maxpool-same-lower": model("MaxPool", [1, 3, 7, 8], kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_LOWER"),
    "maxpool-valid": model("MaxPool", [1, 3, 7, 8], kernel_shape=[3, 3], auto_pad="VALID"),
    "maxpool-storage-order": model("MaxPool", [1, 3, 6, 6], kernel_shape=[2, 2], storage_order=1),
    "maxpool-opset-11": model("MaxPool", [1, 3, 6, 6], kernel_shape=[2, 2], opset=11),
    "maxpool-int8": model("MaxPool", [1, 3, 6, 6], dtype=I8, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "maxpool-uint8": model("MaxPool", [1, 3, 6, 6], dtype=U8, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "maxpool-f16": model("MaxPool", [1, 3, 6, 6], dtype=F16, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    # ... with its Indices output (flat indices into the input; storage_order 1: column major)
    "maxpool-indices-2d": model("MaxPool", [2, 3, 6, 7], outputs=2, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "maxpool-indices-column-major": model(
        "MaxPool", [2, 3, 6, 7], outputs=2, kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], storage_order=1
    ),
    "maxpool-indices-1d-opset-11": model("MaxPool", [2, 3, 9], opset=11, outputs=2, kernel_shape=[3], strides=[2], pads=[1, 1]),
    "maxpool-indices-3d-column-major": model(
        "MaxPool", [1, 2, 4, 5, 6], outputs=2, kernel_shape=[2, 3, 2], strides=[1, 2, 2], storage_order=1
    ),
    "maxpool-indices-ceil-dilations": model(
        "MaxPool", [1, 3, 10, 9], outputs=2, kernel_shape=[2, 3], strides=[2, 2], dilations=[2, 1], ceil_mode=1, storage_order=1
    ),
    "maxpool-indices-same-upper": model("MaxPool", [1, 3, 7, 8], outputs=2, kernel_shape=[3, 2], strides=[2, 3], auto_pad="SAME_UPPER"),
    "maxpool-indices-int8": model("MaxPool", [1, 3, 6, 6], dtype=I8, outputs=2, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "maxpool-indices-f16": model("MaxPool", [1, 3, 6, 6], dtype=F16, outputs=2, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    # AveragePool (dilations from opset 19)
    "avgpool-exclude-pad": model("AveragePool", [1, 3, 7, 7], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "avgpool-include-pad": model(
        "AveragePool", [1, 3, 7, 7], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1
    ),
    "avgpool-ceil-exclude-pad": model(
        "AveragePool", [1, 3, 5, 6], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1
    ),
    "avgpool-ceil-include-pad": model(
        "AveragePool", [1, 3, 5, 6], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1, count_include_pad=1
    ),
    "avgpool-dilations-19": model(
        "AveragePool", [1, 3, 10, 11], opset=19, kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 1, 1], dilations=[2, 2]
    ),
    "avgpool-dilations-ceil-include-pad-19": model(
        "AveragePool",
        [1, 3, 10, 11],
        opset=19,
        kernel_shape=[3, 2],
        strides=[2, 3],
        pads=[1, 0, 1, 1],
        dilations=[2, 2],
        ceil_mode=1,
        count_include_pad=1,
    ),
    "avgpool-same-upper": model("AveragePool", [1, 3, 7, 8], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    "avgpool-same-lower-include-pad": model(
        "AveragePool", [1, 3, 7, 8], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_LOWER", count_include_pad=1
    ),
    "avgpool-1d": model("AveragePool", [2, 3, 9], kernel_shape=[3], strides=[2]),
    "avgpool-3d": model("AveragePool", [1, 2, 5, 6, 7], kernel_shape=[2, 3, 2], pads=[0, 1, 1, 1, 0, 1]),
    "avgpool-opset-11": model("AveragePool", [1, 3, 6, 6], kernel_shape=[2, 2], opset=11),
    "avgpool-f16": model("AveragePool", [1, 3, 6, 6], dtype=F16, kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    # global pooling
    "global-avgpool-1d": model("GlobalAveragePool", [2, 3, 7]),
    "global-avgpool-2d": model("GlobalAveragePool", [1, 8, 7, 7]),
    "global-avgpool-3d": model("GlobalAveragePool", [1, 2, 3, 4, 5]),
    "global-avgpool-f16": model("GlobalAveragePool", [1, 8, 7, 7], dtype=F16),
    "global-maxpool-2d": model("GlobalMaxPool", [1, 8, 7, 7]),
    "global-maxpool-3d": model("GlobalMaxPool", [2, 2, 3, 4, 5]),
    # BatchNormalization (9-13: optional training outputs; 14: training_mode; 15: typed params)
    "batchnorm-2d-opset-11": bn([2, 3], opset=11),
    "batchnorm-4d-opset-14": bn([2, 3, 4, 5], opset=14, epsilon=1e-2),
    "batchnorm-5d-opset-15": bn([1, 3, 2, 3, 4], opset=15, training_mode=0, momentum=0.5),
    "batchnorm-f16": bn([2, 3, 4, 5], dtype=F16),
    # InstanceNormalization
    "instancenorm-3d": model("InstanceNormalization", [2, 3, 7], [3], [3]),
    "instancenorm-4d-epsilon": model("InstanceNormalization", [2, 3, 4, 5], [3], [3], epsilon=1e-2),
    "instancenorm-f16": model("InstanceNormalization", [2, 3, 4, 5], [3], [3], dtype=F16),
    # LayerNormalization (opset 17)
    "layernorm-default-axis": model("LayerNormalization", [2, 3, 8], [8], [8]),
    "layernorm-axis1": model("LayerNormalization", [2, 3, 4], [3, 4], [3, 4], axis=1, epsilon=1e-3),
    "layernorm-negative-axis": model("LayerNormalization", [2, 3, 4, 5], [4, 5], [4, 5], axis=-2),
    "layernorm-axis0": model("LayerNormalization", [2, 3], [2, 3], [2, 3], axis=0),
    "layernorm-no-bias": model("LayerNormalization", [2, 3, 8], [8]),
    "layernorm-opset-18": model("LayerNormalization", [2, 8], [8], [8], opset=18),
    "layernorm-f16": model("LayerNormalization", [2, 3, 8], [8], [8], dtype=F16),
    # ... with its Mean and InvStdDev outputs (f32 whatever the input type)
    "layernorm-stats-axis1": model("LayerNormalization", [2, 3, 4], [3, 4], [3, 4], axis=1, outputs=3),
    "layernorm-stats-axis0": model("LayerNormalization", [2, 3], [2, 3], [2, 3], axis=0, outputs=3),
    "layernorm-stats-no-bias-18": model("LayerNormalization", [2, 3, 8], [8], opset=18, outputs=3, epsilon=1e-2),
    "layernorm-stats-f64": model("LayerNormalization", [2, 3, 8], [8], [8], dtype=F64, outputs=3),
    "layernorm-stats-f16": model("LayerNormalization", [2, 3, 8], [8], [8], dtype=F16, axis=-2, outputs=3),
    "layernorm-inv-std-dev-only": make_model(
        [helper.make_node("LayerNormalization", ["x", "s"], ["y", "", "inv"], axis=-1)],
        {"x": ([2, 3, 8], F32), "s": ([8], F32)},
        ["y", "inv"],
    ),
    # Softmax / LogSoftmax: opset < 13 flattens to 2-D at axis (default 1); 13+ one axis (default -1)
    "softmax-11-default": model("Softmax", [2, 3, 4], opset=11),
    "softmax-11-axis0": model("Softmax", [2, 3, 4], opset=11, axis=0),
    "softmax-11-axis2": model("Softmax", [2, 3, 4], opset=11, axis=2),
    "softmax-11-negative-axis": model("Softmax", [2, 3, 4, 5], opset=11, axis=-2),
    "softmax-13-default": model("Softmax", [2, 3, 4], opset=13),
    "softmax-13-axis1": model("Softmax", [2, 3, 4], opset=13, axis=1),
    "softmax-13-axis0": model("Softmax", [2, 3, 4], opset=13, axis=0),
    "softmax-f16": model("Softmax", [2, 3, 4], dtype=F16),
    "softmax-f64": model("Softmax", [2, 3, 4], dtype=F64, axis=1),
    "logsoftmax-11-default": model("LogSoftmax", [2, 3, 4], opset=11),
    "logsoftmax-11-axis0": model("LogSoftmax", [2, 3, 4], opset=11, axis=0),
    "logsoftmax-13-default": model("LogSoftmax", [2, 3, 4], opset=13),
    "logsoftmax-13-axis1": model("LogSoftmax", [2, 3, 4], opset=13, axis=1),
    "logsoftmax-f16": model("LogSoftmax", [2, 3, 4], dtype=F16),
    # Gemm (C optional from 11)
    "gemm-default": model("Gemm", [3, 4], [4, 5], [3, 5]),
    "gemm-no-c": model("Gemm", [3, 4], [4, 5], opset=11),
    "gemm-trans-a": model("Gemm", [4, 3], [4, 5], [5], transA=1),
    "gemm-trans-b": model("Gemm", [3, 4], [5, 4], [1, 5], transB=1),
    "gemm-trans-both-alpha-beta": model("Gemm", [4, 3], [5, 4], [3, 1], transA=1, transB=1, alpha=0.5, beta=2.0),
    "gemm-scalar-c": model("Gemm", [3, 4], [4, 5], np.asarray(0.5, np.float32), beta=-1.0),
    "gemm-beta-zero": model("Gemm", [3, 4], [4, 5], [3, 5], beta=0.0),
    "gemm-opset-13": model("Gemm", [3, 4], [5, 4], [5], opset=13, transB=1),
    "gemm-f16": model("Gemm", [3, 4], [4, 5], [5], dtype=F16),
    # MatMul (numpy matmul)
    "matmul-2d": model("MatMul", [3, 4], [4, 5]),
    "matmul-vector-matrix": model("MatMul", [4], [4, 5]),
    "matmul-matrix-vector": model("MatMul", [3, 4], [4]),
    "matmul-vector-vector": model("MatMul", [4], [4]),
    "matmul-batched": model("MatMul", [2, 3, 4], [2, 4, 5]),
    "matmul-batch-broadcast": model("MatMul", [2, 1, 3, 4], [5, 4, 2]),
    "matmul-3d-by-2d": model("MatMul", [2, 3, 4], [4, 5]),
    "matmul-vector-by-batch": model("MatMul", [4], [3, 4, 2]),
    "matmul-batch-by-vector": model("MatMul", [3, 2, 4], [4]),
    "matmul-int32": model("MatMul", [2, 3, 4], [4, 2], dtype=I32),
    "matmul-int64": model("MatMul", [3, 4], [4], dtype=I64),
    "matmul-f16": model("MatMul", [2, 3, 8], [8, 4], dtype=F16),
    "matmul-opset-11": model("MatMul", [3, 4], [4, 5], opset=11),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_onnxruntime(name):
    tolerance = 1e-2 if name.endswith("f16") else 1e-4
    assert_matches_onnxruntime(CASES[name], rtol=tolerance, atol=tolerance)


SAME_DILATED = {
    "conv": ("Conv", [[1, 2, 9, 8], [3, 2, 3, 2]], {"dilations": [2, 3], "strides": [2, 1]}),
    # onnxruntime wants pool pads smaller than the (undilated) kernel
    "maxpool": ("MaxPool", [[1, 2, 9, 8]], {"kernel_shape": [3, 3], "dilations": [2, 2], "strides": [1, 2]}),
    "avgpool": ("AveragePool", [[1, 2, 9, 8]], {"kernel_shape": [3, 3], "dilations": [2, 2], "strides": [1, 2]}),
}


def spec_same_pads(size, kernel, strides, dilations, auto_pad) -> list[int]:
    """The ONNX spec's SAME pads: keep ceil(size / stride) outputs of the dilated kernel."""
    totals = [(-(-n // s) - 1) * s + (k - 1) * d + 1 - n for n, k, s, d in zip(size, kernel, strides, dilations)]
    small, big = [t // 2 for t in totals], [t - t // 2 for t in totals]
    return small + big if auto_pad == "SAME_UPPER" else big + small


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize("case", list(SAME_DILATED))
def test_same_padding_with_dilations_follows_the_spec(case, auto_pad):
    """onnxruntime refuses dilations with SAME padding for Conv, and for pools (like onnx's
    reference) leaves the dilation out of the pads. optc follows the spec, so the SAME
    model must equal onnxruntime running the same node with the spec's explicit pads."""
    op, inputs, attrs = SAME_DILATED[case]
    kernel = attrs.get("kernel_shape") or inputs[1][2:]
    strides = attrs.get("strides", [1, 1])
    pads = spec_same_pads(inputs[0][2:], kernel, strides, attrs["dilations"], auto_pad)
    module = import_onnx(model(op, *inputs, opset=19, auto_pad=auto_pad, **attrs))
    values = random_inputs(module)
    expected = run_onnxruntime(model(op, *inputs, opset=19, pads=pads, **attrs), values)["y0"]
    np.testing.assert_allclose(run(module, values)["y0"], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("opset", [11, 13])
def test_softmax_is_stable_for_large_inputs(op, opset):
    """exp of the raw inputs would overflow to inf; subtracting the max keeps it finite."""
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 3000.0]], dtype=np.float32)
    assert_matches_onnxruntime(model(op, [2, 3], opset=opset, axis=1), inputs={"i0": x})


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("dtype", [F32, I8])
def test_maxpool_indices_tie_to_the_first_and_never_to_padding(storage_order, dtype):
    """Equal maxima in one window: the first in window order wins. An all-lowest int8 input
    equals the padding value, which still never wins."""
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = x[0, 0, 1, 2] = 1
    x = x.astype(np.int8) if dtype == I8 else x
    lowest = np.full((1, 1, 4, 4), -128, np.int8)
    m = model("MaxPool", [1, 1, 4, 4], dtype=dtype, opset=12, outputs=2, kernel_shape=[3, 3], pads=[1, 1, 1, 1], storage_order=storage_order)
    for values in [x] if dtype == F32 else [x, lowest]:
        assert_matches_onnxruntime(m, inputs={"i0": values}, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("opset", "axis", "ops"),
    [(11, 1, [ReshapeOp, SoftmaxOp, ReshapeOp]), (11, 2, [SoftmaxOp]), (13, 1, [SoftmaxOp])],
)
def test_softmax_before_13_flattens_only_when_needed(opset, axis, ops):
    module = import_onnx(model("Softmax", [2, 3, 4], opset=opset, axis=axis))
    assert [type(op) for op in entry(module).body.ops][:-1] == ops


# --- importer errors ---------------------------------------------------------------


ERRORS = {
    "training_mode=1 \\(batch statistics\\) is not supported": bn([2, 3, 4], opset=15, training_mode=1),
    "BatchNormalization node 'y0': optc computes only the first output; the running mean/variance": bn(
        [2, 3, 4], opset=11, outputs=3
    ),
    "stash_type 0 is not supported": model("LayerNormalization", [2, 8], [8], stash_type=0),
    "MaxPool node 'y0': needs the kernel_shape attribute": model("MaxPool", [1, 1, 4, 4]),
    "auto_pad 'SAME' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER": model(
        "AveragePool", [1, 1, 4, 4], kernel_shape=[2, 2], auto_pad="SAME"
    ),
    "Conv node 'y0': kernel_shape \\[2, 2\\] does not match the weight's \\[3, 3\\]": model(
        "Conv", [1, 2, 6, 6], [3, 2, 3, 3], kernel_shape=[2, 2]
    ),
    "ConvTranspose node 'y0': output_shape \\[1, 3, 10, 10\\] must give the 2 spatial sizes": model(
        "ConvTranspose", [1, 2, 5, 5], [2, 3, 3, 3], strides=[2, 2], output_shape=[1, 3, 10, 10]
    ),
    "Softmax node 'y0': 'graph.softmax' op axis 3 is out of range for rank 3": model("Softmax", [2, 3, 4], axis=3),
    "Conv node 'y0': 'graph.conv' op expects weight tensor<3x3x3x3xf32> to have 2/1 input channels": model(
        "Conv", [1, 2, 6, 6], [3, 3, 3, 3]
    ),
}


@pytest.mark.parametrize("message", list(ERRORS))
def test_importer_errors(message):
    with pytest.raises(OptcError, match=message):
        import_onnx(ERRORS[message])
