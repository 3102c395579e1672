"""CUDA codegen of convolutions (`passes/codegen/conv*.py`): for a table of small
convolutions (both layouts, 1x1 to 7x7, strides, asymmetric pads, dilations, groups up to
depthwise, odd channel counts, batch 1 and 2, bias/relu/residual epilogues, f32, f16,
bf16, f64, 1-D and 3-D, conv_transpose, NHWC convs reading an NCHW input) every kernel
compiles with NVRTC for sm_80 and sm_90 here, and on a GPU matches the reference
interpreter; the NCHW-input kernels also run on the CPU under g++ (every thread a fiber,
`tests/host_emulation.py`) against the reference. Tile choices are checked, and the errors
the family promises are raised by name.

Tolerances on the GPU: f32/f64 accumulate exactly as the reference does up to summation
order (K ≤ 7·7·17 here), so rtol/atol 1e-4; f16/bf16 inputs are exact in float and
accumulate in float, but the result (and, for fused.conv, the accumulator before the
epilogue) rounds to 11 (f16) or 8 (bf16) significant bits, and one rounding step apart
is 2^-11 / 2^-8 relative: rtol/atol 2e-2 for f16 and 5e-2 for bf16.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import numpy as np
import pytest

from dialects.errors import OptcError
from dialects.graph.nn import conv_output_size
from dialects.kernel import LaunchAttr
from passes.codegen.conv import conv, mma
from passes.codegen.conv.gemm import CANDIDATES, Tile, check_tile
from passes.codegen.conv.geometry import geometry
from passes.codegen.cuda import kernels_of
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import run
from tests.cuda_support import assert_gpu_matches_reference, compile_clean, compile_kernels, lower
from tests.host_emulation import run_on_fibers
from tests.support import parse


@dataclass(frozen=True)
class Case:
    """One convolution: input (N, C, *spatial) given channels first, whatever the layout."""

    id: str
    n: int
    c: int
    size: tuple[int, ...]
    m: int
    kernel: tuple[int, ...]
    strides: tuple[int, ...] = ()
    pads: tuple[int, ...] = ()
    dilations: tuple[int, ...] = ()
    group: int = 1
    layout: str = "NHWC"
    input_layout: str = ""  # fused.conv's input_layout, where the input's differs from `layout`
    dtype: str = "f32"
    epilogue: str = "bias_relu"  # none | bias_relu | bias_residual_relu | graph (graph.conv) | graph_bias
    transpose: bool = False
    output_padding: tuple[int, ...] = field(default=())

    @property
    def spatial(self) -> int:
        return len(self.size)

    def props(self) -> dict[str, tuple[int, ...]]:
        s = self.spatial
        return {
            "strides": self.strides or (1,) * s,
            "pads": self.pads or (0,) * (2 * s),
            "dilations": self.dilations or (1,) * s,
        }

    def out_size(self) -> list[int]:
        p = self.props()
        st, pads, dil = p["strides"], p["pads"], p["dilations"]
        s = self.spatial
        if self.transpose:
            op = self.output_padding or (0,) * s
            return [
                st[i] * (self.size[i] - 1) + op[i] + dil[i] * (self.kernel[i] - 1) + 1 - pads[i] - pads[s + i]
                for i in range(s)
            ]
        return [conv_output_size(self.size[i], self.kernel[i], st[i], pads[i], pads[s + i], dil[i]) for i in range(s)]

    def ir(self) -> str:
        return _transpose_ir(self) if self.transpose else _conv_ir(self)


def _t(shape, dtype) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


def _arr(values) -> str:
    return f"array<i64: {', '.join(map(str, values))}>"


def _props(case: Case, extra: str = "") -> str:
    p = case.props()
    text = f"strides = {_arr(p['strides'])}, pads = {_arr(p['pads'])}, dilations = {_arr(p['dilations'])}, group = {case.group} : i64"
    if not case.transpose:
        text += f', layout = "{case.layout}"'
    if case.input_layout:
        text += f', input_layout = "{case.input_layout}"'
    return text + extra


def _conv_ir(case: Case) -> str:
    nhwc = case.layout == "NHWC"
    cg = case.c // case.group
    x_nhwc = (case.input_layout or case.layout) == "NHWC"
    x = [case.n, *case.size, case.c] if x_nhwc else [case.n, case.c, *case.size]
    w = [case.m, *case.kernel, cg] if nhwc else [case.m, cg, *case.kernel]
    y = [case.n, *case.out_size(), case.m] if nhwc else [case.n, case.m, *case.out_size()]
    b = [1] * (len(y) - 1) + [case.m] if nhwc else [1, case.m] + [1] * case.spatial
    tx, tw, ty, tb, dt = _t(x, case.dtype), _t(w, case.dtype), _t(y, case.dtype), _t(b, case.dtype), case.dtype
    if case.epilogue in ("graph", "graph_bias"):
        if case.epilogue == "graph":
            args, types, params = "%x, %w", f"{tx}, {tw}", f"%x: {tx}, %w: {tw}"
        else:
            tv = _t([case.m], dt)
            args, types, params = "%x, %w, %v", f"{tx}, {tw}, {tv}", f"%x: {tx}, %w: {tw}, %v: {tv}"
        body = f"  %y = graph.conv {args} {{{_props(case)}}} : ({types}) -> {ty}\n"
    else:
        params = f"%x: {tx}, %w: {tw}"
        extras, region_args, region = [], [f"%acc: {ty}"], []
        last = "%acc"
        if case.epilogue in ("bias_relu", "bias_residual_relu"):
            params += f", %b: {tb}"
            extras.append(("%b", tb))
            region_args.append(f"%ba: {tb}")
            region.append(f"%s = graph.add %acc, %ba : ({ty}, {tb}) -> {ty}")
            last = "%s"
            if case.epilogue == "bias_residual_relu":
                params += f", %r: {ty}"
                extras.append(("%r", ty))
                region_args.append(f"%ra: {ty}")
                region.append(f"%t = graph.add %ra, %s : ({ty}, {ty}) -> {ty}")
                last = "%t"
            region.append(f"%u = graph.relu {last} : {ty}")
            last = "%u"
        extra_text = ""
        if extras:
            extra_text = f" extras({', '.join(v for v, _ in extras)} : {', '.join(t for _, t in extras)})"
        lines = "\n".join(f"    {line}" for line in region)
        body = (
            f"  %y = fused.conv %x, %w{extra_text} {{{_props(case)}}} : ({tx}, {tw}) -> {ty} {{\n"
            f"  ^bb0({', '.join(region_args)}):\n{lines}\n    fused.yield {last} : {ty}\n  }}\n"
        )
    return f"func.func @main({params}) -> {ty} {{\n{body}  func.return %y : {ty}\n}}\n"


def _transpose_ir(case: Case) -> str:
    s = case.spatial
    x = [case.n, case.c, *case.size]
    w = [case.c, case.m // case.group, *case.kernel]
    y = [case.n, case.m, *case.out_size()]
    tx, tw, ty = _t(x, case.dtype), _t(w, case.dtype), _t(y, case.dtype)
    op = case.output_padding or (0,) * s
    props = _props(case, f", output_padding = {_arr(op)}")
    if case.epilogue == "graph_bias":
        tv = _t([case.m], case.dtype)
        params, args, types = f"%x: {tx}, %w: {tw}, %v: {tv}", "%x, %w, %v", f"{tx}, {tw}, {tv}"
    else:
        params, args, types = f"%x: {tx}, %w: {tw}", "%x, %w", f"{tx}, {tw}"
    return (
        f"func.func @main({params}) -> {ty} {{\n"
        f"  %y = graph.conv_transpose {args} {{{props}}} : ({types}) -> {ty}\n"
        f"  func.return %y : {ty}\n}}\n"
    )


NCHW_INPUT = [
    Case("nchw_in_7x7_s2_stem", 1, 3, (23, 23), 16, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3), input_layout="NCHW"),
    Case("nchw_in_3x3_b2", 2, 3, (9, 7), 20, (3, 3), pads=(1, 1, 1, 1), input_layout="NCHW", epilogue="bias_residual_relu"),
    Case("nchw_in_5x5_asym_dilated", 1, 5, (11, 10), 7, (5, 5), pads=(2, 1, 0, 2), dilations=(1, 2), input_layout="NCHW", epilogue="none"),
    Case("nchw_in_f16_stem", 2, 3, (16, 16), 16, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3), input_layout="NCHW", dtype="f16"),
    Case("nchw_in_bf16_1x1", 1, 4, (6, 5), 12, (1, 1), input_layout="NCHW", dtype="bf16"),
    Case("nchw_in_f64", 1, 2, (6, 6), 4, (3, 3), pads=(1, 1, 1, 1), input_layout="NCHW", dtype="f64"),
    Case("nchw_in_conv1d", 2, 3, (13,), 6, (3,), strides=(2,), pads=(1, 2), input_layout="NCHW"),
    Case("nchw_in_conv3d", 1, 3, (5, 6, 4), 5, (3, 3, 3), pads=(1, 1, 1, 1, 1, 1), input_layout="NCHW"),
]
"""NHWC convs that read an NCHW input (fused.conv's input_layout): the SIMT kernel only."""

CASES = [
    # the CNN shapes: 1x1, 3x3 stride 1 and 2, the 7x7 stride-2 stem, depthwise
    Case("nhwc_1x1", 1, 16, (8, 8), 32, (1, 1)),
    Case("nhwc_3x3", 2, 17, (9, 7), 20, (3, 3), pads=(1, 1, 1, 1), epilogue="bias_residual_relu"),
    Case("nhwc_3x3_s2", 1, 16, (9, 9), 24, (3, 3), strides=(2, 2), pads=(1, 1, 1, 1)),
    Case("nhwc_7x7_s2_stem", 1, 3, (23, 23), 16, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3)),
    Case("nhwc_5x5_asym", 1, 5, (11, 10), 7, (5, 5), pads=(2, 1, 0, 2)),
    Case("nhwc_dilated", 2, 8, (12, 12), 8, (3, 3), pads=(2, 2, 2, 2), dilations=(2, 2), epilogue="none"),
    Case("nhwc_group2", 1, 8, (6, 6), 12, (3, 3), pads=(1, 1, 1, 1), group=2),
    Case("nhwc_depthwise", 2, 17, (9, 9), 17, (3, 3), pads=(1, 1, 1, 1), group=17),
    Case("nhwc_depthwise_s2_mult2", 1, 5, (10, 9), 10, (3, 3), strides=(2, 2), pads=(0, 1, 1, 0), group=5),
    Case("nchw_3x3", 2, 5, (7, 9), 6, (3, 3), pads=(1, 0, 1, 2), epilogue="bias_residual_relu"),
    Case("nchw_1x1_s2", 1, 16, (8, 8), 8, (1, 1), strides=(2, 2)),
    Case("nchw_group2_dilated", 1, 6, (10, 10), 4, (3, 3), dilations=(2, 1), group=2, epilogue="none"),
    Case("nchw_depthwise", 1, 3, (8, 8), 3, (5, 5), pads=(2, 2, 2, 2), group=3),
    Case("nchw_7x7_batch2", 2, 3, (16, 16), 5, (7, 7), strides=(2, 2), pads=(3, 3, 3, 3)),
    Case("graph_conv_nchw", 1, 4, (6, 6), 5, (3, 3), epilogue="graph"),
    Case("graph_conv_bias_nhwc", 2, 4, (6, 5), 6, (3, 3), pads=(1, 1, 1, 1), epilogue="graph_bias"),
    Case("graph_conv_bias_depthwise", 1, 8, (6, 6), 8, (3, 3), group=8, layout="NCHW", epilogue="graph_bias"),
    Case("conv1d_nchw", 2, 5, (13,), 7, (3,), strides=(2,), pads=(1, 2), layout="NCHW"),
    Case("conv1d_nhwc", 1, 4, (10,), 6, (5,), pads=(2, 2)),
    Case("conv3d_nchw", 1, 3, (5, 6, 4), 4, (3, 3, 3), pads=(1, 1, 1, 1, 1, 1), layout="NCHW"),
    Case("conv3d_nhwc_s2", 1, 4, (6, 6, 6), 5, (3, 3, 3), strides=(2, 2, 2), pads=(1, 0, 1, 0, 1, 0)),
    Case("f16_nhwc_3x3", 1, 16, (8, 8), 16, (3, 3), pads=(1, 1, 1, 1), dtype="f16", epilogue="bias_residual_relu"),
    Case("f16_depthwise", 1, 8, (8, 8), 8, (3, 3), pads=(1, 1, 1, 1), group=8, dtype="f16"),
    Case("f16_graph_nchw", 1, 3, (9, 9), 5, (3, 3), strides=(2, 2), layout="NCHW", dtype="f16", epilogue="graph_bias"),
    Case("bf16_nhwc_1x1", 2, 8, (5, 5), 12, (1, 1), dtype="bf16"),
    Case("bf16_nchw_3x3", 1, 5, (6, 6), 3, (3, 3), pads=(1, 1, 1, 1), layout="NCHW", dtype="bf16", epilogue="graph"),
    Case("f64_nchw_3x3", 1, 3, (7, 7), 4, (3, 3), pads=(1, 1, 1, 1), layout="NCHW", dtype="f64", epilogue="graph_bias"),
    Case("f64_nhwc_group", 1, 4, (5, 5), 4, (3, 3), group=2, dtype="f64"),
    # NHWC convs reading an NCHW input (the RGB stem after fuse-conv-input-transpose)
    *NCHW_INPUT,
    Case("transpose_s2", 1, 4, (5, 5), 6, (3, 3), strides=(2, 2), pads=(1, 1, 1, 1), transpose=True, output_padding=(1, 1), epilogue="graph_bias"),
    Case("transpose_group_dilated", 2, 6, (4, 5), 4, (3, 2), dilations=(2, 1), group=2, pads=(0, 1, 1, 0), transpose=True, epilogue="graph"),
    Case("transpose_1d", 1, 3, (7,), 5, (4,), strides=(3,), transpose=True, epilogue="graph"),
    Case("transpose_3d_f16", 1, 2, (3, 3, 3), 3, (2, 2, 2), strides=(2, 2, 2), transpose=True, dtype="f16", epilogue="graph"),
]

TOLERANCE = {"f32": 1e-4, "f64": 1e-4, "f16": 2e-2, "bf16": 5e-2}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernels_compile(case: Case):
    sources = compile_kernels(case.ir())
    assert len(sources) == 1, sources.keys()


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_gpu_matches_reference(case: Case):
    tol = TOLERANCE[case.dtype]
    assert_gpu_matches_reference(case.ir(), rtol=tol, atol=tol)


# --- NCHW input, NHWC result: the emitted C++ on the CPU, every thread a fiber ------------

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")


@needs_gxx
@pytest.mark.parametrize("case", [*NCHW_INPUT[:5], NCHW_INPUT[6], NCHW_INPUT[7], CASES[3]], ids=lambda c: c.id)
def test_emulated_kernel_matches_reference(case: Case):
    """The SIMT kernel under g++ (`tests/host_emulation.py`: threads as fibers, so the
    shared-memory tiles and barriers behave as on the GPU) against the reference; the last
    case is the NHWC-input stem, the layout the NCHW-input cases replace."""
    ir = case.ir()
    feeds = random_inputs(parse(ir), seed=1)
    expected = run(parse(ir), feeds)
    tol = TOLERANCE[case.dtype]
    for got, want in zip(run_on_fibers(ir, feeds), expected.values()):
        np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64), rtol=tol, atol=tol)


def test_nchw_input_takes_the_simt_kernel():
    """An f16 conv with C_in % 8 == 0 takes the tensor cores from NHWC, not from NCHW."""
    nhwc = geometry(_kernel(Case("c8", 1, 8, (6, 6), 16, (3, 3), dtype="f16")))
    nchw = geometry(_kernel(Case("c8", 1, 8, (6, 6), 16, (3, 3), dtype="f16", input_layout="NCHW")))
    assert mma.applies(nhwc)
    assert mma.why_not(nchw) == "input_layout NCHW (16-byte channel loads need NHWC)"
    assert (nchw.cin, nchw.in_size, nchw.out_shape) == (8, (6, 6), [1, 4, 4, 16])


def test_depthwise_with_nchw_input_is_refused_by_name():
    case = Case("dw", 1, 4, (6, 6), 4, (3, 3), group=4, input_layout="NCHW")
    with pytest.raises(OptcError, match=r"the depthwise kernel reads its input in its own layout NHWC, got input_layout NCHW"):
        compile_kernels(case.ir())


# --- tile choices ---------------------------------------------------------------------


def _kernel(case: Case):
    (kernel,) = kernels_of(lower(case.ir(), "outline-kernels"))
    return kernel


def test_tile_candidates_are_valid():
    for layout in ("NHWC", "NCHW"):
        for dtype in ("f32", "f64"):
            geo = geometry(_kernel(Case("t", 1, 8, (8, 8), 8, (3, 3), layout=layout, dtype=dtype)))
            for tile in CANDIDATES:
                assert check_tile(tile, geo) is None, (tile, layout, dtype)


def test_configure_picks_gemm_depthwise_and_transpose():
    big = _kernel(Case("big", 1, 64, (56, 56), 256, (1, 1)))
    launch = conv.configure(big)
    assert set(launch.tile_params) == {"block_m", "block_n", "block_k", "thread_m", "thread_n"}
    tile = launch.tile_params
    assert launch.grid_dims[0] * tile["block_m"] >= 56 * 56
    assert launch.grid_dims[1] * tile["block_n"] >= 256
    depthwise = conv.configure(_kernel(CASES[7]))
    assert depthwise.tile_params == {} and depthwise.block_dims == (256, 1, 1)
    assert conv.configure(_kernel(CASES[-1])).tile_params == {}


@pytest.mark.parametrize("tile", [Tile(64, 64, 16, 4, 4), Tile(32, 64, 8, 2, 4), Tile(64, 32, 16, 4, 2), Tile(16, 16, 16, 1, 1)])
def test_emit_honours_other_valid_tiles(tile: Tile):
    from passes.codegen.conv.gemm import launch_for
    from passes.codegen.common.types import PRELUDE

    kernel = _kernel(CASES[1])
    geo = geometry(kernel)
    assert check_tile(tile, geo) is None
    source = conv.emit(kernel, launch_for(tile, geo))
    assert f"__launch_bounds__({tile.threads})" in source
    compile_clean(PRELUDE + source, "tile.cu", "sm_80")


# --- errors ---------------------------------------------------------------------------


def test_invalid_tile_is_refused_by_name():
    kernel = _kernel(CASES[1])
    bad = LaunchAttr("gemm", [1], [256], 0, {"block_m": 64, "block_n": 64, "block_k": 16, "thread_m": 3, "thread_n": 4})
    with pytest.raises(OptcError, match=r"@k0_fused_conv \('fused.conv'\): invalid tile .*thread_m must divide"):
        conv.emit(kernel, bad)


def test_missing_tile_is_refused_by_name():
    kernel = _kernel(CASES[1])
    with pytest.raises(OptcError, match="missing tile parameters block_k"):
        conv.emit(kernel, LaunchAttr("gemm", [1], [256], 0, {"block_m": 64, "block_n": 64, "thread_m": 4, "thread_n": 4}))


def test_grid_that_misses_the_output_is_refused():
    kernel = _kernel(CASES[1])
    from passes.codegen.conv.gemm import launch_for

    good = launch_for(Tile(64, 64, 16, 4, 4), geometry(kernel))
    bad = LaunchAttr("gemm", [1, 1, 1], list(good.block_dims), 0, good.tile_params)
    with pytest.raises(OptcError, match="does not cover the output"):
        conv.emit(kernel, bad)


def test_integer_conv_is_refused_by_name():
    ir = """
func.func @main(%x: tensor<1x2x5x5xi32>, %w: tensor<3x2x3x3xi32>) -> tensor<1x3x3x3xi32> {
  %y = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64} : (tensor<1x2x5x5xi32>, tensor<3x2x3x3xi32>) -> tensor<1x3x3x3xi32>
  func.return %y : tensor<1x3x3x3xi32>
}
"""
    with pytest.raises(OptcError, match=r"@k0_graph_conv \('graph.conv'\): element type i32 is not supported"):
        compile_kernels(ir)


def test_epilogue_op_without_template_is_refused_by_name():
    ir = _conv_ir(Case("x", 1, 4, (5, 5), 4, (3, 3), epilogue="none")).replace(
        "    fused.yield %acc", "    %q = graph.softmax %acc {axis = -1 : i64} : tensor<1x3x3x4xf32>\n    fused.yield %q"
    )
    with pytest.raises(OptcError, match=r"@k0_fused_conv \('fused.conv'\): epilogue: 'graph.softmax' has no CUDA template"):
        compile_kernels(ir)


# -- epilogue tails: views, transposes, splits and slices after the elementwise part ---------

_TAIL_HEAD = "func.func @main(%x: tensor<2x8x8x3x{dt}>, %w: tensor<{m}x3x3x{cg}x{dt}>, %b: tensor<1x1x1x{m}x{dt}>) -> ({results}) {{\n"
_TAIL_CONV = (
    "  {outs} = fused.conv %x, %w extras(%b : tensor<1x1x1x{m}x{dt}>) {{strides = array<i64: 1, 1>, "
    "pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = {group} : i64, layout = \"NHWC\"}} : "
    "(tensor<2x8x8x3x{dt}>, tensor<{m}x3x3x{cg}x{dt}>) -> {results} {{\n"
    "  ^bb0(%acc: tensor<2x8x8x{m}x{dt}>, %bb: tensor<1x1x1x{m}x{dt}>):\n"
    "    %s = graph.add %acc, %bb : (tensor<2x8x8x{m}x{dt}>, tensor<1x1x1x{m}x{dt}>) -> tensor<2x8x8x{m}x{dt}>\n"
    "    %r = graph.relu %s : tensor<2x8x8x{m}x{dt}>\n"
)


def _tail_ir(tail: str, results: list[str], dt: str = "f32", m: int = 4, group: int = 1) -> str:
    outs = ", ".join(f"%o{k}" for k in range(len(results)))
    fmt = dict(dt=dt, m=m, cg=3 // group, group=group, outs=outs, results=", ".join(results).format(dt=dt))
    return (
        _TAIL_HEAD.format(**fmt)
        + _TAIL_CONV.format(**fmt)
        + "".join(f"    {line}\n" for line in tail.format(dt=dt).strip().splitlines())
        + "  }\n"
        + f"  func.return {outs} : {fmt['results']}\n}}\n"
    )


TAIL_CASES = {
    # conv + bias + relu in NHWC, then the transpose back to the model's NCHW (graph-to-nhwc)
    "transpose_to_nchw": _tail_ir(
        """
%t = graph.transpose %r {{perm = array<i64: 0, 3, 1, 2>}} : tensor<2x8x8x4x{dt}> -> tensor<2x4x8x8x{dt}>
fused.yield %t : tensor<2x4x8x8x{dt}>""",
        ["tensor<2x4x8x8x{dt}>"],
    ),
    "transpose_to_nchw_f16": _tail_ir(
        """
%t = graph.transpose %r {{perm = array<i64: 0, 3, 1, 2>}} : tensor<2x8x8x4x{dt}> -> tensor<2x4x8x8x{dt}>
fused.yield %t : tensor<2x4x8x8x{dt}>""",
        ["tensor<2x4x8x8x{dt}>"],
        dt="f16",
    ),
    # the direct (depthwise) kernel with the same tail
    "depthwise_transpose_to_nchw": _tail_ir(
        """
%t = graph.transpose %r {{perm = array<i64: 0, 3, 1, 2>}} : tensor<2x8x8x6x{dt}> -> tensor<2x6x8x8x{dt}>
fused.yield %t : tensor<2x6x8x8x{dt}>""",
        ["tensor<2x6x8x8x{dt}>"],
        m=6,
        group=3,
    ),
    # channels split 1 + 3, the second flattened: per-output conditions on the channel
    "split_channels": _tail_ir(
        """
%p, %q = graph.split %r {{axis = 3 : i64, split = array<i64: 1, 3>}} : tensor<2x8x8x4x{dt}> -> tensor<2x8x8x1x{dt}>, tensor<2x8x8x3x{dt}>
%f = graph.reshape %q : tensor<2x8x8x3x{dt}> -> tensor<128x3x{dt}>
fused.yield %p, %f : tensor<2x8x8x1x{dt}>, tensor<128x3x{dt}>""",
        ["tensor<2x8x8x1x{dt}>", "tensor<128x3x{dt}>"],
    ),
    # every other row from row 1, channels 1..2: conditions on rows, columns and channels
    "slice_rows_and_channels": _tail_ir(
        """
%s2 = graph.slice %r {{starts = array<i64: 0, 1, 0, 1>, steps = array<i64: 1, 2, 1, 1>}} : tensor<2x8x8x4x{dt}> -> tensor<2x4x8x2x{dt}>
fused.yield %s2 : tensor<2x4x8x2x{dt}>""",
        ["tensor<2x4x8x2x{dt}>"],
    ),
    # an elementwise op after the transpose reads an extra in the transposed frame
    "transpose_then_add": _tail_ir(
        """
%t = graph.transpose %r {{perm = array<i64: 0, 3, 1, 2>}} : tensor<2x8x8x4x{dt}> -> tensor<2x4x8x8x{dt}>
%k = graph.constant dense<[[[1.0]], [[2.0]], [[3.0]], [[4.0]]]> : tensor<4x1x1x{dt}>
%u = graph.mul %t, %k : (tensor<2x4x8x8x{dt}>, tensor<4x1x1x{dt}>) -> tensor<2x4x8x8x{dt}>
fused.yield %u : tensor<2x4x8x8x{dt}>""",
        ["tensor<2x4x8x8x{dt}>"],
    ),
}


@pytest.mark.parametrize("name", sorted(TAIL_CASES))
def test_epilogue_tail_compiles(name):
    """Views, transposes, splits and slices after a conv's elementwise epilogue become
    store-index arithmetic (common/epilogue.py), in the GEMM and the direct kernels."""
    compile_kernels(TAIL_CASES[name])


def test_transpose_tail_stores_nchw():
    """NHWC accumulator (i0, i1, i2, i3) = (n, y, x, c) stored at NCHW offset n·256 + c·64 + y·8 + x."""
    sources = compile_kernels(TAIL_CASES["transpose_to_nchw"])
    assert "out0[(i0 * 256 + i3 * 64 + i1 * 8 + i2)]" in next(iter(sources.values()))


def _conv_add_relu_model():
    """tests/test_optc_run.py's model: Conv pads=1 → Add(bias [4,1,1]) → Relu, NCHW [2,3,8,8]."""
    from onnx import TensorProto, helper

    from compiler.onnx_import import import_onnx
    from tests.support import make_model

    rng = np.random.default_rng(0)
    model = make_model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Add", ["c", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["y"]),
        ],
        {"x": ([2, 3, 8, 8], TensorProto.FLOAT)},
        ["y"],
        {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "b": rng.standard_normal((4, 1, 1)).astype(np.float32)},
    )
    return import_onnx(model)


def test_model_conv_add_relu_compiles():
    """After graph-to-nhwc the transpose back to NCHW joins the conv's epilogue."""
    sources = compile_kernels(_conv_add_relu_model(), pipeline="kernel")
    assert any("fused_conv" in name for name in sources)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(TAIL_CASES))
def test_epilogue_tail_on_gpu(name):
    f16 = "f16" in name
    assert_gpu_matches_reference(TAIL_CASES[name], rtol=2e-2 if f16 else 1e-4, atol=2e-2 if f16 else 1e-4)


@pytest.mark.gpu
def test_model_conv_add_relu_on_gpu():
    assert_gpu_matches_reference(_conv_add_relu_model(), pipeline="kernel", rtol=1e-4, atol=1e-4)
