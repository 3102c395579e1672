"""outline-kernels: the differential test (lit_tests/lowering/outline-kernels.mlir shows the
rewrite), and the bundled examples at the fused level, outlined, still computing the same."""

import os

import onnx
import pytest

from compiler.onnx_import import import_onnx
from compiler.report import kernel_counts
from dialects.kernel import FuncOp, LaunchOp
from tests.support import apply_pipeline, assert_pass_preserves
from tests.test_pipeline_default import EXAMPLES

LIT = os.path.join(os.path.dirname(__file__), "..", "lit_tests", "lowering", "outline-kernels.mlir")


def test_lit_case_computes_the_same():
    text = open(LIT).read()
    ir = text[text.index("\nfunc.func @main(") :]  # the IR, not the CHECK lines naming it
    after = assert_pass_preserves(ir, "outline-kernels")
    assert [op.sym_name.data for op in after.ops if isinstance(op, FuncOp)] == ["k0_fused_elementwise", "k1_graph_transpose"]


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_every_kernel_becomes_one_launch(path):
    fused = apply_pipeline(import_onnx(onnx.load(path)), "fused")
    kernels = sum(kernel_counts(fused).values())
    after = assert_pass_preserves(fused, "outline-kernels", rtol=1e-6, atol=1e-6)
    launches = [op for op in after.walk() if isinstance(op, LaunchOp)]
    assert len(launches) == kernels == sum(isinstance(op, FuncOp) for op in after.ops)
    assert kernel_counts(after) == {"kernel.launch": kernels}
