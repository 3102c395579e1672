"""Small ONNX models for the import lit tests: `python models.py NAME OUT.onnx`.

Each builder shows one thing the importer does (or refuses); the lit test that uses it
says what to look for in the IR.
"""

import sys

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(
        nodes,
        "lit",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        [numpy_helper.from_array(np.asarray(a), n) for n, a in initializers],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def weights():
    """A big initializer (a weight), a small one (inline) and a Constant node (inline)."""
    rng = np.random.default_rng(0)
    return _model(
        [
            helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Add", ["c", "conv.bias"], ["b"], name="bias"),
            helper.make_node("Constant", [], ["k"], name="k", value=numpy_helper.from_array(np.float32(0.5))),
            helper.make_node("Mul", ["b", "k"], ["y"], name="scale"),
        ],
        [("x", F32, [1, 3, 8, 8])],
        [("y", F32, [1, 4, 8, 8])],
        [
            ("conv.weight", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
            ("conv.bias", np.arange(4, dtype=np.float32).reshape(4, 1, 1)),
        ],
    )


def shape_subgraph():
    """Flatten the way exporters write it: Shape → Gather → Unsqueeze → Concat → Reshape,
    with a symbolic batch dimension that --shape fixes."""
    return _model(
        [
            helper.make_node("Shape", ["x"], ["shape"], name="shape"),
            helper.make_node("Gather", ["shape", "zero"], ["batch"], name="batch", axis=0),
            helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"], name="batch1"),
            helper.make_node("Concat", ["batch1", "minus_one"], ["target"], name="target", axis=0),
            helper.make_node("Reshape", ["x", "target"], ["flat"], name="flatten"),
            helper.make_node("Relu", ["flat"], ["y"], name="relu"),
        ],
        [("x", F32, ["N", 3, 4])],
        [("y", F32, ["N", 12])],
        [("zero", np.array(0, np.int64)), ("axes", np.array([0], np.int64)), ("minus_one", np.array([-1], np.int64))],
    )


def symbolic():
    """A symbolic batch dimension and nothing else."""
    return _model([helper.make_node("Relu", ["x"], ["y"], name="relu")], [("x", F32, ["N", 3, 4])], [("y", F32, None)])


def minus_one():
    """Dynamic dimensions written as -1 (as some exporters do) in the input, the output and
    an intermediate's value_info: all symbolic, none a size."""
    model = _model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Neg", ["r"], ["y"], name="neg")],
        [("x", F32, [-1, 3, -1])],
        [("y", F32, [-1, 3, -1])],
    )
    model.graph.value_info.append(helper.make_tensor_value_info("r", F32, [-1, -1, 4]))
    return model


def gemm_beta():
    """A linear layer as exporters write it with a scaled bias: Gemm with transB, beta 0.5
    and a bias initializer c, then Relu."""
    rng = np.random.default_rng(0)
    return _model(
        [
            helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["g"], name="fc", transB=1, beta=0.5),
            helper.make_node("Relu", ["g"], ["y"], name="relu"),
        ],
        [("x", F32, [4, 16])],
        [("y", F32, [4, 32])],
        [
            ("fc.weight", rng.standard_normal((32, 16)).astype(np.float32)),
            ("fc.bias", rng.standard_normal(32).astype(np.float32)),
        ],
    )


def unsupported():
    """A standard op optc does not import."""
    return _model(
        [helper.make_node("Relu", ["x"], ["r"], name="relu"), helper.make_node("Det", ["r"], ["y"], name="det")],
        [("x", F32, [3, 3])],
        [("y", F32, [])],
    )


def custom_domain():
    """An op from a vendor domain."""
    model = _model(
        [helper.make_node("FusedGelu", ["x"], ["y"], name="fused", domain="com.example")],
        [("x", F32, [4])],
        [("y", F32, [4])],
    )
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    return model


def storage_weights():
    """float8 weights: an initializer of that type (also an output), and a float32 one
    cast to float8 at import."""
    rng = np.random.default_rng(0)
    table = rng.standard_normal((16, 4)).astype(np.float32).astype(ml_dtypes.float8_e4m3fn)
    return _model(
        [helper.make_node("Cast", ["w"], ["w8"], name="cast", to=TensorProto.FLOAT8E5M2, saturate=0)],
        [],
        [("table", TensorProto.FLOAT8E4M3FN, [16, 4]), ("w8", TensorProto.FLOAT8E5M2, [16, 4])],
        [("table", table), ("w", rng.standard_normal((16, 4)).astype(np.float32) * 1e4)],
        opset=21,
    )


def out_of_order():
    """Nodes listed consumers first: valid (onnxruntime sorts them), imported sorted."""
    return _model(
        [
            helper.make_node("Neg", ["e"], ["y"], name="neg"),
            helper.make_node("Exp", ["r"], ["e"], name="exp"),
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
        ],
        [("x", F32, [2, 3])],
        [("y", F32, [2, 3])],
    )


def cycle():
    """Two nodes that read each other's output."""
    return _model(
        [
            helper.make_node("Add", ["x", "n"], ["a"], name="add"),
            helper.make_node("Neg", ["a"], ["n"], name="neg"),
        ],
        [("x", F32, [2, 3])],
        [("a", F32, [2, 3])],
    )


def string_perm():
    """Transpose's perm written as the string "10" instead of a list of ints."""
    return _model(
        [helper.make_node("Transpose", ["x"], ["y"], name="transpose", perm="10")],
        [("x", F32, [2, 3])],
        [("y", F32, [3, 2])],
    )


def two_producers():
    """Two nodes that both define y."""
    return _model(
        [helper.make_node("Relu", ["x"], ["y"], name="relu"), helper.make_node("Neg", ["x"], ["y"], name="neg")],
        [("x", F32, [2, 3])],
        [("y", F32, [2, 3])],
    )


def qdq_conv():
    """A QDQ convolution as exporters write it: the input quantized and dequantized, int8
    weights dequantized per output channel, the output quantized and dequantized."""
    rng = np.random.default_rng(0)
    return _model(
        [
            helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"], name="q_x"),
            helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"], name="dq_x"),
            helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], name="dq_w", axis=0),
            helper.make_node("Conv", ["x_dq", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("QuantizeLinear", ["c", "y_scale", "y_zero"], ["y_q"], name="q_y"),
            helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"], name="dq_y"),
        ],
        [("x", F32, [1, 3, 8, 8])],
        [("y", F32, [1, 4, 8, 8])],
        [
            ("x_scale", np.float32(0.02)),
            ("x_zero", np.uint8(128)),
            ("w_q", rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)),
            ("w_scale", np.array([0.01, 0.02, 0.03, 0.04], np.float32)),
            ("y_scale", np.float32(0.05)),
            ("y_zero", np.uint8(100)),
        ],
        opset=13,
    )


def qdq_conv_symmetric():
    """A QDQ conv + ReLU with symmetric int8 quantization everywhere (no zero points): what
    the quant level folds into an integer convolution (docs/quantization.md)."""
    rng = np.random.default_rng(0)
    return _model(
        [
            helper.make_node("QuantizeLinear", ["x", "x_scale"], ["x_q"], name="q_x", output_dtype=TensorProto.INT8),
            helper.make_node("DequantizeLinear", ["x_q", "x_scale"], ["x_dq"], name="dq_x"),
            helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], name="dq_w", axis=0),
            helper.make_node("Conv", ["x_dq", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("QuantizeLinear", ["r", "y_scale"], ["y_q"], name="q_y", output_dtype=TensorProto.INT8),
            helper.make_node("DequantizeLinear", ["y_q", "y_scale"], ["y"], name="dq_y"),
        ],
        [("x", F32, [1, 3, 8, 8])],
        [("y", F32, [1, 4, 8, 8])],
        [
            ("x_scale", np.float32(0.02)),
            ("w_q", rng.integers(-127, 128, (4, 3, 3, 3)).astype(np.int8)),
            ("w_scale", np.array([0.01, 0.02, 0.03, 0.04], np.float32)),
            ("b", np.array([0.1, -0.2, 0.3, 0.0], np.float32)),
            ("y_scale", np.float32(0.05)),
        ],
        opset=21,
    )


BUILDERS = {
    f.__name__: f
    for f in (
        weights, shape_subgraph, symbolic, minus_one, gemm_beta, unsupported, custom_domain, storage_weights,
        out_of_order, cycle, string_perm, two_producers, qdq_conv, qdq_conv_symmetric,
    )
}

if __name__ == "__main__":
    name, out = sys.argv[1:]
    onnx.save(BUILDERS[name](), out)
