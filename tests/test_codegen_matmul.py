"""CUDA codegen of matrix products (passes/codegen/matmul/matmul.py, common/mma.py): for a table
of small kernels (every dtype, 2-D, batched and broadcast batches, transpose_a/transpose_b, gemm's
transposes/alpha/beta/c, odd sizes, epilogues with bias, gelu, residual, several results and
the QKV head split) every emitted kernel compiles with NVRTC for sm_80 and sm_90 at the
configuration `configure` picks and at other valid tiles; invalid tiles and unsupported
kernels are refused by name; on a GPU (marker `gpu`) each case matches the reference
interpreter.

Tolerances on the GPU, with standard-normal inputs (`random_inputs`):
- f32/f64: rtol 1e-4, atol 1e-4·sqrt(K): exact fp32 products (no TF32), only the summation
  order differs from numpy's BLAS (error grows like sqrt(K)·eps·|row|·|col|);
- f16: rtol 2e-2, atol 5e-2; bf16: rtol 3e-2, atol 2e-1. The reference rounds the
  accumulator and each epilogue op's result to the storage type, the kernel keeps the
  epilogue in fp32 and rounds once; results of magnitude ~sqrt(K) ≈ 10 then differ by a
  few units in the last place (f16: 2^-7 at 8..16, bf16: 2^-4).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pytest

from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import PRELUDE
from passes.codegen.cuda import emit_module, kernel_source, kernels_of
from passes.codegen.matmul import matmul
from passes.codegen.registry import tactics
from passes.codegen.target import SM_90
from tests.cuda_support import ARCHS, assert_gpu_matches_reference, compile_clean, compile_kernels, lower


def _t(shape, dtype: str) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{dtype}>"


def _acc_shape(a, b, transpose_b: bool, transpose_a: bool = False) -> list[int]:
    a = [*a[:-2], a[-1], a[-2]] if transpose_a else list(a)
    b = [*b[:-2], b[-1], b[-2]] if transpose_b else list(b)
    batch = list(np.broadcast_shapes(tuple(a[:-2]), tuple(b[:-2])))
    return [*batch, a[-2], b[-1]]


def fused_matmul(dtype: str, a, b, transpose_b: bool = False, epilogue: str = "none", transpose_a: bool = False) -> str:
    """@main with one fused.matmul of `a` x `b` shapes (a read as [..., K, M] with
    `transpose_a`, b as [..., N, K] with `transpose_b`) and an epilogue:
    none | bias_gelu | bias_residual | multi (bias sum and its gelu) | cast (to f32)."""
    acc = _acc_shape(a, b, transpose_b, transpose_a)
    n = acc[-1]
    ta, tb, tacc, tn = _t(a, dtype), _t(b, dtype), _t(acc, dtype), _t([n], dtype)
    args, extras, eargs = [f"%a: {ta}", f"%b: {tb}"], [], []
    results, body = [tacc], []
    if epilogue == "none":
        body.append(f"fused.yield %acc : {tacc}")
    elif epilogue == "bias_gelu":
        args.append(f"%bias: {tn}")
        extras, eargs = [("%bias", tn)], [f"%bb: {tn}"]
        body += [
            f"%s = graph.add %acc, %bb : ({tacc}, {tn}) -> {tacc}",
            f'%g = graph.gelu %s {{approximate = "none"}} : {tacc}',
            f"fused.yield %g : {tacc}",
        ]
    elif epilogue == "bias_residual":
        args += [f"%bias: {tn}", f"%res: {tacc}"]
        extras, eargs = [("%bias", tn), ("%res", tacc)], [f"%bb: {tn}", f"%rr: {tacc}"]
        body += [
            f"%s = graph.add %acc, %bb : ({tacc}, {tn}) -> {tacc}",
            f"%r = graph.add %rr, %s : ({tacc}, {tacc}) -> {tacc}",
            f"fused.yield %r : {tacc}",
        ]
    elif epilogue == "multi":
        args.append(f"%bias: {tn}")
        extras, eargs = [("%bias", tn)], [f"%bb: {tn}"]
        results = [tacc, tacc]
        body += [
            f"%s = graph.add %acc, %bb : ({tacc}, {tn}) -> {tacc}",
            f'%g = graph.gelu %s {{approximate = "tanh"}} : {tacc}',
            f"%h = graph.relu %g : {tacc}",
            f"fused.yield %s, %h : {tacc}, {tacc}",
        ]
    elif epilogue == "cast":
        results = [_t(acc, "f32")]
        body += [f"%c = graph.cast %acc : {tacc} -> {results[0]}", f"fused.yield %c : {results[0]}"]
    else:
        raise ValueError(epilogue)
    extra_text = f" extras({', '.join(e for e, _ in extras)} : {', '.join(t for _, t in extras)})" if extras else ""
    out = ", ".join(results)
    names = ", ".join(f"%y#{i}" for i in range(len(results))) if len(results) > 1 else "%y"
    inner = "\n    ".join(body)
    flags = f"transpose_a = 1 : i64, transpose_b = {int(transpose_b)} : i64" if transpose_a else f"transpose_b = {int(transpose_b)} : i64"
    return f"""
func.func @main({', '.join(args)}) -> ({out}) {{
  %y{':' + str(len(results)) if len(results) > 1 else ''} = fused.matmul %a, %b{extra_text} {{{flags}}} : ({ta}, {tb}) -> {out} {{
  ^bb0(%acc: {tacc}{''.join(', ' + e for e in eargs)}):
    {inner}
  }}
  func.return {names} : {out}
}}"""


def graph_matmul(dtype: str, a, b, bias: bool = False) -> str:
    ta, tb = _t(a, dtype), _t(b, dtype)
    a2 = [1, *a] if len(a) == 1 else list(a)
    b2 = [*b, 1] if len(b) == 1 else list(b)
    batch = list(np.broadcast_shapes(tuple(a2[:-2]), tuple(b2[:-2])))
    out = _t([*batch, *([a2[-2]] if len(a) > 1 else []), *([b2[-1]] if len(b) > 1 else [])], dtype)
    if bias:
        tv = _t([b2[-1]], dtype)
        return f"""
func.func @main(%a: {ta}, %b: {tb}, %v: {tv}) -> {out} {{
  %y = graph.matmul %a, %b, %v : ({ta}, {tb}, {tv}) -> {out}
  func.return %y : {out}
}}"""
    return f"""
func.func @main(%a: {ta}, %b: {tb}) -> {out} {{
  %y = graph.matmul %a, %b : ({ta}, {tb}) -> {out}
  func.return %y : {out}
}}"""


def gemm(dtype: str, m, n, k, trans_a=0, trans_b=0, alpha=1.0, beta=1.0, c=None) -> str:
    ta = _t([k, m] if trans_a else [m, k], dtype)
    tb = _t([n, k] if trans_b else [k, n], dtype)
    out = _t([m, n], dtype)
    props = f"{{alpha = {alpha} : f32, beta = {beta} : f32, trans_a = {trans_a} : i64, trans_b = {trans_b} : i64}}"
    if c is None:
        return f"""
func.func @main(%a: {ta}, %b: {tb}) -> {out} {{
  %y = graph.gemm %a, %b {props} : ({ta}, {tb}) -> {out}
  func.return %y : {out}
}}"""
    tc = _t(c, dtype)
    return f"""
func.func @main(%a: {ta}, %b: {tb}, %c: {tc}) -> {out} {{
  %y = graph.gemm %a, %b, %c {props} : ({ta}, {tb}, {tc}) -> {out}
  func.return %y : {out}
}}"""


def _split_heads(dtype: str, s: int, heads: int, d: int) -> str:
    """BERT's QKV projection: [1, s, h·d] x [3·h·d, h·d]ᵀ + bias, split into q, k, v and each
    viewed as [1, s, h, d] and transposed to [1, h, s, d]; one slice result besides."""
    e = heads * d
    ta, tb, tacc, tv = _t([1, s, e], dtype), _t([3 * e, e], dtype), _t([1, s, 3 * e], dtype), _t([3 * e], dtype)
    tp, th, tq = _t([1, s, e], dtype), _t([1, s, heads, d], dtype), _t([1, heads, s, d], dtype)
    half = _t([1, (s + 1) // 2, e], dtype)
    return f"""
func.func @main(%a: {ta}, %b: {tb}, %bias: {tv}) -> ({tq}, {tq}, {tq}, {half}) {{
  %q, %k, %v, %h = fused.matmul %a, %b extras(%bias : {tv}) {{transpose_b = 1 : i64}} : ({ta}, {tb}) -> {tq}, {tq}, {tq}, {half} {{
  ^bb0(%acc: {tacc}, %bb: {tv}):
    %s = graph.add %acc, %bb : ({tacc}, {tv}) -> {tacc}
    %x, %y, %z = graph.split %s {{axis = 2 : i64, split = array<i64: {e}, {e}, {e}>}} : {tacc} -> {tp}, {tp}, {tp}
    %xr = graph.reshape %x : {tp} -> {th}
    %xt = graph.transpose %xr {{perm = array<i64: 0, 2, 1, 3>}} : {th} -> {tq}
    %yr = graph.reshape %y : {tp} -> {th}
    %yt = graph.transpose %yr {{perm = array<i64: 0, 2, 1, 3>}} : {th} -> {tq}
    %zr = graph.reshape %z : {tp} -> {th}
    %zt = graph.transpose %zr {{perm = array<i64: 0, 2, 1, 3>}} : {th} -> {tq}
    %zh = graph.slice %z {{starts = array<i64: 0, 0, 0>, steps = array<i64: 1, 2, 1>}} : {tp} -> {half}
    fused.yield %xt, %yt, %zt, %zh : {tq}, {tq}, {tq}, {half}
  }}
  func.return %q, %k, %v, %h : {tq}, {tq}, {tq}, {half}
}}"""


CASES: dict[str, tuple[str, str]] = {}
"""name -> (IR, dtype whose tolerance applies)."""
for dt in ("f32", "f16", "bf16", "f64"):
    CASES[f"{dt}_2d_odd"] = (fused_matmul(dt, [33, 100], [100, 7]), dt)
    CASES[f"{dt}_ones"] = (fused_matmul(dt, [1, 1], [1, 1]), dt)
    CASES[f"{dt}_batched_bias_gelu"] = (fused_matmul(dt, [2, 3, 17, 40], [2, 3, 40, 24], epilogue="bias_gelu"), dt)
    CASES[f"{dt}_broadcast_batch_transpose_b"] = (fused_matmul(dt, [3, 1, 9, 64], [4, 33, 64], transpose_b=True), dt)
    CASES[f"{dt}_bias_residual"] = (fused_matmul(dt, [1, 100, 72], [72, 40], epilogue="bias_residual"), dt)
for dt in ("f32", "f16", "bf16"):
    CASES[f"{dt}_multi_result"] = (fused_matmul(dt, [7, 48], [48, 33], epilogue="multi"), dt)
    CASES[f"{dt}_qkv_split_heads"] = (_split_heads(dt, 12, 2, 16), dt)
    CASES[f"{dt}_big_tiles"] = (fused_matmul(dt, [130, 136], [136, 264], epilogue="bias_gelu"), dt)
# transpose_a: A read k-major (SIMT: coalesced along M; tensor cores: a [k][m] tile read
# with ldmatrix .trans), with and without transpose_b, M off the 8-element chunks
for dt in ("f32", "f16", "bf16", "f64"):
    CASES[f"{dt}_broadcast_batch_transpose_a"] = (fused_matmul(dt, [3, 1, 64, 9], [4, 64, 33], transpose_a=True), dt)
CASES["f16_transpose_ab_odd"] = (fused_matmul("f16", [2, 37, 19], [21, 37], transpose_b=True, transpose_a=True), "f16")
CASES["bf16_transpose_a_bias_gelu"] = (fused_matmul("bf16", [2, 72, 40], [72, 48], epilogue="bias_gelu", transpose_a=True), "bf16")
CASES["f32_transpose_ab_bias_residual"] = (fused_matmul("f32", [72, 100], [40, 72], transpose_b=True, epilogue="bias_residual", transpose_a=True), "f32")
CASES["i32_transpose_a"] = (fused_matmul("i32", [21, 9], [21, 5], transpose_a=True), "i32")
CASES["f16_cast_epilogue"] = (fused_matmul("f16", [5, 64], [64, 16], epilogue="cast"), "f16")
CASES["f16_transpose_b_odd_k"] = (fused_matmul("f16", [2, 19, 37], [21, 37], transpose_b=True), "f16")
CASES["f16_rhs_odd_n"] = (fused_matmul("f16", [16, 32], [32, 13], epilogue="bias_gelu"), "f16")
CASES["i32_2d"] = (fused_matmul("i32", [9, 21], [21, 5]), "i32")
CASES["i64_batched"] = (fused_matmul("i64", [2, 5, 7], [2, 7, 3]), "i64")
CASES["i8_wraps"] = (graph_matmul("i8", [4, 40], [40, 6]), "i8")  # a fused.matmul of i8 is an integer contraction (test_codegen_int8.py)
CASES["graph_matmul_f32_bias"] = (graph_matmul("f32", [3, 10, 20], [20, 30], bias=True), "f32")
CASES["graph_matmul_vec_mat"] = (graph_matmul("f32", [20], [2, 20, 6]), "f32")
CASES["graph_matmul_mat_vec"] = (graph_matmul("f16", [2, 5, 24], [24]), "f16")
CASES["graph_matmul_vec_vec"] = (graph_matmul("f32", [33], [33]), "f32")
CASES["gemm_plain"] = (gemm("f32", 17, 9, 31), "f32")
CASES["gemm_trans_a_alpha_beta_c_row"] = (gemm("f32", 17, 9, 31, trans_a=1, alpha=0.5, beta=2.0, c=[9]), "f32")
CASES["gemm_trans_b_c_full"] = (gemm("f32", 8, 12, 5, trans_b=1, c=[8, 12]), "f32")
CASES["gemm_trans_both_c_col_f16"] = (gemm("f16", 40, 24, 64, trans_a=1, trans_b=1, alpha=0.25, beta=0.5, c=[40, 1]), "f16")
CASES["gemm_trans_a_f16_aligned"] = (gemm("f16", 64, 32, 48, trans_a=1, c=[1]), "f16")
CASES["gemm_beta_zero_bf16"] = (gemm("bf16", 24, 16, 32, beta=0.0, c=[24, 16]), "bf16")
CASES["gemm_f64"] = (gemm("f64", 10, 11, 12, trans_b=1, alpha=2.0, c=[11]), "f64")
CASES["gemm_i32_scaled"] = (gemm("i32", 6, 5, 4, alpha=2.0, beta=3.0, c=[5]), "i32")

TOLERANCE = {  # dtype -> (rtol, atol at K = 100)
    "f32": (1e-4, 1e-3),
    "f64": (1e-4, 1e-3),
    "f16": (2e-2, 5e-2),
    "bf16": (3e-2, 2e-1),
}


def _kernel(ir: str) -> tuple[object, FuncOp]:
    module = lower(ir, "outline-kernels")
    return module, kernels_of(module)[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_case_compiles(name):
    """configure's choice, through configure-kernels, compiles for sm_80 and sm_90."""
    ir, _ = CASES[name]
    module = lower(ir, "lower-to-kernels")
    for kernel in kernels_of(module):
        source = kernel_source(kernel)
        for arch in ARCHS:
            assert compile_clean(source, f"{kernel.sym_name.data}.cu", arch)[:4] == b"\x7fELF"


# Other valid tiles than configure's: emit honours any of them.
SIMT_TILES = [(128, 128, 8, 8, 8), (64, 64, 16, 4, 4), (32, 64, 16, 2, 4), (16, 128, 16, 1, 8), (32, 32, 8, 4, 2), (48, 24, 5, 3, 3)]
MMA_TILES = [
    (128, 128, 32, 2, 4, 2), (128, 64, 32, 2, 2, 3), (64, 64, 64, 2, 2, 2), (32, 64, 32, 1, 2, 4), (16, 64, 32, 1, 4, 2), (64, 32, 16, 4, 2, 2),
    # the large tiles: 8 warps of 64x64, 4 warps of 64x64, block_k 64 with 3 stages (144 KiB ring)
    (128, 256, 32, 2, 4, 3), (256, 128, 32, 4, 2, 3), (128, 128, 32, 2, 2, 4), (128, 256, 64, 2, 4, 3), (64, 48, 48, 1, 1, 2),
]


def _launch_for(kernel: FuncOp, tile: dict[str, int]) -> LaunchAttr:
    problem = matmul.problem_of(kernel)
    if problem.tensor_cores:
        threads, shared = 32 * tile["warps_m"] * tile["warps_n"], matmul.mma_shared(problem, tile)
    else:
        threads, shared = matmul.simt_threads(tile), 0
    return LaunchAttr("mma" if problem.tensor_cores else "simt", [7], [threads], shared, tile)


@pytest.mark.parametrize(
    "name, tile",
    [("f32_batched_bias_gelu", dict(zip(matmul.SIMT_KEYS, t))) for t in SIMT_TILES]
    + [("f64_2d_odd", dict(zip(matmul.SIMT_KEYS, SIMT_TILES[1])))]
    + [("f16_broadcast_batch_transpose_b", dict(zip(matmul.MMA_KEYS, t))) for t in MMA_TILES]
    + [("bf16_qkv_split_heads", dict(zip(matmul.MMA_KEYS, MMA_TILES[0])))]
    + [("gemm_trans_both_c_col_f16", dict(zip(matmul.MMA_KEYS, t))) for t in MMA_TILES[:3]],
)
def test_other_tiles_compile(name, tile):
    _, kernel = _kernel(CASES[name][0])
    source = PRELUDE + "\n" + matmul.emit(kernel, _launch_for(kernel, tile))
    for arch in ARCHS:
        compile_clean(source, f"{name}.cu", arch)


@pytest.mark.parametrize(
    "name, tile",
    [("f32_transpose_ab_bias_residual", dict(zip(matmul.SIMT_KEYS, t))) for t in [*matmul.SIMT_CONFIGS, matmul.SIMT_SKINNY]]
    + [("bf16_transpose_a_bias_gelu", dict(zip(matmul.MMA_KEYS, t))) for t, _ in matmul.MMA_CONFIGS]
    + [("f16_transpose_ab_odd", dict(zip(matmul.MMA_KEYS, matmul.MMA_SKINNY)))],
    ids=str,
)
@pytest.mark.slow
def test_every_configurable_tile_reads_a_transposed(name, tile):
    """No tile that configure may pick lacks transpose_a: each compiles with it."""
    _, kernel = _kernel(CASES[name][0])
    assert not matmul.problem_of(kernel).a_k_fast
    source = PRELUDE + "\n" + matmul.emit(kernel, _launch_for(kernel, tile))
    assert ("optc_ldmatrix_x4_trans(a[" in source) == ("warps_m" in tile)
    for arch in ARCHS:
        compile_clean(source, f"{name}.cu", arch)


def test_module_with_several_matmuls_compiles():
    """The tensor-core helpers are guarded: one file may hold many matmul kernels."""
    module = lower(CASES["f16_2d_odd"][0], "lower-to-kernels")
    other = kernels_of(lower(CASES["bf16_multi_result"][0], "lower-to-kernels"))[0]
    second = matmul.emit(other, other.launch).replace("k0_fused_matmul(", "k1_fused_matmul(")
    source = emit_module(module) + "\n" + second
    assert source.count("#ifndef OPTC_MMA_HELPERS") == 2
    compile_clean(source, "several.cu", "sm_90")


def test_configure_picks_tensor_cores_and_fills_the_gpu():
    _, kernel = _kernel(fused_matmul("f16", [1, 4096, 768], [768, 3072], epilogue="bias_gelu"))
    launch = matmul.configure(kernel)
    assert set(launch.tile_params) == set(matmul.MMA_KEYS)
    assert (launch.tile_params["block_m"], launch.tile_params["block_n"]) == (128, 256)
    assert launch.block_dims == (256, 1, 1) and 48 * 1024 < launch.shared_bytes <= 160 * 1024
    _, small = _kernel(fused_matmul("f32", [1, 128, 768], [768, 768], epilogue="bias_gelu"))
    launch = matmul.configure(small)
    assert set(launch.tile_params) == set(matmul.SIMT_KEYS) and launch.shared_bytes == 0
    tiles = math.ceil(128 / launch.tile_params["block_m"]) * math.ceil(768 / launch.tile_params["block_n"])
    assert launch.grid_dims[0] == tiles and tiles >= 48  # small tiles for a BERT-batch-1 shape
    _, skinny = _kernel(fused_matmul("f32", [1, 768], [768, 3072]))
    assert matmul.configure(skinny).tile_params["block_m"] == 16


def test_epilogue_indexes_heads_without_flat_divisions():
    """The QKV split/reshape/transpose becomes index arithmetic on (m, n), not on the flat index."""
    _, kernel = _kernel(_split_heads("f16", 128, 12, 64))
    source = matmul.emit(kernel, matmul.configure(kernel))
    assert "if (n < 768) { ((uint4*)(out0 + ((n / 64) * 8192 + m * 64 + (n % 64))))[0]" in source  # 8 columns per store
    assert "if (n >= 1536) { ((uint4*)(out2 + " in source
    assert "f / " not in source


# -- errors ---------------------------------------------------------------------------------


def _launch_with(name: str, **changes) -> tuple[FuncOp, LaunchAttr]:
    """A case's kernel and configure's launch with some tile parameters, the block or the
    shared memory changed."""
    _, kernel = _kernel(CASES[name][0])
    launch = matmul.configure(kernel)
    tile = {**launch.tile_params, **{k: v for k, v in changes.items() if k not in ("block", "shared")}}
    block = changes.get("block", None)
    probe = _launch_for(kernel, tile)
    return kernel, LaunchAttr(probe.tactic_name, probe.grid_dims, block or probe.block_dims, changes.get("shared", probe.shared_bytes), tile)


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("f32_2d_odd", {"thread_m": 3}, r"block_m 32 / thread_m 3 .* must divide"),
        ("f32_2d_odd", {"block": [128, 1, 1]}, r"the tile needs block \[256, 1, 1\], launch has \[128, 1, 1\]"),
        ("f32_2d_odd", {"block_m": 16, "block_n": 16, "thread_m": 4, "thread_n": 4}, r"16 threads per block \(32..1024 allowed\)"),
        ("f32_2d_odd", {"thread_m": 16, "thread_n": 16, "block_m": 64, "block_n": 64}, r"thread_m·thread_n = 256 accumulators per thread"),
        ("f16_2d_odd", {"block_m": 40}, r"block_m 40 must be a multiple of 16·warps_m"),
        ("f16_2d_odd", {"block_k": 24}, r"block_k 24 must be a multiple of 16"),
        ("f16_2d_odd", {"stages": 1}, r"stages 1 \(2..4 allowed\)"),
        ("f16_2d_odd", {"shared": 1024}, r"launch gives 1024"),
    ],
)
def test_invalid_tiles_are_refused(name, changes, message):
    """emit refuses a tile its code cannot take, and check gives the same reason."""
    kernel, launch = _launch_with(name, **changes)
    with pytest.raises(OptcError, match=r"@k0_\w+: invalid matmul tile: (.* )?" + message):
        matmul.emit(kernel, launch)
    assert re.search(message, matmul.check(kernel, launch, SM_90))


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("f32_2d_odd", {"block_m": 512, "thread_m": 1, "thread_n": 64}, r"74752 bytes of static shared memory, H100 SXM \(sm_90\) allows 49152"),
        ("f64_2d_odd", {"block_k": 64, "block_m": 128, "block_n": 128, "thread_m": 8, "thread_n": 8}, r"bytes of static shared memory"),
        (
            "f16_2d_odd",
            {"block_m": 256, "block_n": 256, "block_k": 64, "stages": 4, "warps_m": 4, "warps_n": 8},
            r"262144 bytes of dynamic shared memory, H100 SXM \(sm_90\) allows 232448",
        ),
    ],
)
def test_tiles_past_the_target_are_checked_not_emitted(name, changes, message):
    """What the target cannot hold is check's to say (emit is given no target)."""
    kernel, launch = _launch_with(name, **changes)
    assert "__global__" in matmul.emit(kernel, launch)
    assert re.search(message, matmul.check(kernel, launch, SM_90))


SMALL_GPU = replace(SM_90, name="small", arch="sm_90", shared_per_block_optin=48 * 1024)
"""A made-up GPU whose blocks may not opt in past 48 KiB of shared memory."""


def test_a_target_with_less_shared_memory_refuses_the_large_tiles():
    _, kernel = _kernel(fused_matmul("f16", [1, 4096, 768], [768, 3072], epilogue="bias_gelu"))
    large = matmul.configure(kernel, SM_90)
    assert (large.tile_params["block_m"], large.tile_params["block_n"]) == (128, 256) and large.shared_bytes > 48 * 1024
    assert matmul.check(kernel, large, SM_90) is None
    assert re.search(r"73728 bytes of dynamic shared memory, small \(sm_90\) allows 49152", matmul.check(kernel, large, SMALL_GPU))
    small = matmul.configure(kernel, SMALL_GPU)
    assert small.shared_bytes <= 48 * 1024 and matmul.check(kernel, small, SMALL_GPU) is None
    assert all(t.shared_bytes <= 48 * 1024 for t in tactics(kernel, SMALL_GPU))


def test_missing_tile_parameter_is_refused():
    _, kernel = _kernel(CASES["f32_2d_odd"][0])
    with pytest.raises(OptcError, match=r"@k0_fused_matmul: #kernel.launch tile lacks block_k, thread_m, thread_n"):
        matmul.emit(kernel, LaunchAttr("simt", [1], [256], 0, {"block_m": 64, "block_n": 64}))


def test_boolean_matmul_is_refused():
    _, kernel = _kernel(graph_matmul("i1", [4, 5], [5, 6]))
    with pytest.raises(OptcError, match=r"@k0_graph_matmul: 'graph.matmul' on i1 has no CUDA kernel"):
        matmul.configure(kernel)


def test_epilogue_op_without_lowering_is_refused():
    t = _t([4, 6], "f32")
    ir = f"""
func.func @main(%a: {_t([4, 5], 'f32')}, %b: {_t([5, 6], 'f32')}) -> {_t([6], 'f32')} {{
  %y = fused.matmul %a, %b {{transpose_b = 0 : i64}} : ({_t([4, 5], 'f32')}, {_t([5, 6], 'f32')}) -> {_t([6], 'f32')} {{
  ^bb0(%acc: {t}):
    %r = graph.reduce_sum %acc {{axes = array<i64: 0>, keepdims = 0 : i64}} : {t} -> {_t([6], 'f32')}
    fused.yield %r : {_t([6], 'f32')}
  }}
  func.return %y : {_t([6], 'f32')}
}}"""
    _, kernel = _kernel(ir)
    with pytest.raises(OptcError, match=r"@k0_fused_matmul: 'graph.reduce_sum' has no CUDA template"):
        matmul.emit(kernel, matmul.configure(kernel))


EPILOGUE_CASES = {
    # relu after a transpose: computed at the accumulator's element, stored transposed
    "transpose_then_relu": """
func.func @main(%a: tensor<4x5xf32>, %b: tensor<5x6xf32>) -> tensor<6x4xf32> {
  %y = fused.matmul %a, %b {transpose_b = 0 : i64} : (tensor<4x5xf32>, tensor<5x6xf32>) -> tensor<6x4xf32> {
  ^bb0(%acc: tensor<4x6xf32>):
    %x = graph.transpose %acc {perm = array<i64: 1, 0>} : tensor<4x6xf32> -> tensor<6x4xf32>
    %r = graph.relu %x : tensor<6x4xf32>
    fused.yield %r : tensor<6x4xf32>
  }
  func.return %y : tensor<6x4xf32>
}""",
    # gemm alpha/beta: beta·C computed on C's own [1, N] shape, then broadcast (test_gemm_beta)
    "alpha_beta_c_row": """
func.func @main(%a: tensor<3x4xf32>, %b: tensor<5x4xf32>, %c: tensor<1x5xf32>) -> tensor<3x5xf32> {
  %y = fused.matmul %a, %b extras(%c : tensor<1x5xf32>) {transpose_b = 1 : i64} : (tensor<3x4xf32>, tensor<5x4xf32>) -> tensor<3x5xf32> {
  ^bb0(%acc: tensor<3x5xf32>, %cc: tensor<1x5xf32>):
    %k0 = graph.constant dense<2.5e-01> : tensor<f32>
    %s = graph.mul %acc, %k0 : (tensor<3x5xf32>, tensor<f32>) -> tensor<3x5xf32>
    %k1 = graph.constant dense<3.5e-01> : tensor<f32>
    %t = graph.mul %cc, %k1 : (tensor<1x5xf32>, tensor<f32>) -> tensor<1x5xf32>
    %r = graph.add %s, %t : (tensor<3x5xf32>, tensor<1x5xf32>) -> tensor<3x5xf32>
    fused.yield %r : tensor<3x5xf32>
  }
  func.return %y : tensor<3x5xf32>
}""",
    # a boolean mask turned into 0/-inf and cast, on the mask's own shape; a non-splat
    # constant (softcap-style scale per column) read at the accumulator's element
    "mask_where_cast_and_table": """
func.func @main(%a: tensor<2x3x8xf16>, %b: tensor<2x8x3xf16>, %mask: tensor<3x3xi1>) -> tensor<2x3x3xf32> {
  %y = fused.matmul %a, %b extras(%mask : tensor<3x3xi1>) {transpose_b = 0 : i64} : (tensor<2x3x8xf16>, tensor<2x8x3xf16>) -> tensor<2x3x3xf32> {
  ^bb0(%acc: tensor<2x3x3xf16>, %m: tensor<3x3xi1>):
    %z = graph.constant dense<0.0> : tensor<1xf32>
    %ninf = graph.constant dense<0xFF800000> : tensor<1xf32>
    %w = graph.where %m, %z, %ninf : (tensor<3x3xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<3x3xf32>
    %wc = graph.cast %w : tensor<3x3xf32> -> tensor<3x3xf16>
    %k = graph.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf16>
    %s = graph.mul %acc, %k : (tensor<2x3x3xf16>, tensor<3xf16>) -> tensor<2x3x3xf16>
    %r = graph.add %s, %wc : (tensor<2x3x3xf16>, tensor<3x3xf16>) -> tensor<2x3x3xf16>
    %o = graph.cast %r : tensor<2x3x3xf16> -> tensor<2x3x3xf32>
    fused.yield %o : tensor<2x3x3xf32>
  }
  func.return %y : tensor<2x3x3xf32>
}""",
    # an extra transposed and sliced inside the epilogue (read backwards at its source)
    "extra_transposed_and_sliced": """
func.func @main(%a: tensor<4x5xf32>, %b: tensor<5x6xf32>, %e: tensor<8x4xf32>) -> tensor<4x6xf32> {
  %y = fused.matmul %a, %b extras(%e : tensor<8x4xf32>) {transpose_b = 0 : i64} : (tensor<4x5xf32>, tensor<5x6xf32>) -> tensor<4x6xf32> {
  ^bb0(%acc: tensor<4x6xf32>, %ee: tensor<8x4xf32>):
    %sl = graph.slice %ee {starts = array<i64: 1, 0>, steps = array<i64: 1, 1>} : tensor<8x4xf32> -> tensor<6x4xf32>
    %t = graph.transpose %sl {perm = array<i64: 1, 0>} : tensor<6x4xf32> -> tensor<4x6xf32>
    %r = graph.add %acc, %t : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
    fused.yield %r : tensor<4x6xf32>
  }
  func.return %y : tensor<4x6xf32>
}""",
}


@pytest.mark.parametrize("name", sorted(EPILOGUE_CASES))
def test_epilogue_case_compiles(name):
    """Epilogue values of any shape are evaluated at the accumulator's element (ONNX
    broadcasting); constants' tables are declared where they are read."""
    compile_kernels(EPILOGUE_CASES[name])


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(EPILOGUE_CASES))
def test_epilogue_case_on_gpu(name):
    f16 = "f16" in EPILOGUE_CASES[name]
    assert_gpu_matches_reference(EPILOGUE_CASES[name], rtol=2e-2 if f16 else 1e-4, atol=5e-2 if f16 else 1e-4)


NODE_TESTS = [
    "test_gemm_alpha",
    "test_gemm_beta",
    "test_gemm_all_attributes",
    "test_attention_4d_softcap_expanded",
    "test_attention_3d_softcap_expanded",
    "test_flexattention_soft_cap_expanded_ver26",
    "test_attention_24_qk_matmul_output_mode3_softmax_precision_expanded",
    "test_attention_4d_attn_mask_3d_causal_expanded",
    "test_attention_4d_gqa_causal_nonpad_decode_fp16_expanded",
]


def _node_model(name: str):
    from onnx.backend.test.loader import load_model_tests

    from compiler.onnx_import import import_onnx

    case = next(c for c in load_model_tests(kind="node") if c.name == name)
    return import_onnx(case.model)


@pytest.mark.slow
@pytest.mark.parametrize("name", NODE_TESTS)
def test_node_test_matmul_kernels_compile(name):
    """ONNX node tests whose matmul epilogues once failed to compile (constants' tables out
    of scope, ops on extras alone); the GPU backend test checks their numbers."""
    module = _node_model(name)
    sources = compile_kernels(module, pipeline="kernel")
    assert any("fused_matmul" in k for k in sources)


# -- on a GPU -------------------------------------------------------------------------------


def _k_of(ir: str) -> int:
    _, kernel = _kernel(ir)
    return matmul.problem_of(kernel).k


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_case_matches_reference(gpu, name):
    ir, dtype = CASES[name]
    if dtype not in TOLERANCE:  # integers: exact (numpy wraps the same way)
        assert_gpu_matches_reference(ir, rtol=0, atol=0)
        return
    rtol, atol = TOLERANCE[dtype]
    assert_gpu_matches_reference(ir, rtol=rtol, atol=atol * max(1.0, math.sqrt(_k_of(ir) / 100)))


@pytest.mark.gpu
@pytest.mark.parametrize(
    "dtype, m, n, k, transpose_b",
    [("f32", 128, 768, 768, False), ("f16", 128, 2304, 768, True), ("f16", 512, 3072, 768, False), ("bf16", 256, 768, 3072, False)],
)
def test_bert_shapes_match_reference(gpu, dtype, m, n, k, transpose_b):
    """BERT-base layer shapes with the bias+gelu epilogue (K up to 3072: atol grows with sqrt(K))."""
    ir = fused_matmul(dtype, [1, m, k], [n, k] if transpose_b else [k, n], transpose_b, "bias_gelu")
    rtol, atol = TOLERANCE[dtype]
    assert_gpu_matches_reference(ir, rtol=rtol, atol=atol * math.sqrt(k / 100))



# -- the tensor-core kernel's tiles, layouts and stores ------------------------------------


def _mma_tile(kernel: FuncOp) -> tuple:
    t = matmul.configure(kernel).tile_params
    return tuple(t[k] for k in matmul.MMA_KEYS)


@pytest.mark.parametrize(
    "m, n, k, tile",
    [
        (4096, 4096, 4096, (128, 256)),  # 512 tiles: 4 waves of the largest tile
        (6304, 3072, 768, (128, 256)),  # ViT-B/16 batch 32 FFN up
        (6304, 768, 3072, (128, 128)),  # FFN down: 150 large tiles would leave a second wave nearly empty
        (2048, 768, 768, (128, 128)),
        (128, 768, 768, (32, 64)),  # BERT batch 1: small tiles, more blocks
        (8, 768, 768, (16, 64)),
    ],
)
def test_configure_tiles_by_waves(m, n, k, tile):
    _, kernel = _kernel(fused_matmul("f16", [1, m, k], [k, n], epilogue="bias_gelu"))
    launch = matmul.configure(kernel)
    assert _mma_tile(kernel)[:2] == tile
    assert launch.shared_bytes == matmul.mma_shared(matmul.problem_of(kernel), launch.tile_params) <= 160 * 1024


def test_swizzle_is_a_permutation_of_chunks_within_each_row():
    from passes.codegen.common.mma import swizzle

    for cols in (8, 16, 24, 32, 48, 64, 96, 128, 256):
        shift, mask = swizzle(cols)
        chunks = cols // 8
        for r in range(64):
            assert sorted(c ^ ((r >> shift) & mask) for c in range(chunks)) == list(range(chunks))
        if chunks & (chunks - 1) == 0 or chunks % 8 == 0:  # conflict-free ldmatrix phases
            for c in range(chunks):
                for r0 in range(0, 64, 8):
                    banks = {(r * chunks + (c ^ ((r >> shift) & mask))) % 8 for r in range(r0, r0 + 8)}
                    assert len(banks) == min(8, 8 if chunks > 1 else 1) or chunks == 1


def _source(ir: str) -> str:
    _, kernel = _kernel(ir)
    return matmul.emit(kernel, matmul.configure(kernel))


def test_vector_stores_where_proven():
    """16-byte stores for plain outputs and the QKV head split (head_dim 64), element stores
    where N or head_dim is not a multiple of 8."""
    plain = _source(fused_matmul("f16", [1, 64, 32], [32, 128], epilogue="bias_gelu"))
    assert "epilogue8(raw, bz, m, n);" in plain and "((uint4*)(out0 + f))[0]" in plain
    heads = _source(_split_heads("f16", 128, 12, 64))
    assert "epilogue8(raw, bz, m, n);" in heads
    assert "if (n < 768) { ((uint4*)(out0 + ((n / 64) * 8192 + m * 64 + (n % 64))))[0]" in heads
    odd_heads = _source(_split_heads("f16", 16, 2, 12))
    assert "epilogue8(" not in odd_heads and "epilogue(optc_widen(rv[j]), bz, m, n + j)" in odd_heads
    assert "epilogue8(" not in _source(fused_matmul("f16", [16, 32], [32, 13]))
    cast = _source(fused_matmul("f16", [5, 64], [64, 16], epilogue="cast"))  # f32 result: two uint4 per 8
    assert "((uint4*)(out0 + f))[1]" in cast


def test_vector_proof_rejects_a_transposed_store():
    from passes.codegen.matmul.problem import epilogue_code
    from passes.codegen.matmul.vector import _proven

    ir = EPILOGUE_CASES["transpose_then_relu"].replace("f32", "f16").replace("4x5x", "8x5x").replace("5x6x", "5x16x")
    ir = ir.replace("tensor<6x4xf16>", "tensor<16x8xf16>").replace("tensor<4x6xf16>", "tensor<8x16xf16>").replace("tensor<8x5xf16>", "tensor<8x5xf16>")
    _, kernel = _kernel(ir)
    problem = matmul.problem_of(kernel)
    assert not _proven(problem, epilogue_code(kernel, problem))


# The emitted tensor-core kernel on the CPU: the conv tests' fiber harness (every CUDA
# thread a ucontext fiber, ldmatrix/mma.sync from the PTX fragment layouts, cp.async a
# synchronous copy, shared memory starting as NaN bits) plus CUDA's vector types.
VECTOR_TYPES = (
    "struct alignas(16) uint4 { unsigned x, y, z, w; };\nstruct alignas(8) uint2 { unsigned x, y; };\n"
    "struct alignas(16) float4 { float x, y, z, w; };\n"
    "static inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }\n"
)


def run_emulated(ir: str, feeds: dict, tile: tuple | None = None, grid: int | None = None) -> list[np.ndarray]:
    """Lower `ir` (one matmul), build the emitted kernel with g++ against the fiber
    harness and run it (with `tile` and a `grid` of blocks when given: the work loop strides)."""
    from tests.host_emulation import build_and_launch, fiber_source

    (kernel,) = kernels_of(lower(ir))
    launch = kernel.attributes["launch"]
    if tile is not None:
        keys = matmul.MMA_KEYS if matmul.problem_of(kernel).tensor_cores else matmul.SIMT_KEYS
        probe = _launch_for(kernel, dict(zip(keys, tile)))
        launch = LaunchAttr(probe.tactic_name, [grid or launch.grid_dims[0]], probe.block_dims, probe.shared_bytes, probe.tile_params)
        kernel.attributes["launch"] = launch
    return build_and_launch(kernel, VECTOR_TYPES + fiber_source(kernel, launch), feeds, ("-w",))


EMULATED = {
    # name -> (IR, tile or None for configure's, grid or None)
    "odd_mnk_elementwise_copies": (fused_matmul("f16", [33, 100], [100, 7]), None, None),
    "qkv_split_vector_stores": (_split_heads("f16", 12, 2, 16), None, None),
    "qkv_split_bf16_two_work_items": (_split_heads("bf16", 20, 2, 16), (16, 32, 32, 1, 2, 3), 2),
    "bias_gelu_k_tail_bk16": (fused_matmul("f16", [40, 72], [72, 48], epilogue="bias_gelu"), (32, 32, 16, 1, 1, 3), None),
    "bias_residual_bk48_odd_slices": (fused_matmul("bf16", [1, 50, 104], [104, 40], epilogue="bias_residual"), (64, 48, 48, 1, 1, 2), None),
    "transpose_b_batched_stages4": (fused_matmul("f16", [2, 19, 40], [24, 40], transpose_b=True), (32, 32, 32, 2, 1, 4), 3),
    "gemm_trans_a_trans_b": (gemm("f16", 40, 24, 64, trans_a=1, trans_b=1, alpha=0.25, beta=0.5, c=[40, 1]), (32, 32, 32, 1, 1, 2), None),
    "large_tile_8_warps": (fused_matmul("f16", [130, 136], [136, 264], epilogue="bias_gelu"), (128, 256, 32, 2, 4, 3), 2),
    "large_tile_m256_multi": (fused_matmul("bf16", [260, 64], [64, 40], epilogue="multi"), (256, 128, 32, 4, 2, 3), None),
    "cast_f32_result": (fused_matmul("f16", [5, 64], [64, 16], epilogue="cast"), None, None),
    # transpose_a: a k-major A tile, copied element by element (M = 19) or with cp.async
    "transpose_ab_odd_elementwise_copies": (CASES["f16_transpose_ab_odd"][0], None, None),
    "transpose_a_bf16_stages3_two_work_items": (CASES["bf16_transpose_a_bias_gelu"][0], (32, 32, 16, 1, 1, 3), 2),
    "transpose_a_large_tile_8_warps": (fused_matmul("f16", [1, 136, 130], [136, 264], transpose_a=True), (128, 256, 32, 2, 4, 3), 2),
    "transpose_a_skinny": (fused_matmul("f16", [2, 64, 12], [64, 72], transpose_a=True), None, None),
    # ... and the SIMT kernel (f32: exact products), transposed A and B, at two tiles
    "simt_transpose_ab": (CASES["f32_transpose_ab_bias_residual"][0], None, None),
    "simt_transpose_a_small_tile": (fused_matmul("f32", [2, 37, 19], [2, 37, 21], transpose_a=True), (32, 32, 8, 4, 2), 3),
}
_needs_gxx = pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")


@pytest.mark.slow
@_needs_gxx
@pytest.mark.parametrize("name", sorted(EMULATED))
def test_emulated_kernel_matches_reference(name):
    """Fragment, swizzle, pipeline and staged-store index math of the tensor-core kernel (and
    the SIMT kernel's tile loads) on the host, against the reference (tolerances as on the GPU)."""
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run

    from tests.support import parse

    ir, tile, grid = EMULATED[name]
    feeds = random_inputs(parse(ir), seed=1)
    expected = run(parse(ir), feeds)
    got = run_emulated(ir, feeds, tile, grid)
    dtype = next(d for d in ("bf16", "f16", "f32") if d in ir)
    rtol, atol = TOLERANCE[dtype]
    for g, want in zip(got, expected.values()):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(want).astype(np.float64), rtol=rtol, atol=atol)


LARGE_TILES = [(128, 256, 32, 2, 4, 3), (256, 128, 32, 4, 2, 3), (128, 128, 32, 2, 2, 4), (128, 256, 64, 2, 4, 3)]


@pytest.mark.gpu
@pytest.mark.parametrize("tile", LARGE_TILES, ids=str)
@pytest.mark.parametrize("case", ["f16_plain_edges", "bf16_bias_gelu", "f16_qkv_heads64", "f16_transpose_b", "f16_transpose_ab"])
def test_large_tiles_match_reference(gpu, monkeypatch, tile, case):
    """The large tiles (dynamic shared memory past 48 KiB) on shapes off every tile size."""
    ir = {
        "f16_plain_edges": fused_matmul("f16", [1, 300, 200], [200, 520]),
        "bf16_bias_gelu": fused_matmul("bf16", [2, 136, 256], [256, 264], epilogue="bias_gelu"),
        "f16_qkv_heads64": _split_heads("f16", 200, 4, 64),
        "f16_transpose_b": fused_matmul("f16", [1, 264, 96], [384, 96], transpose_b=True, epilogue="bias_residual"),
        "f16_transpose_ab": fused_matmul("f16", [1, 96, 264], [384, 96], transpose_b=True, epilogue="bias_residual", transpose_a=True),
    }[case]
    monkeypatch.setattr(matmul, "_pick_mma", lambda problem, target: tile)
    dtype = "bf16" if case.startswith("bf16") else "f16"
    rtol, atol = TOLERANCE[dtype]
    assert_gpu_matches_reference(ir, rtol=rtol, atol=atol * max(1.0, math.sqrt(_k_of(ir) / 100)))
