"""benchmarks/model_matmuls.py without a GPU: the products it would ask cuBLAS for, and its
rows from a tune report (the GPU parts run on the device machine)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import model_matmuls  # noqa: E402

from compiler.autotune import Choice, SignatureReport, TuneReport  # noqa: E402
from dialects.kernel import FuncOp  # noqa: E402
from passes.codegen.target import SM_90  # noqa: E402

EXAMPLE = str(Path(__file__).resolve().parents[1] / "examples" / "transformer.onnx")


@pytest.fixture(scope="module")
def matmuls():
    return model_matmuls.matmul_module(model_matmuls.kernel_module(EXAMPLE, "fp16", SM_90))


def test_only_matrix_products_are_kept(matmuls):
    kernels = [op for op in matmuls.ops if isinstance(op, FuncOp)]
    assert kernels and all(k.computation.name == "fused.matmul" for k in kernels)


def test_products_read_the_shapes_cublas_is_asked_for(matmuls):
    kernel = next(op for op in matmuls.ops if isinstance(op, FuncOp) and op.sym_name.data == "k5_fused_matmul")
    product = model_matmuls.product_of(kernel, ("k5_fused_matmul",))
    assert (product.m, product.n, product.k, product.batch, product.dtype) == (16, 256, 64, 1, "float16")
    assert product.a_k_fast and product.b_n_fast and product.b_broadcast


def test_rows_pair_the_tuned_time_with_cublas(matmuls):
    report = TuneReport(
        "full",
        signatures=(
            SignatureReport("d1", ("k5_fused_matmul",), 3, Choice("#kernel.launch<tactic = mma, a>", 0.02),
                            Choice("#kernel.launch<tactic = mma, b>", 0.01), None),
        ),
    )
    (row,) = model_matmuls.rows(matmuls, report, 1, 1, rival=lambda product, iters, repeats: 0.008)
    assert row["tuned"] == "tactic = mma, b" and row["heuristic"] == "tactic = mma, a"
    assert row["vs_cublas"] == pytest.approx(0.8)
    assert row["tuned_tflops"] == pytest.approx(2 * 16 * 256 * 64 / (0.01 * 1e9))
    assert model_matmuls.geometric_mean([0.5, 2.0]) == pytest.approx(1.0)
