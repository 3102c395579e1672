"""Direct convolution kernels, one thread per output element in a grid-stride loop, for
the two cases implicit GEMM serves badly:

- depthwise (group = input channels, one input channel per group, any channel
  multiplier): K is just the kernel taps, so a GEMM tile would be mostly empty. With
  NHWC, consecutive threads take consecutive channels of one output pixel, so input,
  weight-tap and output accesses of a warp are all coalesced;
- conv_transpose (NCHW, any group, stride, dilation, output padding): each output
  element gathers the input pixels whose scatter reaches it,
  o + pad = i·stride + tap·dilation, so no atomics and no col2im buffer.

Both accumulate in float (double for f64) and print the same epilogue as the GEMM.
Tactics `depthwise` and `transpose` (what the op is, not a choice); tile parameters: none
(`block` is the launch's 1-D block, one of BLOCKS as candidates; any grid works).
"""

from __future__ import annotations

import math

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import kernel_signature, pointer_params
from passes.codegen.conv.geometry import ConvGeometry, Epilogue, unravel, used_only
from passes.codegen.generator import grid_stride_blocks

BLOCK = 256
BLOCKS = (128, 256, 512)
"""Block sizes the direct kernels' candidates take (configure's is BLOCK)."""


def is_depthwise(geo: ConvGeometry) -> bool:
    return geo.group > 1 and geo.cin_g == 1


def configure(geo: ConvGeometry, tactic: str, block: int = BLOCK) -> LaunchAttr:
    """A grid-stride launch of `block` threads for the direct kernel `tactic`."""
    return LaunchAttr(tactic, [grid_stride_blocks(math.prod(geo.out_shape), block)], [block])


def candidates(geo: ConvGeometry, tactic: str) -> list[LaunchAttr]:
    return [configure(geo, tactic, block) for block in BLOCKS]


def launch_problem(launch: LaunchAttr, geo: ConvGeometry) -> str | None:
    """Why a direct kernel cannot take `launch` (None when it can): any 1-D block, any grid."""
    if launch.block_dims[1:] != (1, 1):
        return f"the direct kernel takes a 1-D block, got {list(launch.block_dims)}"
    return None


def _loop(total: int, body: list[str]) -> list[str]:
    kind = "int" if total < 2**30 else "long long"
    return [
        f"for ({kind} idx = ({kind})blockIdx.x * blockDim.x + threadIdx.x; idx < {total};",
        f"     idx += ({kind})gridDim.x * blockDim.x) {{",
        *(f"    {line}" for line in body),
        "}",
    ]


def _output_split(geo: ConvGeometry) -> tuple[list[str], list[str]]:
    """Declarations of `on` (image), `oc` (channel), `oo0...` (position) from `idx`, and
    the output index expressions i0, i1, ... ."""
    spatial = [f"oo{d}" for d in range(len(geo.out_size))]
    if geo.channels_last:
        lines = unravel("idx", [geo.batch, *geo.out_size, geo.cout], ["on", *spatial, "oc"], "int")
    else:
        lines = unravel("idx", [geo.batch, geo.cout, *geo.out_size], ["on", "oc", *spatial], "int")
    return lines, geo.output_indices("on", spatial, "oc")


def _taps_loops(geo: ConvGeometry, inner: list[str], position) -> list[str]:
    """Nested, unrolled loops over every kernel axis; `position(d)` gives the lines that
    compute input coordinate `x{d}` (and `continue` when it is outside)."""
    lines = list(inner)
    for d in reversed(range(len(geo.kernel))):
        lines = [
            "#pragma unroll",
            f"for (int kt{d} = 0; kt{d} < {geo.kernel[d]}; ++kt{d}) {{",
            *(f"    {line}" for line in [*position(d), *lines]),
            "}",
        ]
    return lines


def _flat(sizes, names) -> str:
    flat = names[0]
    for d in range(1, len(names)):
        flat = f"({flat}) * {sizes[d]} + {names[d]}"
    return flat


def _tap_flat(geo: ConvGeometry) -> str:
    return _flat(geo.kernel, [f"kt{d}" for d in range(len(geo.kernel))])


def _fma(geo: ConvGeometry) -> str:
    return "fma" if geo.acc == "double" else "fmaf"


def _zero(geo: ConvGeometry) -> str:
    return "0.0" if geo.acc == "double" else "0.0f"


def emit_depthwise(kernel: FuncOp, launch: LaunchAttr, geo: ConvGeometry, epilogue: Epilogue) -> str:
    ct = geo.ctype
    x, w = f"in{geo.input_arg}", f"in{geo.weight_arg}"
    split, indices = _output_split(geo)
    spatial = len(geo.kernel)
    mult = geo.cout_g
    channel = "ci" if geo.channels_last else f"ci * {geo.in_pixels}"
    body = [
        f"const int ci = oc / {mult};" if mult > 1 else "const int ci = oc;",
        f"const {ct.storage}* __restrict__ xb = {x} + (long long)on * {geo.in_pixels * geo.cin} + {channel};",
        f"const {ct.storage}* __restrict__ wb = {w} + (long long)oc * {geo.taps};",
        f"{geo.acc} acc = {_zero(geo)};",
    ]

    def position(d: int) -> list[str]:
        return [
            f"const int x{d} = oo{d} * {geo.strides[d]} - {geo.pads[d]} + kt{d} * {geo.dilations[d]};",
            f"if ((unsigned)x{d} >= {geo.in_size[d]}u) continue;",
        ]

    pixel = _flat(geo.in_size, [f"x{d}" for d in range(spatial)])
    offset = f"({pixel}) * {geo.cin}" if geo.channels_last else pixel
    inner = [f"acc = {_fma(geo)}(({geo.acc}){ct.load(f'xb[{offset}]')}, ({geo.acc}){ct.load(f'wb[{_tap_flat(geo)}]')}, acc);"]
    body += _taps_loops(geo, inner, position)
    body += epilogue.lines(geo, indices, "idx")
    return _kernel(kernel, launch, _loop(math.prod(geo.out_shape), [*used_only(split, body), *body]))


def emit_transpose(kernel: FuncOp, launch: LaunchAttr, geo: ConvGeometry, epilogue: Epilogue) -> str:
    """conv_transpose, NCHW: input (N, C, *in), weight (C, M/group, *kernel)."""
    ct = geo.ctype
    x, w = f"in{geo.input_arg}", f"in{geo.weight_arg}"
    split, indices = _output_split(geo)
    spatial = len(geo.kernel)
    body = [
        f"const int g = oc / {geo.cout_g}, cg = oc % {geo.cout_g};",
        f"const {ct.storage}* __restrict__ xb = {x} + ((long long)on * {geo.cin} + g * {geo.cin_g}) * {geo.in_pixels};",
        f"const {ct.storage}* __restrict__ wb = {w} + ((long long)g * {geo.cin_g} * {geo.cout_g} + cg) * {geo.taps};",
        f"{geo.acc} acc = {_zero(geo)};",
    ]

    def position(d: int) -> list[str]:
        s = geo.strides[d]
        lines = [f"const int t{d} = oo{d} + {geo.pads[d]} - kt{d} * {geo.dilations[d]};"]
        if s == 1:
            lines += [f"const int x{d} = t{d};"]
        else:
            lines += [f"if (t{d} < 0 || t{d} % {s} != 0) continue;", f"const int x{d} = t{d} / {s};"]
        lines.append(f"if ((unsigned)x{d} >= {geo.in_size[d]}u) continue;")
        return lines

    pixel = _flat(geo.in_size, [f"x{d}" for d in range(spatial)])
    inner = [
        "const int pix = %s;" % pixel,
        "const int tap = %s;" % _tap_flat(geo),
        f"for (int ci = 0; ci < {geo.cin_g}; ++ci)",
        f"    acc = {_fma(geo)}(({geo.acc}){ct.load(f'xb[(long long)ci * {geo.in_pixels} + pix]')}, "
        f"({geo.acc}){ct.load(f'wb[(long long)ci * {geo.cout_g * geo.taps} + tap]')}, acc);",
    ]
    body += _taps_loops(geo, inner, position)
    body += epilogue.lines(geo, indices, "idx")
    return _kernel(kernel, launch, _loop(math.prod(geo.out_shape), [*used_only(split, body), *body]))


def _kernel(kernel: FuncOp, launch: LaunchAttr, lines: list[str]) -> str:
    threads = math.prod(launch.block_dims)
    signature = kernel_signature(kernel.sym_name.data, pointer_params(kernel), threads)
    return signature + "\n{\n" + "\n".join(f"    {line}" for line in lines) + "\n}\n"
