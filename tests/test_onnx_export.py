"""ONNX export (compiler/onnx_export): import -> (graph-optimize) -> export gives a model
onnxruntime runs to the original's outputs, and export -> import gives the same IR again.

Models: the bundled examples, the zoo-like models other tests build, QDQ models (a
hand-built chain and one from onnxruntime's quantize_static), one model per op family,
and IR the importer never writes (channels-last ops, generated tensors, requantize).
Every refusal has its message checked.
"""

from __future__ import annotations

import io
import os
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.printer import Printer

from compiler.onnx_export import export
from compiler.onnx_export.__main__ import main as export_main
from compiler.onnx_export.exporter import main_function
from compiler.onnx_export.registry import WRITERS
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import OPS, ConstantOp, WeightOp
from dialects.quant import Quant
from dialects.weights import WeightStore, attach, clone_with_weights
from runtime.reference import run
from tests.support import apply_pipeline, make_model, parse, random_inputs, run_onnxruntime

F, I8, U8, I64, B = TensorProto.FLOAT, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT64, TensorProto.BOOL
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
RNG = np.random.default_rng(0)


def weights(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# --- what the tests check --------------------------------------------------------


def assert_exports_to_same_outputs(source, pipeline: str | None = None, rtol=1e-5, atol=1e-6, inputs=None):
    """onnxruntime on the exported model gives what it gives on the original model (or,
    for a source that is already IR, what the reference interpreter gives on it)."""
    module = import_onnx(source) if isinstance(source, onnx.ModelProto) else source
    inputs = inputs if inputs is not None else random_inputs(module, 0)
    expected = run_onnxruntime(source, inputs) if isinstance(source, onnx.ModelProto) else run(module, inputs)
    if pipeline:
        module = apply_pipeline(clone_with_weights(module), pipeline)
    exported = export(module)
    actual = run_onnxruntime(exported, inputs)
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        np.testing.assert_allclose(actual[name].astype(np.float64), value.astype(np.float64), rtol=rtol, atol=atol, err_msg=name)
    return module, exported


def canonical(module) -> str:
    """The function's text with its constants and weights moved to the top in order of
    first use: import places initializers first and folded constants where they fold, so
    only their place may differ between an import and the import of its export."""
    fn = main_function(module).clone()
    block = fn.body.block
    position = {op: i for i, op in enumerate(block.ops)}

    def first_use(op):
        return min((position[use.operation], use.index) for use in op.result.uses)

    constants = sorted((op for op in block.ops if isinstance(op, ConstantOp | WeightOp)), key=first_use)
    for op in reversed(constants):
        op.detach()
        block.insert_op_before(op, block.first_op)
    text = io.StringIO()
    Printer(stream=text).print_op(fn)
    return text.getvalue()


def assert_round_trips(module) -> None:
    again = import_onnx(export(module))
    assert canonical(again) == canonical(module)


# --- the bundled examples and the zoo-like models the tests build ----------------------


def _example(name: str) -> onnx.ModelProto:
    return onnx.load(os.path.join(EXAMPLES, name))


def _zoo_like() -> dict:
    from tests.test_fusion_fuse_attention import bert
    from tests.test_fusion_fuse_conv_input_transpose import resnet_stem
    from tests.test_fusion_fuse_elementwise import _transformer_block_model
    from tests.test_fusion_fuse_epilogue import _resnet_block
    from tests.test_fusion_fuse_horizontal_matmul import _bert_block

    return {
        "cnn.onnx": lambda: _example("cnn.onnx"),
        "transformer.onnx": lambda: _example("transformer.onnx"),
        "bert_attention": lambda: bert(17),
        "bert_block": _bert_block,
        "resnet_stem": resnet_stem,
        "resnet_block": _resnet_block,
        "transformer_block": _transformer_block_model,
    }


ZOO_LIKE = _zoo_like()


@pytest.mark.parametrize("pipeline", [None, "graph-optimize"])
@pytest.mark.parametrize("name", ZOO_LIKE)
def test_model_exports_to_what_onnxruntime_computes(name, pipeline):
    assert_exports_to_same_outputs(ZOO_LIKE[name](), pipeline, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ZOO_LIKE)
def test_imported_model_round_trips(name):
    source = ZOO_LIKE[name]()
    assert_round_trips(import_onnx(source) if isinstance(source, onnx.ModelProto) else source)


@pytest.mark.parametrize("name", ["transformer.onnx", "bert_attention", "bert_block", "transformer_block"])
def test_optimized_transformers_round_trip_through_graph_optimize(name):
    """What graph-optimize recognised, exported and imported again, it recognises again.
    (The CNNs come back the same but for the names of their channels-last weights.)"""
    source = ZOO_LIKE[name]()
    optimized = apply_pipeline(import_onnx(source) if isinstance(source, onnx.ModelProto) else source, "graph-optimize")
    again = apply_pipeline(import_onnx(export(optimized)), "graph-optimize")
    assert canonical(again) == canonical(optimized)


def test_graph_optimize_names_export_as_onnx_ops():
    """What graph-optimize recognises is written as ONNX's op for it: Gelu (opset 20,
    which raises the model's opset), LayerNormalization; channels-last convolutions as
    Conv between Transposes; a folded bias as MatMul + Add."""
    module = apply_pipeline(import_onnx(_example("transformer.onnx")), "graph-optimize")
    exported = export(module)
    kinds = {n.op_type for n in exported.graph.node}
    assert {"Gelu", "LayerNormalization"} <= kinds and "Erf" not in kinds
    assert exported.opset_import[0].version == 20
    cnn = export(apply_pipeline(import_onnx(_example("cnn.onnx")), "graph-optimize"))
    assert cnn.opset_import[0].version == 17
    kinds = [n.op_type for n in cnn.graph.node]
    assert "BatchNormalization" not in kinds
    # the NHWC region reads the NCHW input as it is: its first Conv takes the model's input
    assert kinds[0] == "Conv" and cnn.graph.node[0].input[0] == cnn.graph.input[0].name
    # and each NHWC op (elementwise ones too) hands its NCHW result to the next: the one
    # Transpose left is after the global pool, where the IR's region ends
    assert kinds.count("Transpose") == 1


def test_names_are_the_models_and_deterministic():
    model = _example("cnn.onnx")
    exported = export(import_onnx(model))
    assert [i.name for i in exported.graph.input] == [i.name for i in model.graph.input]
    assert [o.name for o in exported.graph.output] == [o.name for o in model.graph.output]
    assert export(import_onnx(model)).SerializeToString() == exported.SerializeToString()
    assert all(n.name == n.output[0] for n in exported.graph.node)


def test_weights_keep_their_names_and_bytes():
    model = _example("cnn.onnx")
    original = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    exported = {i.name: onnx.numpy_helper.to_array(i) for i in export(import_onnx(model)).graph.initializer}
    big = [n for n, a in original.items() if a.size > 16]
    assert big and all(np.array_equal(exported[n], original[n]) for n in big)


# --- QDQ models --------------------------------------------------------------------


def _quantized_outputs_agree(model, exported, inputs, step):
    from tests.test_quant_import import assert_quantized_close

    expected, actual = run_onnxruntime(model, inputs), run_onnxruntime(exported, inputs)
    for name, value in expected.items():
        assert_quantized_close(actual[name], value, step, name)


def test_qdq_conv_chain_exports_and_round_trips():
    from tests.test_quant_import import qdq_conv_model

    model = qdq_conv_model()
    module = import_onnx(model)
    exported = export(module)
    kinds = [n.op_type for n in exported.graph.node]
    assert kinds.count("QuantizeLinear") == 2 and kinds.count("DequantizeLinear") == 4
    assert exported.opset_import[0].version == 17  # per-axis DQ needs 13
    x = RNG.standard_normal((2, 4, 9, 9)).astype(np.float32)
    _quantized_outputs_agree(model, exported, {"x": x}, 0.05)
    assert_round_trips(module)


def test_model_quantized_by_onnxruntime_exports_as_standard_qdq(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from tests.test_quant_import import _float_model

    rng = np.random.default_rng(2)

    class RandomImages(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.samples, None)

    source, quantized = str(tmp_path / "model.onnx"), str(tmp_path / "model.qdq.onnx")
    onnx.save(_float_model(), source)
    quantize_static(source, quantized, RandomImages(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    model = onnx.load(quantized)
    module = import_onnx(quantized)
    exported = export(module, str(tmp_path / "again.qdq.onnx"))
    assert os.path.exists(tmp_path / "again.qdq.onnx")
    step = max(float(onnx.numpy_helper.to_array(i).max()) for i in model.graph.initializer if i.name.endswith("scale"))
    for seed in range(3):
        x = np.random.default_rng(10 + seed).standard_normal((1, 3, 16, 16)).astype(np.float32)
        _quantized_outputs_agree(model, exported, {"x": x}, step)
    assert_round_trips(module)
    optimized = apply_pipeline(import_onnx(quantized), "graph-optimize")
    x = np.random.default_rng(20).standard_normal((1, 3, 16, 16)).astype(np.float32)
    _quantized_outputs_agree(model, export(optimized), {"x": x}, step)


# --- one model per op family -------------------------------------------------------


def node(op_type: str, inputs: dict, inits: dict | None = None, opset: int = 17, outputs=("y",), **attrs) -> onnx.ModelProto:
    """A one-node model: `inputs` are graph inputs (name -> (shape, type)), `inits` initializers."""
    names = [*inputs, *(inits or {})]
    n = helper.make_node(op_type, names, list(outputs), **attrs)
    return make_model([n], inputs, list(outputs), inits, opset)


X = {"x": ([2, 3, 4, 5], F)}
X2 = {"x": ([3, 4], F), "z": ([3, 4], F)}
BOOLS = {"x": ([3, 4], B), "z": ([3, 4], B)}
UNARY = ["Relu", "Sigmoid", "Tanh", "Erf", "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Sign", "HardSwish",
         "Softplus", "Sin", "Cos", "Floor", "Ceil", "Round", "IsNaN"]  # fmt: skip
BINARY = ["Add", "Sub", "Mul", "Div", "Pow", "Min", "Max", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]

FAMILIES = {
    **{f"elementwise-{op}": lambda op=op: node(op, X) for op in UNARY},
    **{f"elementwise-{op}": lambda op=op: node(op, X2) for op in BINARY},
    **{f"logic-{op}": lambda op=op: node(op, BOOLS) for op in ("And", "Or", "Xor")},
    "logic-Not": lambda: node("Not", {"x": ([3, 4], B)}),
    "elementwise-Sum": lambda: make_model([helper.make_node("Sum", ["x", "z", "x"], ["y"])], X2, ["y"]),
    "elementwise-Mean": lambda: make_model([helper.make_node("Mean", ["x", "z"], ["y"])], X2, ["y"]),
    "elementwise-Mod": lambda: node("Mod", X2, fmod=1),
    "elementwise-IsInf": lambda: node("IsInf", X, detect_negative=0),
    "elementwise-Where": lambda: node("Where", {"c": ([3, 4], B), **X2}),
    "elementwise-PRelu": lambda: node("PRelu", X, {"slope": weights(3, 1, 1)}),
    "elementwise-Clip": lambda: node("Clip", X, {"lo": np.float32(-0.5), "hi": np.float32(0.7)}),
    "elementwise-Clip-run-time-bound": lambda: node("Clip", {**X, "lo": ([1], F)}),
    "elementwise-Cast": lambda: node("Cast", X, to=TensorProto.FLOAT16),
    "elementwise-Cast-int": lambda: node("Cast", X, to=TensorProto.INT32),
    **{f"activation-{op}": lambda op=op, a=a: node(op, X, **a) for op, a in {
        "LeakyRelu": {"alpha": 0.1}, "Elu": {"alpha": 0.5}, "Selu": {}, "Celu": {"alpha": 2.0},
        "ThresholdedRelu": {"alpha": 0.3}, "HardSigmoid": {"alpha": 0.3, "beta": 0.4}}.items()},  # fmt: skip
    "activation-Gelu-tanh": lambda: node("Gelu", X, opset=20, approximate="tanh"),
    "nn-Conv": lambda: node("Conv", {"x": ([1, 4, 9, 9], F)}, {"w": weights(6, 2, 3, 3), "b": weights(6)},
                            strides=[2, 1], pads=[1, 0, 1, 2], dilations=[1, 2], group=2),
    "nn-ConvTranspose": lambda: node("ConvTranspose", {"x": ([1, 4, 5, 5], F)}, {"w": weights(4, 3, 3, 3)},
                                     strides=[2, 2], output_padding=[1, 0], pads=[1, 1, 0, 0]),
    "nn-MaxPool-indices": lambda: node("MaxPool", {"x": ([1, 2, 7, 7], F)}, outputs=("y", "i"), kernel_shape=[3, 3],
                                       strides=[2, 2], ceil_mode=1),
    "nn-AveragePool": lambda: node("AveragePool", {"x": ([1, 2, 7, 7], F)}, kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   count_include_pad=1),
    "nn-AveragePool-dilated": lambda: node("AveragePool", {"x": ([1, 2, 9, 9], F)}, opset=19, kernel_shape=[2, 2],
                                           dilations=[2, 2]),
    "nn-GlobalAveragePool": lambda: node("GlobalAveragePool", X),
    "nn-GlobalMaxPool": lambda: node("GlobalMaxPool", X),
    "nn-BatchNormalization": lambda: node("BatchNormalization", X, {"s": weights(3), "b": weights(3), "m": weights(3),
                                          "v": np.abs(weights(3)) + 0.5}, epsilon=1e-3),
    "nn-InstanceNormalization": lambda: node("InstanceNormalization", X, {"s": weights(3), "b": weights(3)}),
    "nn-LayerNormalization-statistics": lambda: node("LayerNormalization", X, {"s": weights(4, 5), "b": weights(5)},
                                                     outputs=("y", "mean", "inv"), axis=2),
    "nn-Softmax": lambda: node("Softmax", X, axis=1),
    "nn-LogSoftmax": lambda: node("LogSoftmax", X),
    "nn-Gemm": lambda: node("Gemm", {"a": ([3, 4], F)}, {"b": weights(5, 4), "c": weights(5)}, alpha=0.5, beta=2.0, transB=1),
    "nn-MatMul": lambda: node("MatMul", {"a": ([2, 3, 4], F)}, {"b": weights(4, 5)}),
    "tensor-Reshape": lambda: node("Reshape", X, {"s": np.array([0, -1, 5], np.int64)}),
    "tensor-Flatten": lambda: node("Flatten", X, axis=2),
    "tensor-Squeeze": lambda: node("Squeeze", {"x": ([2, 1, 4, 1], F)}, {"a": np.array([-1], np.int64)}),
    "tensor-Unsqueeze": lambda: node("Unsqueeze", X, {"a": np.array([0, 5], np.int64)}),
    "tensor-Transpose": lambda: node("Transpose", X, perm=[0, 2, 3, 1]),
    "tensor-Expand": lambda: node("Expand", {"x": ([3, 1], F)}, {"s": np.array([2, 3, 4], np.int64)}),
    "tensor-Tile": lambda: node("Tile", {"x": ([3, 2], F)}, {"r": np.array([2, 3], np.int64)}),
    "tensor-Concat": lambda: node("Concat", X2, axis=1),
    "tensor-Split": lambda: node("Split", X, {"s": np.array([2, 3], np.int64)}, outputs=("a", "b"), axis=3),
    "tensor-Slice-backwards": lambda: node("Slice", X, {"s": np.array([4, 1], np.int64), "e": np.array([-100, 4], np.int64),
                                           "a": np.array([3, 1], np.int64), "t": np.array([-2, 2], np.int64)}),
    "tensor-Pad-reflect": lambda: node("Pad", X, {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}, mode="reflect"),
    "tensor-Pad-constant": lambda: node("Pad", X, {"p": np.array([0, 1, 0, -1, 0, 0, 1, 2], np.int64), "v": np.float32(2.5)}),
    "tensor-Gather": lambda: node("Gather", X, {"i": np.array([[2, 0], [-1, 1]], np.int64)}, axis=2),
    "tensor-GatherElements": lambda: node("GatherElements", {"x": ([3, 4], F)}, {"i": np.array([[2, 0, 1, 1]], np.int64)}),
    **{f"reduction-{op}": lambda op=op: node(op, X, {"a": np.array([1, 3], np.int64)}, opset=18, keepdims=0)
       for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare")},
    "reduction-ReduceMean-opset-17": lambda: node("ReduceMean", X, axes=[-1]),
    "reduction-ArgMax": lambda: node("ArgMax", X, axis=2, keepdims=0, select_last_index=1),
    "reduction-ArgMin": lambda: node("ArgMin", X, axis=1),
    "resize-linear-scales": lambda: node("Resize", {"x": ([1, 2, 3, 5], F)},
                                         {"r": np.zeros(0, np.float32), "s": np.array([1, 1, 2, 1.5], np.float32)}, mode="linear"),
    "resize-nearest-sizes": lambda: node("Resize", {"x": ([1, 2, 3, 5], F)}, {"r": np.zeros(0, np.float32),
                                         "s": np.zeros(0, np.float32), "z": np.array([1, 2, 7, 4], np.int64)}),
    "resize-cubic-antialias": lambda: node("Resize", {"x": ([1, 1, 8, 8], F)}, {"r": np.zeros(0, np.float32),
                                           "s": np.array([1, 1, 0.5, 0.5], np.float32)}, opset=18, mode="cubic", antialias=1),
    "indexing-GatherND": lambda: node("GatherND", {"x": ([3, 4, 2], F)}, {"i": np.array([[1, 2], [0, 3]], np.int64)}),
    "indexing-ScatterND-add": lambda: make_model([helper.make_node("ScatterND", ["x", "i", "u"], ["y"], reduction="add")],
                                                 {"x": ([4, 3], F), "u": ([2, 3], F)}, ["y"], {"i": np.array([[1], [1]], np.int64)}, 16),
    "indexing-OneHot": lambda: node("OneHot", {}, {"i": np.array([[0, 3], [2, 1]], np.int64), "d": np.int64(4),
                                    "v": np.array([-1.0, 2.0], np.float32)}, axis=1),
    "indexing-Trilu": lambda: node("Trilu", {"x": ([2, 4, 4], F)}, {"k": np.int64(1)}, upper=0),
    "indexing-CumSum": lambda: node("CumSum", X, {"a": np.int64(2)}, exclusive=1, reverse=1),
}  # fmt: skip


NOT_ROUND_TRIPPING = {
    "elementwise-Clip-run-time-bound": "a one-element bound is reshaped to the 0-d one ONNX takes",
    "quant-QLinearMatMul": "quant.requantize is written as float64 arithmetic, which imports as graph ops",
    "quant-QLinearConv": "quant.requantize is written as float64 arithmetic, which imports as graph ops",
}


@pytest.mark.parametrize("name", FAMILIES)
def test_op_family_exports_to_what_onnxruntime_computes(name):
    model = FAMILIES[name]()
    module, _ = assert_exports_to_same_outputs(model)
    if name not in NOT_ROUND_TRIPPING:
        assert_round_trips(module)


def _qlinear_matmul() -> onnx.ModelProto:
    inits = {"sa": np.float32(0.02), "za": np.uint8(120), "b": RNG.integers(-100, 100, (4, 5)).astype(np.int8),
             "sb": RNG.uniform(0.01, 0.03, 5).astype(np.float32), "zb": np.zeros(5, np.int8),
             "sy": np.float32(0.1), "zy": np.uint8(128)}  # fmt: skip
    n = helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])
    return make_model([n], {"a": ([3, 4], U8)}, ["y"], inits, 21)


def _qlinear_conv() -> onnx.ModelProto:
    inits = {"sx": np.float32(0.05), "zx": np.uint8(3), "w": RNG.integers(0, 255, (4, 2, 3, 3)).astype(np.uint8),
             "sw": RNG.uniform(0.01, 0.02, 4).astype(np.float32), "zw": np.full(4, 100, np.uint8),
             "sy": np.float32(0.5), "zy": np.uint8(10), "bias": RNG.integers(-500, 500, 4).astype(np.int32)}  # fmt: skip
    n = helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "bias"], ["y"], pads=[1, 1, 1, 1])
    return make_model([n], {"x": ([1, 2, 5, 5], U8)}, ["y"], inits, 17)


QUANT = {
    "quant-per-axis-int8": lambda: make_model(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
        X, ["q", "y"], {"s": RNG.uniform(0.01, 0.05, 3).astype(np.float32), "z": np.array([0, 3, -2], np.int8)}, 13),
    "quant-uint8-per-tensor": lambda: node("QuantizeLinear", X, {"s": np.float32(0.02)}),
    "quant-blocked": lambda: make_model(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=3, block_size=2),
         helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=3, block_size=2)],
        X, ["y"], {"s": RNG.uniform(0.01, 0.05, (2, 3, 4, 3)).astype(np.float32), "z": np.zeros((2, 3, 4, 3), np.int8)}, 21),
    "quant-dequantize-int32": lambda: node("DequantizeLinear", {"x": ([3, 4], TensorProto.INT32)}, {"s": np.float32(0.5)}),
    "quant-MatMulInteger": lambda: node("MatMulInteger", {"a": ([3, 4], U8)}, {"b": RNG.integers(-5, 5, (4, 2)).astype(np.int8),
                                        "za": np.uint8(2), "zb": np.int8(1)}),
    "quant-ConvInteger": lambda: node("ConvInteger", {"x": ([1, 2, 5, 5], U8)}, {"w": RNG.integers(0, 9, (3, 2, 3, 3)).astype(np.uint8),
                                      "zx": np.uint8(1)}, pads=[1, 1, 1, 1]),
    "quant-QLinearMatMul": _qlinear_matmul,
    "quant-QLinearConv": _qlinear_conv,
    "quant-DynamicQuantizeLinear": lambda: node("DynamicQuantizeLinear", {"x": ([3, 4], F)}, outputs=("y", "s", "z")),
}  # fmt: skip


@pytest.mark.parametrize("name", QUANT)
def test_quant_op_exports_to_what_onnxruntime_computes(name):
    """Integer results may differ by one where onnxruntime's QLinear kernels round a tie
    their way; the export, computed in float64 as optc's reference does, equals that."""
    model = QUANT[name]()
    module, exported = assert_exports_to_same_outputs(model, rtol=0, atol=1)
    inputs = random_inputs(module, 0)
    ours, theirs = run(module, inputs), run_onnxruntime(exported, inputs)
    for output, value in ours.items():
        np.testing.assert_array_equal(theirs[output], value, err_msg=output)
    if name not in NOT_ROUND_TRIPPING:
        assert_round_trips(module)


# --- IR the importer never writes ----------------------------------------------------------

CONV = "strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64"
POOL = "kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64"

IR = {
    "channels-last": f"""
func.func @main(%x: tensor<1x6x6x3xf32>, %w: tensor<4x3x3x3xf32>, %c: tensor<4xf32>, %v: tensor<4xf32>) -> (tensor<1x3x3x4xf32>, tensor<1x1x1x4xf32>) {{
  %y = graph.conv %x, %w, %c {{{CONV}, layout = "NHWC"}} : (tensor<1x6x6x3xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
  %n = graph.batch_norm %y, %c, %c, %c, %v {{epsilon = 1.0e-01 : f32, layout = "NHWC"}} : (tensor<1x6x6x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
  %i = graph.instance_norm %n, %c, %c {{epsilon = 1.0e-05 : f32, layout = "NHWC"}} : (tensor<1x6x6x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x6x6x4xf32>
  %p = graph.max_pool %i {{{POOL}, layout = "NHWC"}} : tensor<1x6x6x4xf32> -> tensor<1x3x3x4xf32>
  %a = graph.average_pool %i {{{POOL}, count_include_pad = 0 : i64, layout = "NHWC"}} : tensor<1x6x6x4xf32> -> tensor<1x3x3x4xf32>
  %g = graph.global_max_pool %a {{layout = "NHWC"}} : tensor<1x3x3x4xf32> -> tensor<1x1x1x4xf32>
  func.return %p, %g : tensor<1x3x3x4xf32>, tensor<1x1x1x4xf32>
}}""",
    "recognised-activations": """
func.func @main(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %s = graph.silu %x : tensor<2x8xf32>
  %h = graph.hard_swish %s : tensor<2x8xf32>
  %g = graph.gelu %h {approximate = "none"} : tensor<2x8xf32>
  %y = graph.matmul %g, %w, %b : (tensor<2x8xf32>, tensor<8x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}""",
    "generated-tensors": """
func.func @main(%x: tensor<2x3xf32>) -> (tensor<1xi64>, tensor<i64>, tensor<4xi64>, tensor<2x3xf32>) {
  %s = graph.shape %x {start = 1 : i64, end = 2 : i64} : tensor<2x3xf32> -> tensor<1xi64>
  %n = graph.size %x : tensor<2x3xf32> -> tensor<i64>
  %a = graph.constant dense<1> : tensor<i64>
  %l = graph.constant dense<9> : tensor<i64>
  %d = graph.constant dense<2> : tensor<i64>
  %r = graph.range %a, %l, %d : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<4xi64>
  %f = graph.constant_of_shape {value = 1.5 : f32} : tensor<2x3xf32>
  %y = graph.add %x, %f : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %s, %n, %r, %y : tensor<1xi64>, tensor<i64>, tensor<4xi64>, tensor<2x3xf32>
}""",
    "reduce-nothing": """
func.func @main(%x: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>) {
  %m = graph.reduce_max %x {axes = array<i64>, keepdims = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  %l = graph.reduce_l2 %x {axes = array<i64>, keepdims = 0 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  %q = graph.reduce_sum_square %x {axes = array<i64>, keepdims = 1 : i64} : tensor<2x3xf32> -> tensor<2x3xf32>
  func.return %m, %l, %q : tensor<2x3xf32>, tensor<2x3xf32>, tensor<2x3xf32>
}""",
    "calibrated-qdq": """
func.func @main(%x: tensor<2x8xf16>, %w: tensor<4x8xi8>) -> tensor<2x4xf16> {
  %s = graph.constant dense<0.05> : tensor<f32>
  %q = quant.quantize %x scale(%s : tensor<f32>) : tensor<2x8xf16> -> tensor<2x8xi8>
  %d = quant.dequantize %q scale(%s : tensor<f32>) : tensor<2x8xi8> -> tensor<2x8xf16>
  %ws = graph.constant dense<[0.01, 0.02, 0.03, 0.04]> : tensor<4xf32>
  %wd = quant.dequantize %w scale(%ws : tensor<4xf32>) {axis = 0 : i64} : tensor<4x8xi8> -> tensor<4x8xf16>
  %y = graph.gemm %d, %wd {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 1 : i64} : (tensor<2x8xf16>, tensor<4x8xf16>) -> tensor<2x4xf16>
  func.return %y : tensor<2x4xf16>
}""",
    "float8-cast-and-quantize": """
func.func @main(%x: tensor<6xf32>) -> (tensor<6xf8E4M3FN>, tensor<6xf32>) {
  %c = graph.cast %x {saturate = 0 : i64} : tensor<6xf32> -> tensor<6xf8E4M3FN>
  %s = graph.constant dense<0.5> : tensor<f32>
  %q = quant.quantize %x scale(%s : tensor<f32>) {saturate = 1 : i64} : tensor<6xf32> -> tensor<6xf8E5M2>
  %d = quant.dequantize %q scale(%s : tensor<f32>) : tensor<6xf8E5M2> -> tensor<6xf32>
  func.return %c, %d : tensor<6xf8E4M3FN>, tensor<6xf32>
}""",
}  # fmt: skip
IR_OPSETS = {"recognised-activations": 20, "float8-cast-and-quantize": 19}


def _comparable(array: np.ndarray, like: np.ndarray) -> np.ndarray:
    """onnxruntime hands float8 results back as their bytes: view them as `like`'s type."""
    if array.dtype != like.dtype and array.dtype == np.uint8 and like.dtype.itemsize == 1:
        array = array.view(like.dtype)
    return array.astype(np.float64)


@pytest.mark.parametrize("name", IR)
def test_ir_exports_to_what_the_reference_computes(name):
    module = parse(IR[name])
    inputs = random_inputs(module, 0)
    if name == "channels-last":
        inputs["input3"] = np.abs(inputs["input3"]) + 0.1  # a variance
    if name == "float8-cast-and-quantize":
        inputs["input0"] = np.array([1.0, 600.0, -1e4, 0.1, np.nan, 3.3], np.float32)
    exported = export(module)
    assert exported.opset_import[0].version == IR_OPSETS.get(name, 17)
    expected, actual = run(module, inputs), run_onnxruntime(exported, inputs)
    for output, value in expected.items():
        tolerance = 1e-3 if value.dtype == np.float16 else 1e-5  # one f16 rounding apart
        np.testing.assert_allclose(_comparable(actual[output], value), value.astype(np.float64), rtol=tolerance, atol=tolerance, err_msg=output)


def test_channels_last_ops_are_their_nchw_op_between_transposes():
    exported = export(parse(IR["channels-last"]))
    kinds = [n.op_type for n in exported.graph.node]
    # the input, the conv's weight (an argument, so moved at run time) and the two results:
    # between NHWC ops, each reads the NCHW result the one before it computed
    assert kinds.count("Transpose") == 4
    conv = next(n for n in exported.graph.node if n.op_type == "Conv")
    assert {i.name for i in exported.graph.input} >= {conv.input[2]}


def test_quantize_to_int8_without_zero_point_writes_zeros():
    """ONNX quantizes to uint8 without a zero point: the calibration's symmetric int8 gets
    an explicit zero one, and an f16 input is cast to the scale's f32 first."""
    exported = export(parse(IR["calibrated-qdq"]))
    (q,) = [n for n in exported.graph.node if n.op_type == "QuantizeLinear"]
    zero = next(i for i in exported.graph.initializer if i.name == q.input[2])
    assert zero.data_type == TensorProto.INT8 and onnx.numpy_helper.to_array(zero).tolist() == 0
    producer = {o: n for n in exported.graph.node for o in n.output}
    assert producer[q.input[0]].op_type == "Cast"


# --- coverage and refusals -----------------------------------------------------------


def test_every_graph_and_quant_op_has_a_writer():
    missing = [op.name for op in (*OPS, *Quant.operations) if op not in WRITERS]
    assert not missing


def _relu() -> str:
    return """
func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %y = graph.relu %x : tensor<3xf32>
  func.return %y : tensor<3xf32>
}"""


def test_an_op_without_writer_is_refused_by_name(monkeypatch):
    from dialects.graph import ReluOp

    monkeypatch.delitem(WRITERS, ReluOp)
    with pytest.raises(OptcError, match=r"^cannot export 'graph.relu' to ONNX yet$"):
        export(parse(_relu()))


def test_fused_ir_is_refused_with_what_export_reads():
    module = apply_pipeline(import_onnx(_example("cnn.onnx")), "fused")
    with pytest.raises(OptcError, match=r"^cannot export 'fused\.\w+' to ONNX yet \(export writes graph-level IR: as imported, or after graph-optimize\)$"):
        export(module)


REFUSED_IR = {
    "two functions": (_relu() + _relu().replace("@main", "@other"),
                      "export writes a module of one function (an imported model), this one has 2: @main, @other"),
    "results sharing a name": ("""
func.func @main(%x: tensor<3xf32>) -> (tensor<3xf32> {onnx.name = "y"}, tensor<3xf32> {onnx.name = "y"}) {
  %y = graph.relu %x : tensor<3xf32>
  func.return %y, %x : tensor<3xf32>, tensor<3xf32>
}""", "the function's results share the ONNX name 'y'; ONNX names each once"),
    "a result named after another argument": ("""
func.func @main(%x: tensor<3xf32> {onnx.name = "x"}, %z: tensor<3xf32> {onnx.name = "z"}) -> (tensor<3xf32> {onnx.name = "x"}) {
  func.return %z : tensor<3xf32>
}""", "result 'x' has the name of an argument it is not; ONNX names each value once"),
    "resize sizes ONNX cannot derive": ("""
func.func @main(%x: tensor<1x1x3x4xf32>) -> tensor<1x1x7x4xf32> {
  %y = graph.resize %x {scales = array<f32: 1.0, 1.0, 2.0, 1.0>, mode = "nearest", coordinate_transformation_mode = "asymmetric", nearest_mode = "floor", cubic_coeff_a = -7.5e-01 : f32, exclude_outside = 0 : i64, antialias = 0 : i64, extrapolation_value = 0.0 : f32} : tensor<1x1x3x4xf32> -> tensor<1x1x7x4xf32>
  func.return %y : tensor<1x1x7x4xf32>
}""", "cannot export 'graph.resize' to ONNX: scales [1.0, 1.0, 2.0, 1.0] give sizes [1, 1, 7, 4] that ONNX's Resize computes from neither"),
    "an element type ONNX lacks": ("""
func.func @main(%x: tensor<3xi3>) -> tensor<3xi3> {
  %y = graph.identity %x : tensor<3xi3>
  func.return %y : tensor<3xi3>
}""", "value 'input0': element type i3 has no ONNX equivalent"),
}  # fmt: skip


@pytest.mark.parametrize("case", REFUSED_IR)
def test_refused_with_the_cause(case):
    text, message = REFUSED_IR[case]
    with pytest.raises(OptcError, match=f"^{re.escape(message)}$"):
        export(parse(text))


def test_a_missing_weight_is_named():
    module = parse("""
func.func @main(%x: tensor<3xf32>) -> tensor<3xf32> {
  %w = graph.weight "w" : tensor<3xf32>
  %y = graph.add %x, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}""")
    attach(module, WeightStore())
    with pytest.raises(OptcError, match=r"^weight 'w' is not in this module's weight store"):
        export(module)


def test_a_returned_argument_and_a_returned_weight_get_identities():
    module = parse("""
func.func @main(%x: tensor<3xf32> {onnx.name = "x"}) -> (tensor<3xf32> {onnx.name = "a"}, tensor<3xf32> {onnx.name = "b"}, tensor<3xf32> {onnx.name = "c"}) {
  %w = graph.weight "w" : tensor<3xf32>
  %y = graph.relu %x : tensor<3xf32>
  func.return %x, %w, %y : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}""")
    weights_ = np.arange(3, dtype=np.float32)
    attach(module, WeightStore(None, {"w": weights_}))
    exported = export(module)
    x = np.array([-1.0, 0.5, 2.0], np.float32)
    outputs = run_onnxruntime(exported, {"x": x})
    np.testing.assert_array_equal(outputs["a"], x)
    np.testing.assert_array_equal(outputs["b"], weights_)
    np.testing.assert_array_equal(outputs["c"], np.maximum(x, 0))


# --- the command ---------------------------------------------------------------------


def test_command_writes_an_optimized_model(tmp_path, capsys):
    out = str(tmp_path / "cnn.opt.onnx")
    assert export_main([os.path.join(EXAMPLES, "cnn.onnx"), "-o", out, "--pipeline", "graph-optimize"]) == 0
    assert "wrote" in capsys.readouterr().err
    model = onnx.load(out)
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}
    source = _example("cnn.onnx")
    inputs = random_inputs(import_onnx(source), 0)
    expected, actual = run_onnxruntime(source, inputs), run_onnxruntime(model, inputs)
    np.testing.assert_allclose(actual["logits"], expected["logits"], rtol=1e-4, atol=1e-5)


def test_command_reads_saved_ir_with_its_weights(tmp_path):
    from compiler.optc import main as optc_main

    ir = str(tmp_path / "cnn.mlir")
    assert optc_main([os.path.join(EXAMPLES, "cnn.onnx"), "-p", "graph-optimize", "-o", ir]) == 0
    out = str(tmp_path / "cnn.onnx")
    assert export_main([ir, "-o", out]) == 0
    assert len(onnx.load(out).graph.initializer) > 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pipeline", "fused"], "error: cannot export 'fused."),
        (["--pipeline", "no-such-pass"], "error: unknown pass or pipeline 'no-such-pass'"),
        (["--shape", "x=1"], "error: --shape names unknown input(s) x"),
    ],
)
def test_command_errors(argv, message, tmp_path, capsys):
    assert export_main([os.path.join(EXAMPLES, "cnn.onnx"), "-o", str(tmp_path / "out.onnx"), *argv]) == 1
    assert message in capsys.readouterr().err


def test_a_weight_keeps_its_name_when_it_looks_like_a_value_name():
    module = parse("""
func.func @main(%x: tensor<3xf32> {onnx.name = "x"}) -> (tensor<3xf32> {onnx.name = "y"}) {
  %r = graph.relu %x : tensor<3xf32>
  %w = graph.weight "relu_0" : tensor<3xf32>
  %y = graph.add %r, %w : (tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  func.return %y : tensor<3xf32>
}""")
    attach(module, WeightStore(None, {"relu_0": np.arange(3, dtype=np.float32)}))
    exported = export(module)
    assert [i.name for i in exported.graph.initializer] == ["relu_0"]
    assert exported.graph.node[0].output[0] == "relu_1"


def test_a_model_over_protobufs_limit_keeps_its_weights_beside_it(monkeypatch, tmp_path):
    """Checked from the file it is saved to; without a path it cannot be written."""
    from compiler.onnx_export import exporter

    monkeypatch.setattr(exporter, "PROTOBUF_LIMIT", 1000)
    module = import_onnx(_example("cnn.onnx"))
    with pytest.raises(OptcError, match=r"^the model takes .* GiB, more than protobuf holds; give a path to save it with external data$"):
        export(module)
    path = str(tmp_path / "cnn.onnx")
    export(module, path)
    assert os.path.exists(path + ".data")
    inputs = random_inputs(module, 0)
    expected = run_onnxruntime(_example("cnn.onnx"), inputs)
    import onnxruntime as ort

    actual = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, inputs)
    np.testing.assert_allclose(actual[0], expected["logits"], rtol=1e-5, atol=1e-6)


def test_cannot_write_to_a_missing_folder(tmp_path):
    with pytest.raises(OptcError, match=r"^cannot write '.*/missing/cnn.onnx': "):
        export(import_onnx(_example("cnn.onnx")), str(tmp_path / "missing" / "cnn.onnx"))


def test_calibrated_channels_last_conv_keeps_dequantize_next_to_conv():
    """Calibration inserts QDQ after graph-optimize, so an int8 weight in OHWI feeds an
    NHWC conv through a per-output-channel dequantize: the export transposes the int8
    weight itself, so DequantizeLinear feeds Conv directly (the QDQ form runtimes fuse)."""
    w = RNG.integers(-127, 128, (4, 3, 3, 2)).astype(np.int8)
    module = parse(f"""
func.func @main(%x: tensor<1x2x6x6xf32> {{onnx.name = "x"}}) -> (tensor<1x4x6x6xf32> {{onnx.name = "y"}}) {{
  %s = graph.constant dense<0.05> : tensor<f32>
  %wq = graph.weight "w" : tensor<4x3x3x2xi8>
  %ws = graph.constant dense<[0.01, 0.02, 0.03, 0.04]> : tensor<4xf32>
  %t = graph.transpose %x {{perm = array<i64: 0, 2, 3, 1>}} : tensor<1x2x6x6xf32> -> tensor<1x6x6x2xf32>
  %q = quant.quantize %t scale(%s : tensor<f32>) : tensor<1x6x6x2xf32> -> tensor<1x6x6x2xi8>
  %d = quant.dequantize %q scale(%s : tensor<f32>) : tensor<1x6x6x2xi8> -> tensor<1x6x6x2xf32>
  %wd = quant.dequantize %wq scale(%ws : tensor<4xf32>) {{axis = 0 : i64}} : tensor<4x3x3x2xi8> -> tensor<4x3x3x2xf32>
  %c = graph.conv %d, %wd {{{CONV}, layout = "NHWC"}} : (tensor<1x6x6x2xf32>, tensor<4x3x3x2xf32>) -> tensor<1x6x6x4xf32>
  %y = graph.transpose %c {{perm = array<i64: 0, 3, 1, 2>}} : tensor<1x6x6x4xf32> -> tensor<1x4x6x6xf32>
  func.return %y : tensor<1x4x6x6xf32>
}}""")
    attach(module, WeightStore(None, {"w": w}))
    exported = export(module)
    producer = {o: n for n in exported.graph.node for o in n.output}
    (conv,) = [n for n in exported.graph.node if n.op_type == "Conv"]
    weight_dq = producer[conv.input[1]]
    assert weight_dq.op_type == "DequantizeLinear"
    (moved,) = [i for i in exported.graph.initializer if i.name == weight_dq.input[0]]
    np.testing.assert_array_equal(onnx.numpy_helper.to_array(moved), w.transpose(0, 3, 1, 2))
    assert "w" not in {i.name for i in exported.graph.initializer}  # the OHWI original is read by nothing
    # the activation's Q/DQ are computed channels first too: no Transpose is left
    assert [n.op_type for n in exported.graph.node] == ["QuantizeLinear", "DequantizeLinear", "DequantizeLinear", "Conv"]
    x = RNG.standard_normal((1, 2, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(run_onnxruntime(exported, {"x": x})["y"], run(module, {"x": x})["y"], rtol=1e-5, atol=1e-6)


def test_bf16_and_bool_constants_keep_their_types():
    exported = export(parse("""
func.func @main(%x: tensor<4xbf16>, %z: tensor<4xbf16>) -> tensor<4xbf16> {
  %c = graph.constant dense<[1.0, 2.0, 3.0, 4.5]> : tensor<4xbf16>
  %m = graph.constant dense<[true, false, false, true]> : tensor<4xi1>
  %a = graph.add %x, %c : (tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  %y = graph.where %m, %a, %z : (tensor<4xi1>, tensor<4xbf16>, tensor<4xbf16>) -> tensor<4xbf16>
  func.return %y : tensor<4xbf16>
}"""))
    constants = {i.data_type: onnx.numpy_helper.to_array(i) for i in exported.graph.initializer}
    assert constants[TensorProto.BFLOAT16].astype(np.float32).tolist() == [1.0, 2.0, 3.0, 4.5]
    assert constants[TensorProto.BOOL].tolist() == [True, False, False, True]
    assert exported.graph.input[0].type.tensor_type.elem_type == TensorProto.BFLOAT16


def _mobilenet_like() -> onnx.ModelProto:
    """Conv, ReLU6 (Clip), depthwise Conv, SiLU (Sigmoid, Mul), a residual Add, pooling."""
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], group=8),
        helper.make_node("Sigmoid", ["c2"], ["s2"]),
        helper.make_node("Mul", ["c2", "s2"], ["a2"]),
        helper.make_node("Add", ["a2", "r1"], ["sum"]),
        helper.make_node("GlobalAveragePool", ["sum"], ["y"]),
    ]
    inits = {"w1": weights(8, 3, 3, 3), "b1": weights(8), "lo": np.float32(0), "hi": np.float32(6), "w2": weights(8, 1, 3, 3)}
    return make_model(nodes, {"x": ([1, 3, 8, 8], F)}, ["y"], inits)


def test_a_channels_last_region_exports_without_transposes():
    """graph-optimize runs the whole network channels last; its ReLU6, SiLU and residual
    add between the convolutions are computed channels first in the export, so only the
    Transpose where the region ends (after the residual add) is left."""
    module, exported = assert_exports_to_same_outputs(_mobilenet_like(), "graph-optimize", rtol=1e-4, atol=1e-5)
    assert any(op.name == "graph.conv" and "layout" in op.properties for op in module.walk())
    kinds = [n.op_type for n in exported.graph.node]
    assert kinds.count("Transpose") == 1 and kinds.index("Transpose") > kinds.index("Add")
    assert {"Clip", "Sigmoid", "Mul", "Add"} <= set(kinds)
