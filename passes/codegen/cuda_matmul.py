"""CUDA generators for matrix products: `fused.matmul`, and `graph.matmul` / `graph.gemm`
left on their own (without `fuse-epilogue`).

Every kernel computes C[b] = A[b] · B[b] for each batch b of the accumulator, one output
tile per block, then runs the epilogue on each element it holds in registers and stores
the results. Two main loops share that frame:

- `simt` (f32, f64, integers): shared-memory tiles of A and B (two stages, the next tile
  staged through registers while the current one is multiplied), each thread a
  `thread_m` x `thread_n` register tile; exact fp32 (no TF32), integers wrap as numpy's do.
- `mma` (f16, bf16): tensor cores, `mma.sync.m16n8k16` with fp32 accumulation, tiles
  copied with `cp.async` (16-byte chunks, zero-filled at the edges) into a `stages`-deep
  ring in dynamic shared memory and read with `ldmatrix` (`cuda_mma.py`); an operand whose
  contiguous extent is not a multiple of 8 elements is copied element by element instead.

Shapes are static, so M, N, K, batch strides and the epilogue's broadcasting are constants.
Blocks walk (batch, m tile, n tile) in a grid-stride loop over `grid.x`, so any grid is
correct; `configure` sizes it to the work. The epilogue (a C++ lambda called per element)
is printed from the fused region: elementwise ops through `cuda_elementwise.scalar_code`,
then views, transposes, splits and slices as index arithmetic on the stores.

Tile parameters (`#kernel.launch` `tile`), all checked by `emit`:
- simt: block_m, block_n, block_k, thread_m, thread_n; block = (block_m/thread_m)·(block_n/thread_n)
  threads (32..1024), static shared memory of 2·block_k·(block_m + block_n + 8) elements (≤ 48 KiB);
- mma: block_m, block_n, block_k, warps_m, warps_n, stages; block = 32·warps_m·warps_n threads;
  block_m a multiple of 16·warps_m, block_n of 16·warps_n, block_k of 16, stages 2..4;
  `shared` = 2·stages·(A tile + B tile) bytes with 8 elements of padding per row
  (configure's choices stay under 48 KiB; an autotuner may go to MAX_SHARED).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.dialects.builtin import BFloat16Type, Float16Type
from xdsl.ir import Attribute, Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import MatmulOp, YieldOp
from dialects.graph.base import float_of, int_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen import cuda_mma
from passes.codegen.cuda_elementwise import TEMPLATES, scalar_code
from passes.codegen.cuda_types import CType, ctype_of, kernel_signature, literal, pointer_params, strides
from passes.codegen.generator import Generator

SMS = 132
"""Streaming multiprocessors to fill (an H100 SXM); configure prefers tiles giving this many blocks."""
MAX_GRID = 2**31 - 1
STATIC_SHARED = 48 * 1024
"""Shared memory any kernel may use without the runtime raising its limit; every
configuration `configure` picks stays under it."""
MAX_SHARED = 99 * 1024
"""Dynamic shared memory an mma config may ask for (sm_80..sm_90 all allow it once the
runtime raises the kernel's limit with cuFuncSetAttribute)."""

SIMT_KEYS = ("block_m", "block_n", "block_k", "thread_m", "thread_n")
MMA_KEYS = ("block_m", "block_n", "block_k", "warps_m", "warps_n", "stages")

SIMT_CONFIGS = [  # largest first: (block_m, block_n, block_k, thread_m, thread_n)
    (128, 128, 8, 8, 8),
    (64, 64, 16, 4, 4),
    (32, 64, 16, 2, 4),
]
SIMT_SKINNY = (16, 128, 16, 1, 8)
"""For M <= 16 (GEMV-like): 16 rows, wide in N."""
MMA_CONFIGS = [  # largest first: (block_m, block_n, block_k, warps_m, warps_n, stages)
    (128, 128, 32, 2, 4, 2),
    (128, 64, 32, 2, 2, 3),
    (64, 64, 32, 2, 2, 3),
    (32, 64, 32, 2, 2, 3),
]
MMA_SKINNY = (16, 64, 32, 1, 4, 3)


# --- the problem: what the kernel multiplies ---------------------------------------------


@dataclass(frozen=True)
class Problem:
    """C[b] (m x n) = A[b] (m x k) · B[b] (k x n) for every flat batch index b of the
    accumulator's batch shape; A is stored [.., M, K] (`a_k_fast`) or [.., K, M], B
    [.., K, N] (`b_n_fast`) or [.., N, K]; operand batch strides are 0 where they broadcast."""

    kernel: str
    m: int
    n: int
    k: int
    batch: tuple[int, ...]
    a_batch_strides: tuple[int, ...]
    b_batch_strides: tuple[int, ...]
    a_k_fast: bool
    b_n_fast: bool
    a_param: str
    b_param: str
    operand: CType
    element: Attribute

    @property
    def batch_count(self) -> int:
        return math.prod(self.batch)

    @property
    def index_type(self) -> str:
        """int where every element offset fits, else long long."""
        last = lambda strides_: sum(st * (d - 1) for st, d in zip(strides_, self.batch))  # noqa: E731
        biggest = max(
            self.batch_count * self.m * self.n,
            last(self.a_batch_strides) + self.m * self.k,
            last(self.b_batch_strides) + self.k * self.n,
        )
        return "int" if biggest < 2**31 else "long long"

    @property
    def tensor_cores(self) -> bool:
        return isinstance(self.element, (Float16Type, BFloat16Type))


def _batch_strides(shape: Sequence[int], matrix: int, batch: Sequence[int]) -> tuple[int, ...]:
    """Strides (elements) of an operand's batch dims along the accumulator's batch dims,
    right-aligned, 0 where the operand broadcasts."""
    lead = shape[:-2]
    own = [math.prod(lead[j + 1 :]) * matrix for j in range(len(lead))]
    offset = len(batch) - len(lead)
    return tuple(
        0 if k < offset or lead[k - offset] == 1 else own[k - offset] for k in range(len(batch))
    )


def _problem(kernel: FuncOp) -> Problem:
    """The product a matmul-family kernel computes, whatever op spells it."""
    name = f"@{kernel.sym_name.data}"
    op = kernel.computation
    params = {arg: f"in{j}" for j, arg in enumerate(kernel.body.block.args)}
    if isinstance(op, MatmulOp):
        lhs, rhs, a_k_fast, b_n_fast = op.lhs, op.rhs, True, not int_of(op.transpose_b)
    elif isinstance(op, graph.MatMulOp):
        lhs, rhs, a_k_fast, b_n_fast = op.lhs, op.rhs, True, True
    elif isinstance(op, graph.GemmOp):
        lhs, rhs = op.a, op.b
        a_k_fast, b_n_fast = not int_of(op.trans_a), not int_of(op.trans_b)
    else:
        raise OptcError(f"cuda codegen of {name}: '{op.name}' is not a matrix product")
    a_shape, b_shape = list(lhs.type.get_shape()), list(rhs.type.get_shape())
    if len(a_shape) == 1:  # numpy: a vector lhs is one row, a vector rhs one column
        a_shape = [1, *a_shape]
    if len(b_shape) == 1:
        b_shape = [*b_shape, 1]
    m, k = a_shape[-2:] if a_k_fast else a_shape[:-3:-1]
    n = b_shape[-1] if b_n_fast else b_shape[-2]
    batch = _broadcast(a_shape[:-2], b_shape[:-2])
    operand = ctype_of(lhs.type.element_type, name)
    if operand.compute == "bool":
        raise OptcError(f"cuda codegen of {name}: '{op.name}' on i1 has no CUDA kernel (numpy's boolean matmul)")
    return Problem(
        kernel=name,
        m=m,
        n=n,
        k=k,
        batch=batch,
        a_batch_strides=_batch_strides(a_shape, m * k, batch),
        b_batch_strides=_batch_strides(b_shape, k * n, batch),
        a_k_fast=a_k_fast,
        b_n_fast=b_n_fast,
        a_param=params[lhs],
        b_param=params[rhs],
        operand=operand,
        element=lhs.type.element_type,
    )


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    rank = max(len(a), len(b))
    a, b = [1] * (rank - len(a)) + list(a), [1] * (rank - len(b)) + list(b)
    return tuple(max(x, y) if min(x, y) != 0 else 0 for x, y in zip(a, b))


# --- the epilogue: what happens to each accumulator element ------------------------------


@dataclass
class _Place:
    """Where an epilogue value's element lives: its tensor's shape, and the element's flat
    index or per-dimension indices (C expressions; either derived from the other on
    demand), under conditions (a split or slice keeps only some elements)."""

    shape: tuple[int, ...]
    flat: str | None = None
    idx: tuple[str, ...] | None = None
    conds: tuple[str, ...] = ()

    def indices(self) -> tuple[str, ...]:
        if self.idx is None:
            self.idx = tuple(
                "0" if dim == 1 else (f"{_div(self.flat, s)}" if k == 0 else f"({_div(self.flat, s)} % {dim})")
                for k, (dim, s) in enumerate(zip(self.shape, strides(self.shape)))
            )
        return self.idx

    def flat_index(self) -> str:
        if self.flat is None:
            terms = [i if s == 1 else f"{i} * {s}" for i, s, d in zip(self.indices(), strides(self.shape), self.shape) if d != 1]
            self.flat = f"({' + '.join(terms)})" if terms else "0"
        return self.flat


def _regrouped(old: Sequence[int], idx: Sequence[str], new: Sequence[int]) -> tuple[str, ...] | None:
    """Indices into `new` of the element at `idx` of `old` (same elements, row-major), by
    matching groups of dimensions with equal products, so a reshape [s, h·d] → [s, h, d]
    gives (i0, i1 / d, i1 % d) rather than a division of the flat index. None where a
    size-0 dimension defeats the grouping."""
    if 0 in old or 0 in new:
        return None
    old_dims = [(d, x) for d, x in zip(old, idx) if d != 1]
    out: list[str] = []
    i = 0
    j = 0
    while j < len(new):
        if new[j] == 1:
            out.append("0")
            j += 1
            continue
        group_old, group_new = [old_dims[i]], [j]
        po, pn = old_dims[i][0], new[j]
        i, j = i + 1, j + 1
        while po != pn:
            if po < pn:
                group_old.append(old_dims[i])
                po, i = po * old_dims[i][0], i + 1
            else:
                while new[j] == 1:  # a unit dim inside a group: index 0, no size
                    group_new.append(j)
                    j += 1
                group_new.append(j)
                pn, j = pn * new[j], j + 1
        linear = _Place(tuple(d for d, _ in group_old), idx=tuple(x for _, x in group_old)).flat_index()
        sub = _Place(tuple(new[g] for g in group_new), flat=linear).indices()
        out.extend(sub)
    return tuple(out)


def _div(expr: str, by: int) -> str:
    return expr if by == 1 else f"({expr} / {by})"


def _broadcast_index(shape: Sequence[int], indices: Sequence[str]) -> str:
    """Flat index into a tensor of `shape` broadcasting to a tensor indexed by `indices`."""
    offset = len(indices) - len(shape)
    terms = [
        indices[k + offset] if s == 1 else f"{indices[k + offset]} * {s}"
        for k, (dim, s) in enumerate(zip(shape, strides(shape)))
        if dim != 1
    ]
    return " + ".join(terms) if terms else "0"


_VIEWS = (graph.ReshapeOp, graph.FlattenOp, graph.SqueezeOp, graph.UnsqueezeOp)


@dataclass
class _Epilogue:
    """Prints an epilogue as C statements over `acc` (the accumulator element, compute
    type), `bz` (flat batch index), `m`, `n`; `f` is the element's flat index."""

    problem: Problem
    acc_shape: tuple[int, ...]
    lines: list[str] = field(default_factory=list)
    names: dict[SSAValue, str] = field(default_factory=dict)
    places: dict[SSAValue, _Place] = field(default_factory=dict)
    base: dict[SSAValue, SSAValue] = field(default_factory=dict)
    """Each layout-derived value → the computed value whose elements it rearranges."""
    flat: set[SSAValue] = field(default_factory=set)
    """Values whose element at hand is the accumulator's (computed values and their views)."""

    def fail(self, reason: str) -> OptcError:
        return OptcError(f"cuda codegen of {self.problem.kernel}: {reason}")

    def acc_indices(self, shape: Sequence[int]) -> tuple[str, ...]:
        """Per-dimension indices of the current element in a tensor of `shape` (one of the
        accumulator's element count: the accumulator up to leading ones, or a view of it)."""
        acc = self.acc_shape
        batch = acc[:-2]
        own = [
            "0" if d == 1 else (_div("bz", math.prod(batch[j + 1 :])) if j == 0 else f"({_div('bz', math.prod(batch[j + 1 :]))} % {d})")
            for j, d in enumerate(batch)
        ] + ["m", "n"]
        lead = len(shape) - len(acc)
        if lead >= 0 and tuple(shape[lead:]) == tuple(acc) and all(d == 1 for d in shape[:lead]):
            return ("0",) * lead + tuple(own)
        if lead < 0 and tuple(shape) == tuple(acc[-lead:]) and all(d == 1 for d in acc[:-lead]):
            return tuple(own[-lead:])
        return _regrouped(acc, own, shape) or _Place(tuple(shape), flat="f").indices()

    def load_extra(self, arg: SSAValue, shape: Sequence[int]) -> str:
        """A C variable holding the extra's element broadcast to `shape`'s current element."""
        kernel_arg = self.problem_arg(arg)
        ctype = ctype_of(arg.type.element_type, self.problem.kernel)
        index = _broadcast_index(arg.type.get_shape(), self.acc_indices(shape))
        var = f"x{len(self.lines)}"
        self.lines.append(f"const {ctype.compute} {var} = {ctype.load(f'{kernel_arg}[{index}]')};")
        return var

    def problem_arg(self, arg: SSAValue) -> str:
        raise NotImplementedError


@dataclass
class _FusedEpilogue(_Epilogue):
    """The epilogue region of a `fused.matmul`."""

    op: MatmulOp | None = None

    def problem_arg(self, arg: SSAValue) -> str:
        outer = self.op.extras[arg.index - 1]
        return f"in{outer.index}"

    def print(self) -> list[str]:
        block = self.op.epilogue.block
        acc = block.args[0]
        self.names[acc] = "acc"
        self.places[acc] = _Place(self.acc_shape, flat="f", idx=self.acc_indices(self.acc_shape))
        self.base[acc] = acc
        self.flat.add(acc)
        constants = {}
        for k, inner in enumerate(block.ops):
            if isinstance(inner, YieldOp):
                continue
            if isinstance(inner, graph.ConstantOp):
                constants[inner.result] = inner
            elif type(inner) in TEMPLATES:
                self.elementwise(k, inner, constants)
            elif isinstance(inner, (*_VIEWS, graph.TransposeOp, graph.SplitOp, graph.SliceOp)):
                self.layout(inner)
            else:
                raise self.fail(f"'{inner.name}' in a matmul epilogue has no CUDA lowering")
        return self.lines + self.stores(block.last_op)

    def elementwise(self, k: int, op: Operation, constants: dict) -> None:
        shape = tuple(op.results[0].type.get_shape())
        if math.prod(shape) != math.prod(self.acc_shape):
            raise self.fail(f"'{op.name}' in the epilogue computes {op.results[0].type}, not one element per accumulator element")
        for j, v in enumerate(op.operands):
            if v in constants:
                scalar_code([constants[v]], self.names, lambda s: _broadcast_index(s, self.acc_indices(shape)), f"e{k}c{j}_")
            elif v in self.places:
                if v not in self.flat:
                    raise self.fail(
                        f"'{op.name}' reads a transposed, split or sliced value in the epilogue "
                        "(only views, transposes, splits and slices may follow those)"
                    )
            else:  # an extra (block argument)
                self.names[v] = self.load_extra(v, shape)
        try:
            self.lines += scalar_code([op], self.names, lambda s: _broadcast_index(s, self.acc_indices(shape)), f"e{k}_")
        except OptcError as exc:
            raise self.fail(str(exc)) from None
        result = op.results[0]
        self.places[result] = _Place(shape, flat="f", idx=self.acc_indices(shape))
        self.base[result] = result
        self.flat.add(result)

    def layout(self, op: Operation) -> None:
        source = op.operands[0]
        if source not in self.places:
            raise self.fail(f"'{op.name}' of an extra or constant inside the epilogue has no CUDA lowering (view it outside)")
        place, base = self.places[source], self.base[source]
        if isinstance(op, _VIEWS):
            shape = tuple(op.results[0].type.get_shape())
            out = [_Place(shape, flat=place.flat, idx=_regrouped(place.shape, place.indices(), shape), conds=place.conds)]
            if out[0].idx is None:
                out[0].flat = place.flat_index()
        elif isinstance(op, graph.TransposeOp):
            idx = place.indices()
            perm = [int(p) for p in op.perm.get_values()]
            out = [_Place(tuple(op.result.type.get_shape()), idx=tuple(idx[p] for p in perm), conds=place.conds)]
        elif isinstance(op, graph.SplitOp):
            axis = int_of(op.axis) % len(place.shape)
            idx, out, start = place.indices(), [], 0
            for r in op.outputs:
                size = r.type.get_shape()[axis]
                shifted = idx[axis] if start == 0 else f"({idx[axis]} - {start})"
                conds = [c for c in (f"{idx[axis]} >= {start}" if start else "", f"{idx[axis]} < {start + size}" if start + size < place.shape[axis] else "") if c]
                out.append(_Place(tuple(r.type.get_shape()), idx=(*idx[:axis], shifted, *idx[axis + 1 :]), conds=(*place.conds, *conds)))
                start += size
        else:  # slice: element x of an axis is output o when x = start + step·o, 0 <= o < size
            idx, new, conds = place.indices(), [], list(place.conds)
            for axis, (x, dim, size, start, step) in enumerate(
                zip(idx, place.shape, op.result.type.get_shape(), op.starts.get_values(), op.steps.get_values())
            ):
                if start == 0 and step == 1 and size == dim:
                    new.append(x)
                    continue
                d = x if start == 0 else f"({x} - {start})"
                o = d if step == 1 else f"({d} / {step})"
                if step != 1:
                    conds.append(f"{d} % {step} == 0")
                conds += [f"{o} >= 0", f"{o} < {size}"]
                new.append(o)
            out = [_Place(tuple(op.result.type.get_shape()), idx=tuple(new), conds=tuple(conds))]
        for r, p in zip(op.results, out):
            self.places[r], self.base[r] = p, base
            self.names[r] = self.names[base]
            if isinstance(op, _VIEWS) and source in self.flat:
                self.flat.add(r)  # the same element, relabelled

    def stores(self, yield_op: YieldOp) -> list[str]:
        lines = []
        for r, v in enumerate(yield_op.values):
            if v not in self.places:
                raise self.fail("the epilogue yields an extra or a constant unchanged; that is a copy, not a matmul result")
            place = self.places[v]
            store = ctype_of(v.type.element_type, self.problem.kernel).store(self.names[self.base[v]])
            line = f"out{r}[{place.flat_index()}] = {store};"
            lines.append(f"if ({' && '.join(place.conds)}) {line}" if place.conds else line)
        return lines


def _graph_epilogue(kernel: FuncOp, problem: Problem) -> list[str]:
    """graph.matmul (+ bias over the columns) and graph.gemm (alpha, beta, c) without fusion."""
    op = kernel.computation
    params = {arg: f"in{j}" for j, arg in enumerate(kernel.body.block.args)}
    out = ctype_of(op.result.type.element_type, problem.kernel)
    compute = out.compute
    lines, value = [], "acc"
    if isinstance(op, graph.MatMulOp):
        if op.bias is not None:
            bias = ctype_of(op.bias.type.element_type, problem.kernel)
            lines.append(f"const {compute} v = acc + {bias.load(f'{params[op.bias]}[n]')};")
            value = "v"
    else:
        alpha, beta = float_of(op.alpha), float_of(op.beta)
        c = None
        if op.c is not None and beta != 0.0:
            cc = ctype_of(op.c.type.element_type, problem.kernel)
            c = cc.load(f"{params[op.c]}[{_broadcast_index(op.c.type.get_shape(), ['m', 'n'])}]")
        if compute in ("float", "double"):
            if alpha != 1.0:
                value = f"({literal(alpha, compute)} * acc)"
            if c is not None:
                value = f"({value} + {c if beta == 1.0 else f'({literal(beta, compute)} * {c})'})"
        elif alpha != 1.0 or (c is not None and beta != 1.0):  # numpy: int · python float is float64
            value = f"({literal(alpha, 'double')} * (double)acc)"
            if c is not None:
                value = f"({compute})({value} + {literal(beta, 'double')} * (double){c})"
            else:
                value = f"({compute}){value}"
        elif c is not None:
            value = f"(acc + {c})"
        lines.append(f"const {compute} v = {value};")
        value = "v"
    lines.append(f"out0[f] = {out.store(value)};")
    return lines


def epilogue_lambda(kernel: FuncOp, problem: Problem, acc_type: str) -> list[str]:
    """`auto epilogue = [&](acc, bz, m, n) {...};`: what each accumulator element becomes.
    `acc_type` is the accumulator's C type (the raw sum; converted to the element's
    compute type here)."""
    op = kernel.computation
    it = problem.index_type
    if isinstance(op, MatmulOp):
        acc_arg = op.epilogue.block.args[0]
        acc_ctype = ctype_of(acc_arg.type.element_type, problem.kernel)
        printer = _FusedEpilogue(problem, tuple(acc_arg.type.get_shape()), op=op)
        body = printer.print()
    else:
        acc_ctype = ctype_of(op.result.type.element_type, problem.kernel)
        body = _graph_epilogue(kernel, problem)
    text = "\n".join(body)
    head = [f"const {acc_ctype.compute} acc = ({acc_ctype.compute})acc_raw;"]
    if re.search(r"\bf\b", text):
        head.append(f"const {it} f = ((({it})bz * {problem.m} + m) * {problem.n} + n);")
    return [
        f"auto epilogue = [&](const {acc_type} acc_raw, const {it} bz, const {it} m, const {it} n) {{",
        *(f"    {line}" for line in [*head, *body]),
        "};",
    ]


# --- configure ---------------------------------------------------------------------------


def _tiles(problem: Problem, bm: int, bn: int) -> int:
    return max(1, -(-problem.m // bm)) * max(1, -(-problem.n // bn)) * max(1, problem.batch_count)


def _pick(problem: Problem, configs: list[tuple], skinny: tuple) -> tuple:
    """The largest tile that still gives every SM a block; the smallest if none does."""
    if problem.m <= 16:
        return skinny
    for config in configs:
        if _tiles(problem, config[0], config[1]) >= SMS:
            return config
    return configs[-1]


def _mma_shared(problem: Problem, tile: dict[str, int]) -> int:
    bm, bn, bk, stages = tile["block_m"], tile["block_n"], tile["block_k"], tile["stages"]
    a = bm * (bk + cuda_mma.PAD) if problem.a_k_fast else bk * (bm + cuda_mma.PAD)
    b = bk * (bn + cuda_mma.PAD) if problem.b_n_fast else bn * (bk + cuda_mma.PAD)
    return 2 * stages * (a + b)


def _simt_threads(tile: dict[str, int]) -> int:
    return (tile["block_m"] // tile["thread_m"]) * (tile["block_n"] // tile["thread_n"])


def configure(kernel: FuncOp) -> LaunchAttr:
    """Tensor cores for f16/bf16, SIMT otherwise; tiles as large as the SMs allow."""
    problem = _problem(kernel)
    if problem.tensor_cores:
        tile = dict(zip(MMA_KEYS, _pick(problem, MMA_CONFIGS, MMA_SKINNY)))
        threads, shared = 32 * tile["warps_m"] * tile["warps_n"], _mma_shared(problem, tile)
    else:
        tile = dict(zip(SIMT_KEYS, _pick(problem, SIMT_CONFIGS, SIMT_SKINNY)))
        threads, shared = _simt_threads(tile), 0
    blocks = min(MAX_GRID, _tiles(problem, tile["block_m"], tile["block_n"]))
    return LaunchAttr([blocks], [threads], shared, tile)


# --- emit --------------------------------------------------------------------------------


def _tile_of(problem: Problem, launch: LaunchAttr, keys: Sequence[str]) -> dict[str, int]:
    tile = launch.tile_params
    missing = [k for k in keys if k not in tile]
    if missing:
        raise OptcError(f"cuda codegen of {problem.kernel}: #kernel.launch tile lacks {', '.join(missing)} (a matmul kernel needs {', '.join(keys)})")
    if any(tile[k] < 1 for k in keys):
        raise OptcError(f"cuda codegen of {problem.kernel}: tile parameters must be positive, got {tile}")
    return {k: tile[k] for k in keys}


def _check(problem: Problem, ok: bool, reason: str) -> None:
    if not ok:
        raise OptcError(f"cuda codegen of {problem.kernel}: invalid matmul tile: {reason}")


def _check_block(problem: Problem, launch: LaunchAttr, threads: int) -> None:
    _check(problem, 32 <= threads <= 1024, f"{threads} threads per block (32..1024 allowed)")
    _check(problem, launch.block_dims == (threads, 1, 1), f"the tile needs block [{threads}, 1, 1], launch has {list(launch.block_dims)}")


def _batch_offsets(problem: Problem) -> tuple[str, str]:
    """C expressions of A's and B's element offsets for flat batch index `bz`."""

    def offset(strides_: Sequence[int]) -> str:
        terms = []
        for j, (d, s) in enumerate(zip(problem.batch, strides_)):
            if s == 0 or d == 1:
                continue
            inner = math.prod(problem.batch[j + 1 :])
            q = _div("bz", inner)
            terms.append(f"{q if j == 0 else f'({q} % {d})'} * {s}LL")
        return " + ".join(terms) if terms else "0"

    return offset(problem.a_batch_strides), offset(problem.b_batch_strides)


def _head(problem: Problem, bm: int, bn: int) -> list[str]:
    """Constants, the work loop's head and the batch's operand pointers (the caller closes
    the loop with one `}`)."""
    a_off, b_off = _batch_offsets(problem)
    tiles_m, tiles_n = max(1, -(-problem.m // bm)), max(1, -(-problem.n // bn))
    work = tiles_m * tiles_n * problem.batch_count
    storage = problem.operand.storage
    return [
        f"for (long long w = blockIdx.x; w < {work}LL; w += gridDim.x) {{",
        f"    const {problem.index_type} bz = ({problem.index_type})(w / {tiles_m * tiles_n});",
        f"    const int tile = (int)(w % {tiles_m * tiles_n});",
        f"    const int m0 = (tile / {tiles_n}) * {bm}, n0 = (tile % {tiles_n}) * {bn};",
        f"    const {storage}* __restrict__ A = {problem.a_param} + ({a_off});",
        f"    const {storage}* __restrict__ B = {problem.b_param} + ({b_off});",
    ]


def _simt_acc_type(problem: Problem) -> str:
    """What SIMT sums in: the compute type for floats, unsigned (≥ 32 bits) for integers,
    whose wrap-around then equals numpy's in the element type."""
    c = problem.operand
    if c.is_float:
        return c.compute
    return "unsigned long long" if c.itemsize == 8 else "unsigned int"


def _emit_simt(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    t = _tile_of(problem, launch, SIMT_KEYS)
    bm, bn, bk, tm, tn = (t[k] for k in SIMT_KEYS)
    _check(problem, bm % tm == 0 and bn % tn == 0, f"block_m {bm} / thread_m {tm} and block_n {bn} / thread_n {tn} must divide")
    _check(problem, tm * tn <= 64, f"thread_m·thread_n = {tm * tn} accumulators per thread (at most 64)")
    threads = _simt_threads(t)
    _check_block(problem, launch, threads)
    acc = _simt_acc_type(problem)
    size = {"float": 4, "double": 8, "unsigned int": 4, "unsigned long long": 8}[acc]
    pa, pb = bm + 4, bn + 4  # padding: fewer bank conflicts on the transposed stores
    shared = 2 * bk * (pa + pb) * size
    _check(problem, shared <= STATIC_SHARED, f"{shared} bytes of static shared memory (at most {STATIC_SHARED})")
    m, n, k, it = problem.m, problem.n, problem.k, problem.index_type
    la, lb = -(-bm * bk // threads), -(-bk * bn // threads)
    load = problem.operand.load

    def a_at(e: str) -> tuple[str, str, str]:
        """(row in tile, k in tile, global offset) of A-tile element e, consecutive e
        along A's contiguous dimension (coalesced)."""
        if problem.a_k_fast:
            r, kk = f"({e}) / {bk}", f"({e}) % {bk}"
            return r, kk, f"({it})(m0 + r) * {k} + k0 + kk"
        r, kk = f"({e}) % {bm}", f"({e}) / {bm}"
        return r, kk, f"({it})(k0 + kk) * {m} + m0 + r"

    def b_at(e: str) -> tuple[str, str, str]:
        if problem.b_n_fast:
            col, kk = f"({e}) % {bn}", f"({e}) / {bn}"
            return col, kk, f"({it})(k0 + kk) * {n} + n0 + col"
        col, kk = f"({e}) / {bk}", f"({e}) % {bk}"
        return col, kk, f"({it})(n0 + col) * {k} + k0 + kk"

    def fetch(k0: str) -> list[str]:
        ra, ka, ga = a_at("e")
        rb, kb, gb = b_at("e")
        return [
            "{",
            f"    const int k0 = {k0};",
            "    #pragma unroll",
            f"    for (int i = 0; i < {la}; ++i) {{",
            f"        const int e = threadIdx.x + i * {threads}, r = {ra}, kk = {ka};",
            f"        ra[i] = (e < {bm * bk} && m0 + r < {m} && k0 + kk < {k}) ? ({acc}){load(f'A[{ga}]')} : ({acc})0;",
            "    }",
            "    #pragma unroll",
            f"    for (int i = 0; i < {lb}; ++i) {{",
            f"        const int e = threadIdx.x + i * {threads}, col = {rb}, kk = {kb};",
            f"        rb[i] = (e < {bk * bn} && n0 + col < {n} && k0 + kk < {k}) ? ({acc}){load(f'B[{gb}]')} : ({acc})0;",
            "    }",
            "}",
        ]

    def stash(stage: str) -> list[str]:
        ra, ka, _ = a_at("e")
        rb, kb, _ = b_at("e")
        return [
            "#pragma unroll",
            f"for (int i = 0; i < {la}; ++i) {{",
            f"    const int e = threadIdx.x + i * {threads};",
            f"    if (e < {bm * bk}) As[{stage}][{ka}][{ra}] = ra[i];",
            "}",
            "#pragma unroll",
            f"for (int i = 0; i < {lb}; ++i) {{",
            f"    const int e = threadIdx.x + i * {threads};",
            f"    if (e < {bk * bn}) Bs[{stage}][{kb}][{rb}] = rb[i];",
            "}",
        ]

    if acc == "float" and tm % 4 == 0 and tn % 4 == 0:
        frag = [
            "#pragma unroll",
            f"for (int i = 0; i < {tm}; i += 4) *reinterpret_cast<float4*>(&a[i]) = *reinterpret_cast<const float4*>(&As[s][kk][ty * {tm} + i]);",
            "#pragma unroll",
            f"for (int j = 0; j < {tn}; j += 4) *reinterpret_cast<float4*>(&b[j]) = *reinterpret_cast<const float4*>(&Bs[s][kk][tx * {tn} + j]);",
        ]
    else:
        frag = [
            "#pragma unroll",
            f"for (int i = 0; i < {tm}; ++i) a[i] = As[s][kk][ty * {tm} + i];",
            "#pragma unroll",
            f"for (int j = 0; j < {tn}; ++j) b[j] = Bs[s][kk][tx * {tn} + j];",
        ]
    kt = -(-k // bk)
    body = [
        f"const int tx = threadIdx.x % {bn // tn}, ty = threadIdx.x / {bn // tn};",
        *epilogue_lambda(kernel, problem, acc),
        *_head(problem, bm, bn),
        f"    {acc} c[{tm}][{tn}];",
        "    #pragma unroll",
        f"    for (int i = 0; i < {tm}; ++i)",
        "        #pragma unroll",
        f"        for (int j = 0; j < {tn}; ++j) c[i][j] = ({acc})0;",
        f"    {acc} ra[{la}], rb[{lb}];",
        *(f"    {line}" for line in fetch("0")),
        *(f"    {line}" for line in stash("0")),
        "    __syncthreads();",
        f"    for (int kt = 0; kt < {kt}; ++kt) {{",
        "        const int s = kt & 1;",
        f"        if (kt + 1 < {kt}) {{",
        *(f"            {line}" for line in fetch(f"(kt + 1) * {bk}")),
        "        }",
        "        #pragma unroll",
        f"        for (int kk = 0; kk < {bk}; ++kk) {{",
        f"            __align__(16) {acc} a[{tm}];",
        f"            __align__(16) {acc} b[{tn}];",
        *(f"            {line}" for line in frag),
        "            #pragma unroll",
        f"            for (int i = 0; i < {tm}; ++i)",
        "                #pragma unroll",
        f"                for (int j = 0; j < {tn}; ++j) c[i][j] += a[i] * b[j];",
        "        }",
        f"        if (kt + 1 < {kt}) {{",
        *(f"            {line}" for line in stash("s ^ 1")),
        "        }",
        "        __syncthreads();",
        "    }",
        "    #pragma unroll",
        f"    for (int i = 0; i < {tm}; ++i) {{",
        "        #pragma unroll",
        f"        for (int j = 0; j < {tn}; ++j) {{",
        f"            const int m = m0 + ty * {tm} + i, n = n0 + tx * {tn} + j;",
        f"            if (m < {m} && n < {n}) epilogue(c[i][j], bz, m, n);",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(
        [
            kernel_signature(kernel.sym_name.data, pointer_params(kernel), threads),
            "{",
            f"    __shared__ __align__(16) {acc} As[2][{bk}][{pa}];",
            f"    __shared__ __align__(16) {acc} Bs[2][{bk}][{pb}];",
            *(f"    {line}" for line in body),
            "}",
            "",
        ]
    )


def _emit_mma(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    t = _tile_of(problem, launch, MMA_KEYS)
    bm, bn, bk, wm, wn, stages = (t[k] for k in MMA_KEYS)
    _check(problem, bm % (16 * wm) == 0, f"block_m {bm} must be a multiple of 16·warps_m = {16 * wm}")
    _check(problem, bn % (16 * wn) == 0, f"block_n {bn} must be a multiple of 16·warps_n = {16 * wn}")
    _check(problem, bk % 16 == 0, f"block_k {bk} must be a multiple of 16")
    _check(problem, 2 <= stages <= 4, f"stages {stages} (2..4 allowed)")
    threads = 32 * wm * wn
    _check_block(problem, launch, threads)
    shared = _mma_shared(problem, t)
    _check(problem, shared <= MAX_SHARED, f"{shared} bytes of shared memory (at most {MAX_SHARED})")
    _check(problem, launch.shared_bytes >= shared, f"the tile needs {shared} bytes of dynamic shared memory, launch gives {launch.shared_bytes}")
    m, n, k, it = problem.m, problem.n, problem.k, problem.index_type
    mi_count, ni_count = bm // wm // 16, bn // wn // 8
    pad = cuda_mma.PAD
    a_stage = bm * (bk + pad) if problem.a_k_fast else bk * (bm + pad)
    b_stage = bk * (bn + pad) if problem.b_n_fast else bn * (bk + pad)
    if problem.a_k_fast:
        a_copy = cuda_mma.TileCopy("As", "A", bm, bk, "m0", m, "k0", k, k, it)
    else:
        a_copy = cuda_mma.TileCopy("As", "A", bk, bm, "k0", k, "m0", m, m, it)
    if problem.b_n_fast:
        b_copy = cuda_mma.TileCopy("Bs", "B", bk, bn, "k0", k, "n0", n, n, it)
    else:
        b_copy = cuda_mma.TileCopy("Bs", "B", bn, bk, "n0", n, "k0", k, k, it)
    a_vec, b_vec = a_copy.vectorisable, b_copy.vectorisable

    def load_stage(stage: str, k0: str) -> list[str]:
        return [
            "{",
            f"    const int k0 = {k0};",
            f"    unsigned short* As = smem + ({stage}) * {a_stage};",
            f"    unsigned short* Bs = smem + {stages * a_stage} + ({stage}) * {b_stage};",
            *(f"    {line}" for line in a_copy.code(threads, a_vec)),
            *(f"    {line}" for line in b_copy.code(threads, b_vec)),
            "}",
        ]

    kt = -(-k // bk)
    mma = cuda_mma.mma_function("f16" if isinstance(problem.element, Float16Type) else "bf16")
    body = [
        "extern __shared__ __align__(16) unsigned short smem[];",
        "const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;",
        f"const int wm = (warp / {wn}) * {bm // wm}, wn = (warp % {wn}) * {bn // wn};",
        *epilogue_lambda(kernel, problem, "float"),
        *_head(problem, bm, bn),
        f"    float acc[{mi_count}][{ni_count}][4];",
        "    #pragma unroll",
        f"    for (int mi = 0; mi < {mi_count}; ++mi)",
        "        #pragma unroll",
        f"        for (int ni = 0; ni < {ni_count}; ++ni)",
        "            #pragma unroll",
        "            for (int q = 0; q < 4; ++q) acc[mi][ni][q] = 0.0f;",
        "    // prologue: the first stages - 1 tiles in flight",
        "    #pragma unroll",
        f"    for (int s = 0; s < {stages - 1}; ++s) {{",
        f"        if (s < {kt}) {{",
        *(f"            {line}" for line in load_stage("s", f"s * {bk}")),
        "        }",
        "        optc_cp_async_commit();",
        "    }",
        f"    for (int kt = 0; kt < {kt}; ++kt) {{",
        f"        OPTC_CP_ASYNC_WAIT({stages - 2});  // tile kt has landed (this thread's copies)",
        "        __syncthreads();  // ... everyone's; and everyone is done with tile kt - 1",
        f"        if (kt + {stages - 1} < {kt}) {{",
        *(f"            {line}" for line in load_stage(f"(kt + {stages - 1}) % {stages}", f"(kt + {stages - 1}) * {bk}")),
        "        }",
        "        optc_cp_async_commit();",
        f"        const unsigned short* As = smem + (kt % {stages}) * {a_stage};",
        f"        const unsigned short* Bs = smem + {stages * a_stage} + (kt % {stages}) * {b_stage};",
        "        #pragma unroll",
        f"        for (int kk = 0; kk < {bk}; kk += 16) {{",
        f"            unsigned a[{mi_count}][4], b[{ni_count}][2];",
        *(f"            {line}" for line in cuda_mma.a_fragments("As", problem.a_k_fast, a_copy.row_length, mi_count, "wm", "kk")),
        *(f"            {line}" for line in cuda_mma.b_fragments("Bs", problem.b_n_fast, b_copy.row_length, ni_count, "wn", "kk")),
        "            #pragma unroll",
        f"            for (int mi = 0; mi < {mi_count}; ++mi)",
        "                #pragma unroll",
        f"                for (int ni = 0; ni < {ni_count}; ++ni) {mma}(acc[mi][ni], a[mi], b[ni]);",
        "        }",
        "    }",
        "    OPTC_CP_ASYNC_WAIT(0);",
        "    __syncthreads();  // the next work item refills stage 0",
        "    #pragma unroll",
        f"    for (int mi = 0; mi < {mi_count}; ++mi) {{",
        "        #pragma unroll",
        f"        for (int ni = 0; ni < {ni_count}; ++ni) {{",
        "            #pragma unroll",
        "            for (int q = 0; q < 4; ++q) {",
        "                const int m = m0 + wm + mi * 16 + (lane >> 2) + (q >> 1) * 8;",
        "                const int n = n0 + wn + ni * 8 + (lane & 3) * 2 + (q & 1);",
        f"                if (m < {m} && n < {n}) epilogue(acc[mi][ni][q], bz, m, n);",
        "            }",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(
        [
            cuda_mma.HELPERS,
            kernel_signature(kernel.sym_name.data, pointer_params(kernel), threads),
            "{",
            *(f"    {line}" for line in body),
            "}",
            "",
        ]
    )


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The kernel's CUDA C for `launch` (any valid tile; invalid ones are OptcErrors)."""
    problem = _problem(kernel)
    if problem.tensor_cores:
        return _emit_mma(kernel, problem, launch)
    return _emit_simt(kernel, problem, launch)


GENERATORS: dict[type, Generator] = {
    op_class: Generator(configure, emit) for op_class in (MatmulOp, graph.MatMulOp, graph.GemmOp)
}
