"""What a matrix-product kernel computes, read once from the kernel.func (`Problem`),
the per-element epilogue every matmul kernel calls (`epilogue_lambda`), and the frame the
SIMT and tensor-core kernels share: tile-parameter checks and the work loop's head.

The epilogue of a `fused.matmul` is printed by `common.epilogue.EpiloguePrinter` (the
elementwise ops through `scalar_code`, views/transposes/splits/slices as store-index
arithmetic); `graph.matmul` (+ bias) and `graph.gemm` (alpha, beta, C) get theirs here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import BFloat16Type, Float16Type
from xdsl.ir import Attribute

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import MatmulOp, is_integer_contraction
from dialects.graph.base import float_of, int_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.epilogue import EpiloguePrinter, Place, flat_of, regrouped, unflat
from passes.codegen.common.types import CType, ctype_of, literal

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
    b_operand: CType
    """B's element type (A's, except in an integer contraction of i8 by ui8)."""
    integer_contraction: bool = False
    """8-bit integer operands summed into an i32 accumulator (`fused.is_integer_contraction`)."""

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


def problem_of(kernel: FuncOp) -> Problem:
    """The product a matmul-family kernel computes, whatever op spells it."""
    name = f"@{kernel.sym_name.data}"
    op = kernel.computation
    params = {arg: f"in{j}" for j, arg in enumerate(kernel.body.block.args)}
    if isinstance(op, MatmulOp):
        transpose_a, transpose_b = op.transposes()
        lhs, rhs, a_k_fast, b_n_fast = op.lhs, op.rhs, not transpose_a, not transpose_b
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
        b_operand=ctype_of(rhs.type.element_type, name),
        integer_contraction=isinstance(op, MatmulOp) and is_integer_contraction(op),
    )


def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    rank = max(len(a), len(b))
    a, b = [1] * (rank - len(a)) + list(a), [1] * (rank - len(b)) + list(b)
    return tuple(max(x, y) if min(x, y) != 0 else 0 for x, y in zip(a, b))



# --- the epilogue: what happens to each accumulator element ------------------------------


def _div(expr: str, by: int) -> str:
    return expr if by == 1 else f"({expr} / {by})"


def _bcast(shape: Sequence[int], idx: Sequence[str]) -> list[str]:
    offset = len(idx) - len(shape)
    return ["0" if d == 1 else idx[k + offset] for k, d in enumerate(shape)]


def _acc_place(problem: Problem, acc_shape: Sequence[int]) -> Place:
    """The accumulator element (bz, m, n) in the region's accumulator tensor: the kernel's
    (*batch, M, N) regrouped into `acc_shape` (a vector operand drops M or N)."""
    batch = problem.batch
    own = [
        "0" if d == 1 else (_div("bz", math.prod(batch[j + 1 :])) if j == 0 else f"({_div('bz', math.prod(batch[j + 1 :]))} % {d})")
        for j, d in enumerate(batch)
    ] + ["m", "n"]
    shape = tuple(acc_shape)
    idx = regrouped((*batch, problem.m, problem.n), own, shape)
    return Place(shape, flat="f", idx=idx if idx is not None else unflat(shape, "f"))


@dataclass(frozen=True)
class Store:
    """One store of the epilogue: `out<target>[flat] = value` where every `conds` holds
    (C expressions in bz, m, n and f); `ctype` is the result's element type."""

    target: int
    flat: str
    value: str
    conds: tuple[str, ...]
    ctype: CType


class _RecordingPrinter(EpiloguePrinter):
    """The shared printer, also recording each store (for the vectorised epilogue)."""

    def stores(self, yielded, targets):
        self.records = []
        for r, v in enumerate(yielded):
            if v in self.places:
                place = self.places[v]
                ctype = ctype_of(v.type.element_type, "the epilogue")
                for t in targets(r):
                    self.records.append(Store(t, place.flat_index(), ctype.store(self.names[v]), tuple(place.conds), ctype))
        return super().stores(yielded, targets)


def _fused_epilogue(kernel: FuncOp, problem: Problem) -> tuple[list[str], list[Store]]:
    op = kernel.computation
    block = op.epilogue.block
    params = {inner: f"in{outer.index}" for inner, outer in zip(block.args[1:], op.extras)}
    printer = _RecordingPrinter(
        block,
        params,
        "acc",
        _acc_place(problem, block.args[0].type.get_shape()),
        lambda why: OptcError(f"cuda codegen of {problem.kernel}: {why}"),
        uncontracted=problem.integer_contraction,
    )
    lines = printer.print(lambda r: [r])
    return lines[: len(printer.lines)], printer.records


def _graph_epilogue(kernel: FuncOp, problem: Problem) -> tuple[list[str], list[Store]]:
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
            c = cc.load(f"{params[op.c]}[{flat_of(op.c.type.get_shape(), _bcast(op.c.type.get_shape(), ['m', 'n']))}]")
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
    return lines, [Store(0, "f", out.store(value), (), out)]


@dataclass(frozen=True)
class EpilogueCode:
    """The epilogue of a matmul kernel: statements computing every stored value of one
    accumulator element (in `acc`, bz, m, n, f), then its stores."""

    acc_ctype: CType
    body: list[str]
    stores: list[Store]

    def store_lines(self) -> list[str]:
        lines = []
        for s in self.stores:
            line = f"out{s.target}[{s.flat}] = {s.value};"
            lines.append(f"if ({' && '.join(s.conds)}) {line}" if s.conds else line)
        return lines

    def uses_f(self) -> bool:
        text = "\n".join([*self.body, *(s.flat for s in self.stores), *(c for s in self.stores for c in s.conds)])
        return re.search(r"\bf\b", text) is not None


def epilogue_code(kernel: FuncOp, problem: Problem) -> EpilogueCode:
    op = kernel.computation
    if isinstance(op, MatmulOp):
        acc_ctype = ctype_of(op.epilogue.block.args[0].type.element_type, problem.kernel)
        body, stores = _fused_epilogue(kernel, problem)
    else:
        acc_ctype = ctype_of(op.result.type.element_type, problem.kernel)
        body, stores = _graph_epilogue(kernel, problem)
    return EpilogueCode(acc_ctype, body, stores)


def _f_line(problem: Problem) -> str:
    it = problem.index_type
    return f"const {it} f = ((({it})bz * {problem.m} + m) * {problem.n} + n);"


def epilogue_lambda(kernel: FuncOp, problem: Problem, acc_type: str) -> list[str]:
    """`auto epilogue = [&](acc, bz, m, n) {...};`: what each accumulator element becomes.
    `acc_type` is the accumulator's C type (the raw sum; converted to the element's
    compute type here)."""
    code = epilogue_code(kernel, problem)
    it = problem.index_type
    prelude = [f"const {code.acc_ctype.compute} acc = ({code.acc_ctype.compute})acc_raw;"]
    if code.uses_f():
        prelude.append(_f_line(problem))
    return [
        f"auto epilogue = [&](const {acc_type} acc_raw, const {it} bz, const {it} m, const {it} n) {{",
        *(f"    {line}" for line in [*prelude, *code.body, *code.store_lines()]),
        "};",
    ]


# --- the kernels' frame ------------------------------------------------------------------



def tile_problem(launch: LaunchAttr, keys: Sequence[str]) -> str | None:
    """Why `launch`'s tile does not name every parameter in `keys` with a positive value."""
    tile = launch.tile_params
    missing = [k for k in keys if k not in tile]
    if missing:
        return f"#kernel.launch tile lacks {', '.join(missing)} (a matmul kernel needs {', '.join(keys)})"
    if any(tile[k] < 1 for k in keys):
        return f"tile parameters must be positive, got {tile}"
    return None


def tile_of(launch: LaunchAttr, keys: Sequence[str]) -> dict[str, int]:
    """The tile parameters `keys` of a launch `tile_problem` accepted."""
    tile = launch.tile_params
    return {k: tile[k] for k in keys}


def invalid(reason: str) -> str:
    return f"invalid matmul tile: {reason}"


def block_problem(launch: LaunchAttr, threads: int) -> str | None:
    """Why a tile of `threads` threads cannot run with `launch`'s block."""
    if not 32 <= threads <= 1024:
        return invalid(f"{threads} threads per block (32..1024 allowed)")
    if launch.block_dims != (threads, 1, 1):
        return invalid(f"the tile needs block [{threads}, 1, 1], launch has {list(launch.block_dims)}")
    return None


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


def head(problem: Problem, bm: int, bn: int, splits: int = 1) -> list[str]:
    """Constants, the work loop's head and the batch's operand pointers (the caller closes
    the loop with one `}`). With `splits` > 1 (split-K) the loop walks (split, output tile)
    work items, split-major, and also sets `split` and `item`, the output tile's index."""
    a_off, b_off = _batch_offsets(problem)
    tiles_m, tiles_n = max(1, -(-problem.m // bm)), max(1, -(-problem.n // bn))
    work = tiles_m * tiles_n * problem.batch_count
    a_storage, b_storage = problem.operand.storage, problem.b_operand.storage
    if splits == 1:
        loop, item = [f"for (long long w = blockIdx.x; w < {work}LL; w += gridDim.x) {{"], "w"
    else:
        loop, item = [
            f"for (long long w = blockIdx.x; w < {work * splits}LL; w += gridDim.x) {{",
            f"    const int split = (int)(w / {work});",
            f"    const long long item = w % {work};",
        ], "item"
    return [
        *loop,
        f"    const {problem.index_type} bz = ({problem.index_type})({item} / {tiles_m * tiles_n});",
        f"    const int tile = (int)({item} % {tiles_m * tiles_n});",
        f"    const int m0 = (tile / {tiles_n}) * {bm}, n0 = (tile % {tiles_n}) * {bn};",
        f"    const {a_storage}* __restrict__ A = {problem.a_param} + ({a_off});",
        f"    const {b_storage}* __restrict__ B = {problem.b_param} + ({b_off});",
    ]
