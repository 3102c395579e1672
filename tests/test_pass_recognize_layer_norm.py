"""graph-recognize-layer-norm: the differential tests, on the lit cases
(lit_tests/passes/graph-recognize-layer-norm.mlir) and on ONNX models in the exporters' shapes."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import AddOp, LayerNormOp, MulOp, ReduceMeanOp, SqrtOp
from dialects.graph.base import float_of, int_of
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-recognize-layer-norm.mlir"


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


def layer_norms(module) -> list[LayerNormOp]:
    return [op for op in module.walk() if isinstance(op, LayerNormOp)]


@pytest.mark.parametrize("case", ["torch", "tensorflow", "two_axes", "gamma_not_absorbed"])
def test_lit_cases_collapse_to_one_layer_norm(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-recognize-layer-norm")
    assert len(layer_norms(after)) == 1
    assert ReduceMeanOp not in op_types(after) and SqrtOp not in op_types(after)


@pytest.mark.parametrize("case", ["shared_mean", "middle_axis", "variance_other_axes"])
def test_near_misses_stay(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-recognize-layer-norm")
    assert not layer_norms(after) and op_types(after).count(ReduceMeanOp) == 2


def test_affine_off_leaves_gamma_and_beta_outside():
    after = assert_pass_preserves(lit_function(LIT, "torch"), "graph-recognize-layer-norm{affine=false}")
    (ln,) = layer_norms(after)
    assert ln.bias is None
    assert op_types(after).count(MulOp) == 1 and op_types(after).count(AddOp) == 1


def _decomposed(form: str, x: str = "x", out: str = "ln", tag: str = "") -> list:
    """LayerNorm over the last axis of `x` into `out`, as the PyTorch exporter (opset
    13-16) or tf2onnx writes it; `tag` keeps the intermediate names of several apart."""

    def node(op_type, inputs, output, **attrs):
        names = [i if i in (x, "two", "eps", "gamma", "beta") else i + tag for i in inputs]
        return helper.make_node(op_type, names, [out if output == "out" else output + tag], **attrs)

    mean = node("ReduceMean", [x], "mean", axes=[-1], keepdims=1)
    if form == "torch":
        return [
            mean,
            node("Sub", [x, "mean"], "dev"),
            node("Pow", ["dev", "two"], "sq"),
            node("ReduceMean", ["sq"], "var", axes=[-1], keepdims=1),
            node("Add", ["var", "eps"], "ve"),
            node("Sqrt", ["ve"], "std"),
            node("Div", ["dev", "std"], "n"),
            node("Mul", ["n", "gamma"], "s"),
            node("Add", ["s", "beta"], "out"),
        ]
    return [
        mean,
        node("Sub", [x, "mean"], "dev_v"),
        node("Mul", ["dev_v", "dev_v"], "sq"),
        node("ReduceMean", ["sq"], "var", axes=[-1], keepdims=1),
        node("Add", ["var", "eps"], "ve"),
        node("Sqrt", ["ve"], "std"),
        node("Reciprocal", ["std"], "r"),
        node("Sub", [x, "mean"], "dev_n"),
        node("Mul", ["dev_n", "r"], "n"),
        node("Mul", ["gamma", "n"], "s"),
        node("Add", ["beta", "s"], "out"),
    ]


def _constants(hidden: int, dtype=np.float32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "two": np.array(2.0, dtype),
        "eps": np.array(1e-12 if dtype == np.float32 else 1e-5, dtype),
        "gamma": (1 + 0.1 * rng.standard_normal(hidden)).astype(dtype),
        "beta": (0.1 * rng.standard_normal(hidden)).astype(dtype),
    }


@pytest.mark.parametrize("form", ["torch", "tensorflow"])
def test_bert_residual_layer_norm(form):
    """BERT's `LayerNorm(hidden + residual)` on (batch, sequence, hidden), opset 13."""
    hidden = 32
    nodes = [helper.make_node("Add", ["h", "res"], ["x"]), *_decomposed(form)]
    inputs = {"h": ([2, 5, hidden], TensorProto.FLOAT), "res": ([2, 5, hidden], TensorProto.FLOAT)}
    module = import_onnx(make_model(nodes, inputs, ["ln"], _constants(hidden), opset=13))
    after = assert_pass_preserves(module, "graph-recognize-layer-norm", rtol=1e-4, atol=1e-5)
    (ln,) = layer_norms(after)
    assert int_of(ln.axis) == 2 and ln.bias is not None
    assert np.isclose(float_of(ln.epsilon), 1e-12, rtol=1e-6)
    assert op_types(after).count(AddOp) == 1  # the residual add; epsilon's and beta's are gone


def test_two_layer_norms_in_a_row():
    """Each of several decomposed layer norms becomes its own op."""
    hidden = 24
    nodes = _decomposed("torch", out="ln1", tag="1") + _decomposed("tensorflow", x="ln1", out="ln", tag="2")
    inputs = {"x": ([3, hidden], TensorProto.FLOAT)}
    module = import_onnx(make_model(nodes, inputs, ["ln"], _constants(hidden), opset=13))
    after = assert_pass_preserves(module, "graph-recognize-layer-norm", rtol=1e-4, atol=1e-5)
    assert len(layer_norms(after)) == 2 and ReduceMeanOp not in op_types(after)


def test_f16_keeps_its_type():
    hidden = 16
    inputs = {"x": ([4, hidden], TensorProto.FLOAT16)}
    module = import_onnx(make_model(_decomposed("torch"), inputs, ["ln"], _constants(hidden, np.float16), opset=13))
    after = assert_pass_preserves(module, "graph-recognize-layer-norm", rtol=1e-2, atol=1e-2)
    (ln,) = layer_norms(after)
    assert str(ln.result.type) == "tensor<4x16xf16>"
