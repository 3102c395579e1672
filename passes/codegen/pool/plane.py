"""CUDA generators for per-(n, c) work: the global pools and `graph.instance_norm` reduce
each channel's spatial plane; `graph.batch_norm` (inference form) scales each channel.

A plane reduction gives each (n, c) a row of threads that strides over the plane's S
elements, then folds the row in shared memory (a tree of halvings, so the row's length is
a power of two). Which way the rows lie follows the layout, so that loads coalesce:

- NCHW, tactic `plane_rows`: a plane is contiguous; `block.x` threads walk it, `block.y`
  planes share a block (tile `{reduce_threads = 32, planes = 8}`): a warp per plane for
  ResNet's 7x7;
- NHWC, tactic `channel_columns`: channels are contiguous; `block.x` threads take
  consecutive channels and the `block.y` threads of a column share a plane (tile
  `{channels = 32, reduce_threads = 8}`).

The layout decides the tactic; the block's shape is the choice (candidates: PLANE_ROWS,
CHANNEL_COLUMNS). Batch norm is `grid_stride` with a vector width (every one the element
count allows is a candidate).

Sums are taken in float (double for f64); max lets NaN win, as np.max. Instance norm is
two-pass, as the reference (mean, then the mean of squared deviations), then writes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dialects.graph import BatchNormOp, GlobalAveragePoolOp, GlobalMaxPoolOp, InstanceNormOp
from dialects.graph.base import float_of
from dialects.graph.layout import is_channels_last
from dialects.kernel import FuncOp, LaunchAttr
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
from passes.codegen.common.types import CType, kernel_signature, literal, math_fn, pointer_params
from passes.codegen.generator import Generator, grid_stride_blocks, refused_tactic
from passes.codegen.target import DEFAULT, Target

MAX_THREADS = 256
"""Threads per block of configure's plane reduction."""
PLANE_ROWS = ((32, 8), (64, 4), (128, 2), (256, 1))
"""(reduce_threads, planes) of the NCHW candidates."""
CHANNEL_COLUMNS = ((32, 8), (16, 16), (8, 32))
"""(channels, reduce_threads) of the NHWC candidates."""
KEYS = {"plane_rows": ("reduce_threads", "planes"), "channel_columns": ("channels", "reduce_threads")}
"""The plane tactics and their tile parameters."""


@dataclass(frozen=True)
class Planes:
    """An (N, C, S) view of the input: S the product of the spatial axes."""

    batch: int
    channels: int
    size: int
    channels_last: bool

    @staticmethod
    def of(op) -> Planes:
        shape = op.input.type.get_shape()
        last = is_channels_last(op)
        channels = shape[-1] if last else shape[1]
        return Planes(shape[0], channels, math.prod(shape) // (shape[0] * channels), last)


def _pow2_at_least(n: int, cap: int) -> int:
    p = 1
    while p < n and p < cap:
        p *= 2
    return p


def _tile(p: Planes) -> dict[str, int]:
    if p.channels_last:
        channels = _pow2_at_least(p.channels, 32)
        return {"channels": channels, "reduce_threads": _pow2_at_least(p.size, MAX_THREADS // channels)}
    lanes = max(32, _pow2_at_least(p.size // 8, MAX_THREADS))
    return {"reduce_threads": lanes, "planes": MAX_THREADS // lanes}


def _tactic(p: Planes) -> str:
    return "channel_columns" if p.channels_last else "plane_rows"


def _block_and_grid(p: Planes, tile: dict[str, int]) -> tuple[tuple[int, int, int], int]:
    if p.channels_last:
        block = (tile["channels"], tile["reduce_threads"], 1)
        return block, p.batch * -(-p.channels // tile["channels"])
    block = (tile["reduce_threads"], tile["planes"], 1)
    return block, -(-(p.batch * p.channels) // tile["planes"])


def _plane_launch(p: Planes, tile: dict[str, int]) -> LaunchAttr:
    block, grid = _block_and_grid(p, tile)
    return LaunchAttr(_tactic(p), [grid], list(block), 0, tile)


def configure_plane(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    p = Planes.of(kernel.computation)
    return _plane_launch(p, _tile(p))


def candidates_plane(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    p = Planes.of(kernel.computation)
    table = CHANNEL_COLUMNS if p.channels_last else PLANE_ROWS
    return [_plane_launch(p, dict(zip(KEYS[_tactic(p)], entry))) for entry in table]


def _plane_problem(kernel: FuncOp, p: Planes, launch: LaunchAttr) -> str | None:
    """Why the plane reduction cannot take `launch` (None when it can): the tactic of the
    layout, its tile, a power-of-two reduction row (the shared-memory tree halves it)."""
    tactic = launch.tactic_name
    why = tactic_problem(kernel, launch, KEYS)
    if why is not None:
        return why
    if tactic != _tactic(p):
        return refused_tactic(tactic, f"the input is {'NHWC' if p.channels_last else 'NCHW'}: its tactic is {_tactic(p)}")
    tile = launch.tile_params
    missing = [k for k in KEYS[tactic] if k not in tile]
    if missing:
        return f"tile lacks {', '.join(missing)} (tactic {tactic} needs {', '.join(KEYS[tactic])})"
    rows = tile["reduce_threads"]
    if rows < 1 or rows & (rows - 1) or min(tile.values()) < 1:
        return f"reduce_threads {rows} must be a power of two (the reduction tree halves it), every tile size positive"
    block, _ = _block_and_grid(p, tile)
    if tuple(launch.block_dims) != block:
        return f"the launch's block {list(launch.block_dims)} is not the {list(block)} its tile parameters {tile} need"
    return None


def check_plane(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    return _plane_problem(kernel, Planes.of(kernel.computation), launch)


def _locate(p: Planes, block: tuple[int, int, int], channel: bool) -> list[str]:
    """Which (n, c) this thread serves: `active`, `c`, `base` (the plane's first element),
    `step` (elements between its consecutive spatial positions), `lane` (its place along
    the plane) and `me`/`pair` (its shared-memory slot and the distance to its partner);
    channels first, `c` only where `channel` asks (an unused variable is an NVRTC warning)."""
    tx, ty = block[0], block[1]
    if p.channels_last:
        groups = -(-p.channels // tx)
        return [
            f"const long long n = blockIdx.x / {groups};",
            f"const long long c = (blockIdx.x % {groups}) * {tx}LL + threadIdx.x;",
            f"const bool active = c < {p.channels}LL;",
            f"const long long base = n * {p.size * p.channels}LL + c;",
            f"const long long step = {p.channels}LL;",
            "const int lane = threadIdx.y;",
            f"const int lanes = {ty}, pair = {tx};",
            f"const int me = threadIdx.y * {tx} + threadIdx.x;",
        ]
    return [
        f"const long long plane = (long long)blockIdx.x * {ty} + threadIdx.y;",
        f"const bool active = plane < {p.batch * p.channels}LL;",
        *([f"const long long c = plane % {p.channels}LL;"] if channel else []),
        f"const long long base = plane * {p.size}LL;",
        "const long long step = 1;",
        "const int lane = threadIdx.x;",
        f"const int lanes = {tx}, pair = 1;",
        f"const int me = threadIdx.y * {tx} + threadIdx.x;",
    ]


def _out_index(p: Planes) -> str:
    """The (n, c) result's flat index: n * C + c in both layouts."""
    return "(n * {0}LL + c)".format(p.channels) if p.channels_last else "plane"


def _reduce(result: str, acc: str, part: str, combine) -> list[str]:
    """Fold every thread's `part` along its row into `result` (every thread of the block
    takes part: they all reach each __syncthreads)."""
    return [
        f"red[me] = {part};",
        "__syncthreads();",
        "for (int half = lanes / 2; half > 0; half /= 2) {",
        f"    if (lane < half) red[me] = {combine('red[me]', 'red[me + half * pair]')};",
        "    __syncthreads();",
        "}",
        f"const {acc} {result} = red[me - lane * pair];",
        "__syncthreads();",
    ]


def _sum_loop(ctype: CType, acc: str, name: str, term, size: int) -> list[str]:
    """This thread's share of a sum over the plane: `term(x)` of each of its elements."""
    return [
        f"{acc} {name} = {literal(0, acc)};",
        f"if (active) for (long long s = lane; s < {size}LL; s += lanes) {{",
        f"    const {acc} x = {ctype.load('in0[base + s * step]')};",
        f"    {name} += {term('x')};",
        "}",
    ]


def emit_plane(kernel: FuncOp, launch: LaunchAttr) -> str:
    op = kernel.computation
    p = Planes.of(op)
    why = _plane_problem(kernel, p, launch)
    if why is not None:
        raise refuse(kernel, op, why)
    block = launch.block_dims
    ctype = element_ctype(kernel, op.input)
    acc = ctype.compute
    add = lambda a, b: f"{a} + {b}"  # noqa: E731
    body = [f"__shared__ {acc} red[{block[0] * block[1]}];", *_locate(p, block, isinstance(op, InstanceNormOp))]
    if isinstance(op, GlobalMaxPoolOp):
        body += [
            f"{acc} part = {lowest(ctype)};",
            f"if (active) for (long long s = lane; s < {p.size}LL; s += lanes) {{",
            f"    const {acc} x = {ctype.load('in0[base + s * step]')};",
            f"    part = {max_of('part', 'x', ctype)};",
            "}",
            *_reduce("total", acc, "part", lambda a, b: max_of(a, b, ctype)),
            f"if (active && lane == 0) out0[{_out_index(p)}] = {ctype.store('total')};",
        ]
    elif isinstance(op, GlobalAveragePoolOp):
        body += [
            *_sum_loop(ctype, acc, "part", lambda x: x, p.size),
            *_reduce("total", acc, "part", add),
            f"if (active && lane == 0) out0[{_out_index(p)}] = {ctype.store(f'total / {literal(p.size, acc)}')};",
        ]
    else:
        body += _instance_norm(op, ctype, acc, add, p)
    name = kernel.sym_name.data
    threads = block[0] * block[1]
    text = "\n".join(f"    {line}" for line in body)
    return f"{kernel_signature(name, pointer_params(kernel), threads)}\n{{\n{text}\n}}\n"


def _instance_norm(op, ctype: CType, acc: str, add, p: Planes) -> list[str]:
    eps = literal(float_of(op.epsilon), acc)
    sqrt = math_fn("sqrt", ctype)
    size = literal(p.size, acc)
    return [
        *_sum_loop(ctype, acc, "part", lambda x: x, p.size),
        *_reduce("total", acc, "part", add),
        f"const {acc} mean = total / {size};",
        *_sum_loop(ctype, acc, "part2", lambda x: "(x - mean) * (x - mean)", p.size),
        *_reduce("total2", acc, "part2", add),
        f"const {acc} std = {sqrt}(total2 / {size} + {eps});",
        "if (!active) return;",
        f"const {acc} scale = {ctype.load('in1[c]')}, shift = {ctype.load('in2[c]')};",
        f"for (long long s = lane; s < {p.size}LL; s += lanes) {{",
        f"    const {acc} x = {ctype.load('in0[base + s * step]')};",
        f"    out0[base + s * step] = {ctype.store('(x - mean) / std * scale + shift')};",
        "}",
    ]


# --- batch norm: a per-channel affine map ----------------------------------------------


def _bn_elements(kernel: FuncOp) -> int:
    return math.prod(kernel.computation.input.type.get_shape())


def _bn_launch(kernel: FuncOp, vector: int) -> LaunchAttr:
    """One thread per `vector` consecutive elements (each finds its own channel)."""
    blocks = grid_stride_blocks(_bn_elements(kernel) // vector, BLOCK_SIZE)
    return LaunchAttr("grid_stride", [blocks], [BLOCK_SIZE], 0, {"vector": vector})


def _bn_vectors(kernel: FuncOp) -> list[int]:
    return vector_widths(element_ctype(kernel, kernel.computation.input), _bn_elements(kernel))


def configure_batch_norm(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    return _bn_launch(kernel, _bn_vectors(kernel)[0])


def candidates_batch_norm(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    return [_bn_launch(kernel, vector) for vector in _bn_vectors(kernel)]


def _bn_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    why = tactic_problem(kernel, launch, ["grid_stride"])
    if why is not None:
        return why
    why = vector_problem(launch.tile_params.get("vector", 1), _bn_elements(kernel), "elements")
    if why is not None:
        return why
    if launch.block_dims != (BLOCK_SIZE, 1, 1):
        return f"the launch's block {list(launch.block_dims)} is not the {[BLOCK_SIZE, 1, 1]} its tile parameters {launch.tile_params} need"
    return None


def check_batch_norm(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    return _bn_problem(kernel, launch)


def emit_batch_norm(kernel: FuncOp, launch: LaunchAttr) -> str:
    """y = x * f + (bias - mean * f), f = scale / sqrt(var + eps): the reference's order."""
    op = kernel.computation
    why = _bn_problem(kernel, launch)
    if why is not None:
        raise refuse(kernel, op, why)
    p = Planes.of(op)
    elements = _bn_elements(kernel)
    vector = launch.tile_params.get("vector", 1)
    ctype = element_ctype(kernel, op.input)
    acc = ctype.compute
    eps, sqrt = literal(float_of(op.epsilon), acc), math_fn("sqrt", ctype)

    def one(j: int, x: str) -> list[str]:
        channel = f"e{j} % {p.channels}LL" if p.channels_last else f"(e{j} / {p.size}LL) % {p.channels}LL"
        return [
            f"const long long c{j} = {channel};",
            f"const {acc} f{j} = {ctype.load(f'in1[c{j}]')} / {sqrt}({ctype.load(f'in4[c{j}]')} + {eps});",
            f"const {acc} y{j} = {x} * f{j} + ({ctype.load(f'in2[c{j}]')} - {ctype.load(f'in3[c{j}]')} * f{j});",
        ]

    if vector == 1:
        body = ["const long long e0 = i;", *one(0, ctype.load("in0[i]")), f"out0[i] = {ctype.store('y0')};"]
        return grid_stride_kernel(kernel, elements, body)
    body = [vector_struct(ctype, vector), f"const Vec x = *reinterpret_cast<const Vec*>(in0 + i * {vector}LL);", "Vec y;"]
    for j in range(vector):
        body += [f"const long long e{j} = i * {vector}LL + {j};", *one(j, ctype.load(f"x.v[{j}]"))]
        body.append(f"y.v[{j}] = {ctype.store(f'y{j}')};")
    body.append(f"*reinterpret_cast<Vec*>(out0 + i * {vector}LL) = y;")
    return grid_stride_kernel(kernel, elements // vector, body)


_PLANE = Generator(configure_plane, emit_plane, candidates_plane, check_plane)

GENERATORS: dict[type, Generator] = {
    GlobalAveragePoolOp: _PLANE,
    GlobalMaxPoolOp: _PLANE,
    InstanceNormOp: _PLANE,
    BatchNormOp: Generator(configure_batch_norm, emit_batch_norm, candidates_batch_norm, check_batch_norm),
}
