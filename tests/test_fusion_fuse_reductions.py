"""fuse-reductions: differential tests (reference interpreter before vs after) on the lit
cases and on small ONNX models shaped like exporters' output, with what the IR looks like
afterwards (lit_tests/fusion/fuse-reductions.mlir shows each rewrite)."""

import re
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.fused import ReductionOp
from dialects.graph import AddOp, ConstantOp, LayerNormOp, MatMulOp, MulOp, SoftmaxOp
from tests.support import assert_pass_preserves, make_model

LIT = (Path(__file__).parents[1] / "lit_tests" / "fusion" / "fuse-reductions.mlir").read_text()
CASES = {name: text for text, name in re.findall(r"^(func\.func @(\w+)\(.*?^\}\n)", LIT, re.M | re.S)}
OPTIONS = ["", "{prologue=false}", "{epilogue=false}", "{recompute_limit=0}"]


def _main(name: str) -> str:
    return CASES[name].replace(f"@{name}(", "@main(")


def _top(module) -> list:
    fn = next(op for op in module.walk() if op.name == "func.func")
    return list(fn.body.block.ops)


def _kernels(module) -> list[ReductionOp]:
    return [op for op in _top(module) if isinstance(op, ReductionOp)]


def _body(kernel) -> list[type]:
    return [type(op) for op in kernel.body.block.ops][:-1]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_lit_cases_compute_the_same(name, options):
    assert_pass_preserves(_main(name), "fuse-reductions" + options)


def test_lit_cases_are_all_run():
    assert len(CASES) == 5


def test_recomputed_op_disappears_and_each_kernel_has_its_copy():
    after = assert_pass_preserves(_main("recompute_cheap"), "fuse-reductions")
    top = _top(after)
    assert [type(op) for op in top].count(MulOp) == 0 and len(_kernels(after)) == 2
    assert all(MulOp in _body(k) for k in _kernels(after))


def _layer_norm_model():
    """BERT/GPT-2's post-attention block: residual add, layer norm, a matmul, and the next
    residual add reading the first sum."""
    nodes = [
        helper.make_node("Add", ["x", "r"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["n"], axis=-1, epsilon=1e-5),
        helper.make_node("MatMul", ["n", "w"], ["m"]),
        helper.make_node("Add", ["m", "sum"], ["y"]),
    ]
    rng = np.random.default_rng(0)
    weights = {
        "gamma": rng.standard_normal(16).astype(np.float32),
        "beta": rng.standard_normal(16).astype(np.float32),
        "w": rng.standard_normal((16, 16)).astype(np.float32),
    }
    inputs = {"x": ([2, 5, 16], TensorProto.FLOAT), "r": ([2, 5, 16], TensorProto.FLOAT)}
    return import_onnx(make_model(nodes, inputs, ["y"], weights))


def test_layer_norm_with_residual_yields_the_sum():
    after = assert_pass_preserves(_layer_norm_model(), "fuse-reductions")
    (kernel,) = _kernels(after)
    assert _body(kernel) == [AddOp, LayerNormOp]
    assert len(kernel.results) == 2  # the sum (for the next residual add) and the norm
    assert [type(op) for op in _top(after)].count(AddOp) == 1  # only the next residual add


def _attention_scores_model():
    """Scores as exporters write them: q·kᵀ, times a scale, plus an additive mask, softmax,
    then the product with v."""
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["y"]),
    ]
    shape = [1, 2, 6, 8]
    inputs = {n: (shape, TensorProto.FLOAT) for n in ("q", "k", "v")} | {"mask": ([1, 1, 1, 6], TensorProto.FLOAT)}
    return import_onnx(make_model(nodes, inputs, ["y"], {"scale": np.array(0.125, np.float32)}))


def test_softmax_takes_its_scale_and_mask():
    after = assert_pass_preserves(_attention_scores_model(), "fuse-reductions")
    (kernel,) = _kernels(after)
    assert _body(kernel) == [ConstantOp, MulOp, AddOp, SoftmaxOp]
    assert [type(op) for op in _top(after)].count(MatMulOp) == 2
    assert not any(isinstance(op, MulOp | AddOp | SoftmaxOp) for op in _top(after))


def test_without_prologue_only_the_softmax_is_a_kernel():
    after = assert_pass_preserves(_attention_scores_model(), "fuse-reductions{prologue=false}")
    (kernel,) = _kernels(after)
    assert _body(kernel) == [SoftmaxOp]


HALF = """
func.func @main(%x: tensor<4x8xf16>, %y: tensor<4x8xf16>) -> tensor<4x8xf32> {
  %s = graph.add %x, %y : (tensor<4x8xf16>, tensor<4x8xf16>) -> tensor<4x8xf16>
  %p = graph.softmax %s {axis = 1 : i64} : tensor<4x8xf16>
  %c = graph.cast %p : tensor<4x8xf16> -> tensor<4x8xf32>
  func.return %c : tensor<4x8xf32>
}
"""


def test_half_precision_keeps_each_ops_type():
    after = assert_pass_preserves(HALF, "fuse-reductions", rtol=1e-3, atol=1e-3)
    (kernel,) = _kernels(after)
    assert [str(t.element_type) for t in kernel.result_types] == ["f32"]
    body = list(kernel.body.block.ops)[:-1]
    assert [str(op.results[0].type.element_type) for op in body] == ["f16", "f16", "f32"]
