"""The tensor-core convolution (`passes/codegen/conv/mma.py`): f16/bf16, NHWC,
group 1, C_in % 8 == 0.

- CPU: a table of ResNet-50 / MobileNetV2 conv shapes (batch 1 and 2) and edge cases (odd
  C_out, OH·OW not a multiple of any tile, stride 2, 7x7 on C_in = 8/16, K shorter than or
  not a multiple of block_k, asymmetric pads, dilation, 1-D and 3-D, bias/relu/residual
  epilogues, graph.conv with and without bias) compiles with NVRTC for sm_80 and sm_90 and
  takes the tensor-core kernel; what must fall back (C_in % 8 != 0, NCHW, groups, f32)
  takes the SIMT kernel.
- CPU emulation: the emitted C++ runs under g++ with every CUDA thread of a block as a
  fiber (ucontext), `__syncthreads` and the warp-collective `ldmatrix`/`mma.sync` as
  round-robin barriers, and `ldmatrix` / m16n8k16 implemented from the PTX ISA fragment
  layouts (cp.async is a synchronous copy with the same zero-fill; shared memory starts as
  NaN bits so a read of an unwritten element shows). Compared with the reference.
- GPU (`gpu` marker): the same table through the engine against the reference.

Tolerances: operands are exact in fp32 and accumulate in fp32 (order differs from the
reference's), then the result — and for fused.conv the accumulator before the epilogue, as
in the reference — rounds to f16 (11 significant bits) or bf16 (8): one rounding step is
2^-11 / 2^-8 relative, so rtol/atol 2e-2 (f16) and 5e-2 (bf16), as the SIMT conv tests.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from dialects.errors import OptcError
from dialects.kernel import LaunchAttr
from passes.codegen.common.types import PRELUDE
from passes.codegen.conv import conv, mma
from passes.codegen.conv.geometry import geometry
from passes.codegen.conv.mma import CANDIDATES, Tile, check_tile, choose_tile
from passes.codegen.cuda import kernels_of
from passes.codegen.target import SM_90
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import run
from tests.cuda_support import assert_gpu_matches_reference, compile_clean, compile_kernels, lower
from tests.support import parse
from tests.test_codegen_conv import Case
from tests.host_emulation import build_and_launch, fiber_source

P1 = (1, 1, 1, 1)
CASES = [
    # ResNet-50 (spatial sizes of the stage, some reduced to keep the reference quick)
    Case("rn50_s2_1x1_64_256", 1, 64, (56, 56), 256, (1, 1), dtype="f16"),
    Case("rn50_s2_3x3_64_b2", 2, 64, (14, 14), 64, (3, 3), pads=P1, dtype="f16", epilogue="bias_residual_relu"),
    Case("rn50_s3_3x3_s2_128", 1, 128, (28, 28), 128, (3, 3), strides=(2, 2), pads=P1, dtype="f16"),
    Case("rn50_s3_1x1_s2_down_b2", 2, 256, (14, 14), 512, (1, 1), strides=(2, 2), dtype="bf16", epilogue="none"),
    Case("rn50_s5_3x3_512", 1, 512, (7, 7), 512, (3, 3), pads=P1, dtype="f16"),
    Case("rn50_s5_1x1_512_2048_bf16", 1, 512, (7, 7), 2048, (1, 1), dtype="bf16", epilogue="bias_residual_relu"),
    # MobileNetV2 pointwise
    Case("mbv2_pw_expand_16_96", 1, 16, (28, 28), 96, (1, 1), dtype="f16"),
    Case("mbv2_pw_project_96_24_b2", 2, 96, (14, 14), 24, (1, 1), dtype="bf16", epilogue="graph_bias"),
    # edges: odd C_out, OH·OW off every tile, K tails, 7x7 on few channels, pads, dilation
    Case("odd_cout_b2", 2, 24, (9, 7), 37, (3, 3), pads=P1, dtype="f16", epilogue="bias_residual_relu"),
    Case("c8_3x3_k72", 1, 8, (6, 5), 16, (3, 3), pads=P1, dtype="f16"),
    Case("c8_1x1_k8_bf16", 2, 8, (5, 5), 12, (1, 1), dtype="bf16"),
    Case("stem_7x7_s2_c8", 1, 8, (23, 23), 16, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3), dtype="f16", epilogue="graph_bias"),
    Case("stem_7x7_s2_c16_b2", 2, 16, (19, 19), 20, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3), dtype="bf16"),
    Case("asym_pads_dilated", 1, 8, (11, 10), 12, (3, 3), pads=(2, 1, 0, 2), dilations=(2, 1), dtype="f16", epilogue="none"),
    Case("graph_conv_c40_bf16", 1, 40, (5, 5), 40, (3, 3), dtype="bf16", epilogue="graph"),
    Case("conv1d_s2", 2, 16, (13,), 24, (3,), strides=(2,), pads=(1, 1), dtype="f16"),
    Case("conv3d_bf16", 1, 8, (4, 5, 4), 16, (3, 3, 3), pads=(1, 1, 1, 1, 1, 1), dtype="bf16", epilogue="graph_bias"),
]

FALLBACK = [
    Case("stem_rgb_c3", 1, 3, (23, 23), 16, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3), dtype="f16"),
    Case("nchw_f16", 1, 16, (8, 8), 16, (3, 3), pads=P1, layout="NCHW", dtype="f16"),
    Case("group2_f16", 1, 16, (6, 6), 16, (3, 3), pads=P1, group=2, dtype="f16"),
    Case("f32_nhwc", 1, 16, (6, 6), 16, (3, 3), pads=P1),
    Case("c12_f16", 1, 12, (6, 6), 16, (3, 3), pads=P1, dtype="f16"),
]

TOLERANCE = {"f16": 2e-2, "bf16": 5e-2}
EMULATED = ["odd_cout_b2", "c8_3x3_k72", "c8_1x1_k8_bf16", "stem_7x7_s2_c8", "asym_pads_dilated", "graph_conv_c40_bf16", "conv1d_s2", "conv3d_bf16"]
BY_ID = {c.id: c for c in CASES}


def _kernel(case: Case):
    (kernel,) = kernels_of(lower(case.ir(), "outline-kernels"))
    return kernel


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernels_compile_on_tensor_cores(case: Case):
    (source,) = compile_kernels(case.ir()).values()
    assert "optc_mma_" + ("f16" if case.dtype == "f16" else "bf16") in source
    assert "cp.async" in source


@pytest.mark.parametrize("case", FALLBACK, ids=lambda c: c.id)
def test_fallbacks_keep_the_simt_kernel(case: Case):
    geo = geometry(_kernel(case))
    assert mma.why_not(geo) is not None
    (source,) = compile_kernels(case.ir()).values()
    assert "optc_mma_" not in source


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gpu_matches_reference(case: Case):
    tol = TOLERANCE[case.dtype]
    assert_gpu_matches_reference(case.ir(), rtol=tol, atol=tol)


# --- tiles --------------------------------------------------------------------------------


def test_candidates_are_valid():
    geo = geometry(_kernel(CASES[0]))
    for tile in CANDIDATES:
        assert check_tile(tile, geo) is None, tile


def _geo(batch: int, size: int, cin: int, cout: int, k: int, stride: int):
    pad = k // 2
    return geometry(_kernel(Case("t", batch, cin, (size, size), cout, (k, k), strides=(stride, stride), pads=(pad,) * 4, dtype="f16")))


def test_configure_by_shape():
    # ResNet-50 batch 32: big tiles; batch 1 late stages: small tiles for more blocks
    assert choose_tile(_geo(32, 56, 64, 256, 1, 1), SM_90) == Tile(128, 128, 32, 2, 4, 3)
    small = choose_tile(_geo(1, 7, 512, 2048, 1, 1), SM_90)
    assert small.block_m <= 64
    # C_out = 24: no 128-wide tile (most of its columns would be empty)
    assert choose_tile(_geo(1, 56, 96, 24, 1, 1), SM_90).block_n <= 64
    assert choose_tile(_geo(32, 56, 144, 24, 1, 1), SM_90) == Tile(128, 32, 32, 4, 1, 3)
    launch = conv.configure(_kernel(CASES[0]))
    assert set(launch.tile_params) == set(mma.TILE_KEYS)
    tile = mma.tile_of(launch, geometry(_kernel(CASES[0])))
    assert launch.shared_bytes == tile.shared_bytes and launch.block_dims == (tile.threads, 1, 1)


@pytest.mark.parametrize("tile", CANDIDATES + (Tile(64, 32, 16, 4, 1, 2), Tile(16, 64, 64, 1, 4, 2)), ids=str)
def test_emit_honours_every_valid_tile(tile: Tile):
    kernel = _kernel(BY_ID["odd_cout_b2"])
    geo = geometry(kernel)
    assert check_tile(tile, geo) is None
    source = conv.emit(kernel, tile.launch(geo))
    assert f"__launch_bounds__({tile.threads})" in source
    compile_clean(PRELUDE + source, "tile.cu", "sm_80")


# --- errors -------------------------------------------------------------------------------


def _launch(**changes) -> LaunchAttr:
    kernel = _kernel(BY_ID["odd_cout_b2"])
    good = Tile(64, 64, 32, 2, 2, 3).launch(geometry(kernel))
    grid = changes.pop("grid", good.grid_dims)
    block = changes.pop("block", good.block_dims)
    shared = changes.pop("shared", good.shared_bytes)
    params = {**good.tile_params, **changes}
    return LaunchAttr("mma", list(grid), list(block), shared, {k: v for k, v in params.items() if v is not None})


@pytest.mark.parametrize(
    "launch, message",
    [
        (_launch(block_m=48), r"invalid tile .*block_m 48 must be a multiple of 16·warps_m = 32"),
        (_launch(block_k=24), r"block_k 24 must be a multiple of 16"),
        (_launch(stages=5), r"stages 5 \(2..4 allowed\)"),
        (_launch(stages=None), r"missing tile parameters stages"),
        (_launch(block=[64, 1, 1]), r"block \[64, 1, 1\] does not match the tile's 128 threads"),
        (_launch(grid=[1, 1, 1]), r"does not cover the output"),
        (_launch(shared=1024), r"needs 30720 bytes of dynamic shared memory, launch gives 1024"),
    ],
)
def test_invalid_launch_is_refused_by_name(launch: LaunchAttr, message: str):
    """emit refuses a launch its code cannot take, and check gives the same reason."""
    kernel = _kernel(BY_ID["odd_cout_b2"])
    with pytest.raises(OptcError, match=r"@k0_fused_conv \('fused.conv'\): .*" + message):
        conv.emit(kernel, launch)
    assert re.search(message, conv.check(kernel, launch, SM_90))


def test_a_ring_past_the_targets_shared_memory_is_checked():
    kernel = _kernel(BY_ID["odd_cout_b2"])
    launch = _launch(block_m=256, block_n=256, block_k=64, stages=4, warps_m=4, warps_n=8, block=[1024, 1, 1], grid=[1, 1, 1], shared=294912)
    assert "__global__" in conv.emit(kernel, launch)  # emit is given no target: the limit is check's
    assert re.search(r"the ring needs 294912 bytes of shared memory, H100 SXM \(sm_90\) allows 232448", conv.check(kernel, launch, SM_90))


def test_emit_refuses_a_conv_it_does_not_apply_to():
    from passes.codegen.conv.geometry import Epilogue

    kernel = _kernel(FALLBACK[0])
    geo = geometry(kernel)
    with pytest.raises(OptcError, match=r"the tensor-core conv does not apply: C_in = 3 is not a multiple of 8"):
        mma.emit(kernel, Tile(64, 64, 32, 2, 2, 3).launch(geo), geo, Epilogue(kernel))


# --- the emitted C++ on the CPU, every thread a fiber ----------------------------------------

def run_emulated(ir: str, feeds: dict[str, np.ndarray], tile: Tile | None = None) -> list[np.ndarray]:
    """Lower `ir` (one tensor-core conv), build the emitted C++ with g++ against the fiber
    harness and run it on `feeds` (with `tile`'s launch when given)."""
    (kernel,) = kernels_of(lower(ir))
    launch = kernel.attributes["launch"] if tile is None else tile.launch(geometry(kernel))
    kernel.attributes["launch"] = launch
    return build_and_launch(kernel, fiber_source(kernel, launch), feeds, ("-w",))


def _check_emulated(case: Case, tile: Tile | None = None) -> None:
    ir = case.ir()
    feeds = random_inputs(parse(ir), seed=1)
    expected = run(parse(ir), feeds)
    got = run_emulated(ir, feeds, tile)
    tol = TOLERANCE[case.dtype]
    for g, want in zip(got, expected.values()):
        np.testing.assert_allclose(g.astype(np.float64), np.asarray(want).astype(np.float64), rtol=tol, atol=tol)


needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")


@pytest.mark.slow
@needs_gxx
@pytest.mark.parametrize("case", EMULATED)
def test_emulated_kernel_matches_reference(case: str):
    _check_emulated(BY_ID[case])


@pytest.mark.slow
@needs_gxx
@pytest.mark.parametrize("tile", [Tile(128, 128, 32, 2, 4, 3), Tile(128, 64, 32, 2, 2, 2), Tile(128, 32, 32, 4, 1, 3), Tile(16, 64, 64, 1, 4, 4)], ids=str)
def test_emulated_kernel_matches_reference_with_other_tiles(tile: Tile):
    _check_emulated(BY_ID["odd_cout_b2"], tile)
