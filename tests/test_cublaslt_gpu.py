"""cuBLASLt through nvmath-python (runtime/library/cublaslt.py): the row-major → column-major
mapping on the CPU; on the GPU (marker `gpu`, with nvmath-python installed: `optc[cuda-libs]`)
every case against numpy and in a CUDA graph, then the `cublaslt` tactic end to end:
engines whose matmul kernels run cuBLASLt (forced by setting their launch) against the
reference, replayed in a CUDA graph, saved and loaded, profiled; and a small f16
transformer block tuned with cuBLASLt's candidates timed beside optc's own."""

from __future__ import annotations

import json
import os

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


@pytest.fixture
def cublas_lt(gpu):
    """cuBLASLt through nvmath-python; skips where it cannot load (fails under
    OPTC_REQUIRE_GPU=1: tests/run_gpu.sh installs it, a GPU run without it is broken)."""
    from passes.codegen.library.cublaslt import unavailable

    why = unavailable()
    if why is not None:
        if os.environ.get("OPTC_REQUIRE_GPU"):
            pytest.fail(f"OPTC_REQUIRE_GPU is set but cuBLASLt cannot be used: {why}", pytrace=False)
        pytest.skip(why)
    return gpu


@pytest.mark.gpu
@pytest.mark.parametrize("call", CASES, ids=lambda c: f"{c.dtype}-{c.m}x{c.n}x{c.k}-b{c.batch}-{c.epilogue}")
def test_cublaslt_matches_numpy(cublas_lt, call):
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
def test_cublaslt_replays_in_a_cuda_graph(cublas_lt):
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
    run = lambda: plan.run(algo, da.ptr, db.ptr, dd.ptr, bias=dbias.ptr, workspace=workspace.ptr,  # noqa: E731
                           workspace_bytes=workspace.nbytes, stream=stream)
    run()  # cuBLASLt sets its kernel up at the first call, outside the capture (as engines do)
    stream.synchronize()
    with stream.capture() as graph:
        run()
    dd.fill_bytes(0, stream)
    graph.launch(stream)
    got = dd.to_numpy(stream).astype(np.float32)
    stream.synchronize()
    np.testing.assert_allclose(got, _reference(call, a, b, bias), rtol=2e-2, atol=0.5)


@pytest.mark.gpu
def test_a_heuristic_algorithm_passes_check_and_round_trips_its_bytes(cublas_lt):
    from runtime.library.cublaslt import Algorithm, LtPlan, heuristic, library_version

    call = CASES[1]
    algos = heuristic(call, 4, 4 << 20)
    assert algos and all(len(a.data) == 64 and a.workspace <= 4 << 20 for a in algos)
    assert [a.index for a in algos] == list(range(len(algos)))
    plan = LtPlan(call)
    again = Algorithm(bytes.fromhex(algos[0].data.hex()), algos[0].workspace)  # as an engine file keeps it
    assert plan.check(again) == algos[0].workspace
    with pytest.raises(OptcError, match=rf"cuBLASLt {library_version()} cannot run this algorithm"):
        plan.check(Algorithm(bytes([0xFF]) * 64, 0))
    plan.close()


# --- the cublaslt tactic, end to end ----------------------------------------------------------

MLP = """
func.func @main(%x: tensor<2x48x64xf16>, %w1: tensor<64x128xf16>, %b1: tensor<128xf16>, %w2: tensor<128x64xf16>) -> (tensor<2x48x128xf16>, tensor<2x48x64xf16>, tensor<2x48x64xf16>) {
  %m = graph.matmul %x, %w1 : (tensor<2x48x64xf16>, tensor<64x128xf16>) -> tensor<2x48x128xf16>
  %a = graph.add %m, %b1 : (tensor<2x48x128xf16>, tensor<128xf16>) -> tensor<2x48x128xf16>
  %g = graph.gelu %a {approximate = "none"} : tensor<2x48x128xf16>
  %y = graph.matmul %g, %w2 : (tensor<2x48x128xf16>, tensor<128x64xf16>) -> tensor<2x48x64xf16>
  %s = graph.softmax %y {axis = -1 : i64} : tensor<2x48x64xf16>
  func.return %g, %y, %s : tensor<2x48x128xf16>, tensor<2x48x64xf16>, tensor<2x48x64xf16>
}
"""


def _forced_engine_image(ir: str, arch: str, algo: int = 0):
    """The engine image of `ir` with every matmul kernel cuBLASLt can run set to its `algo`."""
    from compiler.engine_build import compile_engine
    from dialects.kernel import LaunchAttr
    from passes.codegen.cuda import kernels_of
    from passes.codegen.library import cublaslt as tactic
    from passes.codegen.target import named
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "kernel")
    forced = 0
    for kernel in kernels_of(module):
        if kernel.computation.name in ("fused.matmul", "graph.matmul", "graph.gemm") and tactic.why_not(kernel) is None:
            blocks = tactic.epilogue_blocks(kernel, named(arch).sm_count)
            kernel.attributes["launch"] = LaunchAttr("cublaslt", [blocks], [tactic.BLOCK], 0, {"algo": algo})
            forced += 1
    assert forced, "no kernel cuBLASLt can run"
    return compile_engine(module, arch)


def _matmul_cases():
    from tests.test_codegen_matmul import _split_heads, fused_matmul, graph_matmul

    return {
        "f16_mlp_epilogue_and_direct": (MLP, "f16"),
        "bf16_batched_bias_gelu": (fused_matmul("bf16", [2, 3, 17, 40], [2, 3, 40, 24], epilogue="bias_gelu"), "bf16"),
        "f32_transpose_ab_bias_residual": (fused_matmul("f32", [72, 100], [40, 72], transpose_b=True, epilogue="bias_residual", transpose_a=True), "f32"),
        "f16_broadcast_b_direct": (graph_matmul("f16", [3, 10, 24], [24, 32]), "f16"),
        "f16_qkv_split_heads": (_split_heads("f16", 12, 2, 16), "f16"),
    }


@pytest.mark.gpu
@pytest.mark.parametrize("case", sorted(_matmul_cases()))
def test_an_engine_running_cublaslt_matches_the_reference_and_replays(cublas_lt, case, tmp_path):
    import compiler
    from runtime.engine.engine import Engine
    from runtime.engine.steps import LibraryStep
    from runtime.reference import run
    from runtime.reference.inputs import random_inputs
    from tests.support import parse
    from tests.test_codegen_matmul import TOLERANCE

    ir, dtype = _matmul_cases()[case]
    image = _forced_engine_image(ir, cublas_lt.arch)
    assert any(k.library is not None for k in image.plan.kernels)
    engine = Engine(image)
    assert any(isinstance(step, LibraryStep) for step in engine.steps)
    rtol, atol = TOLERANCE[dtype]
    module = parse(ir)
    first = None
    for seed in range(3):  # every run after the first replays the CUDA graph on new inputs
        feeds = random_inputs(module, seed)
        got, want = engine.run(feeds), run(module, feeds)
        for name in want:
            np.testing.assert_allclose(np.asarray(got[name], np.float64), np.asarray(want[name], np.float64), rtol=rtol, atol=atol, err_msg=f"{name}, seed {seed}")
        first = first or (feeds, got)
    assert engine.graph is not None
    engine.save(tmp_path / "lt.engine")
    again = compiler.load(tmp_path / "lt.engine")  # the algorithms' bytes, checked against this cuBLASLt
    feeds, got = first
    for name, value in again.run(feeds).items():
        np.testing.assert_allclose(value, got[name], rtol=rtol, atol=atol, err_msg=f"{name} after save and load")


@pytest.mark.gpu
def test_the_profile_times_a_cublaslt_step_and_names_its_tactic(cublas_lt):
    from compiler.reports import format_profile
    from runtime.engine.engine import Engine
    from runtime.engine.profile import profile_engine
    from runtime.reference.inputs import random_inputs
    from tests.support import parse

    engine = Engine(_forced_engine_image(MLP, cublas_lt.arch))
    profile = profile_engine(engine, random_inputs(parse(MLP), 0), runs=3, ceilings=False)
    library = [t for t in profile.launches if t.library]
    assert [t.tactic for t in library] == ["cublaslt", "cublaslt"] and all(t.ms > 0 for t in library)
    assert 0 < profile.library_ms < profile.kernel_ms
    assert any("in library tactics (cublasLt)" in line for line in format_profile(profile))


@pytest.mark.gpu
def test_an_engine_built_with_another_cublaslt_is_refused_in_words(cublas_lt, monkeypatch):
    import dataclasses

    from runtime.engine.engine import Engine, EngineError

    image = _forced_engine_image(MLP, cublas_lt.arch)
    kernels = tuple(
        dataclasses.replace(k, library=dataclasses.replace(k.library, algorithm="ff" * 64, version="1.0.0")) if k.library else k
        for k in image.plan.kernels
    )
    with pytest.raises(EngineError, match=r"built with cuBLASLt 1.0.0, this GPU has \d+\.\d+\.\d+: rebuild the engine here"):
        Engine(dataclasses.replace(image, plan=dataclasses.replace(image.plan, kernels=kernels)))


@pytest.mark.gpu
def test_tuning_an_f16_transformer_block_times_cublaslt_beside_optcs_kernels(cublas_lt, tmp_path):
    """examples/transformer.onnx at fp16, mode fast (which tries cuBLASLt's first algorithm
    for every matmul): cuBLASLt candidates are timed and checked against the heuristic's
    outputs, none gives another answer, and the engine built from the choice is right."""
    import onnx

    from compiler.autotune import format_tune_report, tune
    from compiler.engine_build import compile_engine, device_target, kernel_pipeline
    from compiler.onnx_import import import_onnx
    from dialects.weights import clone_with_weights
    from runtime.engine.engine import Engine
    from runtime.reference import run
    from runtime.reference.inputs import random_inputs
    from runtime.tuning.cache import DeviceKey, TimingCache
    from tests.support import apply_pipeline

    path = os.path.join(os.path.dirname(__file__), "..", "examples", "transformer.onnx")
    source = import_onnx(onnx.load(path))
    feeds = random_inputs(source, 0)
    want = run(source, feeds)
    module = apply_pipeline(clone_with_weights(source), kernel_pipeline("fp16"))
    target, key = device_target(), DeviceKey.of(cublas_lt)
    assert dict(key.libraries).get("cublasLt")
    report = tune(module, target=target, mode="fast", cache=TimingCache(tmp_path / "cache.json"), device=key)
    table = "\n".join(format_tune_report(report))
    assert not report.notes, table
    wrong = [d for d in report.dropped if "tactic = cublaslt" in d.tactic and not d.why.startswith("library: ")]
    assert not wrong, table
    entries = json.loads((tmp_path / "cache.json").read_text())["devices"][0]["kernels"]
    timed = [ms for tactics in entries.values() for tactic, ms in tactics.items() if "tactic = cublaslt" in tactic and isinstance(ms, float)]
    assert len(timed) >= 2, table  # at least the QKV/output projections' and the MLP's signatures
    engine = Engine(compile_engine(module, cublas_lt.arch, target))
    got = engine.run(feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=2e-2, atol=2e-2, err_msg=f"{name}\n{table}")
