"""graph-recognize-activations: the differential tests, on the lit cases
(lit_tests/passes/graph-recognize-activations.mlir) and on ONNX models in the exporters' shapes."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import ClipOp, ConvOp, HardSigmoidOp, HardSwishOp, MulOp, SigmoidOp, SiluOp
from dialects.graph.base import float_of
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-recognize-activations.mlir"
PASS = "graph-recognize-activations"


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


def graph_ops(module) -> list[type]:
    return [type(op) for op in module.walk() if op.name.startswith("graph.")]


@pytest.mark.parametrize(
    "case, op",
    [
        ("silu", SiluOp),
        ("hard_swish_torch", HardSwishOp),
        ("hard_swish_keras", HardSwishOp),
        ("hard_swish_scaled_first", HardSwishOp),
        ("hard_sigmoid_relu6", HardSigmoidOp),
        ("hard_sigmoid_keras", HardSigmoidOp),
    ],
)
def test_lit_cases_collapse_to_one_op(case, op):
    after = assert_pass_preserves(lit_function(LIT, case), PASS)
    assert graph_ops(after) == [op]


@pytest.mark.parametrize("case", ["swish_beta", "shared_sigmoid", "hard_swish_wrong_shift", "plain_clip"])
def test_near_misses_stay(case):
    after = assert_pass_preserves(lit_function(LIT, case), PASS)
    assert not {SiluOp, HardSwishOp, HardSigmoidOp} & set(op_types(after))


def test_options_turn_parts_off():
    after = assert_pass_preserves(lit_function(LIT, "silu"), f"{PASS}{{silu=false}}")
    assert SigmoidOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "hard_sigmoid_relu6"), f"{PASS}{{hard_sigmoid=false}}")
    assert ClipOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "hard_swish_keras"), f"{PASS}{{hard_swish=false}}")
    assert HardSwishOp not in op_types(after)


def _conv_net(activation_nodes, constants, opset=13):
    """Conv (3 → 4 channels, values well past the hard functions' ±3 knees) → activation → y."""
    rng = np.random.default_rng(0)
    initializers = {
        "w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "b": rng.standard_normal(4).astype(np.float32),
        **{k: np.array(v, dtype=np.float32) for k, v in constants.items()},
    }
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["h"], pads=[1, 1, 1, 1]), *activation_nodes]
    return import_onnx(make_model(nodes, {"x": ([1, 3, 6, 6], TensorProto.FLOAT)}, ["y"], initializers, opset))


def test_torch_silu():
    """nn.SiLU through torch.onnx.export (opset 13): Sigmoid and Mul."""
    nodes = [helper.make_node("Sigmoid", ["h"], ["s"]), helper.make_node("Mul", ["h", "s"], ["y"])]
    after = assert_pass_preserves(_conv_net(nodes, {}), PASS)
    assert graph_ops(after).count(SiluOp) == 1 and SigmoidOp not in graph_ops(after)


def test_torch_hard_swish_before_opset_14():
    """nn.Hardswish at opset 13: x * HardSigmoid(x, alpha=1/6)."""
    nodes = [
        helper.make_node("HardSigmoid", ["h"], ["hs"], alpha=1 / 6),
        helper.make_node("Mul", ["h", "hs"], ["y"]),
    ]
    after = assert_pass_preserves(_conv_net(nodes, {}), PASS)
    assert graph_ops(after).count(HardSwishOp) == 1 and MulOp not in graph_ops(after)


def test_keras_mobilenet_v3_hard_swish_and_se_gate():
    """tf2onnx of Keras' MobileNetV3: hard_swish = x * relu6(x + 3) * (1/6), and the
    squeeze-excite gate hard_sigmoid = relu6(x + 3) * (1/6) multiplying the features."""
    nodes = [
        helper.make_node("Add", ["h", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["r"]),
        helper.make_node("Mul", ["h", "r"], ["m"]),
        helper.make_node("Mul", ["m", "sixth"], ["hsw"]),
        helper.make_node("GlobalAveragePool", ["hsw"], ["pooled"]),
        helper.make_node("Add", ["pooled", "three"], ["ga"]),
        helper.make_node("Clip", ["ga", "zero", "six"], ["gr"]),
        helper.make_node("Mul", ["gr", "sixth"], ["gate"]),
        helper.make_node("Mul", ["hsw", "gate"], ["y"]),
    ]
    constants = {"three": 3.0, "zero": 0.0, "six": 6.0, "sixth": 0.16666667}
    after = assert_pass_preserves(_conv_net(nodes, constants), PASS)
    ops = graph_ops(after)
    assert ops.count(HardSwishOp) == 1 and ops.count(HardSigmoidOp) == 1 and ClipOp not in ops
    (gate,) = [op for op in after.walk() if isinstance(op, HardSigmoidOp)]
    assert np.isclose(float_of(gate.alpha), 1 / 6) and np.isclose(float_of(gate.beta), 0.5)
    assert ops.count(MulOp) == 1 and ops.count(ConvOp) == 1  # the gate's product stays
