"""What every convolution kernel needs to know, read once from the kernel.func: the
geometry (`ConvGeometry`: layout, sizes, strides, pads, dilations, groups, element type,
which kernel parameter is the input and which the weight) and the epilogue
(`Epilogue`: the C that turns one accumulator into the stored outputs).

The kernels themselves (`conv/gemm.py`, `conv/direct.py`) only print index
math over these numbers; shapes are static, so every size is a C constant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.ir import SSAValue

from dialects import fused
from dialects.errors import OptcError
from dialects.graph.base import int_of, ints
from dialects.graph.layout import input_is_channels_last, is_channels_last
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.epilogue import EpiloguePrinter, Place
from passes.codegen.common.types import CType, ctype_of


def kernel_error(kernel: FuncOp, why: str) -> OptcError:
    op = kernel.computation
    return OptcError(f"cuda codegen of @{kernel.sym_name.data} ('{op.name}'): {why}")


@dataclass(frozen=True)
class ConvGeometry:
    """A convolution's sizes. For conv_transpose `cin`/`cout` are the op's own input and
    output channels (weight (cin, cout/group, *kernel))."""

    layout: str  # "NCHW" (channels first, any spatial rank) or "NHWC" (channels last)
    input_layout: str  # the input's: `layout`, or the other one (fused.conv's input_layout)
    batch: int
    cin: int
    cout: int
    group: int
    in_size: tuple[int, ...]
    out_size: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    pads: tuple[int, ...]  # begins only: the ends are implied by out_size
    dilations: tuple[int, ...]
    ctype: CType  # the element type of input, weight and result (of the input alone for an integer contraction)
    input_arg: int  # kernel parameter index of the input (`in{input_arg}`)
    weight_arg: int
    weight_ctype: CType | None = None  # the weight's element type where it differs (ui8 x i8)
    integer: bool = False  # 8-bit integers summed into an i32 accumulator (`fused.is_integer_contraction`)

    @property
    def channels_last(self) -> bool:
        """Whether the weight and the result are channels last."""
        return self.layout == "NHWC"

    @property
    def input_channels_last(self) -> bool:
        return self.input_layout == "NHWC"

    @property
    def cin_g(self) -> int:
        return self.cin // self.group

    @property
    def cout_g(self) -> int:
        return self.cout // self.group

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    @property
    def out_pixels(self) -> int:
        return math.prod(self.out_size)

    @property
    def in_pixels(self) -> int:
        return math.prod(self.in_size)

    @property
    def gemm_m(self) -> int:
        """Rows of the implicit GEMM: one per output pixel of every image."""
        return self.batch * self.out_pixels

    @property
    def gemm_k(self) -> int:
        """The reduction length per group: input channels of a group × kernel taps."""
        return self.cin_g * self.taps

    @property
    def out_shape(self) -> list[int]:
        if self.channels_last:
            return [self.batch, *self.out_size, self.cout]
        return [self.batch, self.cout, *self.out_size]

    @property
    def weight(self) -> CType:
        return self.weight_ctype or self.ctype

    @property
    def acc(self) -> str:
        """The accumulator's C type: float for f32/f16/bf16, double for f64, int for an
        integer contraction."""
        return "int" if self.integer else self.ctype.compute

    @property
    def sum_type(self) -> str:
        """What a SIMT kernel sums in: the accumulator's type, except that integers sum
        unsigned (wrapping as the reference's i32 does, where a signed overflow is undefined)."""
        return "unsigned int" if self.integer else self.acc

    def flops(self) -> int:
        return 2 * self.gemm_m * self.cout * self.gemm_k

    def output_indices(self, image: str, pixel: Sequence[str], channel: str) -> list[str]:
        """C expressions of the output's per-dimension indices i0, i1, ... ."""
        if self.channels_last:
            return [image, *pixel, channel]
        return [image, channel, *pixel]

    def output_offset(self, m: str, image: str, pixel_flat: str, channel: str) -> str:
        """The flat output index of GEMM row `m` (= image·pixels + pixel) and `channel`."""
        if self.channels_last:
            return f"(long long){m} * {self.cout} + {channel}"
        return f"((long long){image} * {self.cout} + {channel}) * {self.out_pixels} + {pixel_flat}"


def _split(t, layout: str) -> tuple[int, int, tuple[int, ...]]:
    """(first axis, channels, spatial sizes) of a tensor in `layout`."""
    shape = list(t.get_shape())
    if layout == "NHWC":
        return shape[0], shape[-1], tuple(shape[1:-1])
    return shape[0], shape[1], tuple(shape[2:])


def geometry(kernel: FuncOp) -> ConvGeometry:
    """The geometry of the conv (or conv_transpose) `kernel` computes."""
    op = kernel.computation
    name = f"@{kernel.sym_name.data}"
    x, w = op.input.type, op.weight.type
    ctype = ctype_of(x.element_type, name)
    integer = isinstance(op, fused.ConvOp) and fused.is_integer_contraction(op)
    if not ctype.is_float and not integer:
        why = f"element type {x.element_type} is not supported (f64, f32, f16 and bf16 are; i8/ui8 as a fused.conv into i32)"
        raise kernel_error(kernel, why)
    layout = "NHWC" if is_channels_last(op) else "NCHW"
    input_layout = "NHWC" if input_is_channels_last(op) else "NCHW"
    spatial = x.get_num_dims() - 2
    result = op.results[0].type if not isinstance(op, fused.ConvOp) else op.accumulator_type()
    batch, cin, in_size = _split(x, input_layout)
    _, cout, out_size = _split(result, layout)
    kernel_size = _split(w, layout)[2]
    args = list(kernel.body.block.args)
    for what, value in (("input", op.input), ("weight", op.weight)):
        if value not in args:
            raise kernel_error(kernel, f"its {what} is not a kernel argument")
    return ConvGeometry(
        layout=layout,
        input_layout=input_layout,
        batch=batch,
        cin=cin,
        cout=cout,
        group=int_of(op.group),
        in_size=in_size,
        out_size=out_size,
        kernel=kernel_size,
        strides=ints(op.strides),
        pads=ints(op.pads)[:spatial],
        dilations=ints(op.dilations),
        ctype=ctype,
        input_arg=args.index(op.input),
        weight_arg=args.index(op.weight),
        weight_ctype=ctype_of(w.element_type, name) if integer else None,
        integer=integer,
    )


# --- the epilogue ------------------------------------------------------------------------


@dataclass(frozen=True)
class Epilogue:
    """The C that stores one output element, given the accumulator `acc` (in the
    accumulator's C type) at output indices i0, i1, ... of the conv's accumulator.

    fused.conv: its region printed by `common.epilogue.EpiloguePrinter` (elementwise ops
    through `scalar_code`, operands of any shape read with ONNX broadcasting; a tail of
    views, transposes, splits and slices, e.g. the NHWC → NCHW transpose back to the
    model's layout, as store-index arithmetic), the accumulator rounded to the element
    type first (the region's first argument has that type, as in the reference).
    graph.conv / conv_transpose: `acc` (+ bias[channel]), rounded once.

    Public and stable (every conv kernel calls it: GEMM, direct, tensor-core):
    `Epilogue(kernel).lines(geo, indices, flat)`."""

    kernel: FuncOp

    def _returns(self, value: SSAValue) -> list[int]:
        """The result positions (`out<r>`) at which the kernel returns `value`."""
        values = list(self.kernel.body.block.last_op.operands)
        return [r for r, v in enumerate(values) if v == value]

    def lines(self, geo: ConvGeometry, indices: Sequence[str], flat: str) -> list[str]:
        """Statements that store every result of the element at accumulator flat index
        `flat` (row-major over `geo.out_shape`); `indices` are C expressions of its
        per-dimension indices (declared as `long long i0, i1, ...` where read)."""
        op = self.kernel.computation
        name = f"@{self.kernel.sym_name.data}"
        out_shape = geo.out_shape
        args = list(self.kernel.body.block.args)
        idx = tuple(f"i{d}" for d in range(len(indices)))
        if isinstance(op, fused.ConvOp):
            block = op.epilogue.block
            acc = geo.ctype.load(geo.ctype.store("acc")) if geo.ctype.narrow else "acc"
            params = {inner: f"in{args.index(outer)}" for inner, outer in zip(block.args[1:], op.extras)}
            printer = EpiloguePrinter(
                block, params, acc, Place(tuple(out_shape), flat=flat, idx=idx), lambda why: kernel_error(self.kernel, f"epilogue: {why}"), "v",
                uncontracted=geo.integer,
            )
            outputs = list(op.outputs)
            body = printer.print(lambda r: self._returns(outputs[r]))
        else:
            value = "acc"
            if op.bias is not None:
                bias = ctype_of(op.bias.type.element_type, name)
                channel = idx[-1] if geo.channels_last else idx[1]
                value = f"(acc + {bias.load(f'in{args.index(op.bias)}[{channel}]')})"
            result = op.result
            if list(result.type.get_shape()) != out_shape:
                raise kernel_error(self.kernel, f"result {result.type} differs from the output shape {out_shape}")
            ctype = ctype_of(result.type.element_type, name)
            body = [f"out{r}[{flat}] = {ctype.store(value)};" for r in self._returns(result)]
        declared = [
            f"const long long i{d} = {expr};"
            for d, expr in enumerate(indices)
            if re.search(rf"\bi{d}\b", "\n".join(body))
        ]
        return [*declared, *body]


def tile_launch_problem(
    launch: LaunchAttr, geo: ConvGeometry, keys: Sequence[str], read_tile: Callable, check_tile: Callable,
    launch_for: Callable, kernel_name: str,
) -> str | None:
    """Why `launch` is not the launch of a valid tile of a tiled conv tactic (None when it
    is): every tile parameter of `keys` present, the tile `read_tile` makes of them valid
    (`check_tile`), and grid, block and shared memory those `launch_for(tile, geo)` gives."""
    missing = [k for k in keys if k not in launch.tile_params]
    if missing:
        return f"missing tile parameters {', '.join(missing)} (the {kernel_name} needs {', '.join(keys)})"
    tile = read_tile(launch)
    why = check_tile(tile, geo)
    if why is not None:
        return f"invalid tile {launch.tile_params}: {why}"
    expected = launch_for(tile, geo)
    if launch.block_dims != expected.block_dims:
        return f"block {list(launch.block_dims)} does not match the tile's {expected.block_dims[0]} threads"
    if launch.grid_dims != expected.grid_dims:
        return f"grid {list(launch.grid_dims)} does not cover the output (needs {list(expected.grid_dims)})"
    if launch.shared_bytes < expected.shared_bytes:
        return f"the tile needs {expected.shared_bytes} bytes of dynamic shared memory, launch gives {launch.shared_bytes}"
    return None


def unravel(flat: str, sizes: Sequence[int], names: Sequence[str], kind: str = "int") -> list[str]:
    """C declarations splitting `flat` (row-major over `sizes`) into `names`; the first
    name takes the quotient (no modulo on the outermost size)."""
    lines = []
    rest = flat
    for k in range(len(sizes) - 1, 0, -1):
        lines.append(f"const {kind} {names[k]} = {rest} % {sizes[k]};")
        lines.append(f"const {kind} {names[k]}_q = {rest} / {sizes[k]};")
        rest = f"{names[k]}_q"
    lines.append(f"const {kind} {names[0]} = {rest};")
    return lines


def used_only(declarations: Sequence[str], code: Sequence[str]) -> list[str]:
    """The `const T name = ...;` declarations that `code` (or a kept declaration after
    them) reads: an unused one is an NVRTC warning."""
    kept: list[str] = []
    text = "\n".join(code)
    for line in reversed(declarations):
        name = re.match(r"const [\w ]+? (\w+) =", line).group(1)
        if re.search(rf"\b{name}\b", text):
            kept.insert(0, line)
            text += "\n" + line
    return kept
