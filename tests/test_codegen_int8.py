"""CUDA codegen of integer contractions (issue 12 §5): `fused.matmul` and `fused.conv`
multiplying 8-bit integers (i8, ui8, mixed) into an i32 accumulator whose epilogue region
dequantizes, adds a bias, applies relu and requantizes to 8 bits: matmul `mma`
(matmul/mma.py on byte pairs) and `simt`, conv `mma` (conv/mma.py, NHWC implicit GEMM on
byte pairs) and `gemm` (conv/gemm.py, the SIMT implicit GEMM).

Integer accumulation is exact and the epilogue's float ops round one by one as the
reference's graph ops do (`UNCONTRACTED`: no fma), so every check here is bit-exact:
- every candidate of every integer tactic compiles with NVRTC for sm_80 and sm_90;
- the tactic rules: the tensor-core matmul takes A [M, K], B [N, K] and K % 16 == 0, the
  tensor-core conv NHWC, group 1 and C_in % 16 == 0; the rest goes to `simt` / `gemm`,
  and `check`/`emit` say why;
- (slow, g++) every tactic on the host emulator (tests/host_emulation.py: m16n8k32 s8/u8
  fragments) against the reference interpreter, on odd M/N, K at and off the alignment,
  per-channel scales, relu, requantization saturating at both ends, ui8 x i8;
- (gpu) the same cases through the engine on the GPU.
"""

from __future__ import annotations

import numpy as np
import pytest

from dialects.errors import OptcError
from dialects.kernel import LaunchAttr
from passes.codegen.conv import conv
from passes.codegen.conv import gemm as conv_gemm
from passes.codegen.conv import mma as conv_mma
from passes.codegen.conv.geometry import geometry
from passes.codegen.cuda import kernel_source, kernels_of
from passes.codegen.matmul import matmul
from passes.codegen.registry import generator_for
from passes.codegen.target import SM_80, SM_90
from tests.cuda_support import ARCHS, assert_gpu_matches_reference, compile_clean, lower
from tests.support import parse

_needs_gxx = pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")


def _t(shape, dtype: str) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


def _epilogue(epilogue: str, shape: list[int], vec: str, out_type: str) -> tuple[list[str], str]:
    """The region's ops after `^bb0(%acc, %sc, %bb)` and the value it yields (see int8_matmul)."""
    acc, f32 = _t(shape, "i32"), _t(shape, "f32")
    if epilogue == "acc":
        return [], "%acc"
    body = [f"%f = graph.cast %acc : {acc} -> {f32}", f"%d = graph.mul %f, %sc : ({f32}, {vec}) -> {f32}"]
    if epilogue == "dequant":
        return body, "%d"
    body.append(f"%e = graph.add %d, %bb : ({f32}, {vec}) -> {f32}")
    last = "%e"
    if epilogue == "relu_requant":
        body.append(f"%r = graph.relu %e : {f32}")
        last = "%r"
    lo, hi = (0.0, 255.0) if epilogue == "requant_u8" else (-128.0, 127.0)
    body += [
        "%sy = graph.constant dense<0.75> : tensor<f32>",
        f"%q0 = graph.div {last}, %sy : ({f32}, tensor<f32>) -> {f32}",
        f"%q1 = graph.round %q0 : {f32}",
        f"%q2 = graph.clip %q1 {{min = {lo} : f32, max = {hi} : f32}} : {f32}",
        f"%q = graph.cast %q2 : {f32} -> {out_type}",
    ]
    return body, "%q"


def _out_type(epilogue: str, shape: list[int]) -> str:
    return _t(shape, {"acc": "i32", "dequant": "f32", "requant_u8": "ui8"}.get(epilogue, "i8"))


def _module(op: str, x: str, w: str, vec: str, out: str, attrs: str, shape: list[int], epilogue: str) -> str:
    body, last = _epilogue(epilogue, shape, vec, out)
    lines = "\n    ".join([*body, f"fused.yield {last} : {out}"])
    return f"""func.func @main(%x: {x}, %w: {w}, %s: {vec}, %bias: {vec}) -> {out} {{
  %y = {op} %x, %w extras(%s, %bias : {vec}, {vec}) {{{attrs}}} : ({x}, {w}) -> {out} {{
  ^bb0(%acc: {_t(shape, "i32")}, %sc: {vec}, %bb: {vec}):
    {lines}
  }}
  func.return %y : {out}
}}
"""


def int8_matmul(
    m: int, n: int, k: int, a: str = "i8", b: str = "i8", epilogue: str = "requant", transpose_b: bool = True,
    batch: tuple[int, ...] = (),
) -> str:
    """@main(%x, %w, %s, %bias) with one integer fused.matmul of x [*batch, M, K] by w
    ([N, K] with `transpose_b`, else [K, N]) and an epilogue:
    acc (the i32 accumulator) | dequant (cast, per-channel scale) | requant (dequant, bias,
    divide by 0.75, round, clip, to i8) | relu_requant (requant with a relu before the
    divide) | requant_u8 (requant clipped to 0..255, to ui8)."""
    x, w = _t([*batch, m, k], a), _t([n, k] if transpose_b else [k, n], b)
    shape = [*batch, m, n]
    out = _out_type(epilogue, shape)
    return _module("fused.matmul", x, w, _t([n], "f32"), out, f"transpose_b = {int(transpose_b)} : i64", shape, epilogue)


def int8_conv(
    n: int, cin: int, size: tuple[int, int], cout: int, kernel: tuple[int, int], a: str = "i8", b: str = "i8",
    epilogue: str = "requant", strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group: int = 1, layout: str = "NHWC",
) -> str:
    """@main(%x, %w, %s, %bias) with one integer 2-D fused.conv in `layout` (weight OHWI or
    OIHW) and an epilogue as int8_matmul's (scale and bias per output channel)."""
    out_size = [
        (size[d] + pads[d] + pads[d + 2] - dilations[d] * (kernel[d] - 1) - 1) // strides[d] + 1 for d in range(2)
    ]
    if layout == "NHWC":
        x, w = _t([n, *size, cin], a), _t([cout, *kernel, cin // group], b)
        shape, vec = [n, *out_size, cout], _t([cout], "f32")
    else:
        x, w = _t([n, cin, *size], a), _t([cout, cin // group, *kernel], b)
        shape, vec = [n, cout, *out_size], _t([cout, 1, 1], "f32")
    ints = lambda values: ", ".join(map(str, values))  # noqa: E731
    attrs = (
        f"strides = array<i64: {ints(strides)}>, pads = array<i64: {ints(pads)}>, dilations = array<i64: {ints(dilations)}>, "
        f'group = {group} : i64, layout = "{layout}"'
    )
    return _module("fused.conv", x, w, vec, _out_type(epilogue, shape), attrs, shape, epilogue)


def int8_feeds(ir: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Full-range 8-bit operands; per-channel scales that spread the dequantized products
    over about ±3·127·0.75 (so requantization saturates at both ends) and a bias."""
    from runtime.reference.inputs import random_inputs

    feeds = random_inputs(parse(ir), seed)
    rng = np.random.default_rng(seed + 1)
    x, w, s, bias = feeds
    for name in (x, w):
        dtype = feeds[name].dtype
        info = np.iinfo(dtype)
        feeds[name] = rng.integers(info.min, info.max + 1, feeds[name].shape, dtype=np.int64).astype(dtype)
    k = feeds[w].size // feeds[s].size  # the reduction length (per output channel)
    spread = np.sqrt(k) * 74.0 * 74.0  # the accumulator's standard deviation, about
    feeds[s] = (rng.uniform(0.5, 1.5, feeds[s].shape) * 3.0 * 127.0 * 0.75 / spread / 2.0).astype(np.float32)
    feeds[bias] = rng.uniform(-20.0, 20.0, feeds[bias].shape).astype(np.float32)
    return feeds


CASES = {
    # name -> IR; the tensor-core kernel takes the first ones (A [M, K], B [N, K], K % 16 == 0)
    "mma_i8_requant_odd_m_n": int8_matmul(33, 40, 64),
    "mma_u8_i8_relu_requant": int8_matmul(37, 24, 96, a="ui8", epilogue="relu_requant"),
    "mma_i8_u8_acc": int8_matmul(19, 16, 48, b="ui8", epilogue="acc"),
    "mma_u8_u8_requant_u8": int8_matmul(21, 56, 32, a="ui8", b="ui8", epilogue="requant_u8"),
    "mma_i8_dequant_skinny": int8_matmul(3, 72, 128, epilogue="dequant"),
    "mma_i8_batched_k_tail": int8_matmul(19, 24, 80, batch=(2,)),
    "mma_i8_large": int8_matmul(130, 136, 256),
    # ... and `simt`: K off the 16-byte alignment, B read [K, N], tiny shapes
    "simt_i8_k_unaligned": int8_matmul(17, 24, 40),
    "simt_u8_i8_relu_not_transposed": int8_matmul(9, 20, 64, a="ui8", transpose_b=False, epilogue="relu_requant"),
    "simt_i8_tiny": int8_matmul(1, 3, 7, epilogue="acc"),
}
TENSOR_CORES = sorted(name for name in CASES if name.startswith("mma"))
P1 = (1, 1, 1, 1)
CONV_CASES = {
    # name -> IR; the tensor-core conv takes NHWC, group 1, C_in % 16 == 0
    "mma_conv_3x3_c32_requant": int8_conv(1, 32, (6, 6), 8, (3, 3), pads=P1),
    "mma_conv_u8_i8_s2_odd_cout_relu_b2": int8_conv(2, 16, (9, 7), 37, (3, 3), a="ui8", strides=(2, 2), pads=P1, epilogue="relu_requant"),
    "mma_conv_1x1_c64_dequant": int8_conv(1, 64, (5, 5), 40, (1, 1), epilogue="dequant"),
    "mma_conv_dilated_k_tail_acc": int8_conv(1, 48, (8, 8), 16, (3, 3), pads=(2, 2, 2, 2), dilations=(2, 2), epilogue="acc"),
    # ... and the SIMT implicit GEMM: C_in off 16, NCHW, depthwise, grouped
    "gemm_conv_c24_requant": int8_conv(1, 24, (6, 6), 16, (3, 3), pads=P1),
    "gemm_conv_nchw_u8_relu": int8_conv(1, 16, (6, 6), 12, (3, 3), a="ui8", layout="NCHW", epilogue="relu_requant"),
    "gemm_conv_depthwise_requant": int8_conv(2, 16, (7, 7), 16, (3, 3), pads=P1, group=16),
    "gemm_conv_grouped_acc": int8_conv(1, 32, (5, 5), 16, (1, 1), group=4, epilogue="acc"),
}
ALL = {**CASES, **CONV_CASES}


def _expected_tactic(name: str) -> str:
    if name in CONV_CASES:
        return "mma" if name.startswith("mma") else "gemm"
    return "mma" if name.startswith("mma") else "simt"


def _simt(name: str) -> str:
    return "gemm" if name in CONV_CASES else "simt"


def _kernel(ir: str):
    (kernel,) = kernels_of(lower(ir))
    return kernel


@pytest.mark.parametrize("name", sorted(ALL))
def test_configure_takes_tensor_cores_where_they_apply(name):
    assert _kernel(ALL[name]).launch.tactic_name == _expected_tactic(name)


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_candidate_compiles_for_sm80_and_sm90(name):
    """Each candidate `check` accepts for either target emits and compiles without warnings;
    the tensor-core products offer their mma tiles and the SIMT ones."""
    kernel = _kernel(ALL[name])
    family = generator_for(kernel)
    seen = set()
    for target in (SM_80, SM_90):
        for launch in family.candidates(kernel, target):
            if launch in seen or family.check(kernel, launch, target) is not None:
                continue
            seen.add(launch)
            kernel.attributes["launch"] = launch
            source = kernel_source(kernel)
            for arch in ARCHS:
                compile_clean(source, f"{name}_{launch.tactic_name}.cu", arch)
    tactics = {launch.tactic_name for launch in seen}
    assert tactics == ({"mma", _simt(name)} if name.startswith("mma") else {_simt(name)})


def test_tensor_core_kernel_uses_m16n8k32_and_rounds_each_op():
    source = kernel_source(_kernel(CASES["mma_u8_i8_relu_requant"]))
    assert "optc_mma_u8s8(acc[mi][ni]" in source
    assert "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32" in source
    assert "__fmul_rn(" in source and "__fadd_rn(" in source  # no fma between scale and bias


@pytest.mark.parametrize(
    "name, tactic, message",
    [
        ("simt_i8_k_unaligned", "mma", "K = 40 is not a multiple of 16"),
        ("simt_u8_i8_relu_not_transposed", "mma", "8-bit B must be read [N, K] (transpose_b = 1)"),
        ("mma_i8_requant_odd_m_n", "mma_split_k", "8-bit products take 'mma' or 'simt'"),
    ],
)
def test_tactics_the_product_cannot_take_are_refused(name, tactic, message):
    kernel = _kernel(CASES[name])
    problem = matmul.problem_of(kernel)
    keys = {"mma": matmul.MMA_KEYS, "mma_split_k": matmul.SPLIT_K_KEYS}[tactic]
    tile = dict(zip(keys, (32, 32, 64, 1, 1, 3, 2)))
    launch = LaunchAttr(tactic, [4], [64], matmul.mma_shared(problem, tile), tile)
    assert message in matmul.check(kernel, launch, SM_90)
    with pytest.raises(OptcError, match=r"cuda codegen of @k0_fused_matmul: tactic '" + tactic):
        matmul.emit(kernel, launch)


def test_int8_tile_needs_block_k_of_32_bytes():
    kernel = _kernel(CASES["mma_i8_requant_odd_m_n"])
    tile = dict(zip(matmul.MMA_KEYS, (32, 32, 48, 1, 1, 3)))
    launch = LaunchAttr("mma", [4], [32], 3 * 48 * 64, tile)
    assert "block_k 48 must be a multiple of 32 (bytes" in matmul.check(kernel, launch, SM_90)


def test_int8_ring_counts_bytes():
    problem = matmul.problem_of(_kernel(CASES["mma_i8_large"]))
    assert matmul.mma_shared(problem, dict(zip(matmul.MMA_KEYS, (128, 256, 64, 2, 4, 3)))) == 3 * 64 * 384


@pytest.mark.parametrize(
    "name, message",
    [
        ("gemm_conv_c24_requant", "C_in = 24 is not a multiple of 16 (16-byte loads of 8-bit channels)"),
        ("gemm_conv_nchw_u8_relu", "8-bit layout NCHW"),
        ("gemm_conv_depthwise_requant", "group 16 (grouped and depthwise 8-bit convs take the SIMT implicit GEMM)"),
    ],
)
def test_convs_the_tensor_core_conv_cannot_take_are_refused(name, message):
    kernel = _kernel(CONV_CASES[name])
    launch = conv_mma.Tile(32, 32, 64, 1, 2, 3, element_bytes=1).launch(geometry(kernel))
    assert message in conv.check(kernel, launch, SM_90)
    with pytest.raises(OptcError, match="tactic 'mma' cannot run this kernel: the tensor-core conv does not apply"):
        conv.emit(kernel, launch)


def test_int8_conv_tile_needs_block_k_of_32_bytes():
    kernel = _kernel(CONV_CASES["mma_conv_3x3_c32_requant"])
    launch = conv_mma.Tile(32, 32, 48, 1, 2, 3, element_bytes=1).launch(geometry(kernel))
    assert "block_k 48 must be a multiple of 32 (bytes" in conv.check(kernel, launch, SM_90)


# --- on the host emulator, bit-exact ------------------------------------------------------

INT8_TILES = {"mma": [None, (32, 32, 32, 1, 1, 2), (64, 32, 64, 2, 1, 4)], "simt": [(32, 32, 8, 4, 2), (16, 128, 16, 1, 8)]}
"""Tiles each tactic runs on the emulator (None: configure's): one k32 slice per tile, an
odd number of slices in flight, a deeper ring; SIMT's small and skinny tiles."""


def run_emulated(ir: str, feeds: dict, tactic: str, tile: tuple | None, grid: int | None = 3) -> list[np.ndarray]:
    """`ir`'s one kernel with `tactic` at `tile` (configure's when None) over a grid of
    `grid` blocks (the work loop strides), on the fiber emulator."""
    from tests.host_emulation import build_and_launch, fiber_source
    from tests.test_codegen_matmul import VECTOR_TYPES

    kernel = _kernel(ir)
    problem = matmul.problem_of(kernel)
    if tile is None:
        launch = kernel.launch
    else:
        config = dict(zip(matmul.KEYS[tactic], tile))
        probe = matmul._launch(problem, tactic, tile)
        launch = LaunchAttr(tactic, [grid or probe.grid_dims[0]], probe.block_dims, probe.shared_bytes, config)
    assert launch.tactic_name == tactic and matmul.check(kernel, launch, SM_90) is None
    kernel.attributes["launch"] = launch
    return build_and_launch(kernel, VECTOR_TYPES + fiber_source(kernel, launch), feeds, ("-w",))


def _emulated_cases() -> list:
    cases = []
    for name in sorted(CASES):
        for tactic in ("mma", "simt") if name.startswith("mma") else ("simt",):
            for tile in INT8_TILES[tactic] if name != "mma_i8_large" or tactic == "simt" else [None, (128, 256, 64, 2, 4, 3)]:
                cases.append(pytest.param(name, tactic, tile, id=f"{name}-{tactic}-{tile}"))
    return cases


CONV_TILES = {
    "mma": [
        None,
        conv_mma.Tile(32, 32, 32, 1, 2, 2, element_bytes=1),
        conv_mma.Tile(64, 64, 64, 2, 2, 3, element_bytes=1),
        conv_mma.Tile(128, 128, 64, 2, 4, 3, element_bytes=1),
    ],
    "gemm": [None, conv_gemm.Tile(32, 32, 16, 2, 2)],
}
"""Conv tiles on the emulator (None: configure's): one k32 slice per tile in a 2-stage
ring, larger tiles with two slices (the largest: 8 warps); the SIMT GEMM's smallest tile."""


def run_emulated_conv(ir: str, feeds: dict, tactic: str, tile) -> list[np.ndarray]:
    """`ir`'s one conv with `tactic` at `tile` (configure's when None) on the fiber emulator."""
    from tests.host_emulation import build_and_launch, fiber_source

    kernel = _kernel(ir)
    geo = geometry(kernel)
    if tile is None:
        launch = {"mma": conv_mma.configure, "gemm": conv_gemm.configure}[tactic](geo, SM_90)
    else:
        launch = tile.launch(geo) if tactic == "mma" else conv_gemm.launch_for(tile, geo)
    assert conv.check(kernel, launch, SM_90) is None
    kernel.attributes["launch"] = launch
    return build_and_launch(kernel, fiber_source(kernel, launch), feeds, ("-w",))


def _emulated_conv_cases() -> list:
    return [
        pytest.param(name, tactic, tile, id=f"{name}-{tactic}-{tile}")
        for name in sorted(CONV_CASES)
        for tactic in (("mma", "gemm") if name.startswith("mma") else ("gemm",))
        for tile in CONV_TILES[tactic]
    ]


def _check_bit_exact(name: str, ir: str, run_kernel) -> None:
    from runtime.reference.interpreter import run

    feeds = int8_feeds(ir)
    (want,) = run(parse(ir), feeds).values()
    (got,) = run_kernel(ir, feeds)
    np.testing.assert_array_equal(got, want)
    if want.dtype == np.int8:  # the requantization saturated at both ends (relu's: at 127)
        assert want.min() == (0 if "relu" in name else -128) and want.max() == 127


@pytest.mark.slow
@_needs_gxx
@pytest.mark.parametrize("name, tactic, tile", _emulated_conv_cases())
def test_emulated_conv_is_bit_exact(name, tactic, tile):
    _check_bit_exact(name, CONV_CASES[name], lambda ir, feeds: run_emulated_conv(ir, feeds, tactic, tile))


@pytest.mark.slow
@_needs_gxx
@pytest.mark.parametrize("name, tactic, tile", _emulated_cases())
def test_emulated_kernel_is_bit_exact(name, tactic, tile):
    _check_bit_exact(name, CASES[name], lambda ir, feeds: run_emulated(ir, feeds, tactic, tile))


# --- on the GPU, bit-exact ----------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("tactic", ["mma", "simt"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_gpu_matches_reference_bit_exact(gpu, monkeypatch, name, tactic):
    """Each case through the engine with configure's tile of `tactic` (the tensor-core
    products forced onto `simt` too)."""
    if tactic == "mma" and name not in TENSOR_CORES:
        pytest.skip("the tensor-core kernel does not take this product")
    monkeypatch.setattr(matmul, "_tactic", lambda problem: tactic)
    ir = CASES[name]
    assert_gpu_matches_reference(ir, rtol=0, atol=0, inputs=int8_feeds(ir))


@pytest.mark.gpu
@pytest.mark.parametrize("tactic", ["mma", "gemm"])
@pytest.mark.parametrize("name", sorted(CONV_CASES))
def test_gpu_conv_matches_reference_bit_exact(gpu, monkeypatch, name, tactic):
    """Each conv through the engine with configure's tile of `tactic` (the tensor-core convs
    forced onto the SIMT implicit GEMM too)."""
    if tactic == "mma" and not name.startswith("mma"):
        pytest.skip("the tensor-core conv does not take this conv")
    monkeypatch.setattr(conv, "_tactics", lambda kernel, geo: (tactic,))
    ir = CONV_CASES[name]
    assert_gpu_matches_reference(ir, rtol=0, atol=0, inputs=int8_feeds(ir))


INT8_LARGE_TILES = [(128, 256, 64, 2, 4, 3), (256, 128, 64, 4, 2, 3), (128, 128, 64, 2, 2, 4), (64, 64, 64, 2, 2, 4)]


@pytest.mark.gpu
@pytest.mark.parametrize("tile", INT8_LARGE_TILES, ids=str)
@pytest.mark.parametrize(
    "ir",
    [int8_matmul(300, 520, 320), int8_matmul(512, 768, 768, a="ui8", epilogue="relu_requant"), int8_matmul(64, 384, 3072, batch=(2,))],
    ids=["edges_i8", "bert_attn_out_u8_relu", "bert_ffn_down_batched"],
)
def test_gpu_large_int8_tiles_bit_exact(gpu, monkeypatch, ir, tile):
    """The large tensor-core tiles (dynamic shared memory past 48 KiB) at BERT-like shapes
    and shapes off every tile size."""
    monkeypatch.setattr(matmul, "_pick_mma", lambda problem, target: tile)
    assert_gpu_matches_reference(ir, rtol=0, atol=0, inputs=int8_feeds(ir))


@pytest.mark.gpu
@pytest.mark.parametrize(
    "ir",
    [
        int8_conv(2, 64, (14, 14), 128, (3, 3), pads=P1),
        int8_conv(2, 256, (7, 7), 64, (1, 1), a="ui8", epilogue="relu_requant"),
        int8_conv(1, 128, (15, 15), 96, (3, 3), strides=(2, 2), pads=P1),
    ],
    ids=["rn50_3x3_64_128_b2", "rn50_1x1_256_64_u8_relu", "3x3_s2_odd"],
)
def test_gpu_resnet_like_int8_convs_bit_exact(gpu, ir):
    assert_gpu_matches_reference(ir, rtol=0, atol=0, inputs=int8_feeds(ir))
