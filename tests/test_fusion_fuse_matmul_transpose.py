"""fuse-matmul-transpose: the differential tests, on the lit cases
(lit_tests/fusion/fuse-matmul-transpose.mlir), in f16, and on the ONNX block of issue 9
(`x @ transpose(x)`, `transpose(a) @ b`) through the whole `fused` pipeline; that block's
kernels compile with NVRTC and, on a GPU (marker `gpu`), match the reference."""

import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from compiler.pipelines import PIPELINES
from dialects.fused import MatmulOp
from dialects.graph import TransposeOp
from tests.cuda_support import assert_gpu_matches_reference, compile_kernels
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "fusion/fuse-matmul-transpose.mlir"


def transposes(module) -> list[TransposeOp]:
    return [op for op in module.walk() if isinstance(op, TransposeOp)]


def flags(module) -> list[tuple[bool, bool]]:
    return [op.transposes() for op in module.walk() if isinstance(op, MatmulOp)]


@pytest.mark.parametrize(
    "case, left, expected",
    [
        ("gram", 0, [(False, True)]),
        ("lhs_batched", 0, [(True, False)]),
        ("rhs_toggles_off", 0, [(False, False)]),
        ("shared_and_chained", 0, [(True, False), (False, True)]),
        ("read_elsewhere", 1, [(True, False)]),
        ("batch_axes_move", 1, [(False, False)]),
    ],
)
def test_lit_cases(case, left, expected):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-matmul-transpose")
    assert len(transposes(after)) == left
    assert flags(after) == expected


def test_gemm_trans_a_on_a_computed_operand():
    after = assert_pass_preserves(lit_function(LIT, "gemm_trans_a"), "fuse-epilogue,fuse-matmul-transpose")
    assert not transposes(after) and flags(after) == [(True, True)]


def test_f16_batched_both_operands():
    ir = lit_function(LIT, "shared_and_chained").replace("f32", "f16")
    after = assert_pass_preserves(ir, "fuse-matmul-transpose", rtol=2e-3, atol=2e-3)
    assert not transposes(after)


def transpose_block():
    """Issue 9's block: Relu(x @ Transpose(x)) and Transpose(a) @ b, batched."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["x", "xt"], ["g"]),
        helper.make_node("Relu", ["g"], ["gram"]),
        helper.make_node("Transpose", ["a"], ["at"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["at", "b"], ["y"]),
    ]
    inputs = {"x": ([2, 16, 32], TensorProto.FLOAT), "a": ([2, 32, 16], TensorProto.FLOAT), "b": ([2, 32, 8], TensorProto.FLOAT)}
    return import_onnx(make_model(nodes, inputs, ["gram", "y"]))


def _top_level(module) -> list[str]:
    return [op.name for fn in module.ops for op in fn.body.block.ops if op.name != "func.return"]


def test_onnx_block_loses_its_transpose_kernels():
    without = PIPELINES["fuse"].replace("fuse-matmul-transpose,", "")
    assert without != PIPELINES["fuse"]
    before = assert_pass_preserves(transpose_block(), f"graph-optimize,{without}", rtol=1e-4, atol=1e-4)
    assert _top_level(before).count("graph.transpose") == 2
    after = assert_pass_preserves(transpose_block(), "fused", rtol=1e-4, atol=1e-4)
    assert _top_level(after) == ["fused.matmul", "fused.matmul"]
    assert flags(after) == [(False, True), (True, False)]


FP16 = "graph-optimize,graph-convert-precision{precision=fp16},fuse,lower-to-kernels"


@pytest.mark.slow
@pytest.mark.parametrize("pipeline", ["kernel", FP16], ids=["f32", "f16"])
def test_onnx_block_kernels_compile(pipeline):
    sources = compile_kernels(transpose_block(), pipeline=pipeline)
    assert sum("fused_matmul" in name for name in sources) == 2 and not any("transpose" in name for name in sources)


@pytest.mark.gpu
@pytest.mark.parametrize("pipeline, tolerance", [("kernel", 1e-4), (FP16, 5e-2)], ids=["f32", "f16"])
def test_onnx_block_on_gpu(gpu, pipeline, tolerance):
    assert_gpu_matches_reference(transpose_block(), pipeline=pipeline, rtol=tolerance, atol=tolerance)
