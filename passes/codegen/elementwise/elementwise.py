"""CUDA C for pointwise kernels: a `kernel.func` computing a `fused.elementwise` (or one
elementwise graph op) becomes one `extern "C" __global__` function.

One tactic, `grid_stride`: each thread handles `vector` consecutive output elements (the
tile parameter `configure` picks: 16 bytes of the widest element the kernel streams, so
4 × f32, 8 × f16/bf16, 2 × f64; candidates: every width in VECTORS up to 16 bytes) in a
grid-stride loop sized to fill the target. Full-size operands, and broadcast
ones whose innermost contiguous run is a multiple of the vector, are read with 16-byte
loads (`uint4` through an aligned local array) and every output is written with 16-byte
stores; other broadcast operands are read per element at their broadcast index. The
elements after the last whole vector are done one per thread after the main loop. Index
math is 32-bit when every index fits.

Per element, the region's values are printed on demand, each in a *frame*: a shape whose
row-major flat index the element has, and whose per-dimension index variables are
computed from it. The output's frame is its shape with flat index `i`; an operand that
broadcasts is read at its broadcast index in its reader's frame; a free view
(reshape/flatten/squeeze/unsqueeze) keeps every element's flat index, so its input is
read in a new frame: the input's shape, at the view's flat index. The region's ops are
printed through the op table (`common.pointwise_templates.TEMPLATES`).

The scalar printing of ops (`scalar_code`, `broadcast_index`, `op_expression`) lives in
`common/scalar.py`, which every family that prints an epilogue shares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.ir import BlockArgument, Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import ElementwiseOp
from dialects.graph.base import is_free_view
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.low_precision import element_ctype, pointer_params
from passes.codegen.common.pointwise_templates import TEMPLATES, Emit, helpers_for
from passes.codegen.common.types import CType, kernel_signature, literal, strides
from passes.codegen.common.scalar import constant_expression, op_expression
from passes.codegen.generator import Generator, grid_stride_blocks, unknown_tactic
from passes.codegen.target import DEFAULT, Target

__all__ = ["BLOCK_SIZE", "TEMPLATES", "Emit", "GENERATORS", "candidates", "check", "configure", "emit", "helpers_for"]

TACTIC = "grid_stride"
BLOCK_SIZE = 256
VECTOR_BYTES = 16
VECTORS = (1, 2, 4, 8, 16)
_CHUNK = {16: "uint4", 8: "uint2", 4: "unsigned int", 2: "unsigned short", 1: "unsigned char"}
"""The unsigned type one vector access moves, by bytes."""


# --- the kernel's parts ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Pointwise:
    """What a pointwise kernel computes: its arguments, the values it stores (one per
    result, in order), and how region values map to kernel values."""

    kernel: FuncOp
    args: list[BlockArgument]
    results: list[SSAValue]
    outer: dict[SSAValue, SSAValue]
    """Region block argument → the kernel argument it stands for."""
    elements: int

    @property
    def name(self) -> str:
        return self.kernel.sym_name.data

    def error(self, why: str) -> OptcError:
        return OptcError(f"cuda codegen of @{self.name}: {why}")

    def ctype(self, value: SSAValue, what: str = "") -> CType:
        return element_ctype(value.type.element_type, f"@{self.name}{what}")


def _pointwise(kernel: FuncOp) -> _Pointwise:
    name = kernel.sym_name.data
    op = kernel.computation
    returned = list(kernel.body.block.last_op.operands)
    if isinstance(op, ElementwiseOp):
        block = op.body.block
        outer = dict(zip(block.args, op.inputs))
        yielded = list(block.last_op.values)
        results = [yielded[v.index] if v.owner is op else v for v in returned]
    elif type(op) in TEMPLATES:
        outer, results = {}, returned
    else:
        raise OptcError(
            f"cuda codegen of @{name}: '{op.name}' is not a pointwise kernel "
            "(only fused.elementwise and elementwise graph ops have a CUDA generator here)"
        )
    sizes = {math.prod(r.type.get_shape()) for r in results}
    if len(sizes) != 1:
        shapes = ", ".join(str(r.type) for r in results)
        raise OptcError(f"cuda codegen of @{name}: results of different sizes ({shapes}) cannot share one loop")
    return _Pointwise(kernel, list(kernel.body.block.args), results, outer, sizes.pop())


def _strip(shape: Sequence[int]) -> tuple[int, ...]:
    """The shape without leading 1s (they change no flat index)."""
    shape = list(shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    return tuple(shape)


@dataclass(frozen=True)
class _Frame:
    """A shape whose flat index is `flat` (a C expression) at the element at hand; its
    index variables are `<prefix><dim>`."""

    shape: tuple[int, ...]
    flat: str
    prefix: str


class _Printer:
    """Prints the scalar code of one element: index variables, loads, the region's ops.

    With `vector` > 1, kernel arguments that can be read a whole vector at a time come
    from local arrays `x<k>[l]` filled before the lane loop (`vector_loads` records them);
    otherwise each load reads global memory at its index."""

    def __init__(self, pw: _Pointwise, index: str, constants: dict[Operation, tuple[str, str]], vector: int = 1):
        self.pw, self.index, self.vector = pw, index, vector
        self.lines: list[str] = []
        self.constants = constants
        """Non-splat constant → its array's declaration, shared by the kernel's printers."""
        self.frames: dict[tuple[tuple[int, ...], str], _Frame] = {}
        self.definitions: dict[str, str] = {}
        """Index variable → its definition, printed only where some line reads it."""
        self.memo: dict[tuple[SSAValue, str], str] = {}
        self.vector_loads: dict[tuple[int, _Frame], str] = {}
        """(argument, frame) → the local array its vector is loaded into."""
        self.counter = 0

    def fresh(self, letter: str) -> str:
        self.counter += 1
        return f"{letter}{self.counter - 1}"

    def int_literal(self, n: int) -> str:
        return str(n) if self.index == "int" else f"{n}LL"

    # frames and indices

    def frame(self, shape: Sequence[int], flat: str) -> _Frame:
        key = (_strip(shape), flat)
        if key not in self.frames:
            if not self.frames:
                prefix = "i"
            else:
                prefix = f"j{len(self.frames)}_"
                if not re.fullmatch(r"\w+", flat):
                    name = f"f{len(self.frames)}"
                    self.definitions[name] = f"const {self.index} {name} = {flat};"
                    flat = name
            self.frames[key] = _Frame(tuple(shape), flat, prefix)
        return self.frames[key]

    def index_var(self, frame: _Frame, k: int) -> str:
        """`<prefix>k = (flat / stride) % dim`, defined on first use."""
        name = f"{frame.prefix}{k}"
        if name not in self.definitions:
            shape = frame.shape
            stride = math.prod(shape[k + 1 :])
            q = frame.flat if stride == 1 else f"({frame.flat} / {self.int_literal(stride)})"
            if math.prod(shape[:k]) > 1:
                q = f"{q} % {self.int_literal(shape[k])}"
            self.definitions[name] = f"const {self.index} {name} = {q};"
        return name

    def code(self, after: Sequence[str] = ()) -> list[str]:
        """The printed lines, then `after`, preceded by the index variables they read
        (definitions come in creation order, which is their dependency order)."""
        lines = [*self.lines, *after]
        used = set(re.findall(r"\b\w+\b", "\n".join(lines)))
        for name, definition in reversed(self.definitions.items()):
            if name in used:
                used |= set(re.findall(r"\b\w+\b", definition.split("=", 1)[1]))
        return [d for name, d in self.definitions.items() if name in used] + lines

    def element_index(self, shape: Sequence[int], frame: _Frame, what: str) -> str:
        """The flat index of the element of a `shape` tensor that broadcasts to the frame's."""
        if _strip(shape) == _strip(frame.shape):
            return frame.flat
        offset = len(frame.shape) - len(shape)
        terms = []
        for k, (dim, stride) in enumerate(zip(shape, strides(shape))):
            if dim == 1:
                continue
            if k + offset < 0 or frame.shape[k + offset] != dim:
                raise self.pw.error(f"{what} of shape {list(shape)} does not broadcast to {list(frame.shape)}")
            var = self.index_var(frame, k + offset)
            terms.append(var if stride == 1 else f"{var} * {self.int_literal(stride)}")
        return " + ".join(terms) if terms else "0"

    # values

    def value(self, v: SSAValue, frame: _Frame) -> str:
        """A C name of `v`'s element at the frame's element (computed on first use)."""
        v = self.pw.outer.get(v, v)
        if isinstance(v, BlockArgument) and self.vector > 1 and vectorisable(v.type.get_shape(), frame, self.vector):
            key = (v, f"vector {frame}")
            if key not in self.memo:
                self.memo[key] = self._load(v, self._vector_element(v, frame))
            return self.memo[key]
        what = f"'{v.owner.name}'" if isinstance(v.owner, Operation) else f"argument {v.index}"
        index = self.element_index(v.type.get_shape(), frame, what)
        key = (v, index)
        if key not in self.memo:
            self.memo[key] = self._compute(v, frame, index)
        return self.memo[key]

    def _compute(self, v: SSAValue, frame: _Frame, index: str) -> str:
        if isinstance(v, BlockArgument):
            return self._load(v, f"in{v.index}[{index}]")
        op = v.owner
        if is_free_view(op):
            return self.value(op.operands[0], self.frame(op.operands[0].type.get_shape(), index))
        ctype = self.pw.ctype(v, f" ('{op.name}')").compute
        try:
            if isinstance(op, graph.ConstantOp):
                expr = self._constant(op, ctype, index)
            else:
                expr = op_expression(op, [self.value(o, frame) for o in op.operands])
        except OptcError as exc:
            raise self.pw.error(str(exc)) from None
        name = self.fresh("v")
        self.lines.append(f"const {ctype} {name} = {expr};")
        return name

    def _constant(self, op: graph.ConstantOp, ctype: str, index: str) -> str:
        """A literal, or the element of a per-thread array declared once for the kernel."""
        if op not in self.constants:
            name, declared = f"c{len(self.constants)}", []
            expr = constant_expression(op, ctype, lambda: index, declared, name)
            if not declared:
                return expr
            self.constants[op] = (name, declared[0])
        return f"{self.constants[op][0]}[{index}]"

    def _vector_element(self, arg: BlockArgument, frame: _Frame) -> str:
        """Lane `l` of the local array the argument's vector is loaded into before the lanes."""
        key = (arg.index, frame)
        if key not in self.vector_loads:
            self.vector_loads[key] = f"x{len(self.vector_loads)}"
        return f"{self.vector_loads[key]}[l]"

    def _load(self, arg: BlockArgument, element: str) -> str:
        ctype = self.pw.ctype(arg)
        name = self.fresh("a")
        self.lines.append(f"const {ctype.compute} {name} = {ctype.load(element)};")
        return name


def vectorisable(shape: Sequence[int], frame: _Frame, vector: int) -> bool:
    """Whether `vector` lanes from a multiple of `vector` read consecutive elements of a
    `shape` operand: the frame's flat index is the lane's own, and the operand's innermost
    run of the frame's dimensions (what it does not broadcast) is a multiple of `vector`
    (or everything)."""
    if frame.flat != "i":
        return False
    if _strip(shape) == _strip(frame.shape):
        return True
    run = 1
    for dim, full in zip(reversed(shape), reversed(frame.shape)):
        if dim != full:
            break
        run *= dim
    return run > 1 and run % vector == 0


# --- configure and emit ------------------------------------------------------------------


def _streamed_itemsize(pw: _Pointwise) -> int:
    """The widest element the kernel reads or writes a whole vector of."""
    sizes = [pw.ctype(r).itemsize for r in pw.results]
    out_shape = pw.results[0].type.get_shape()
    probe = _Frame(tuple(out_shape), "i", "i")
    for arg in pw.args:
        if vectorisable(arg.type.get_shape(), probe, 2):
            sizes.append(pw.ctype(arg).itemsize)
    return max(sizes)


def _launch(pw: _Pointwise, vector: int, target: Target) -> LaunchAttr:
    """256 threads a block, grid-stride over at most the blocks resident on every SM of the
    target at full occupancy (more blocks would just loop less)."""
    resident = target.sm_count * (target.threads_per_sm // BLOCK_SIZE)
    blocks = grid_stride_blocks(pw.elements, BLOCK_SIZE, vector, resident)
    return LaunchAttr(TACTIC, [blocks], [BLOCK_SIZE], 0, {"vector": vector})


def _checked_pointwise(kernel: FuncOp) -> _Pointwise:
    pw = _pointwise(kernel)
    for arg in pw.args:
        pw.ctype(arg)
    return pw


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """Each thread a 16-byte vector of the widest streamed element."""
    pw = _checked_pointwise(kernel)
    return _launch(pw, max(1, VECTOR_BYTES // _streamed_itemsize(pw)), target)


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Every vector width whose accesses of the widest streamed element are at most 16 bytes."""
    pw = _checked_pointwise(kernel)
    widest = _streamed_itemsize(pw)
    return [_launch(pw, vector, target) for vector in VECTORS if vector * widest <= VECTOR_BYTES]


def _launch_problem(launch: LaunchAttr) -> str | None:
    """Why the pointwise kernel cannot take `launch` (None when it can): any grid; vectors
    past the end are done one per thread, so any width in VECTORS."""
    if launch.tactic_name != TACTIC:
        return unknown_tactic("pointwise", launch.tactic_name, [TACTIC])
    vector = launch.tile_params.get("vector", 1)
    if vector not in VECTORS:
        return f"tile parameter vector = {vector} is not one of {', '.join(map(str, VECTORS))}"
    if launch.block_dims[1:] != (1, 1) or launch.grid_dims[1:] != (1, 1):
        return f"a pointwise kernel runs on a 1-D grid of 1-D blocks, got {launch}"
    return None


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this kernel (no target limit applies to it)."""
    _checked_pointwise(kernel)
    return _launch_problem(launch)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The CUDA C of one pointwise kernel.func for `launch` (any grid; `vector` in VECTORS)."""
    pw = _pointwise(kernel)
    why = _launch_problem(launch)
    if why is not None:
        raise pw.error(why)
    vector = launch.tile_params.get("vector", 1)
    block = launch.block_dims
    n = pw.elements
    threads = launch.grid_dims[0] * block[0]
    index = "int" if n + threads * (vector + 1) < 2**31 else "long long"
    main = n - n % vector if vector > 1 else 0
    constants: dict[Operation, tuple[str, str]] = {}
    body = [f"const {index} stride = ({index})gridDim.x * blockDim.x;"]
    if vector > 1:
        body += _vector_loop(pw, index, vector, main, constants)
    if main < n:
        scalar = _Printer(pw, index, constants)
        stores = _stores(pw, scalar, lambda r: f"out{r}[i]")
        first = f"{main} + " if main else ""
        body.append(f"for ({index} i = {first}({index})blockIdx.x * blockDim.x + threadIdx.x; i < {n}; i += stride) {{")
        body += _indented(scalar.code(stores))
        body.append("}")
    text = "\n".join("    " + line for line in [*(decl for _, decl in constants.values()), *body])
    source = f"{kernel_signature(pw.name, pointer_params(kernel), block[0])}\n{{\n{text}\n}}\n"
    return helpers_for(source) + source


def _stores(pw: _Pointwise, printer: _Printer, target: Callable[[int], str]) -> list[str]:
    """Statements storing every result at the element at hand (printing what they need)."""
    stores = []
    for r, v in enumerate(pw.results):
        value = printer.value(v, printer.frame(v.type.get_shape(), "i"))
        stores.append(f"{target(r)} = {pw.ctype(v).store(value)};")
    return stores


def _vector_loop(pw: _Pointwise, index: str, vector: int, main: int, constants: dict[Operation, tuple[str, str]]) -> list[str]:
    """The main loop: each iteration one vector of elements from `base`: the vector loads
    into aligned local arrays, the lanes (unrolled), the vector stores."""
    lanes = _Printer(pw, index, constants, vector)
    stores = _stores(pw, lanes, lambda r: f"y{r}[l]")
    preload = _Printer(pw, index, constants)
    arrays, copies = [], []
    for (j, frame), array in lanes.vector_loads.items():
        arg = pw.args[j]
        ctype = pw.ctype(arg)
        start = preload.element_index(arg.type.get_shape(), preload.frame(frame.shape, "i"), f"argument {j}")
        arrays.append(f"__align__(16) {ctype.storage} {array}[{vector}];")
        copies += _copy(f"in{j} + {start}", array, vector * ctype.itemsize, load=True)
    inner = list(arrays)
    if copies:
        inner += ["{", *_indented([f"const {index} i = base;", *preload.code(copies)]), "}"]
    inner += [f"__align__(16) {pw.ctype(v).storage} y{r}[{vector}];" for r, v in enumerate(pw.results)]
    inner += ["#pragma unroll", f"for (int l = 0; l < {vector}; ++l) {{"]
    lane = lanes.code(stores)
    inner += _indented([f"const {index} i = base + l;", *lane] if _reads_i(lane) else lane)
    inner.append("}")
    for r, v in enumerate(pw.results):
        inner += _copy(f"out{r} + base", f"y{r}", vector * pw.ctype(v).itemsize, load=False)
    start = f"(({index})blockIdx.x * blockDim.x + threadIdx.x) * {vector}"
    return [f"for ({index} base = {start}; base < {main}; base += stride * {vector}) {{", *_indented(inner), "}"]


def _copy(pointer: str, array: str, nbytes: int, *, load: bool) -> list[str]:
    """Move `nbytes` between global memory at `pointer` and a local array, 16 bytes (or
    all, if fewer) per access."""
    chunk = min(nbytes, VECTOR_BYTES)
    ty = _CHUNK[chunk]
    lines = []
    for c in range(nbytes // chunk):
        local = f"reinterpret_cast<{ty}*>({array})[{c}]"
        if load:
            lines.append(f"{local} = reinterpret_cast<const {ty}*>({pointer})[{c}];")
        else:
            lines.append(f"reinterpret_cast<{ty}*>({pointer})[{c}] = {local};")
    return lines


def _reads_i(lines: Sequence[str]) -> bool:
    return any(re.search(r"\bi\b", line) for line in lines)


def _indented(lines: Sequence[str]) -> list[str]:
    return ["    " + line for line in lines]


def emit_kernel(kernel: FuncOp, launch: LaunchAttr | None = None) -> str:
    """The CUDA C of one pointwise kernel.func (for its configured launch, or `configure`'s)."""
    launch = launch or kernel.launch or configure(kernel)
    return emit(kernel, launch)


GENERATORS: dict[type[Operation], Generator] = {
    op_class: Generator(configure, emit, candidates, check) for op_class in [ElementwiseOp, *TEMPLATES]
}
