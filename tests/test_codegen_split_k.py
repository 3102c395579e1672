"""Split-K on the tensor cores (`mma_split_k`, passes/codegen/matmul/split_k.py), a tactic of
the matmul family:

- candidates: offered, first, for f16/bf16 products with fewer output tiles than SMs (the
  split counts of SPLITS with the tiles of SPLIT_K_TILES, each split keeping 2·block_k of
  K), never for large products or f32; configure never picks it;
- check prunes splits too short in K, workspaces past MAX_WORKSPACE, shared memory and
  registers past the target; emit refuses what its code cannot take, naming kernel and
  tactic; the workspace is a counter per tile (rounded to 256 bytes) and the partials;
- every candidate of a few skinny shapes (bias + gelu, residual add, batched, transposed
  A or B, gemm's alpha/beta/C, the QKV head split, K off block_k × splits, element-wise
  copies) compiles with NVRTC without warnings and, run on the CPU with every CUDA thread
  a fiber (tests/host_emulation.py: atomicAdd and __threadfence are exact there), gives
  the reference interpreter's answer twice in a row, leaving the workspace all zeros;
  blocks run in reverse order (another order of arrival) or on other grids give the same
  bits; an engine plan built without a GPU gives the kernel its workspace in the arena;
- on a GPU (marker `gpu`): the same shapes, BERT's at batch 1, and an engine of two
  split-K kernels sharing the workspace replayed as a CUDA graph on new inputs.

Tolerances are test_codegen_matmul.py's (the partials are summed in fp32 in another order
than `mma`'s one accumulator, well inside them).
"""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest

from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.cuda import kernel_source, kernels_of
from passes.codegen.matmul import matmul
from passes.codegen.matmul.split_k import COUNTER_ALIGN
from passes.codegen.registry import tactics
from passes.codegen.target import SM_80, SM_90
from tests.cuda_support import ARCHS, compile_clean, lower
from tests.test_codegen_matmul import SMALL_GPU, TOLERANCE, VECTOR_TYPES, _split_heads, fused_matmul, gemm

SKINNY = {  # name -> IR: skinny f16/bf16 products, K off block_k × splits
    "f16_bias_gelu": fused_matmul("f16", [1, 40, 320], [320, 72], epilogue="bias_gelu"),
    "bf16_bias_residual_k_tail": fused_matmul("bf16", [1, 50, 200], [200, 48], epilogue="bias_residual"),
    "f16_batched_transpose_b": fused_matmul("f16", [2, 3, 24, 136], [2, 3, 40, 136], transpose_b=True),
    "bf16_transpose_a_bias_gelu": fused_matmul("bf16", [2, 136, 40], [136, 48], epilogue="bias_gelu", transpose_a=True),
    "f16_qkv_split_heads": _split_heads("f16", 12, 2, 64),
    "f16_odd_k_element_copies": fused_matmul("f16", [33, 150], [150, 7]),
    "gemm_f16_trans_both_alpha_beta_c": gemm("f16", 40, 24, 192, trans_a=1, trans_b=1, alpha=0.25, beta=0.5, c=[40, 1]),
}
FFN_DOWN = fused_matmul("f16", [1, 128, 3072], [3072, 768], epilogue="bias_gelu")
"""BERT-base's FFN down projection at batch 1, sequence 128: 48 tiles of 32x64 for 132 SMs."""


def _kernel(ir: str) -> FuncOp:
    (kernel,) = kernels_of(lower(ir, "outline-kernels"))
    return kernel


def _split_k(kernel: FuncOp, target=SM_90) -> list[LaunchAttr]:
    return [launch for launch in matmul.candidates(kernel, target) if launch.tactic_name == "mma_split_k"]


def _launch(kernel: FuncOp, tile: tuple, grid: int | None = None) -> LaunchAttr:
    """A split-K launch of `tile` (mma's parameters, then splits) with its blocks and shared memory."""
    t = dict(zip(matmul.SPLIT_K_KEYS, tile))
    problem = matmul.problem_of(kernel)
    tiles = math.ceil(problem.m / t["block_m"]) * math.ceil(problem.n / t["block_n"]) * max(1, problem.batch_count)
    threads = 32 * t["warps_m"] * t["warps_n"]
    return LaunchAttr("mma_split_k", [grid or tiles * t["splits"]], [threads], matmul.mma_shared(problem, t), t)


def _tol(ir: str, k: int) -> tuple[float, float]:
    rtol, atol = TOLERANCE["bf16" if "bf16" in ir else "f16"]
    return rtol, atol * max(1.0, math.sqrt(k / 100))


# --- candidates, check, workspace (no compiler needed) ----------------------------------------


def test_split_k_is_offered_first_for_a_skinny_product():
    """BERT's FFN down at batch 1: every tile of SPLIT_K_TILES with every split count of
    SPLITS (K = 3072 is long enough for all), before the mma table; configure is `mma`."""
    kernel = _kernel(FFN_DOWN)
    configured = matmul.configure(kernel, SM_90)
    assert configured.tactic_name == "mma" and configured.grid_dims[0] == 48 < SM_90.sm_count
    offered = matmul.candidates(kernel, SM_90)
    split = _split_k(kernel)
    assert offered[: len(split)] == split and all(t.tactic_name == "mma" for t in offered[len(split) :])
    tiles = {tile[:3] for tile, _ in matmul.SPLIT_K_TILES}
    assert {(t.tile_params["block_m"], t.tile_params["block_n"], t.tile_params["block_k"], t.tile_params["splits"]) for t in split} == {
        (*tile, s) for tile in tiles for s in matmul.SPLITS
    }
    for launch in split:
        t = launch.tile_params
        assert launch.grid_dims[0] == math.ceil(128 / t["block_m"]) * math.ceil(768 / t["block_n"]) * t["splits"]
        assert matmul.check(kernel, launch, SM_90) is None, launch
    assert split[0] in tactics(kernel, SM_90)[1:4]  # what a `fast` tuning times after configure's


def test_split_counts_keep_two_block_k_of_k_per_split():
    kernel = _kernel(SKINNY["bf16_bias_residual_k_tail"])  # K = 200: 3 splits of 64, not 4
    assert {t.tile_params["splits"] for t in _split_k(kernel)} == {2, 3}
    kernel = _kernel(fused_matmul("f16", [1, 40, 100], [100, 72]))  # K = 100 < 2 · 2 · 32
    assert _split_k(kernel) == []


@pytest.mark.parametrize(
    "ir",
    [
        fused_matmul("f16", [1, 4096, 768], [768, 3072]),  # 384 large tiles: the SMs are full
        fused_matmul("f32", [1, 128, 3072], [3072, 768]),  # SIMT: no split-K tactic
    ],
    ids=["large_f16", "skinny_f32"],
)
def test_no_split_k_where_it_does_not_apply(ir):
    assert _split_k(_kernel(ir), SM_90) == [] and _split_k(_kernel(ir), SM_80) == []


def test_workspace_is_the_counters_then_the_partials():
    kernel = _kernel(FFN_DOWN)
    launch = _launch(kernel, (64, 64, 32, 2, 2, 4, 4))  # 2 x 12 tiles, 4 splits
    assert matmul.workspace(kernel, launch) == 256 + 4 * 24 * 64 * 64 * 4
    batched = _kernel(SKINNY["f16_batched_transpose_b"])  # 6 batches of 1 x 2 tiles of 32x32: 12 tiles
    launch = _launch(batched, (32, 32, 32, 2, 1, 3, 2))
    assert matmul.workspace(batched, launch) == COUNTER_ALIGN + 2 * 12 * 32 * 32 * 4
    assert matmul.workspace(batched, matmul.configure(batched, SM_90)) == 0


@pytest.mark.parametrize(
    "ir, tile, target, why",
    [
        (SKINNY["bf16_bias_residual_k_tail"], (32, 64, 32, 2, 2, 4, 4), SM_90, r"K = 200 is too short for 4 splits of at least 2·block_k = 64"),
        (
            fused_matmul("f16", [1, 2048, 4096], [4096, 4096]),
            (64, 64, 32, 2, 2, 4, 16),
            SM_90,
            r"split-K needs 536879104 bytes of workspace, more than the 67108864 allowed",
        ),
        (FFN_DOWN, (128, 128, 32, 2, 2, 4, 4), SMALL_GPU, r"the tile needs 65536 bytes of dynamic shared memory, small \(sm_90\) allows 49152"),
        (FFN_DOWN, (256, 256, 16, 1, 1, 2, 4), SM_90, r"32 threads of at least 2304 registers exceed H100 SXM's 65536 per SM"),
    ],
    ids=["short_k", "workspace_cap", "shared_memory", "registers"],
)
def test_check_prunes_what_does_not_fit(ir, tile, target, why):
    """What emit takes but is not worth running, or cannot run on the target, is check's."""
    kernel = _kernel(ir)
    launch = _launch(kernel, tile)
    assert "__global__" in matmul.emit(kernel, launch)
    assert re.search(why, matmul.check(kernel, launch, target))


@pytest.mark.parametrize(
    "ir, tile, why",
    [
        (FFN_DOWN, (64, 64, 32, 2, 2, 4, 1), r"invalid matmul tile: splits 1 \(2..32 allowed\)"),
        (FFN_DOWN, (64, 64, 32, 2, 2, 4, 33), r"invalid matmul tile: splits 33 \(2..32 allowed\)"),
        (SKINNY["bf16_bias_residual_k_tail"], (32, 64, 32, 2, 2, 4, 8), r"invalid matmul tile: splits 8 exceed the 7 block_k tile\(s\) of K = 200: a split would have no K"),
        (FFN_DOWN, (64, 64, 24, 2, 2, 4, 4), r"invalid matmul tile: block_k 24 must be a multiple of 16"),
    ],
    ids=["one_split", "too_many_splits", "splits_past_k", "mma_tile"],
)
def test_emit_refuses_a_launch_naming_kernel_and_tactic(ir, tile, why):
    kernel = _kernel(ir)
    launch = _launch(kernel, tile)
    message = rf"cuda codegen of @k0_fused_matmul: tactic 'mma_split_k' cannot run this kernel: {why}"
    with pytest.raises(OptcError, match=message):
        matmul.emit(kernel, launch)
    with pytest.raises(OptcError, match=message):
        matmul.workspace(kernel, launch)
    assert re.search(why, matmul.check(kernel, launch, SM_90))


def test_emit_refuses_a_tile_without_splits_and_f32_operands():
    kernel = _kernel(FFN_DOWN)
    mma = matmul.configure(kernel, SM_90)
    bare = LaunchAttr("mma_split_k", mma.grid_dims, mma.block_dims, mma.shared_bytes, mma.tile_params)
    with pytest.raises(OptcError, match=r"@k0_fused_matmul: tactic 'mma_split_k' cannot run this kernel: #kernel.launch tile lacks splits"):
        matmul.emit(kernel, bare)
    f32 = _kernel(FFN_DOWN.replace("f16", "f32"))
    with pytest.raises(OptcError, match=r"tactic 'mma_split_k' cannot run this kernel: tensor cores take f16 and bf16 operands, these are f32"):
        matmul.emit(f32, _launch(f32, (64, 64, 32, 2, 2, 4, 4)))


def test_the_kernel_takes_the_workspace_after_its_results():
    kernel = _kernel(SKINNY["f16_bias_gelu"])
    source = matmul.emit(kernel, _split_k(kernel)[0])
    assert "optc_half* __restrict__ out0,\n    unsigned char* __restrict__ workspace)" in source
    assert "atomicAdd(counters + item, 1u)" in source and "workspace" not in matmul.emit(kernel, matmul.configure(kernel, SM_90))


# --- every candidate compiles, and runs right on the CPU ---------------------------------------


def _candidates() -> list:
    return [
        pytest.param(name, launch, id=f"{name}-{'x'.join(str(launch.tile_params[k]) for k in ('block_m', 'block_n', 'splits'))}")
        for name, ir in SKINNY.items()
        for launch in _split_k(_kernel(ir))
    ]


CANDIDATES = _candidates()


def test_every_skinny_shape_has_split_k_candidates():
    assert {p.values[0] for p in CANDIDATES} == set(SKINNY)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "launch"), CANDIDATES)
def test_every_candidate_compiles_without_warnings(name, launch):
    kernel = _kernel(SKINNY[name])
    kernel.attributes["launch"] = launch
    source = kernel_source(kernel)
    for arch in ARCHS:
        compile_clean(source, f"{name}.cu", arch)


_needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")


def _emulate(ir: str, launch: LaunchAttr, feeds: dict, launches: int = 2, reverse: bool = False) -> list[np.ndarray]:
    """The kernel of `ir` with `launch`, `launches` times in a row on the fiber harness (the
    workspace zeroed once, and held to being all zeros after each launch)."""
    from tests.host_emulation import build_and_launch, fiber_source

    (kernel,) = kernels_of(lower(ir))
    kernel.attributes["launch"] = launch
    return build_and_launch(kernel, VECTOR_TYPES + fiber_source(kernel, launch, reverse), feeds, ("-w",), launches)


def _reference(ir: str) -> tuple[dict, list[np.ndarray]]:
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run
    from tests.support import parse

    feeds = random_inputs(parse(ir), seed=1)
    return feeds, list(run(parse(ir), feeds).values())


@pytest.mark.slow
@_needs_gxx
@pytest.mark.parametrize(("name", "launch"), CANDIDATES)
def test_every_candidate_matches_the_reference_twice_on_cpu(name, launch):
    """Two launches in a row: the second finds the counters at zero (else its tiles are
    never finished and the poisoned outputs show) and leaves the workspace zeroed again."""
    ir = SKINNY[name]
    feeds, want = _reference(ir)
    got = _emulate(ir, launch, feeds)
    rtol, atol = _tol(ir, matmul.problem_of(_kernel(ir)).k)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=rtol, atol=atol)


def _cancelling_feeds(feeds: dict) -> dict:
    """Inputs whose split partials nearly cancel, so that the fp32 sum of the partials in
    another order rounds to other f16 results (a sum in the order of arrival shows): A all
    ones, B small except rows 0 (+2048) and 64 (-2048), in the first two splits."""
    a, b, bias = feeds.values()
    b = (np.random.default_rng(0).standard_normal(b.shape) / 64).astype(b.dtype)
    b[0], b[64] = 2048, -2048
    return dict(zip(feeds, (np.ones_like(a), b, bias)))


@pytest.mark.slow
@_needs_gxx
def test_the_answer_does_not_depend_on_arrival_order_or_grid():
    """Blocks run last to first (the splits of each tile arrive in reverse), or a grid of 1
    or 5 blocks striding over the work: the same bits, on inputs where a sum in the order
    of arrival gives other bits for hundreds of the 2880 elements."""
    ir = SKINNY["f16_bias_gelu"]
    feeds = _cancelling_feeds(_reference(ir)[0])
    launch = max(_split_k(_kernel(ir)), key=lambda t: t.tile_params["splits"])
    assert launch.tile_params["splits"] == 4 and launch.tile_params["block_k"] == 32  # splits from k = 0, 64, 160, 224
    first = _emulate(ir, launch, feeds, launches=1)
    others = [
        _emulate(ir, launch, feeds, launches=1, reverse=True),
        _emulate(ir, LaunchAttr("mma_split_k", [1], launch.block_dims, launch.shared_bytes, launch.tile_params), feeds, launches=1),
        _emulate(ir, LaunchAttr("mma_split_k", [5], launch.block_dims, launch.shared_bytes, launch.tile_params), feeds, 2, reverse=True),
    ]
    for other in others:
        for a, b in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_an_engine_plan_gives_the_split_k_kernel_its_workspace():
    """Built without a GPU: the kernel's last parameter is its workspace, in the arena past
    the planned buffers, as large as the tactic asks; the plan passes its own check."""
    from compiler.engine_build import build_module

    configured = _configured(SKINNY["f16_bias_gelu"])
    (kernel,) = kernels_of(configured)
    launch = _split_k(kernel)[0]
    nbytes = matmul.workspace(kernel, launch)
    image = build_module(_with_launches(configured, {kernel.sym_name.data: launch}), pipeline="plan-memory", arch="sm_90", load=False, tune="none")
    plan = image.plan
    (spec,) = plan.kernels
    assert spec.tactic == "mma_split_k" and spec.params[-1].workspace and spec.params[-1].shape == (nbytes,)
    (run,) = plan.launches
    assert plan.memory["workspace"] == nbytes and run.args[-1].region == "arena" and run.args[-1].offset >= plan.memory["bytes"]
    assert plan.region_bytes["arena"] == run.args[-1].offset + nbytes
    plan.check(len(image.images), len(image.weights))


# --- on a GPU ------------------------------------------------------------------------------------


def _configured(ir: str):
    return lower(ir, "outline-kernels,configure-kernels")


def _with_launches(module, launches: dict[str, LaunchAttr]):
    from dialects.weights import clone_with_weights

    module = clone_with_weights(module)
    for kernel in kernels_of(module):
        if kernel.sym_name.data in launches:
            kernel.attributes["launch"] = launches[kernel.sym_name.data]
    return module


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(SKINNY))
def test_every_candidate_matches_the_reference_on_gpu(gpu, name):
    from passes.codegen.target import measured
    from runtime.reference.inputs import random_inputs
    from tests.cuda_support import assert_gpu_matches_reference

    configured = _configured(SKINNY[name])
    (kernel,) = kernels_of(configured)
    feeds = random_inputs(configured, seed=0)
    rtol, atol = _tol(SKINNY[name], matmul.problem_of(kernel).k)
    split = [t for t in tactics(kernel, measured(gpu)) if t.tactic_name == "mma_split_k"]
    assert split
    for launch in split:
        module = _with_launches(configured, {kernel.sym_name.data: launch})
        assert_gpu_matches_reference(module, pipeline="plan-memory", rtol=rtol, atol=atol, inputs=feeds)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["f16", "bf16"])
@pytest.mark.parametrize("n, k", [(768, 3072), (3072, 768), (768, 768)], ids=["ffn_down", "ffn_up", "attn_out"])
def test_bert_batch_1_shapes_match_reference_on_gpu(gpu, dtype, n, k):
    """BERT-base at batch 1, sequence 128, with bias + gelu: the first three split-K candidates
    (what a `fast` tuning times)."""
    from passes.codegen.target import measured
    from runtime.reference.inputs import random_inputs
    from tests.cuda_support import assert_gpu_matches_reference

    ir = fused_matmul(dtype, [1, 128, k], [k, n], epilogue="bias_gelu")
    configured = _configured(ir)
    (kernel,) = kernels_of(configured)
    feeds = random_inputs(configured, seed=0)
    rtol, atol = TOLERANCE[dtype]
    for launch in _split_k(kernel, measured(gpu))[:3]:
        module = _with_launches(configured, {kernel.sym_name.data: launch})
        assert_gpu_matches_reference(module, pipeline="plan-memory", rtol=rtol, atol=atol * math.sqrt(k / 100), inputs=feeds)


TWO_MATMULS = """
func.func @main(%x: tensor<1x40x320xf16>, %w1: tensor<320x4352xf16>, %w2: tensor<4352x72xf16>) -> tensor<1x40x72xf16> {
  %h = fused.matmul %x, %w1 {transpose_b = 0 : i64} : (tensor<1x40x320xf16>, tensor<320x4352xf16>) -> tensor<1x40x4352xf16> {
  ^bb0(%acc: tensor<1x40x4352xf16>):
    %r = graph.relu %acc : tensor<1x40x4352xf16>
    fused.yield %r : tensor<1x40x4352xf16>
  }
  %y = fused.matmul %h, %w2 {transpose_b = 0 : i64} : (tensor<1x40x4352xf16>, tensor<4352x72xf16>) -> tensor<1x40x72xf16> {
  ^bb0(%acc: tensor<1x40x72xf16>):
    fused.yield %acc : tensor<1x40x72xf16>
  }
  func.return %y : tensor<1x40x72xf16>
}
"""


@pytest.mark.gpu
def test_an_engine_of_two_split_k_kernels_replays_as_a_cuda_graph(gpu):
    """Two split-K kernels share the workspace, the second's partials over the first's
    counters (204 tiles: 1024 bytes of counters; the second's partials start at 256). The
    engine's first run captures a CUDA graph and the next ones replay it: new inputs give
    the reference's answer (a counter left nonzero would leave tiles unfinished), and the
    first inputs again give the same bits as the first time."""
    from compiler.engine_build import build_module
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run

    configured = _configured(TWO_MATMULS)
    first, second = kernels_of(configured)
    launches = {
        first.sym_name.data: _launch(first, (16, 64, 32, 1, 4, 4, 2)),
        second.sym_name.data: _launch(second, (64, 64, 32, 2, 2, 3, 8)),
    }
    for kernel in (first, second):
        assert matmul.check(kernel, launches[kernel.sym_name.data], SM_90) is None
    module = _with_launches(configured, launches)
    engine = build_module(_with_launches(module, {}), pipeline="plan-memory", tune="none")
    assert engine.plan.memory["workspace"] == max(matmul.workspace(k, launches[k.sym_name.data]) for k in kernels_of(module))
    rtol, atol = _tol(TWO_MATMULS, 4352)
    runs = []
    for seed in (0, 1, 0):
        feeds = random_inputs(module, seed=seed)
        got = engine.run(feeds)
        for name, want in run(module, feeds).items():
            np.testing.assert_allclose(np.asarray(got[name], np.float64), np.asarray(want, np.float64), rtol=rtol, atol=atol, err_msg=f"seed {seed}")
        runs.append(got)
    for name in runs[0]:
        np.testing.assert_array_equal(runs[0][name], runs[2][name])
