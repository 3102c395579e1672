"""CUDA codegen of `fused.attention`: every configuration of the table compiles with NVRTC
(sm_80 and sm_90, no GPU needed); on a GPU each matches the reference interpreter; what the
kernels cannot do is refused by name.

Tolerances on the GPU: f32 and f64 products and softmax run in fp32/fp64, in another order
than numpy's (tiles, online rescaling, exp2): 1e-4. f16/bf16: scores are accumulated in
fp32, but the probabilities are rounded to the input type before p·v (as FlashAttention
does) and the result once more: f16 has an 11-bit significand (relative error ~5e-4 per
rounding), so 2e-2 leaves room for sums of 200 such terms; bf16's 8 bits need 4e-2.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pytest

from dialects.errors import OptcError
from dialects.kernel import LAUNCH_ATTR, FuncOp, LaunchAttr
from passes.codegen.attention import attention
from passes.codegen.attention.problem import MAX_HEAD_DIM
from passes.codegen.cuda import kernel_source
from passes.codegen.target import SM_90
from tests.cuda_support import assert_gpu_matches_reference, compile_kernels, lower


@dataclass(frozen=True)
class Case:
    dtype: str
    b: int
    h: int
    s_q: int
    s_k: int
    d: int
    d_v: int | None = None
    mask: str | None = None
    """The mask's type, e.g. "2x1x1x9xf32"."""
    causal: bool = False
    layout: str = "bhsd"

    def ir(self) -> str:
        dt, b, h, sq, sk, d = self.dtype, self.b, self.h, self.s_q, self.s_k, self.d
        dv = self.d_v or d
        q, k, v = f"tensor<{b}x{h}x{sq}x{d}x{dt}>", f"tensor<{b}x{h}x{sk}x{d}x{dt}>", f"tensor<{b}x{h}x{sk}x{dv}x{dt}>"
        out = f"tensor<{b}x{h}x{sq}x{dv}x{dt}>" if self.layout == "bhsd" else f"tensor<{b}x{sq}x{h}x{dv}x{dt}>"
        m_arg = f", %m: tensor<{self.mask}>" if self.mask else ""
        m_use = f" mask(%m : tensor<{self.mask}>)" if self.mask else ""
        scale = 1.0 / math.sqrt(d)
        return f"""func.func @main(%q: {q}, %k: {k}, %v: {v}{m_arg}) -> {out} {{
  %y = fused.attention %q, %k, %v{m_use} {{scale = {scale!r} : f32, causal = {int(self.causal)} : i64, output_layout = "{self.layout}"}} : ({q}, {k}, {v}) -> {out}
  func.return %y : {out}
}}
"""


CASES = {
    # BERT-base-like, the three dtypes, BERT's padding mask [b, 1, 1, s_k]
    "f32_d64_s128_mask_b11k": Case("f32", 2, 3, 128, 128, 64, mask="2x1x1x128xf32"),
    "f16_d64_s128_mask_b11k": Case("f16", 2, 3, 128, 128, 64, mask="2x1x1x128xf32"),
    "bf16_d64_s128_mask_b11k": Case("bf16", 2, 3, 128, 128, 64, mask="2x1x1x128xbf16"),
    # head dims 32, 80 (not a power of two), 128, 256 (the largest); s = 1 and 7
    "f32_d32_s1": Case("f32", 1, 2, 1, 1, 32),
    "f16_d32_s1": Case("f16", 1, 2, 1, 1, 32),
    "f32_d80_s7": Case("f32", 2, 2, 7, 7, 80),
    "f16_d80_s7": Case("f16", 2, 2, 7, 7, 80),
    "bf16_d80_s7": Case("bf16", 2, 2, 7, 7, 80),
    "f16_d128_s197_vit": Case("f16", 1, 3, 197, 197, 128),
    "f32_d128_s197_vit": Case("f32", 1, 3, 197, 197, 128),
    "f16_d256": Case("f16", 1, 2, 40, 33, 256),
    "f32_d256": Case("f32", 1, 2, 40, 33, 256),
    # head dims no tile divides: 24 (8-aligned), 33 (odd), and d_v != d
    "f16_d24": Case("f16", 1, 2, 17, 19, 24),
    "f16_d33_dv17": Case("f16", 1, 2, 9, 11, 33, d_v=17),
    "f32_d33_dv17": Case("f32", 1, 2, 9, 11, 33, d_v=17),
    "f16_d64_dv32": Case("f16", 1, 2, 20, 70, 64, d_v=32),
    # s_q != s_k both ways, causal (bottom-right aligned: s_q > s_k masks whole rows -> NaN)
    "f16_sq7_sk130_causal": Case("f16", 1, 2, 7, 130, 64, causal=True),
    "f32_sq130_sk7_causal": Case("f32", 1, 2, 130, 7, 64, causal=True),
    "f16_sq130_sk7_causal": Case("f16", 1, 2, 130, 7, 64, causal=True),
    "f16_causal_s197": Case("f16", 2, 2, 197, 197, 64, causal=True),
    "f32_causal_s33": Case("f32", 2, 2, 33, 33, 64, causal=True),
    # masks: [1, 1, s_q, s_k] additive (f32 and f16), i1 (false masks out), lower ranks
    "f32_mask_11qk": Case("f32", 2, 2, 33, 45, 64, mask="1x1x33x45xf32"),
    "f16_mask_11qk_f16": Case("f16", 2, 2, 33, 45, 64, mask="1x1x33x45xf16"),
    "f16_mask_bhqk": Case("f16", 2, 2, 33, 45, 64, mask="2x2x33x45xf32"),
    "f32_bool_mask": Case("f32", 2, 2, 33, 45, 64, mask="2x1x33x45xi1"),
    "f16_bool_mask_causal": Case("f16", 2, 2, 33, 45, 64, mask="1x1x1x45xi1", causal=True),
    "bf16_bool_mask": Case("bf16", 2, 2, 33, 45, 64, mask="2x1x1x45xi1"),
    "f16_mask_rank2": Case("f16", 1, 2, 16, 20, 64, mask="16x20xf32"),
    # the heads merged: result written [b, s, h, d]
    "f32_bshd": Case("f32", 2, 3, 19, 19, 64, mask="2x1x1x19xf32", layout="bshd"),
    "f16_bshd": Case("f16", 2, 3, 19, 19, 64, mask="2x1x1x19xf32", layout="bshd"),
    "f16_bshd_odd_dv": Case("f16", 1, 3, 19, 19, 33, d_v=17, layout="bshd"),
    # f64 through the SIMT kernel in double
    "f64_d64": Case("f64", 1, 2, 20, 30, 64, mask="1x1x1x30xf64", causal=True),
}

TOLERANCE = {"f64": 1e-4, "f32": 1e-4, "f16": 2e-2, "bf16": 4e-2}


def launch_of(module) -> LaunchAttr:
    (kernel,) = [op for op in module.ops if isinstance(op, FuncOp)]
    return kernel.launch


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_compiles(name):
    """Each case lowers, configures, emits and compiles for sm_80 and sm_90."""
    sources = compile_kernels(CASES[name].ir())
    (source,) = sources.values()
    tensor_cores = CASES[name].dtype in ("f16", "bf16")
    assert ("mma.sync.aligned.m16n8k16" in source) == tensor_cores


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(CASES))
def test_matches_reference_on_gpu(name):
    tol = TOLERANCE[CASES[name].dtype]
    assert_gpu_matches_reference(CASES[name].ir(), rtol=tol, atol=tol)



def shared_operands_ir(dtype: str, operands: str, mask: str | None = "2x1x1x9xf32") -> str:
    """Self-attention on [2, 3, 9, 32] whose q, k, v are the named arguments (`"xxx"`: all
    one tensor, `"xxv"`: q = k): outlining passes each value once, so the kernel has fewer
    parameters than the op has operands."""
    t = f"tensor<2x3x9x32x{dtype}>"
    names = dict.fromkeys(operands)
    args = ", ".join([f"%{n}: {t}" for n in names] + ([f"%m: tensor<{mask}>"] if mask else []))
    use = f" mask(%m : tensor<{mask}>)" if mask else ""
    q, k, v = (f"%{n}" for n in operands)
    return f"""func.func @main({args}) -> {t} {{
  %y = fused.attention {q}, {k}, {v}{use} {{scale = 1.0 : f32, causal = 0 : i64}} : ({t}, {t}, {t}) -> {t}
  func.return %y : {t}
}}
"""


SHARED = [("f32", "xxx"), ("f16", "xxx"), ("bf16", "xxv"), ("f32", "xvx")]


@pytest.mark.parametrize("dtype, operands", SHARED)
def test_shared_operands_read_the_parameter_they_are_passed_in(dtype, operands):
    """q, k and v read the parameter their value was passed in, and the mask the one after."""
    (source,) = compile_kernels(shared_operands_ir(dtype, operands)).values()
    params = {n: f"in{j}" for j, n in enumerate(dict.fromkeys(operands))}
    for role, n in zip("qkv", operands):
        assert f"{role}g = {'(const unsigned short*)' if dtype != 'f32' else ''}{params[n]} +" in source
    assert f"mask_plane = in{len(params)} +" in source


@pytest.mark.gpu
@pytest.mark.parametrize("dtype, operands", SHARED)
def test_shared_operands_match_reference_on_gpu(dtype, operands):
    tol = TOLERANCE[dtype]
    assert_gpu_matches_reference(shared_operands_ir(dtype, operands), rtol=tol, atol=tol)


def self_attention_graph_ir(dtype: str) -> str:
    """softmax(x·xᵀ + mask)·x at the graph level on [b, s, d] = [2, 9, 32] (one head), as
    `fuse-attention` finds it: q = k = v, lifted to [2, 1, 9, 32] by free reshapes."""
    x, xt, s, m = (f"tensor<{shape}x{dtype}>" for shape in ("2x9x32", "2x32x9", "2x9x9", "2x1x9"))
    return f"""func.func @main(%x: {x}, %m: {m}) -> {x} {{
  %xt = graph.transpose %x {{perm = array<i64: 0, 2, 1>}} : {x} -> {xt}
  %s = graph.matmul %x, %xt : ({x}, {xt}) -> {s}
  %a = graph.add %s, %m : ({s}, {m}) -> {s}
  %p = graph.softmax %a {{axis = -1 : i64}} : {s}
  %y = graph.matmul %p, %x : ({s}, {x}) -> {x}
  func.return %y : {x}
}}
"""


@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_rank3_self_attention_is_one_kernel_that_compiles(dtype):
    (source,) = compile_kernels(self_attention_graph_ir(dtype), pipeline="fused,lower-to-kernels").values()
    assert "mask_plane = in1 +" in source and ("mma.sync" in source) == (dtype == "f16")


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_rank3_self_attention_matches_reference_on_gpu(dtype):
    tol = TOLERANCE[dtype]
    assert_gpu_matches_reference(self_attention_graph_ir(dtype), pipeline="fused,lower-to-kernels", rtol=tol, atol=tol)

# -- launches: what configure chooses, what emit accepts ---------------------------------------


def test_configure_bert_base():
    """f16 at BERT-base: 64-row query tiles (4 warps), 64-key tiles, in the default 48 KiB."""
    launch = launch_of(lower(Case("f16", 8, 12, 128, 128, 64).ir()))
    assert launch.tactic_name == "mma" and launch.tile_params == {"block_q": 64, "block_k": 64}
    assert launch.grid_dims == (2, 12, 8) and launch.block_dims == (128, 1, 1)
    assert launch.shared_bytes <= 48 * 1024


def test_configure_f32_is_simt_and_small_grids_get_small_tiles():
    launch = launch_of(lower(Case("f32", 1, 2, 128, 128, 64).ir()))
    assert launch.tactic_name == "simt"
    small = launch_of(lower(Case("f16", 1, 1, 128, 128, 64).ir()))
    assert small.tile_params["block_q"] == 16  # 8 blocks rather than 2


def relaunched(case: Case, tactic: str, **tile):
    """The case outlined, with its launch rebuilt for another tactic and tiles (grid and
    block to match)."""
    module = lower(case.ir(), "outline-kernels,configure-kernels")
    (kernel,) = [op for op in module.ops if isinstance(op, FuncOp)]
    old = kernel.launch
    params = {**old.tile_params, **tile}
    threads = 2 * params["block_q"] if tactic == "mma" else 128
    grid = (-(-case.s_q // params["block_q"]), case.h, case.b)
    kernel.attributes[LAUNCH_ATTR] = LaunchAttr(tactic, grid, [threads], 160 * 1024, params)
    return module


@pytest.mark.parametrize(
    "case, tactic, tile",
    [
        (Case("f16", 1, 2, 70, 90, 64, mask="1x1x70x90xf32", causal=True), "simt", {"block_q": 16, "block_k": 32}),
        (Case("bf16", 1, 2, 70, 90, 80), "simt", {"block_q": 32, "block_k": 64}),
        (Case("f16", 1, 2, 70, 90, 64), "mma", {"block_q": 128, "block_k": 128}),
        (Case("f16", 1, 2, 70, 90, 64, causal=True), "mma", {"block_q": 16, "block_k": 16}),
        (Case("f32", 1, 2, 70, 90, 64), "simt", {"block_q": 64, "block_k": 64}),
    ],
    ids=["f16_simt", "bf16_simt", "f16_mma_128x128", "f16_mma_16x16", "f32_simt_64x64"],
)
@pytest.mark.slow
def test_launch_tiles_are_honoured(case, tactic, tile):
    """emit follows the launch's tactic and tiles (what a tuner changes): the SIMT kernel for
    f16/bf16 as well, and other tile sizes; each compiles, and on a GPU matches the reference."""
    module = relaunched(case, tactic, **tile)
    source = next(iter(compile_kernels(module, pipeline="configure-kernels").values()))
    assert ("mma.sync" in source) == (tactic == "mma")
    assert f"__launch_bounds__({launch_of(module).block_dims[0]})" in source


@pytest.mark.gpu
@pytest.mark.parametrize(
    "case, tactic, tile",
    [
        (Case("f16", 1, 2, 70, 90, 64, mask="1x1x70x90xf32", causal=True), "simt", {"block_q": 16, "block_k": 32}),
        (Case("bf16", 1, 2, 70, 90, 80), "simt", {"block_q": 32, "block_k": 64}),
        (Case("f16", 1, 2, 70, 90, 64), "mma", {"block_q": 128, "block_k": 128}),
        (Case("f16", 1, 2, 70, 90, 64, causal=True), "mma", {"block_q": 16, "block_k": 16}),
    ],
    ids=["f16_simt", "bf16_simt", "f16_mma_128x128", "f16_mma_16x16"],
)
def test_launch_tiles_match_reference_on_gpu(case, tactic, tile):
    tol = TOLERANCE[case.dtype]
    assert_gpu_matches_reference(relaunched(case, tactic, **tile), pipeline="plan-memory", rtol=tol, atol=tol)


# -- errors --------------------------------------------------------------------------------------


def test_head_dim_above_limit_is_refused():
    with pytest.raises(OptcError, match=rf"@k0_fused_attention \('fused.attention'\): head dimension 264 exceeds {MAX_HEAD_DIM}"):
        lower(Case("f16", 1, 1, 4, 4, 264).ir())


def test_v_head_dim_above_limit_is_refused():
    with pytest.raises(OptcError, match=r"head dimension 300 exceeds 256"):
        lower(Case("f32", 1, 1, 4, 4, 64, d_v=300).ir())


def test_integer_inputs_are_refused():
    with pytest.raises(OptcError, match=r"element type i32 is not a float type"):
        lower(Case("i32", 1, 1, 4, 4, 8).ir())


def test_mask_that_does_not_broadcast_is_refused():
    with pytest.raises(OptcError, match=r"mask tensor<1x1x3x4xf32> does not broadcast to \[batch, heads, seq_q, seq_k\] = \[1, 1, 4, 4\]"):
        lower(Case("f32", 1, 1, 4, 4, 8, mask="1x1x3x4xf32").ir())


@pytest.mark.parametrize(
    "case, tactic, tile, grid, block, shared, message",
    [
        (Case("f32", 1, 2, 8, 8, 64), "mma", {"block_q": 16, "block_k": 16}, (1, 2, 1), 32, 49152, r"tactic 'mma' cannot run this kernel: tensor cores take f16 and bf16 inputs, got float"),
        (Case("f16", 1, 2, 8, 8, 64), "wmma", {"block_q": 16, "block_k": 16}, (1, 2, 1), 32, 49152, r"tactic 'wmma' is not one of the attention tactics \(simt, mma\)"),
        (Case("f16", 1, 2, 8, 8, 64), "mma", {"block_q": 24, "block_k": 16}, (1, 2, 1), 48, 49152, r"multiples of 16, got 24, 16"),
        (Case("f16", 1, 2, 8, 8, 64), "mma", {"block_q": 16, "block_k": 16}, (1, 2, 1), 64, 49152, r"block must be \[32, 1, 1\]"),
        (Case("f16", 1, 2, 40, 8, 64), "mma", {"block_q": 16, "block_k": 16}, (1, 2, 1), 32, 49152, r"grid must be \[3, 2, 1\]"),
        (Case("f16", 1, 2, 8, 8, 64), "mma", {"block_q": 16, "block_k": 16}, (1, 2, 1), 32, 1024, r"need 6912 bytes of shared memory, the launch gives 1024"),
        (Case("f32", 1, 2, 8, 8, 64), "simt", {"block_q": 16, "block_k": 16}, (1, 2, 1), 48, 49152, r"1-D block of whole warps"),
        (Case("f32", 1, 2, 8, 8, 64), "simt", {"block_k": 16}, (1, 2, 1), 64, 49152, r"tile lacks block_q"),
    ],
    ids=["mma_f32", "unknown", "mma_block_q", "mma_block", "grid", "shared", "simt_block", "missing"],
)
def test_launch_disagreeing_with_the_kernel_is_refused(case, tactic, tile, grid, block, shared, message):
    """emit refuses it by name, and check gives the same reason."""
    module = lower(case.ir(), "outline-kernels")
    (kernel,) = [op for op in module.ops if isinstance(op, FuncOp)]
    launch = LaunchAttr(tactic, grid, [block], shared, tile)
    kernel.attributes[LAUNCH_ATTR] = launch
    with pytest.raises(OptcError, match=r"@k0_fused_attention \('fused.attention'\): .*" + message):
        kernel_source(kernel)
    assert re.search(message, attention.check(kernel, launch, SM_90))


def test_fully_masked_rows_are_nan_like_the_reference():
    """The reference gives NaN for a row with every key masked (exp(-inf - -inf)); the
    kernels divide 0 by l = 0 there, which is NaN too, and the source says so."""
    import numpy as np

    from runtime.reference.fused import attention

    q = np.ones((1, 1, 3, 4), np.float32)
    y = attention(q, q[:, :, :2], q[:, :, :2], None, 1.0, True)  # s_q = 3 > s_k = 2: row 0 sees no key
    assert np.isnan(y[0, 0, 0]).all() and not np.isnan(y[0, 0, 1:]).any()
    source = next(iter(compile_kernels(Case("f16", 1, 1, 3, 2, 16, causal=True).ir(), archs=()).values()))
    assert "1.0f / l0" in source
