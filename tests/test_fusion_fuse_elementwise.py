"""fuse-elementwise: differential tests (reference interpreter before vs after) on the lit
cases and on small ONNX models shaped like exporters' output, with what the IR looks like
afterwards (lit_tests/fusion/fuse-elementwise.mlir shows each rewrite)."""

import re
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.fused import ElementwiseOp, ReductionOp
from dialects.graph import ReshapeOp
from passes.fusion.grouping import ELEMENTWISE
from tests.support import assert_pass_preserves, make_model

LIT = (Path(__file__).parents[1] / "lit_tests" / "fusion" / "fuse-elementwise.mlir").read_text()
CASES = {name: text for text, name in re.findall(r"^(func\.func @(\w+)\(.*?^\}\n)", LIT, re.M | re.S)}
OPTIONS = ["", "{views=false}", "{recompute_limit=0}"]
FREE = ("graph.constant", "graph.weight", "graph.reshape", "graph.flatten", "graph.squeeze", "graph.unsqueeze")
"""Top-level ops that are not kernels (and func.return)."""


def _main(name: str) -> str:
    return CASES[name].replace(f"@{name}(", "@main(")


def _top(module) -> list:
    fn = next(op for op in module.walk() if op.name == "func.func")
    return list(fn.body.block.ops)


def _kernels(module) -> list[str]:
    """The top-level ops that are kernels, by name, in order."""
    return [op.name for op in _top(module) if op.name not in (*FREE, "func.return")]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_lit_cases_compute_the_same(name, options):
    assert_pass_preserves(_main(name), "fuse-elementwise" + options)


def test_lit_cases_are_all_run():
    assert len(CASES) == 7


def test_every_elementwise_op_ends_in_a_kernel():
    for name in CASES:
        after = assert_pass_preserves(_main(name), "fuse-elementwise", seeds=(0,))
        assert not any(type(op) in ELEMENTWISE for op in _top(after)), name


def _fan_out_model():
    """A bias add whose result a matmul and an activation chain both read; the chain's end
    adds the matmul's result (exp -> matmul -> add: that add cannot join the chain)."""
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"]),
        helper.make_node("Relu", ["a"], ["r"]),
        helper.make_node("Sigmoid", ["a"], ["s"]),
        helper.make_node("Mul", ["r", "s"], ["o"]),
        helper.make_node("MatMul", ["a", "w"], ["m"]),
        helper.make_node("Add", ["o", "m"], ["y"]),
        helper.make_node("Tanh", ["y"], ["t"]),
        helper.make_node("Cast", ["t"], ["out"], to=TensorProto.FLOAT16),
    ]
    rng = np.random.default_rng(0)
    weights = {"b": rng.standard_normal(8).astype(np.float32), "w": rng.standard_normal((8, 8)).astype(np.float32)}
    return import_onnx(make_model(nodes, {"x": ([3, 8], TensorProto.FLOAT)}, ["out", "o"], weights))


def test_fan_out_is_computed_once_and_groups_stay_convex():
    after = assert_pass_preserves(_fan_out_model(), "fuse-elementwise", rtol=1e-3, atol=1e-3)
    assert _kernels(after) == ["fused.elementwise", "graph.matmul", "fused.elementwise"]
    first, _, second = [op for op in _top(after) if op.name not in (*FREE, "func.return")]
    # `a` (for the matmul) and `o` (an output, and read by the second group) are yielded
    assert len(first.results) == 2 and len(second.results) == 1
    assert [op.name for op in second.body.block.ops][:-1] == ["graph.add", "graph.tanh", "graph.cast"]


def _views_model():
    """An activation, a Reshape, then more elementwise work, as flatten-then-scale code does."""
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["v"]),
        helper.make_node("Mul", ["v", "scale"], ["y"]),
        helper.make_node("Clip", ["y", "lo", "hi"], ["z"]),
    ]
    weights = {
        "shape": np.array([2, 12], np.int64),
        "scale": np.array(0.5, np.float32),
        "lo": np.array(-1.0, np.float32),
        "hi": np.array(1.0, np.float32),
    }
    return import_onnx(make_model(nodes, {"x": ([2, 3, 4], TensorProto.FLOAT)}, ["z"], weights))


def test_views_between_elementwise_ops_join_or_not():
    joined = assert_pass_preserves(_views_model(), "fuse-elementwise")
    assert _kernels(joined) == ["fused.elementwise"]
    (kernel,) = [op for op in _top(joined) if isinstance(op, ElementwiseOp)]
    assert any(isinstance(op, ReshapeOp) for op in kernel.body.block.ops)
    apart = assert_pass_preserves(_views_model(), "fuse-elementwise{views=false}")
    assert _kernels(apart) == ["fused.elementwise", "fused.elementwise"]


def _transformer_block_model():
    """Residual add + LayerNorm + GELU (erf form) MLP with biases, as the BERT exporter
    writes it."""
    h = 16
    nodes = [
        helper.make_node("Add", ["x", "r"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "gamma", "beta"], ["n"], axis=-1, epsilon=1e-12),
        helper.make_node("MatMul", ["n", "w1"], ["m1"]),
        helper.make_node("Add", ["b1", "m1"], ["u"]),
        helper.make_node("Div", ["u", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["e1"]),
        helper.make_node("Mul", ["u", "e1"], ["g"]),
        helper.make_node("Mul", ["g", "half"], ["gelu"]),
        helper.make_node("MatMul", ["gelu", "w2"], ["m2"]),
        helper.make_node("Add", ["b2", "m2"], ["o"]),
        helper.make_node("Add", ["o", "n"], ["y"]),
    ]
    rng = np.random.default_rng(1)
    weights = {
        "gamma": rng.standard_normal(h).astype(np.float32),
        "beta": rng.standard_normal(h).astype(np.float32),
        "w1": rng.standard_normal((h, 4 * h)).astype(np.float32),
        "b1": rng.standard_normal(4 * h).astype(np.float32),
        "w2": rng.standard_normal((4 * h, h)).astype(np.float32),
        "b2": rng.standard_normal(h).astype(np.float32),
        "sqrt2": np.array(np.sqrt(2.0), np.float32),
        "one": np.array(1.0, np.float32),
        "half": np.array(0.5, np.float32),
    }
    inputs = {"x": ([1, 4, h], TensorProto.FLOAT), "r": ([1, 4, h], TensorProto.FLOAT)}
    return import_onnx(make_model(nodes, inputs, ["y"], weights))


def test_after_fuse_reductions_every_op_is_in_a_kernel():
    after = assert_pass_preserves(_transformer_block_model(), "fuse-reductions,fuse-elementwise", rtol=1e-4, atol=1e-4)
    assert _kernels(after) == [
        "fused.reduction",  # residual add + layer norm
        "graph.matmul",
        "fused.elementwise",  # bias + GELU
        "graph.matmul",
        "fused.elementwise",  # bias + residual add
    ]
    reduction = next(op for op in _top(after) if isinstance(op, ReductionOp))
    assert len(reduction.body.block.ops) == 3  # add, layer_norm, yield
