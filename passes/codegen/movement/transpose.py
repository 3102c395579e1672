"""graph.transpose on the GPU.

Dimensions of size 1 are dropped and input dimensions that stay adjacent in the output
are merged first (NCHW -> NHWC becomes [N, C, HW] -> [N, HW, C]). Then:

- the innermost dimension stays innermost: tactic `grid_stride`, a plain index map, each
  thread moving a contiguous run of up to 16 bytes (`vector`);
- it moves: tactic `tiled`, a tiled transpose through shared memory. A block of 32 x 8
  threads (tile `{tile = 32, rows = 8}`) reads a 32 x 32 tile with consecutive threads
  along the input's innermost dimension (`a`) and writes it with consecutive threads along
  the output's innermost dimension (`b`), so both global accesses coalesce; the tile row
  is padded to 33 elements against bank conflicts. Blocks stride over (tiles of a) x
  (tiles of b) x (all other dimensions). `grid_stride` (one element per access) can run
  such a transpose too, so both are candidates (`tiled` with every TILED shape).
"""

from __future__ import annotations

import math

from dialects.graph import TransposeOp
from dialects.graph.base import ints
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.movement.skeleton import (
    WORD,
    Context,
    Plan,
    Spec,
    _context,
    itemsize,
    launch_problem,
    make_generator,
    params,
    refuse,
    shape_of,
    strides,
    vector_shape,
)
from passes.codegen.common.types import kernel_signature
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.target import DEFAULT, Target

TILE = 32
ROWS = 8
TILED = ((32, 8), (32, 4), (32, 16), (16, 16))
"""(tile, rows) of the tiled tactic's candidates (block: tile x rows threads)."""
TACTICS = ("tiled", "grid_stride")


def merged(op: TransposeOp) -> tuple[list[int], list[int]]:
    """The input shape and perm with size-1 dimensions dropped and runs of input dimensions
    that stay adjacent in the output merged into one."""
    shape, perm = shape_of(op.input), list(ints(op.perm))
    keep = [d for d in range(len(shape)) if shape[d] != 1]
    renumber = {d: n for n, d in enumerate(keep)}
    shape = [shape[d] for d in keep]
    perm = [renumber[d] for d in perm if d in renumber]
    groups: list[list[int]] = []  # runs of input dims, in output order
    for d in perm:
        if groups and groups[-1][-1] + 1 == d:
            groups[-1].append(d)
        else:
            groups.append([d])
    order = sorted(range(len(groups)), key=lambda g: groups[g][0])  # groups in input order
    new_shape = [math.prod(shape[d] for d in groups[g]) for g in order]
    position = {g: n for n, g in enumerate(order)}
    return new_shape, [position[g] for g in range(len(groups))]


def tiled(op: TransposeOp) -> bool:
    """Whether the innermost dimension moves (after merging)."""
    _, perm = merged(op)
    return len(perm) > 1 and perm[-1] != len(perm) - 1


def _vector_ok(kernel: FuncOp, vector: int) -> bool:
    """A vector is a run of the input's innermost dimension, which must stay innermost."""
    if vector != 1 and tiled(kernel.computation):
        return False
    shape, perm = merged(kernel.computation)
    return not shape or shape[-1] % vector == 0


def _plan(ctx: Context) -> Plan:
    shape, perm = merged(ctx.op)
    shape = vector_shape(shape, ctx.vector)
    out_shape = [shape[p] for p in perm]
    lines, names = ctx.coords("i", out_shape, "c")
    in_strides = strides(shape)
    source = ctx.dot(names, [in_strides[p] for p in perm])
    return Plan(math.prod(out_shape), [*lines, f"out0[i] = in0[{source}];"])


PLAIN = Spec(_plan, _vector_ok)
_plain = make_generator(PLAIN)


def _tiled_launch(kernel: FuncOp, tile: int, rows: int) -> LaunchAttr:
    shape, perm = merged(kernel.computation)
    b = perm[-1]
    tiles = math.ceil(shape[-1] / tile) * math.ceil(shape[b] / tile) * math.prod(shape) // (shape[-1] * shape[b])
    return LaunchAttr("tiled", [max(1, min(tiles, 65535 * 4))], [tile, rows], 0, {"tile": tile, "rows": rows})


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    if not tiled(kernel.computation):
        return _plain.configure(kernel, target)
    return _tiled_launch(kernel, TILE, ROWS)


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """The tiled shapes where the innermost dimension moves, then the plain map's widths."""
    tiles = [_tiled_launch(kernel, tile, rows) for tile, rows in TILED] if tiled(kernel.computation) else []
    return [*tiles, *_plain.candidates(kernel, target)]


def _word_bytes(kernel: FuncOp) -> int:
    return itemsize(kernel.computation.input.type.element_type, kernel)


def _tiled_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    """Why the tiled kernel cannot take `launch` (None when it can)."""
    if not tiled(kernel.computation):
        return refused_tactic("tiled", "its innermost dimension stays innermost (a plain index map, grid_stride)")
    params = launch.tile_params
    if "tile" not in params or "rows" not in params:
        return "tiled transpose needs the tile parameters tile and rows"
    tile, rows = params["tile"], params["rows"]
    if not 1 <= rows <= tile:
        return f"tiled transpose needs 1 <= rows <= tile, got tile = {tile}, rows = {rows}"
    if launch.block_dims != (tile, rows, 1):
        return f"tiled transpose needs block [{tile}, {rows}, 1], got {list(launch.block_dims)}"
    return None


def _launch_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    if launch.tactic_name == "tiled":
        return _tiled_problem(kernel, launch)
    if launch.tactic_name == "grid_stride":
        return launch_problem(kernel, PLAIN, launch)
    return unknown_tactic("transpose", launch.tactic_name, TACTICS)


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    why = _launch_problem(kernel, launch)
    if why is not None or launch.tactic_name != "tiled":
        return why
    tile = launch.tile_params["tile"]
    shared = tile * (tile + 1) * _word_bytes(kernel)
    if shared > target.shared_per_block:
        return f"the {tile}x{tile + 1} tile needs {shared} bytes of static shared memory, {target.name} ({target.arch}) allows {target.shared_per_block}"
    return None


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    why = _launch_problem(kernel, launch)
    if why is not None:
        raise refuse(kernel, why)
    if launch.tactic_name == "grid_stride":
        return _plain.emit(kernel, launch)
    tile, rows = launch.tile_params["tile"], launch.tile_params["rows"]
    op = kernel.computation
    shape, perm = merged(op)
    ctx = _context(kernel, 1)
    t, lit = ctx.index, ctx.lit
    a, b = len(shape) - 1, perm[-1]
    in_strides = strides(shape)
    out_shape = [shape[p] for p in perm]
    out_strides = strides(out_shape)
    out_stride_of = {p: out_strides[k] for k, p in enumerate(perm)}  # input dim -> its output stride
    others = [d for d in range(len(shape)) if d not in (a, b)]
    batch_lines, names = ctx.coords("bt", [shape[d] for d in others], "c")
    in_base = ctx.dot(names, [in_strides[d] for d in others])
    out_base = ctx.dot(names, [out_stride_of[d] for d in others])
    tiles_a, tiles_b = math.ceil(shape[a] / tile), math.ceil(shape[b] / tile)
    total = tiles_a * tiles_b * math.prod(shape[d] for d in others)
    word = WORD[_word_bytes(kernel)]
    body = "".join(f"        {line}\n" for line in batch_lines)
    bt = f"        const {t} bt = t / {lit(tiles_a * tiles_b)};\n" if batch_lines else ""
    signature = kernel_signature(kernel.sym_name.data, params(kernel, PLAIN, 1), tile * rows)
    return f"""{signature}
{{
    __shared__ {word} tile[{tile}][{tile + 1}];
    const {t} tx = threadIdx.x, ty = threadIdx.y;
    for ({t} t = blockIdx.x; t < {lit(total)}; t += gridDim.x) {{
        const {t} a0 = (t % {lit(tiles_a)}) * {lit(tile)};
        const {t} b0 = ((t / {lit(tiles_a)}) % {lit(tiles_b)}) * {lit(tile)};
{bt}{body}        const {t} in_base = {in_base};
        const {t} out_base = {out_base};
        for ({t} r = ty; r < {lit(tile)}; r += {lit(rows)}) {{
            const {t} ca = a0 + tx, cb = b0 + r;
            if (ca < {lit(shape[a])} && cb < {lit(shape[b])}) tile[r][tx] = in0[in_base + cb * {lit(in_strides[b])} + ca];
        }}
        __syncthreads();
        for ({t} r = ty; r < {lit(tile)}; r += {lit(rows)}) {{
            const {t} cb = b0 + tx, ca = a0 + r;
            if (ca < {lit(shape[a])} && cb < {lit(shape[b])}) out0[out_base + ca * {lit(out_stride_of[a])} + cb] = tile[tx][r];
        }}
        __syncthreads();
    }}
}}
"""


GENERATORS = {TransposeOp: Generator(configure, emit, candidates, check)}
