"""CUDA generators for the reduction family: a `kernel.func` computing a `fused.reduction`
(softmax, log_softmax, layer_norm, instance_norm, reduce_*, arg_max/arg_min or a global
pool with the elementwise ops around it) or one of the lone graph ops softmax, log_softmax,
layer_norm, reduce_* and arg_max/arg_min.

A fused.reduction region is: the prologue (elementwise ops computing the anchor's data
input, evaluated per element at load time, their operands read with ONNX broadcasting),
the anchor (one reduction-like op: `reduction.ops.recipe` says what it computes), and
the epilogue (elementwise ops on its results). Results of the input's shape (a
normalization's, or an epilogue combining a reduction with values of the input's shape,
e.g. x == reduce_max(x)) are computed per element in a last pass over the row, which
recomputes the prologue values it reads from the kernel's inputs with the row statistics
at hand; results of the reduced shape are computed once per row (with constants and
prologue values that are the same all along the row, such as a [rows, 1] mask). Yielded
prologue values (a residual sum that feeds a layer norm and the next residual add) are
written in the first pass, when they are computed. A batch norm (inference) is an anchor
with no statistics: per element, with its channel's parameters. The loops and
cross-thread reductions are in `reduction/skeleton.py`.

The tactics are the loop shapes of `reduction/skeleton.py`, named by who holds a row:
`row_per_thread` (threads_per_row = 1: a row of at most one vector), `row_per_warp`
(2..32 threads, all-reduced with shuffles), `row_per_block` (64..1024 threads, across
warps through shared memory) and, where the reduced axes are not innermost,
`columns_per_block` (block_inner columns of a block, block_reduce threads splitting the
reduced axis). Row mode or column mode is what the kernel is; the tactic within row mode,
the threads per row and the vector width are choices (candidates: ROW_THREADS × every
vector width the row allows; COLUMN_INNER × COLUMN_REDUCE).

Refused with an OptcError naming the kernel: a region with several anchors, a full-shape
epilogue after a reduction whose shape does not broadcast along the rows (keepdims=0 over
the last axes), i1 reductions other than max/min/sum/prod, and values yielded that are not
computed at the element or the row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from xdsl.ir import Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import ReductionOp, YieldOp
from dialects.graph.reduction import ArgReduceOp, ReduceOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.scalar import broadcast_index, scalar_code
from passes.codegen.reduction.skeleton import (
    Geometry,
    block_allreduce,
    column_allreduce,
    flat_index_vars,
    generic_flat,
    geometry,
    group_index_vars,
    indent,
    used,
    vector_load,
    vector_store,
    warp_allreduce,
)
from passes.codegen.common.types import CType, ctype_of, kernel_signature, literal, pointer_params
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.reduction.ops import Recipe, recipe
from passes.codegen.target import DEFAULT, Target

ANCHORS = (
    graph.SoftmaxOp,
    graph.LogSoftmaxOp,
    graph.LayerNormOp,
    graph.InstanceNormOp,
    graph.BatchNormOp,
    graph.GlobalAveragePoolOp,
    graph.GlobalMaxPoolOp,
    ReduceOp,
    ArgReduceOp,
)

CACHE_LIMIT = 64
"""Most row elements one thread keeps in registers between passes (32 for f64)."""

ROW_BLOCK = 128
"""Threads per block when a warp or less holds a row."""

ROW_TACTICS = {"row_per_thread": (1, 1), "row_per_warp": (2, 32), "row_per_block": (64, 1024)}
"""Row-mode tactics and the threads per row (a power of two) each takes."""
COLUMN_TACTIC = "columns_per_block"
ROW_THREADS = tuple(1 << k for k in range(11))
"""Threads per row the row-mode candidates take (1..1024), up to what the row can use."""
COLUMN_INNER = (32, 64, 128)
"""block_inner of the column-mode candidates (the inner extent rounded up, when below 32)."""
COLUMN_REDUCE = (1, 2, 4, 8, 16, 32)
"""block_reduce of the column-mode candidates, up to the reduced extent rounded up."""
MAX_THREADS = 1024
"""CUDA's threads per block (the launch attribute's own limit)."""


# --- the region, taken apart ---------------------------------------------------------------


@dataclass
class Plan:
    """A reduction kernel: its anchor, the ops before and after it, where each region value
    comes from, and the geometry of the anchor's input."""

    kernel: FuncOp
    anchor: Operation
    prologue: list[Operation]
    epilogue: list[Operation]
    args: dict[SSAValue, int]
    """Region value → kernel argument index."""
    yields: list[SSAValue]
    x: CType
    """The C type of the anchor's data input."""
    geo: Geometry | None = None
    recipe: Recipe | None = None
    element_yields: list[tuple[int, SSAValue]] = field(default_factory=list)
    """Prologue values yielded: stored in the first pass, where they are computed."""
    write_yields: list[tuple[int, SSAValue]] = field(default_factory=list)
    """Full-shape results stored per element in the last (write) pass."""
    row_yields: list[tuple[int, SSAValue]] = field(default_factory=list)
    """Results of the reduced shape, computed once per row after the reduction."""
    row_stats: list[tuple[int, SSAValue]] = field(default_factory=list)

    @property
    def has_write(self) -> bool:
        """Whether the kernel ends with a pass over the row's elements that stores results."""
        return bool(self.write_yields) or self.recipe.write is not None

    @property
    def name(self) -> str:
        return self.kernel.sym_name.data

    @property
    def where(self) -> str:
        return f"cuda codegen of @{self.name}"

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.anchor.operands[0].type.get_shape())

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.anchor.results[0].type.get_shape())

    @property
    def is_norm(self) -> bool:
        """Whether results are per element (softmax, norms) rather than per row."""
        return self.out_shape == self.in_shape and not isinstance(self.anchor, ReduceOp | ArgReduceOp | graph.GlobalAveragePoolOp | graph.GlobalMaxPoolOp)


def _ancestors(values, ops: list[Operation]) -> set[Operation]:
    """The ops of `ops` that the values depend on."""
    inside, found, stack = set(ops), set(), list(values)
    while stack:
        owner = stack.pop().owner
        if isinstance(owner, Operation) and owner in inside and owner not in found:
            found.add(owner)
            stack.extend(owner.operands)
    return found


def analyse(kernel: FuncOp) -> Plan:
    """Split the kernel's computation into prologue, anchor and epilogue."""
    op, where = kernel.computation, f"cuda codegen of @{kernel.sym_name.data}"
    kernel_args = {a: j for j, a in enumerate(kernel.body.block.args)}
    if isinstance(op, ReductionOp):
        block = op.body.block
        args = {inner: kernel_args[outer] for inner, outer in zip(block.args, op.inputs)}
        ops = [o for o in block.ops if not isinstance(o, YieldOp)]
        yields = list(block.last_op.values)
    else:
        args = {v: kernel_args[v] for v in op.operands}
        ops, yields = [op], list(op.results)
    anchors = [o for o in ops if isinstance(o, ANCHORS)]
    if len(anchors) != 1:
        found = ", ".join(o.name for o in anchors) or "none"
        raise OptcError(
            f"{where}: a reduction kernel needs exactly one reduction op (its row statistics are computed "
            f"in successive passes over one row layout), found {found}"
        )
    anchor = anchors[0]
    before = _ancestors(anchor.operands, ops)
    prologue = [o for o in ops if o in before]
    epilogue = [o for o in ops if o is not anchor and o not in before]
    x = ctype_of(anchor.operands[0].type.element_type, f"@{kernel.sym_name.data}")
    return Plan(kernel, anchor, prologue, epilogue, args, yields, x)


def _row_aligned(plan: Plan, shape) -> bool:
    """Whether a value of `shape`, broadcast to the input's shape, is constant along the
    reduced axes and lines up with the kept ones: what a row statistic needs to be read at
    an element, and a prologue value to be read at a row (when the result keeps the rank)."""
    shape = tuple(shape)
    if len(shape) > len(plan.in_shape):
        return False
    padded = (1,) * (len(plan.in_shape) - len(shape)) + shape
    reduced = set(plan.recipe.axes)
    return all(d == 1 or (d == n and k not in reduced) for k, (d, n) in enumerate(zip(padded, plan.in_shape)))


def _classify(plan: Plan, rec: Recipe) -> None:
    """Sort the yields: prologue values (first pass), full-shape results (write pass),
    reduced-shape results (once per row) and row statistics (layer norm's mean)."""
    pro = {r for o in plan.prologue for r in o.results}
    plan.element_yields = [(k, v) for k, v in enumerate(plan.yields) if v in pro]
    plan.row_stats = [(k, v) for k, v in enumerate(plan.yields) if v in rec.row_outputs]
    results = [(k, v) for k, v in enumerate(plan.yields) if v not in pro and v not in rec.row_outputs]
    if plan.is_norm:
        plan.write_yields, plan.row_yields = results, []
        return
    full = [(k, v) for k, v in results if tuple(v.type.get_shape()) == plan.in_shape and plan.in_shape != plan.out_shape]
    plan.write_yields, plan.row_yields = full, [kv for kv in results if kv not in full]


def _checked(plan: Plan, rec: Recipe) -> None:
    """Refuse what the loops cannot compute (with the reason)."""
    pro = {r for o in plan.prologue for r in o.results}
    for v in plan.yields:
        owner = v.owner
        if v in pro:
            if tuple(v.type.get_shape()) != plan.in_shape:
                raise OptcError(f"{plan.where}: a yielded prologue value of shape {v.type} is not the reduced input's shape")
        elif v in rec.row_outputs or owner is plan.anchor or owner in plan.epilogue:
            continue
        else:
            raise OptcError(f"{plan.where}: yields a value that is neither computed per element nor per row ({v.type})")
    if plan.write_yields and not plan.is_norm and not _row_aligned(plan, plan.out_shape):
        raise OptcError(
            f"{plan.where}: the epilogue combines the reduction to {list(plan.out_shape)} with values of the "
            f"input's shape {list(plan.in_shape)}, but that reduced shape does not broadcast along the rows"
        )
    for k, v in plan.row_yields:
        if not _broadcasts(v.type.get_shape(), plan.out_shape):
            raise OptcError(f"{plan.where}: yields a value that is neither computed per element nor per row ({v.type})")
    for k in rec.channel_operands:
        operand = plan.anchor.operands[k]
        if operand not in plan.args and not isinstance(operand.owner, graph.ConstantOp):
            raise OptcError(f"{plan.where}: '{plan.anchor.name}' reads a per-channel operand computed in the region")


# --- configuration -------------------------------------------------------------------------


def _pow2_at_least(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1, n))))


def _element_arrays(plan: Plan) -> list[CType]:
    """The C types of the full-shape tensors the element loops read or write."""
    where = f"@{plan.name}"
    types = [ctype_of(a.type.element_type, where) for a in plan.kernel.body.block.args if tuple(a.type.get_shape()) == plan.in_shape]
    types += [ctype_of(t.element_type, where) for t in plan.kernel.function_type.outputs.data if tuple(t.get_shape()) == plan.in_shape]
    return types or [plan.x]


def _rows_per_block(threads: int, rows: int, target: Target) -> int:
    """Rows of one block when a warp or less holds a row: up to ROW_BLOCK threads, but
    fewer rows when that would leave SMs idle (BERT's 128 rows of 768 get one warp-sized
    block each rather than 32 blocks of four)."""
    if threads > 32:
        return 1
    per_block = max(1, ROW_BLOCK // threads)
    while per_block > 1 and -(-rows // per_block) < 2 * target.sm_count and (threads * per_block) > 32:
        per_block //= 2
    return per_block


def _row_tactic(threads: int) -> str:
    return next(name for name, (low, high) in ROW_TACTICS.items() if low <= threads <= high)


def _row_vectors(plan: Plan) -> list[int]:
    """Vector widths (elements) a row allows, widest first: powers of two of at most 16
    bytes of the widest element array that divide the row (contiguous rows only)."""
    geo = plan.geo
    if not geo.contiguous:
        return [1]
    widest = max(t.itemsize for t in _element_arrays(plan))
    return [v for v in (16, 8, 4, 2, 1) if v * widest <= 16 and geo.reduced % v == 0]


def _row_launch(plan: Plan, threads: int, vector: int, target: Target) -> LaunchAttr:
    """`threads` per row moving `vector` elements a step; the register cache where the row
    is read again and a thread's share of it is small."""
    geo = plan.geo
    chunks = -(-geo.reduced // vector)
    rows_per_block = _rows_per_block(threads, geo.outer, target)
    steps = -(-chunks // threads)
    limit = CACHE_LIMIT // (2 if plan.x.compute == "double" else 1)
    cache = int(plan.has_write and bool(plan.recipe.stats) and steps * vector <= limit)
    grid = -(-geo.outer // rows_per_block)
    tile = {"threads_per_row": threads, "rows_per_block": rows_per_block, "vector": vector, "cache": cache}
    return LaunchAttr(_row_tactic(threads), [max(1, grid)], [threads * rows_per_block], 0, tile)


def _column_launch(geo: Geometry, block_inner: int, block_reduce: int) -> LaunchAttr:
    grid = geo.outer * -(-geo.inner // block_inner)
    tile = {"block_inner": block_inner, "block_reduce": block_reduce}
    return LaunchAttr(COLUMN_TACTIC, [max(1, grid)], [block_inner, block_reduce], 0, tile)


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """Row mode: threads per row and vector width from the row length; column mode: 32-128
    threads along the inner axis, the rest of 256 along the reduced one."""
    plan = _planned(kernel, cached=False)
    geo = plan.geo
    if geo.row_mode:
        vector = _row_vectors(plan)[0]
        chunks = -(-geo.reduced // vector)
        if chunks <= 32 * 8:
            threads = min(32, _pow2_at_least(chunks))
        else:
            threads = min(1024, _pow2_at_least(-(-chunks // 4)))
        return _row_launch(plan, threads, vector, target)
    block_inner = min(128, max(32, _pow2_at_least(geo.inner))) if geo.inner >= 32 else _pow2_at_least(geo.inner)
    block_reduce = max(1, min(32, 256 // block_inner, _pow2_at_least(geo.reduced)))
    return _column_launch(geo, block_inner, block_reduce)


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Row mode: every threads-per-row the row can use with every vector width it allows;
    column mode: every (block_inner, block_reduce) of the tables the extents can use."""
    plan = _planned(kernel, cached=False)
    geo = plan.geo
    if geo.row_mode:
        return [
            _row_launch(plan, threads, vector, target)
            for vector in _row_vectors(plan)
            for threads in ROW_THREADS
            if threads <= _pow2_at_least(-(-geo.reduced // vector))
        ]
    inner = COLUMN_INNER if geo.inner >= 32 else (_pow2_at_least(geo.inner),)
    return [
        _column_launch(geo, block_inner, block_reduce)
        for block_inner in inner
        for block_reduce in COLUMN_REDUCE
        if block_reduce <= _pow2_at_least(geo.reduced) and block_inner * block_reduce <= MAX_THREADS
    ]


def _broadcasts(shape, out_shape) -> bool:
    """Whether `shape` broadcasts to exactly `out_shape` (ONNX rules)."""
    shape, out_shape = tuple(shape), tuple(out_shape)
    return len(shape) <= len(out_shape) and all(d in (1, o) for d, o in zip(reversed(shape), reversed(out_shape)))


def _planned(kernel: FuncOp, cached: bool) -> Plan:
    plan = analyse(kernel)
    rec = recipe(plan.anchor, plan.x, cached, plan.where)
    plan.geo = geometry(plan.in_shape, rec.axes)
    plan.recipe = rec
    _classify(plan, rec)
    _checked(plan, rec)
    return plan


# --- emission ------------------------------------------------------------------------------


class _Emitter:
    """Prints one kernel for one launch configuration."""

    def __init__(self, plan: Plan, launch: LaunchAttr):
        self.plan, self.launch, self.geo, self.rec = plan, launch, plan.geo, plan.recipe
        self.tile = launch.tile_params
        block = plan.kernel.body.block
        self.arg_types = [ctype_of(a.type.element_type, f"@{plan.name}") for a in block.args]
        self.arg_shapes = [tuple(a.type.get_shape()) for a in block.args]
        self.out_types = [ctype_of(t.element_type, f"@{plan.name}") for t in plan.kernel.function_type.outputs.data]
        self.element_yields, self.write_yields = plan.element_yields, plan.write_yields
        self.row_yields, self.row_stats = plan.row_yields, plan.row_stats
        # the register cache holds x for the passes after the first that read it again (a
        # second statistic, a normalization's write); a write pass whose epilogue is per
        # element recomputes what it needs, so with only that there is nothing to keep
        self.keeps_x = bool(self.tile.get("cache", 0)) and (len(self.rec.stats) > 1 or self.rec.write is not None)

    # -- element code --

    def _needed(self, values) -> tuple[list[Operation], set[int]]:
        """The prologue ops computing `values`, and the kernel arguments they read."""
        ops = _ancestors(values, self.plan.prologue)
        reads = set(values) | {v for o in ops for v in o.operands}
        return [o for o in self.plan.prologue if o in ops], {self.plan.args[v] for v in reads if v in self.plan.args}

    def _element(self, values, vector_arrays: dict[int, str]) -> tuple[list[str], dict[SSAValue, str]]:
        """Loads and prologue lines computing `values` at element `i` of the input."""
        ops, arg_ids = self._needed(values)
        names: dict[SSAValue, str] = {}
        lines = []
        for j in sorted(arg_ids):
            ctype = self.arg_types[j]
            if j in vector_arrays:
                lines.append(f"const {ctype.compute} a{j} = {ctype.load(vector_arrays[j])};")
            else:
                index = broadcast_index(self.arg_shapes[j], self.plan.in_shape)
                lines.append(f"const {ctype.compute} a{j} = {ctype.load(f'in{j}[{index}]')};")
        for v, j in self.plan.args.items():
            if j in arg_ids:
                names[v] = f"a{j}"
        try:
            lines += scalar_code(ops, names, lambda shape: broadcast_index(shape, self.plan.in_shape), prefix="p")
        except Exception as exc:  # OptcError from the op table
            raise OptcError(f"{self.plan.where}: {exc}") from None
        return lines, names

    def _element_body(self, pass_no: int, stat, writing: bool, vector_arrays, out_arrays) -> list[str]:
        """One element of one pass: x (loaded and computed, or from the register cache), the
        pass's fold or the normalization's result, epilogue and element stores."""
        plan, rec = self.plan, self.rec
        cached = bool(self.tile.get("cache", 0))
        from_cache = cached and pass_no > 0
        data = plan.anchor.operands[0]
        wanted = [] if from_cache else [data]
        if pass_no == 0:
            wanted += [v for _, v in self.element_yields]
        extra = []
        if writing:
            extra = [v for k, v in enumerate(plan.anchor.operands) if k > 0 and k not in rec.channel_operands]
            extra += [v for o in plan.epilogue for v in o.operands]
        lines, names = self._element([*wanted, *extra], vector_arrays)
        # x is read by the cache store, the pass's fold or a normalization's write; a write
        # pass whose epilogue is per element reads none of them, so it declares no x
        if (self.keeps_x and pass_no == 0) or stat is not None or (writing and rec.write is not None):
            x = f"xs[c * {self.tile.get('vector', 1)} + v]" if from_cache else names[data]
            lines.append(f"const {rec.xtype} x = {x};")
        if self.keeps_x and pass_no == 0:
            lines.append(f"xs[c * {self.tile['vector']} + v] = x;")
        stores = []
        if pass_no == 0:
            for k, v in self.element_yields:
                stores.append(self._element_store(k, names[v], out_arrays))
        if stat is not None:
            lines += stat.fold_element()
            if cached and stat.cache_store:
                lines.append(f"xs[c * {self.tile['vector']} + v] = {stat.cache_store};")
        if writing:
            if rec.write is not None:
                lines += rec.write({**names, **self._channel_values(lines)})
                names[plan.anchor.results[0]] = "y"
            else:  # a reduction whose epilogue is per element: its row result is at hand
                names[plan.anchor.results[0]] = rec.row_result
            names.update(rec.row_outputs)
            try:
                lines += scalar_code(plan.epilogue, names, lambda shape: broadcast_index(shape, plan.in_shape), prefix="q")
            except Exception as exc:
                raise OptcError(f"{plan.where}: {exc}") from None
            for k, v in self.write_yields:
                stores.append(self._element_store(k, names[v], out_arrays))
        return lines + stores

    def _channel_values(self, lines: list[str]) -> dict[SSAValue, str]:
        """The anchor's per-channel operands at the element's channel (instance and batch
        norm's parameters): arguments read at the channel index, constants inlined."""
        plan, rec = self.plan, self.rec
        channel = f"i{rec.channel_axis}" if plan.in_shape[rec.channel_axis] != 1 else "0"
        values = {}
        for k in rec.channel_operands:
            operand = plan.anchor.operands[k]
            if operand in plan.args:
                j = plan.args[operand]
                lines.append(f"const {rec.xtype} c{k} = {self.arg_types[j].load(f'in{j}[{channel}]')};")
            else:  # a constant (`_checked` refuses anything else)
                flat = operand.owner.to_array().reshape(-1)
                if flat.size == 1 or graph.is_splat(flat):
                    lines.append(f"const {rec.xtype} c{k} = {literal(flat[0].item(), rec.xtype)};")
                else:
                    items = ", ".join(literal(v.item(), rec.xtype) for v in flat)
                    lines.append(f"const {rec.xtype} c{k}_at[{flat.size}] = {{{items}}};")
                    lines.append(f"const {rec.xtype} c{k} = c{k}_at[{channel}];")
            values[operand] = f"c{k}"
        return values

    def _element_store(self, k: int, value: str, out_arrays: dict[int, str]) -> str:
        ctype = self.out_types[k]
        if k in out_arrays:
            return f"{out_arrays[k]}[v] = {ctype.store(value)};"
        return f"out{k}[i] = {ctype.store(value)};"

    def _with_indices(self, header: list[str], group_vars: dict[str, str], body: list[str]) -> list[str]:
        """`i` and the index variables the body reads, before it."""
        shape, roles = self.plan.in_shape, self.geo.roles
        candidates = group_index_vars(shape, roles, group_vars)
        flat = (
            self._contiguous_flat(group_vars) if self.geo.contiguous else generic_flat(shape)
        )
        i_line = [f"const long long i = {flat};"]
        needs_i = re.search(r"\bi\b", "\n".join(body)) is not None
        keep = used(candidates, [*body, *(i_line if needs_i else [])])
        code = [*keep, *(i_line if needs_i else []), *body]
        header = [line for line in header if re.search(r"\br\b", "\n".join(code))]
        return [*header, *code]

    def _contiguous_flat(self, group_vars: dict[str, str]) -> str:
        """o * reduced * inner + r * inner + n, without the terms of size-one groups."""
        g = self.geo
        terms = []
        if g.outer > 1:
            terms.append(f"{group_vars['o']} * {g.reduced * g.inner}LL")
        if g.reduced > 1:
            terms.append("r" if g.inner == 1 else f"r * {g.inner}LL")
        if g.inner > 1:
            terms.append("n")
        return " + ".join(terms) or "0LL"

    # -- row-level code (reductions, layer norm statistics) --

    def _row_ops(self) -> list[Operation]:
        """The region ops the reduced-shape results need, once per row: epilogue ops, and
        prologue ops (constants, values of mask-like inputs) whose values are the same all
        along the row, which a result that keeps the input's rank can read at the row."""
        plan = self.plan
        ops = _ancestors([v for _, v in self.row_yields], [*plan.prologue, *plan.epilogue])
        keeps_rank = len(plan.out_shape) == len(plan.in_shape)
        for o in ops:
            shape = tuple(o.results[0].type.get_shape())
            splat = isinstance(o, graph.ConstantOp) and graph.is_splat(o.to_array().reshape(-1))
            fits = _broadcasts(shape, plan.out_shape) and (
                o in plan.epilogue or splat or all(d == 1 for d in shape) or (keeps_rank and _row_aligned(plan, shape))
            )
            if not fits:
                raise OptcError(
                    f"{plan.where}: '{o.name}' (of shape {list(shape)}) feeds a result reduced to "
                    f"{list(plan.out_shape)}, but it is not at hand per row"
                )
        return [o for o in [*plan.prologue, *plan.epilogue] if o in ops]

    def _row_epilogue(self, i_expr: str) -> list[str]:
        plan = self.plan
        lines, names = [], {}
        if self.row_yields:
            names[plan.anchor.results[0]] = self.rec.row_result
            ops = self._row_ops()
            reads = {v for o in ops for v in o.operands if v in plan.args}
            for v in sorted(reads, key=lambda v: plan.args[v]):
                j = plan.args[v]
                index = broadcast_index(self.arg_shapes[j], plan.out_shape)
                lines.append(f"const {self.arg_types[j].compute} a{j} = {self.arg_types[j].load(f'in{j}[{index}]')};")
                names[v] = f"a{j}"
            try:
                lines += scalar_code(ops, names, lambda shape: broadcast_index(shape, plan.out_shape), prefix="q")
            except Exception as exc:
                raise OptcError(f"{plan.where}: {exc}") from None
            for k, v in self.row_yields:
                lines.append(f"out{k}[i] = {self.out_types[k].store(names[v])};")
        for k, v in self.row_stats:
            lines.append(f"out{k}[i] = {self.out_types[k].store(self.rec.row_outputs[v])};")
        if not lines:
            return []
        index_vars = used(flat_index_vars(plan.out_shape), lines)
        return [f"const long long i = {i_expr};", *index_vars, *lines]

    # -- the two loop shapes --

    def row_kernel(self) -> list[str]:
        g, t = self.geo, self.tile
        threads, rows, vector, cached = t["threads_per_row"], t["rows_per_block"], t["vector"], t["cache"]
        allreduce = ROW_ALLREDUCE[self.launch.tactic_name]
        steps = -(-g.reduced // (threads * vector))
        lines = [
            f"const int lane = threadIdx.x % {threads};",
            f"const long long row = (long long)blockIdx.x * {rows} + threadIdx.x / {threads};",
            f"const bool row_ok = row < {g.outer}LL;",
        ]
        if self.keeps_x:
            lines.append(f"{self.rec.xtype} xs[{steps * vector}];")
        passes = list(self.rec.stats) + ([None] if self.plan.has_write else [])
        for p, stat in enumerate(passes):
            writing = stat is None
            lines.append(f"// pass {p}: " + ("write" if writing else stat.name))
            if stat is not None:
                lines += stat.declare()
            vector_arrays, out_arrays, pre, post = {}, {}, [], []
            if vector > 1:
                reads = not (cached and p > 0) or writing
                for j, shape in enumerate(self.arg_shapes):
                    if shape == self.plan.in_shape and reads:
                        vector_arrays[j] = f"a{j}v[v]"
                stores = [k for k, _ in self.element_yields] if p == 0 else []
                stores += [k for k, _ in self.write_yields] if writing else []
                for k in stores:
                    out_arrays[k] = f"o{k}v"
                    pre.append(f"__align__(16) {self.out_types[k].storage} o{k}v[{vector}];")
                    post.append(vector_store(self.out_types[k].itemsize, vector, f"o{k}v", f"out{k}", "(row * " + f"{g.reduced}LL + col0)"))
            body = self._element_body(p, stat, writing, vector_arrays, out_arrays)
            body = self._with_indices([f"const long long r = col0 + v;"], {"o": "row", "r": "r"}, body)
            # vector loads only of the arrays the body reads
            loads = []
            for j in list(vector_arrays):
                if any(f"a{j}v[v]" in line for line in body):
                    loads += vector_load(self.arg_types[j].storage, self.arg_types[j].itemsize, vector, f"a{j}v", f"in{j}", f"(row * {g.reduced}LL + col0)")
            unroll = "#pragma unroll" if cached else "#pragma unroll 1"
            lines += [
                unroll,
                f"for (int c = 0; c < {steps}; ++c) {{",
                f"    const long long col0 = ((long long)c * {threads} + lane) * {vector};",
                f"    if (row_ok && col0 < {g.reduced}LL) {{",
                *indent([*loads, *pre], 2),
                "        #pragma unroll",
                f"        for (int v = 0; v < {vector}; ++v) {{",
                *indent(body, 3),
                "        }",
                *indent(post, 2),
                "    }",
                "}",
            ]
            if stat is not None:
                lines += allreduce(stat, threads)
                lines += stat.after
        row_code = self._row_epilogue("row")
        if row_code:
            lines += ["if (lane == 0 && row_ok) {", *indent(row_code, 1), "}"]
        return lines

    def column_kernel(self) -> list[str]:
        g, t = self.geo, self.tile
        bx, by = t["block_inner"], t["block_reduce"]
        tiles = -(-g.inner // bx)
        lines = [
            f"const long long o = (long long)blockIdx.x / {tiles};",
            f"const long long n = ((long long)blockIdx.x % {tiles}) * {bx} + threadIdx.x;",
            f"const bool ok = o < {g.outer}LL && n < {g.inner}LL;",
        ]
        passes = list(self.rec.stats) + ([None] if self.plan.has_write else [])
        for p, stat in enumerate(passes):
            writing = stat is None
            lines.append(f"// pass {p}: " + ("write" if writing else stat.name))
            if stat is not None:
                lines += stat.declare()
            body = self._element_body(p, stat, writing, {}, {})
            body = self._with_indices([], {"o": "o", "r": "r", "n": "n"}, body)
            lines += [
                f"if (ok) {{",
                f"    for (long long r = threadIdx.y; r < {g.reduced}LL; r += {by}) {{",
                *indent(body, 2),
                "    }",
                "}",
            ]
            if stat is not None:
                lines += column_allreduce(stat, bx, by)
                lines += stat.after
        row_code = self._row_epilogue(f"o * {g.inner}LL + n")
        if row_code:
            lines += ["if (threadIdx.y == 0 && ok) {", *indent(row_code, 1), "}"]
        return lines


ROW_ALLREDUCE = {"row_per_thread": warp_allreduce, "row_per_warp": warp_allreduce, "row_per_block": block_allreduce}
"""How each row-mode tactic combines a row's partials (a lone thread's width-1 shuffle loop is empty)."""
ROW_KEYS = ("threads_per_row", "rows_per_block", "vector", "cache")
COLUMN_KEYS = ("block_inner", "block_reduce")


def _tactic_problem(geo: Geometry, tactic: str) -> str | None:
    own = list(ROW_TACTICS) if geo.row_mode else [COLUMN_TACTIC]
    if tactic in own:
        return None
    if tactic not in (*ROW_TACTICS, COLUMN_TACTIC):
        return unknown_tactic("reduction", tactic, [*ROW_TACTICS, COLUMN_TACTIC])
    mode = "innermost, so a row is contiguous" if geo.row_mode else "not innermost, so threads take columns"
    return refused_tactic(tactic, f"its reduced axes are {mode} ({', '.join(own)})")


def _row_problem(geo: Geometry, launch: LaunchAttr) -> str | None:
    t = launch.tile_params
    threads, rows, vector = t["threads_per_row"], t["rows_per_block"], t["vector"]
    low, high = ROW_TACTICS[launch.tactic_name]
    if threads & (threads - 1) or not low <= threads <= high:
        return f"tactic {launch.tactic_name} takes a power of two from {low} to {high} threads per row, got {threads}"
    if rows < 1 or launch.block_dims != (threads * rows, 1, 1):
        return f"block {list(launch.block_dims)} is not threads_per_row x rows_per_block"
    if vector < 1 or geo.reduced % vector or (vector > 1 and not geo.contiguous):
        return f"vector {vector} does not divide the row of {geo.reduced}"
    if threads > 32 and rows != 1:
        return "a row of more than 32 threads takes the whole block"
    if threads > 1 and threads * rows % 32:
        return f"the shuffles of {threads} threads per row need whole warps, got a block of {threads * rows}"
    return None


def _column_problem(geo: Geometry, launch: LaunchAttr) -> str | None:
    t = launch.tile_params
    if launch.block_dims != (t["block_inner"], t["block_reduce"], 1):
        return f"block {list(launch.block_dims)} is not block_inner x block_reduce"
    if t.get("cache"):
        return "column mode has no register cache"
    return None


def _launch_problem(plan: Plan, launch: LaunchAttr) -> str | None:
    """Why the kernel cannot take `launch` (None when it can)."""
    geo = plan.geo
    why = _tactic_problem(geo, launch.tactic_name)
    if why is not None:
        return why
    keys = ROW_KEYS if geo.row_mode else COLUMN_KEYS
    if any(k not in launch.tile_params for k in keys):
        return f"a {'row' if geo.row_mode else 'column'}-mode launch needs tile {', '.join(keys)}"
    return _row_problem(geo, launch) if geo.row_mode else _column_problem(geo, launch)


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this kernel (no target limit applies: blocks of at most 1024
    threads, a few words of static shared memory per statistic)."""
    return _launch_problem(_planned(kernel, cached=bool(launch.tile_params.get("cache", 0))), launch)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The CUDA C of one reduction kernel.func for its launch configuration."""
    plan = _planned(kernel, cached=bool(launch.tile_params.get("cache", 0)))
    why = _launch_problem(plan, launch)
    if why is not None:
        raise OptcError(f"{plan.where}: {why}")
    emitter = _Emitter(plan, launch)
    body = emitter.row_kernel() if plan.geo.row_mode else emitter.column_kernel()
    threads = math.prod(launch.block_dims)
    signature = kernel_signature(plan.name, pointer_params(kernel), threads)
    return signature + "\n{\n" + "\n".join(indent(body, 1)) + "\n}\n"


_GENERATOR = Generator(configure, emit, candidates, check)

GENERATORS: dict[type, Generator] = {
    op: _GENERATOR
    for op in (
        ReductionOp,
        graph.SoftmaxOp,
        graph.LogSoftmaxOp,
        graph.LayerNormOp,
        graph.ReduceSumOp,
        graph.ReduceMeanOp,
        graph.ReduceMaxOp,
        graph.ReduceMinOp,
        graph.ReduceProdOp,
        graph.ReduceL2Op,
        graph.ReduceSumSquareOp,
        graph.ArgMaxOp,
        graph.ArgMinOp,
    )
}
