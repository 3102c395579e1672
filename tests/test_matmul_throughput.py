"""benchmarks/matmul_throughput.py without a GPU: its int8 cases (`--dtype int8`) build the
integer contraction the tensor-core kernel takes, which compiles; the rival's formula
(torch._int_mm, then the requantization in torch ops) is the IR's, checked here in numpy
against the reference interpreter; the epilogue options each dtype takes are enforced
before anything touches a GPU."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import matmul_throughput  # noqa: E402

from passes.codegen.common.types import PRELUDE  # noqa: E402
from passes.codegen.matmul import matmul  # noqa: E402
from passes.codegen.target import SM_90  # noqa: E402
from tests.cuda_support import compile_clean  # noqa: E402


@pytest.mark.parametrize("epilogue", ["none", "requant"])
def test_int8_case_takes_the_tensor_core_kernel_and_compiles(epilogue):
    kernel = matmul_throughput._kernel(matmul_throughput.matmul_ir(128, 768, 768, "int8", False, epilogue))
    launch = matmul.configure(kernel, SM_90)
    assert launch.tactic_name == "mma" and launch.tile_params["block_k"] % 32 == 0
    compile_clean(PRELUDE + matmul.emit(kernel, launch), "int8_bench.cu", "sm_90")


@pytest.mark.parametrize("epilogue", ["none", "requant"])
def test_the_rivals_formula_is_the_irs(epilogue):
    """What `run_int8_case` asks of torch (an i32 product, then scale, divide, round, clip)
    equals the reference interpreter on the benchmark's IR and inputs, bit for bit."""
    from runtime.reference.interpreter import run

    from tests.support import parse

    m, n, k = 20, 24, 64
    a, w, scale = matmul_throughput.int8_host_inputs(m, n, k, np.random.default_rng(0))
    arrays = [a, w] if epilogue == "none" else [a, w, scale]
    (want,) = run(parse(matmul_throughput.int8_matmul_ir(m, n, k, epilogue)), {f"input{j}": x for j, x in enumerate(arrays)}).values()
    acc = a[0].astype(np.int32) @ w.T.astype(np.int32)
    if epilogue == "none":
        rival = acc
    else:
        rival = np.clip(np.round(acc.astype(np.float32) * scale / np.float32(matmul_throughput.REQUANT_SCALE)), -128, 127).astype(np.int8)
        assert rival.min() == -128 and rival.max() == 127  # the inputs make it saturate
    np.testing.assert_array_equal(want.reshape(m, n), rival)


@pytest.mark.parametrize(
    "dtypes, epilogue, message",
    [
        (["int8"], "bias_gelu", "--epilogue bias_gelu is not one of int8's (none, requant)"),
        (["f16", "int8"], "requant", "--epilogue requant is not one of f16's (none, bias_gelu)"),
    ],
)
def test_epilogues_a_dtype_does_not_take_are_refused(dtypes, epilogue, message):
    assert matmul_throughput.epilogue_problem(argparse.Namespace(dtype=dtypes, epilogue=epilogue)) == message
    with pytest.raises(SystemExit):  # the parser's error, before torch or a GPU is needed
        matmul_throughput.main(["--dtype", *dtypes, "--epilogue", epilogue])


def test_every_dtype_takes_no_epilogue():
    assert matmul_throughput.epilogue_problem(argparse.Namespace(dtype=["f32", "f16", "int8"], epilogue="none")) is None
