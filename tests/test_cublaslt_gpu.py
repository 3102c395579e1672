"""cuBLASLt through nvmath-python (runtime/library/cublaslt.py): the row-major → column-major
mapping on the CPU, and every case against numpy on the GPU."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from dialects.errors import OptcError
from runtime.library.cublaslt import LtMatmul, column_major

NP = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32}


def test_column_major_swaps_the_operands():
    a, b, d = column_major(LtMatmul(m=3, n=5, k=7, dtype="float16"))
    assert (a.rows, a.cols, a.ld, a.transposed) == (5, 7, 5, False)  # stored B [7, 5]
    assert (b.rows, b.cols, b.ld, b.transposed) == (7, 3, 7, False)  # stored A [3, 7]
    assert (d.rows, d.cols, d.ld) == (5, 3, 5)


def test_column_major_transposed_operands():
    a, b, _ = column_major(LtMatmul(m=3, n=5, k=7, dtype="float16", a_k_fast=False, b_n_fast=False))
    assert (a.rows, a.cols, a.ld, a.transposed) == (7, 5, 7, True)  # stored B [5, 7]
    assert (b.rows, b.cols, b.ld, b.transposed) == (3, 7, 3, True)  # stored A [7, 3]


def test_bad_calls_are_named():
    with pytest.raises(OptcError, match="element type int8"):
        LtMatmul(m=1, n=1, k=1, dtype="int8")
    with pytest.raises(OptcError, match="epilogue 'silu'"):
        LtMatmul(m=1, n=1, k=1, dtype="float16", epilogue="silu")


def _reference(call: LtMatmul, a, b, bias):
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    if not call.a_k_fast:
        a32 = np.swapaxes(a32, -1, -2)
    if not call.b_n_fast:
        b32 = np.swapaxes(b32, -1, -2)
    d = a32 @ b32
    if call.has_bias:
        d = d + bias.astype(np.float32)
    if call.epilogue.startswith("relu"):
        d = np.maximum(d, 0)
    if call.epilogue.startswith("gelu"):
        d = 0.5 * d * (1 + np.tanh(0.7978845608 * (d + 0.044715 * d**3)))
    return d


CASES = [
    LtMatmul(m=128, n=3072, k=768, dtype="float16", epilogue="relu_bias"),
    LtMatmul(m=77, n=40, k=24, dtype="float16", a_k_fast=False),
    LtMatmul(m=64, n=48, k=32, dtype="bfloat16", epilogue="gelu_bias", b_n_fast=False),
    LtMatmul(m=33, n=17, k=9, dtype="float32", epilogue="bias"),
    LtMatmul(m=16, n=32, k=64, dtype="float16", batch=3, a_batch_stride=16 * 64, b_batch_stride=64 * 32),
    LtMatmul(m=16, n=32, k=64, dtype="float16", batch=3, a_batch_stride=16 * 64, b_batch_stride=0, epilogue="relu"),
]


@pytest.mark.gpu
@pytest.mark.parametrize("call", CASES, ids=lambda c: f"{c.dtype}-{c.m}x{c.n}x{c.k}-b{c.batch}-{c.epilogue}")
def test_cublaslt_matches_numpy(call):
    from runtime.cuda import DeviceBuffer, Stream
    from runtime.library.cublaslt import LtPlan

    rng = np.random.default_rng(0)
    dt = NP[call.dtype]
    a_shape = (call.m, call.k) if call.a_k_fast else (call.k, call.m)
    b_shape = (call.k, call.n) if call.b_n_fast else (call.n, call.k)
    a = rng.standard_normal(((call.batch,) if call.a_batch_stride else ()) + a_shape).astype(dt)
    b = rng.standard_normal(((call.batch,) if call.b_batch_stride else ()) + b_shape).astype(dt)
    bias = rng.standard_normal(call.n).astype(dt)
    plan = LtPlan(call)
    algos = plan.algorithms(8)
    assert algos, "cuBLASLt offers no algorithm"
    stream = Stream()
    da, db, dbias = (DeviceBuffer.from_numpy(np.ascontiguousarray(x)) for x in (a, b, bias))
    out_shape = ((call.batch,) if call.batch > 1 else ()) + (call.m, call.n)
    dd = DeviceBuffer.empty(out_shape, dt)
    workspace = DeviceBuffer(max(1, max(al.workspace for al in algos)))
    expected = _reference(call, a, b, bias)
    tol = {"float32": 1e-4, "float16": 2e-2, "bfloat16": 6e-2}[call.dtype]
    for algo in algos:
        assert plan.check(algo) <= workspace.nbytes
        plan.run(algo, da.ptr, db.ptr, dd.ptr, bias=dbias.ptr, workspace=workspace.ptr,
                 workspace_bytes=workspace.nbytes, stream=stream)
        got = dd.to_numpy(stream).astype(np.float32)
        stream.synchronize()
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, err_msg=f"algorithm {algo.index}")
    plan.close()


@pytest.mark.gpu
def test_cublaslt_replays_in_a_cuda_graph():
    from runtime.cuda import DeviceBuffer, Stream
    from runtime.library.cublaslt import LtPlan

    call = CASES[0]
    rng = np.random.default_rng(1)
    a = rng.standard_normal((call.m, call.k)).astype(np.float16)
    b = rng.standard_normal((call.k, call.n)).astype(np.float16)
    bias = rng.standard_normal(call.n).astype(np.float16)
    plan, stream = LtPlan(call), Stream()
    algo = plan.algorithms(1)[0]
    da, db, dbias = (DeviceBuffer.from_numpy(x) for x in (a, b, bias))
    dd = DeviceBuffer.empty((call.m, call.n), np.float16)
    workspace = DeviceBuffer(max(1, algo.workspace))
    with stream.capture() as graph:
        plan.run(algo, da.ptr, db.ptr, dd.ptr, bias=dbias.ptr, workspace=workspace.ptr,
                 workspace_bytes=workspace.nbytes, stream=stream)
    dd.fill_bytes(0, stream)
    graph.launch(stream)
    got = dd.to_numpy(stream).astype(np.float32)
    stream.synchronize()
    np.testing.assert_allclose(got, _reference(call, a, b, bias), rtol=2e-2, atol=0.5)
