"""CUDA generators for pooling and the normalisations and scans left on their own: this
module makes the windowed pools (`graph.max_pool`, `graph.average_pool`) and gathers the
family's table (`plane`: global pools, batch and instance norm; `scan`: cum_sum).

A windowed pool is one thread per output element (grid-stride loop) running the window
loop, 1-D to 3-D, in either layout. Channels last, consecutive threads take consecutive
channels, so every tap's loads coalesce, and each thread moves `vector` channels in one
access of up to 16 bytes when the channel count allows (tactic `grid_stride`, tile
`{vector = 4}`; candidates: every width the channels allow).

The family's tactics: `grid_stride` (windowed pools, batch norm: a thread per output or
vector of outputs), `plane_rows` / `channel_columns` (global pools and instance norm,
NCHW / NHWC: `plane.py`), `line_per_thread` / `line_per_warp` (cum_sum: `scan.py`).

The rules are the reference's (`runtime/reference/nn.py`): taps outside the input are
padding; a max never takes one unless the whole window is padding (then -inf, or the
integer minimum), and NaN wins like np.maximum; an average divides its sum (taken in tap
order, in float for f16/bf16, double for f64) by how many taps lie inside the input or,
with `count_include_pad`, inside the explicit pads, never the ceil_mode overhang. The max
pool's `indices` result (NCHW only) holds, per output, the flat input index of the first
maximum in window order, row- or column-major (`storage_order`) over the spatial axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.ir import Operation

from dialects.graph import AveragePoolOp, MaxPoolOp
from dialects.graph.base import int_of, ints
from dialects.graph.layout import is_channels_last, spatial_shape
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.pool import plane, scan
from passes.codegen.pool.support import (
    BLOCK_SIZE,
    element_ctype,
    grid_stride_kernel,
    lowest,
    max_of,
    refuse,
    tactic_problem,
    vector_problem,
    vector_struct,
    vector_widths,
)
from passes.codegen.common.types import CType, literal
from passes.codegen.generator import Generator, grid_stride_blocks
from passes.codegen.target import DEFAULT, Target

TACTIC = "grid_stride"


@dataclass(frozen=True)
class Window:
    """A pool's geometry, channels first whatever its layout."""

    batch: int
    channels: int
    size: tuple[int, ...]
    out: tuple[int, ...]
    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    begins: tuple[int, ...]
    ends: tuple[int, ...]
    """The explicit end pads (not the ceil_mode overhang, which is padding but never counts)."""
    channels_last: bool

    @staticmethod
    def of(op: Operation) -> Window:
        shape = op.input.type.get_shape()
        last = is_channels_last(op)
        pads, spatial = ints(op.pads), len(ints(op.kernel_shape))
        return Window(
            shape[0],
            shape[-1] if last else shape[1],
            tuple(spatial_shape(op.input.type, op)),
            tuple(spatial_shape(op.result.type, op)),
            ints(op.kernel_shape),
            ints(op.strides),
            ints(op.dilations),
            tuple(pads[:spatial]),
            tuple(pads[spatial:]),
            last,
        )

    @property
    def outputs(self) -> int:
        return self.batch * self.channels * math.prod(self.out)


def _check(kernel: FuncOp) -> Operation:
    return kernel.computation  # an NHWC max pool with indices never verifies (graph.max_pool)


def _vectors(kernel: FuncOp, op: Operation) -> list[int]:
    """Channels per thread, widest first: channels last only, and not with the indices result."""
    if not is_channels_last(op):
        return [1]
    return vector_widths(element_ctype(kernel, op.input), Window.of(op).channels)


def _launch(op: Operation, vector: int) -> LaunchAttr:
    """One thread per `vector` outputs, 256 to a block."""
    blocks = grid_stride_blocks(Window.of(op).outputs // vector, BLOCK_SIZE)
    return LaunchAttr(TACTIC, [blocks], [BLOCK_SIZE], 0, {"vector": vector})


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    op = _check(kernel)
    return _launch(op, _vectors(kernel, op)[0])


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    op = _check(kernel)
    return [_launch(op, vector) for vector in _vectors(kernel, op)]


def _launch_problem(kernel: FuncOp, op: Operation, launch: LaunchAttr) -> str | None:
    why = tactic_problem(kernel, launch, [TACTIC])
    if why is not None:
        return why
    w = Window.of(op)
    vector = launch.tile_params.get("vector", 1)
    if vector != 1 and not w.channels_last:
        return f"cannot move {vector} channels per thread (channels first)"
    why = vector_problem(vector, w.channels, "channels")
    if why is not None:
        return why
    if launch.block_dims != (BLOCK_SIZE, 1, 1):
        return f"the launch's block {list(launch.block_dims)} is not the {[BLOCK_SIZE, 1, 1]} its tile parameters {launch.tile_params} need"
    return None


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    return _launch_problem(kernel, _check(kernel), launch)


def _acc_type(ctype: CType) -> str:
    """What a window reduces in: float for f16/bf16, the type itself otherwise."""
    return ctype.compute


def _decompose(w: Window, vector: int) -> list[str]:
    """From the flat index `i` (of a `vector`-wide group of outputs): `plane` (n * C + c, NCHW)
    or `n` and `c` (NHWC), and the output position `o0, o1, ...`."""
    lines = ["long long r = i;"]
    if w.channels_last:
        lines.append(f"const long long c = (r % {w.channels // vector}LL) * {vector}LL; r /= {w.channels // vector}LL;")
    for k in reversed(range(len(w.out))):
        lines.append(f"const long long o{k} = r % {w.out[k]}LL; r /= {w.out[k]}LL;")
    lines.append("const long long n = r;" if w.channels_last else "const long long plane = r;")
    return lines


def _input_offset(w: Window) -> str:
    """The flat input index of the tap at `p0, p1, ...` (per channel `c`, NHWC)."""
    spatial = "0"
    for k, size in enumerate(w.size):
        spatial = f"p{k}" if k == 0 else f"({spatial}) * {size}LL + p{k}"
    if w.channels_last:
        return f"((n * {math.prod(w.size)}LL + {spatial}) * {w.channels}LL + c)"
    return f"(plane * {math.prod(w.size)}LL + {spatial})"


def _position(w: Window, column_major: bool) -> str:
    """The spatial position of the tap (for the indices result): row-major, or with the first
    spatial axis varying fastest."""
    axes = list(range(len(w.size)))
    terms = []
    for k in axes:
        others = w.size[:k] if column_major else w.size[k + 1 :]
        stride = math.prod(others)
        terms.append(f"p{k}" if stride == 1 else f"p{k} * {stride}LL")
    return " + ".join(terms)


def _tap_position(w: Window, k: int) -> str:
    """Where tap `k<k>` of output `o<k>` lies along spatial axis k (negative in the begin pads)."""
    expr = f"o{k} * {w.strides[k]}LL" if w.strides[k] != 1 else f"o{k}"
    if w.begins[k]:
        expr += f" - {w.begins[k]}LL"
    return expr + (f" + k{k} * {w.dilations[k]}" if w.dilations[k] != 1 else f" + k{k}")


def _window_loops(w: Window, body: list[str]) -> list[str]:
    """Nested loops over the kernel's taps (in window order), skipping taps in the padding."""
    lines, indent = [], ""
    for k in range(len(w.kernel)):
        lines += [
            f"{indent}#pragma unroll",
            f"{indent}for (int k{k} = 0; k{k} < {w.kernel[k]}; ++k{k}) {{",
            f"{indent}    const long long p{k} = {_tap_position(w, k)};",
            f"{indent}    if (p{k} < 0 || p{k} >= {w.size[k]}LL) continue;",
        ]
        indent += "    "
    lines += [f"{indent}{line}" for line in body]
    for k in reversed(range(len(w.kernel))):
        lines.append(f"{'    ' * k}}}")
    return lines


def _divisor(w: Window, include_pad: bool, acc: str) -> list[str]:
    """How many taps count, per axis (the count is separable): those inside the input, or
    inside input and explicit pads; the ceil_mode overhang never counts."""
    lines, factors = [], []
    for k in range(len(w.kernel)):
        lo, hi = (-w.begins[k], w.size[k] + w.ends[k]) if include_pad else (0, w.size[k])
        lines += [
            f"int count{k} = 0;",
            f"for (int k{k} = 0; k{k} < {w.kernel[k]}; ++k{k}) {{",
            f"    const long long p{k} = {_tap_position(w, k)};",
            f"    count{k} += (p{k} >= {lo}LL && p{k} < {hi}LL);",
            "}",
        ]
        factors.append(f"count{k}")
    lines.append(f"const {acc} divisor = ({acc})({' * '.join(factors)});")
    return lines


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    op = _check(kernel)
    why = _launch_problem(kernel, op, launch)
    if why is not None:
        raise refuse(kernel, op, why)
    w = Window.of(op)
    vector = launch.tile_params.get("vector", 1)
    ctype = element_ctype(kernel, op.input)
    acc = _acc_type(ctype)
    body = _decompose(w, vector)
    if isinstance(op, MaxPoolOp) and op.indices is not None:
        body += _max_with_indices(w, ctype, bool(int_of(op.storage_order)))
        return grid_stride_kernel(kernel, w.outputs, body)
    if vector > 1:
        body.append(vector_struct(ctype, vector))
    if isinstance(op, MaxPoolOp):
        init, step = lowest(ctype), lambda a, x: f"{a} = {max_of(a, x, ctype)};"
        finish = lambda a: a  # noqa: E731
    else:
        init, step = literal(0, acc), lambda a, x: f"{a} += {x};"
        body += _divisor(w, bool(int_of(op.count_include_pad)), acc)
        finish = lambda a: f"{a} / divisor"  # noqa: E731
    body += [f"{acc} acc[{vector}];", *[f"acc[{j}] = {init};" for j in range(vector)]]
    body += _window_loops(w, _tap(ctype, vector, step, w))
    body += _store(ctype, vector, [finish(f"acc[{j}]") for j in range(vector)])
    return grid_stride_kernel(kernel, w.outputs // vector, body)


def _tap(ctype: CType, vector: int, step, w: Window) -> list[str]:
    """Read one tap (a whole vector of channels at once) and fold it into `acc`."""
    at, acc = _input_offset(w), _acc_type(ctype)
    if vector == 1:
        return [f"const {acc} x0 = {ctype.load(f'in0[{at}]')};", step("acc[0]", "x0")]
    lines = [f"const Vec x = *reinterpret_cast<const Vec*>(in0 + {at});"]
    for j in range(vector):
        lines += [f"const {acc} x{j} = {ctype.load(f'x.v[{j}]')};", step(f"acc[{j}]", f"x{j}")]
    return lines


def _store(ctype: CType, vector: int, values: list[str]) -> list[str]:
    """Write the `vector` results at output `i * vector` (one access when vectorised)."""
    if vector == 1:
        return [f"out0[i] = {ctype.store(values[0])};"]
    lines = ["Vec y;", *[f"y.v[{j}] = {ctype.store(v)};" for j, v in enumerate(values)]]
    return lines + [f"*reinterpret_cast<Vec*>(out0 + i * {vector}LL) = y;"]


def _max_with_indices(w: Window, ctype: CType, column_major: bool) -> list[str]:
    """Max and where it is, as the reference finds them: the first tap inside the input is
    taken, a later one only when strictly greater (ties go to the first, a NaN taken first
    stays); a window all padding gives -inf (the integer minimum) at position -1."""
    acc = _acc_type(ctype)
    plane = math.prod(w.size)
    body = [
        f"const {acc} x = {ctype.load(f'in0[{_input_offset(w)}]')};",
        f"const long long at = {_position(w, column_major)};",
        "if (where < 0 || x > best) { best = x; where = at; }",
    ]
    return [
        f"{acc} best = {lowest(ctype)};",
        "long long where = -1;",
        *_window_loops(w, body),
        f"out0[i] = {ctype.store('best')};",
        f"out1[i] = where + plane * {plane}LL;",
    ]


_POOL = Generator(configure, emit, candidates, check)

GENERATORS: dict[type, Generator] = {
    MaxPoolOp: _POOL,
    AveragePoolOp: _POOL,
    **plane.GENERATORS,
    **scan.GENERATORS,
}
