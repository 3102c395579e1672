"""fuse-horizontal-matmul: the differential tests, on the lit cases
(lit_tests/fusion/fuse-horizontal-matmul.mlir), on its options, and on a BERT-like encoder
block imported from ONNX, which ends with one fused.matmul for Q, K and V."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import PassFailedException

from compiler.onnx_import import import_onnx
from dialects.fused import MatmulOp as FusedMatmul
from dialects.graph import GemmOp, LayerNormOp, MatMulOp, SplitOp
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model, parse

LIT = "fusion/fuse-horizontal-matmul.mlir"


def count(module, op_type) -> int:
    return sum(isinstance(op, op_type) for op in module.walk())


@pytest.mark.parametrize("case, products", [("qkv", 1), ("gemm_trans_b", 1), ("no_group", 3)])
def test_lit_cases(case, products):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-horizontal-matmul")
    assert count(after, MatMulOp) + count(after, GemmOp) == products
    assert count(after, SplitOp) == (products == 1)


def test_options():
    qkv, gemms = lit_function(LIT, "qkv"), lit_function(LIT, "gemm_trans_b")
    assert count(assert_pass_preserves(qkv, "fuse-horizontal-matmul{min-group=4}"), MatMulOp) == 3
    assert count(assert_pass_preserves(qkv, "fuse-horizontal-matmul{min-group=3}"), MatMulOp) == 1
    assert count(assert_pass_preserves(gemms, "fuse-horizontal-matmul{gemm=false}"), GemmOp) == 2
    after = assert_pass_preserves(qkv, "fuse-horizontal-matmul{bias-adds=false}")
    assert count(after, MatMulOp) == 1 and [op.name for op in after.walk()].count("graph.add") == 1
    with pytest.raises(PassFailedException, match="min-group must be at least 2"):
        apply_pipeline(parse(qkv), "fuse-horizontal-matmul{min-group=1}")


def test_old_weights_are_erased():
    after = apply_pipeline(parse(lit_function(LIT, "qkv")), "fuse-horizontal-matmul")
    assert [op.name for op in after.walk()].count("graph.constant") == 2  # the joined weight and bias


S, HIDDEN, HEADS = 4, 8, 2
DIM = HIDDEN // HEADS


def _bert_block():
    """One BERT encoder layer as torch.onnx.export writes it: LayerNorm, three Linear
    (MatMul, then Add with the bias first), head split (Reshape, Transpose; K transposed
    for the scores), scaled scores, Softmax, context, output Linear, residual, LayerNorm."""
    rng = np.random.default_rng(0)

    def weight(*shape):
        return rng.standard_normal(shape).astype(np.float32) * 0.3

    init = {
        "g1": weight(HIDDEN) + 1, "be1": weight(HIDDEN), "g2": weight(HIDDEN) + 1, "be2": weight(HIDDEN),
        **{f"w{n}": weight(HIDDEN, HIDDEN) for n in "qkvo"},
        **{f"b{n}": weight(HIDDEN) for n in "qkvo"},
        "heads": np.array([1, S, HEADS, DIM], dtype=np.int64),
        "merged": np.array([1, S, HIDDEN], dtype=np.int64),
        "scale": np.array(np.sqrt(DIM), dtype=np.float32),
    }  # fmt: skip
    nodes = [helper.make_node("LayerNormalization", ["x", "g1", "be1"], ["ln"], axis=-1, epsilon=1e-12)]
    for n, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
        nodes += [
            helper.make_node("MatMul", ["ln", f"w{n}"], [f"{n}_mm"]),
            helper.make_node("Add", [f"b{n}", f"{n}_mm"], [f"{n}_lin"]),
            helper.make_node("Reshape", [f"{n}_lin", "heads"], [f"{n}_split"]),
            helper.make_node("Transpose", [f"{n}_split"], [n], perm=perm),
        ]
    nodes += [
        helper.make_node("MatMul", ["q", "k"], ["scores"]),
        helper.make_node("Div", ["scores", "scale"], ["scaled"]),
        helper.make_node("Softmax", ["scaled"], ["probs"], axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["context"]),
        helper.make_node("Transpose", ["context"], ["context_t"], perm=[0, 2, 1, 3]),
        helper.make_node("Reshape", ["context_t", "merged"], ["context_m"]),
        helper.make_node("MatMul", ["context_m", "wo"], ["o_mm"]),
        helper.make_node("Add", ["bo", "o_mm"], ["o"]),
        helper.make_node("Add", ["o", "ln"], ["residual"]),
        helper.make_node("LayerNormalization", ["residual", "g2", "be2"], ["y"], axis=-1, epsilon=1e-12),
    ]
    return import_onnx(make_model(nodes, {"x": ([1, S, HIDDEN], TensorProto.FLOAT)}, ["y"], init))


def test_bert_block_projects_qkv_in_one_fused_matmul():
    after = assert_pass_preserves(_bert_block(), "fuse-horizontal-matmul,fuse-epilogue", rtol=1e-4, atol=1e-5)
    (norm, _) = [op for op in after.walk() if isinstance(op, LayerNormOp)]
    fused = [op for op in after.walk() if isinstance(op, FusedMatmul)]
    assert len(fused) == 4 and count(after, MatMulOp) == 0  # QKV, scores, context, output
    qkv, scores, context, _ = fused
    assert qkv.lhs == norm.result
    assert qkv.rhs.type.get_shape() == (HIDDEN, 3 * HIDDEN)
    assert [r.type.get_shape() for r in qkv.results] == [(1, HEADS, S, DIM), (1, HEADS, S, DIM), (1, HEADS, DIM, S)]
    body = [op.name for op in qkv.epilogue.block.ops]
    assert body.count("graph.split") == 1 and body.count("graph.transpose") == 3
    assert scores.lhs.owner is qkv and scores.rhs.owner is qkv and context.rhs.owner is qkv


def test_bert_block_without_horizontal_fusion_has_three_projections():
    after = assert_pass_preserves(_bert_block(), "fuse-epilogue", rtol=1e-4, atol=1e-5)
    (norm, _) = [op for op in after.walk() if isinstance(op, LayerNormOp)]
    assert len([op for op in after.walk() if isinstance(op, FusedMatmul) and op.lhs == norm.result]) == 3
