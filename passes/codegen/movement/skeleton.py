"""The index-map kernel skeleton the movement family shares.

Almost every data-movement op is "for each output element, compute where it comes from":
a grid-stride loop over items, each item one element or, where the innermost contiguous
run allows, a vector of `V` elements moved as one 2- to 16-byte word. An op supplies a
`Spec`: which vector widths its shapes allow and the C statements of one item (in terms of
the loop index `i`); the skeleton prints the signature, the loop and the index type.

Movement does not care what the bytes mean, so tensors are passed as unsigned words of
their element size (`unsigned short` for f16 and bf16 alike, `unsigned char` for bool and
the 1-byte storage-only types), times the vector width: one kernel serves every dtype of
that size. Ops that compute (indices, ranges, reductions of a scatter) ask for the real C
type of the operands they compute on (`Spec.typed`).

Index math is 32-bit (`unsigned int`) when every tensor has fewer than 2^31 elements and
64-bit otherwise; shapes are baked in, so `/` and `%` are by constants (mul-shift).

Every op on the skeleton has one tactic, `grid_stride`, whose choice is the vector width
(candidates: every width of at most 16 bytes the op's shapes allow) and any knobs the op
adds (`Spec.tile`: scatter_nd's `chunks`, sized to the target's resident threads).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, TensorType
from xdsl.ir import Attribute, Operation

from dialects.dtypes import STORAGE_ONLY, numpy_dtype, round_to_bf16
from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import ctype_of, kernel_signature
from passes.codegen.generator import Generator, grid_stride_blocks, unknown_tactic
from passes.codegen.target import DEFAULT, Target

TACTIC = "grid_stride"
BLOCK_SIZE = 256
MAX_VECTOR_BYTES = 16

WORD = {1: "unsigned char", 2: "unsigned short", 4: "unsigned int", 8: "unsigned long long", 16: "uint4"}
"""The C type that moves `n` bytes as one access (16 bytes: one 128-bit load/store)."""


def where(kernel: FuncOp) -> str:
    return f"cuda codegen of @{kernel.sym_name.data}"


def refuse(kernel: FuncOp, reason: str) -> OptcError:
    """An OptcError naming the kernel and its op."""
    return OptcError(f"{where(kernel)}: '{kernel.computation.name}' {reason}")


def itemsize(element_type: Attribute, kernel: FuncOp) -> int:
    """Bytes per element as the runtime stores it (storage-only types: one byte, as ml_dtypes)."""
    if element_type in STORAGE_ONLY:
        return 1
    return ctype_of(element_type, f"@{kernel.sym_name.data}").itemsize


def shape_of(value) -> list[int]:
    return list(value.type.get_shape())


def element_bits(value: float | int | bool, element_type: Attribute) -> int:
    """The bit pattern of `value` converted to `element_type` as numpy converts it (floats
    to integers truncate; bf16 rounds to nearest even), as an unsigned integer."""
    dtype = numpy_dtype(element_type)
    array = np.asarray(value).astype(dtype).reshape(1)
    if isinstance(element_type, BFloat16Type):
        return int(round_to_bf16(array.astype(np.float32)).view(np.uint32)[0]) >> 16
    raw = array.view(np.uint8)
    return int.from_bytes(raw.tobytes(), "little")


def word_literal(bits: int, size: int, vector: int) -> str:
    """A C value of type WORD[size * vector] whose every `size`-byte lane holds `bits`."""
    total = size * vector
    pattern = 0
    for lane in range(vector):
        pattern |= bits << (8 * size * lane)
    if total == 16:
        words = [(pattern >> (32 * k)) & 0xFFFFFFFF for k in range(4)]
        return "uint4{" + ", ".join(f"{w}u" for w in words) + "}"
    suffix = "ULL" if total == 8 else "u"
    return f"(({WORD[total]}){pattern}{suffix})"


@dataclass
class Context:
    """What an op's body printer needs: the index types and names of the loop."""

    kernel: FuncOp
    vector: int
    tile: dict[str, int] = field(default_factory=dict)
    """The launch's tile parameters (tuning knobs beyond `vector`)."""
    index: str = "unsigned int"
    signed: str = "int"

    @property
    def op(self) -> Operation:
        return self.kernel.computation

    def lit(self, n: int) -> str:
        """An index constant (unsigned, of the index type)."""
        return f"{n}U" if self.index == "unsigned int" else f"{n}ULL"

    def slit(self, n: int) -> str:
        """A signed index constant."""
        return str(n) if self.signed == "int" else f"{n}LL"

    def coords(
        self, flat: str, shape: Sequence[int], prefix: str, needed: Sequence[int] | None = None
    ) -> tuple[list[str], list[str]]:
        """Statements splitting the flat index `flat` into coordinates of `shape` (row-major):
        `const {prefix}K = (flat / strideK) % dimK`, or the name `0` for a dimension of
        size 1. Only the `needed` dimensions (default: all) get a variable (the others
        are named `?`, which does not compile if used)."""
        names, lines = [], []
        for k, (dim, stride) in enumerate(zip(shape, strides(shape))):
            if dim == 1:
                names.append("0")
                continue
            if needed is not None and k not in needed:
                names.append("?")
                continue
            q = flat if stride == 1 else f"({flat} / {self.lit(stride)})"
            outermost = all(d == 1 for d in shape[:k])
            lines.append(f"const {self.index} {prefix}{k} = {q}{'' if outermost else f' % {self.lit(dim)}'};")
            names.append(f"{prefix}{k}")
        return lines, names

    def split3(self, outer: int, middle: int, inner: int) -> str:
        """`const o, a, s` = the coordinates of `i` in a row-major [outer, middle, inner] view."""
        s = "0" if inner == 1 else f"i % {self.lit(inner)}"
        over = "i" if inner == 1 else f"(i / {self.lit(inner)})"
        a = "0" if middle == 1 else (over if outer == 1 else f"{over} % {self.lit(middle)}")
        o = "0" if outer == 1 else f"i / {self.lit(middle * inner)}"
        return f"const {self.index} o = {o}, a = {a}, s = {s};"

    def linear(self, *terms: tuple[str, int]) -> str:
        """`sum name * coefficient`, omitting zero names and unit coefficients (all >= 0)."""
        parts = [n if c == 1 else f"{n} * {self.lit(c)}" for n, c in terms if n != "0" and c != 0]
        return " + ".join(parts) if parts else self.lit(0)

    def dot(self, names: Sequence[str], coefficients: Sequence[int]) -> str:
        """`sum names[k] * coefficients[k]` in the index type; negative coefficients are fine
        (unsigned arithmetic is modular and the true sum is in range)."""
        terms = []
        for name, c in zip(names, coefficients):
            if name == "0" or c == 0:
                continue
            magnitude = "" if abs(c) == 1 else f" * {self.lit(abs(c))}"
            terms.append(("- " if c < 0 else "+ ") + f"{name}{magnitude}")
        if not terms:
            return self.lit(0)
        text = " ".join(terms)
        return f"({self.lit(0)} {text})" if text.startswith("-") else f"({text[2:]})"


@dataclass
class Plan:
    """One item's statements (reading `i`), the number of items, and extra kernel preamble."""

    count: int
    body: list[str]
    preamble: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Spec:
    """How one op is generated on the skeleton."""

    plan: Callable[[Context], Plan]
    vector_ok: Callable[[FuncOp, int], bool] = lambda kernel, v: v == 1
    typed: Callable[[FuncOp], set[str]] = lambda kernel: set()
    """Parameters (`in0`, `out0`, ...) passed with their element's real C type (scalars,
    never vectorised) instead of as raw words."""
    check: Callable[[FuncOp], None] = lambda kernel: None
    """Raises OptcError for configurations this generator refuses."""
    tile: Callable[[FuncOp, Target], dict[str, int]] = lambda kernel, target: {}
    """Tuning knobs beyond `vector`, chosen for the shapes and the target (the plan reads
    them from `Context.tile`)."""
    tile_problem: Callable[[FuncOp, dict[str, int]], str | None] = lambda kernel, tile: None
    """Why the plan cannot take a launch's knobs (None when it can)."""


def _tensors(kernel: FuncOp) -> list[tuple[str, TensorType, bool]]:
    ins = [(f"in{j}", t, True) for j, t in enumerate(kernel.function_type.inputs.data)]
    outs = [(f"out{r}", t, False) for r, t in enumerate(kernel.function_type.outputs.data)]
    return ins + outs


def params(kernel: FuncOp, spec: Spec, vector: int) -> list[str]:
    """One pointer per argument then per result: typed ones in their C storage type, the
    rest as words of `vector` elements."""
    typed = spec.typed(kernel)
    result = []
    for name, t, is_input in _tensors(kernel):
        if name in typed:
            ctype = ctype_of(t.element_type, f"@{kernel.sym_name.data}").storage
        else:
            ctype = WORD[itemsize(t.element_type, kernel) * vector]
        const = "const " if is_input else ""
        result.append(f"{const}{ctype}* __restrict__ {name}")
    return result


def vectors(kernel: FuncOp, spec: Spec) -> list[int]:
    """The vector widths (elements, powers of two) of at most 16 bytes the op's shapes
    allow, widest first; 1 always."""
    sizes = {itemsize(t.element_type, kernel) for name, t, _ in _tensors(kernel) if name not in spec.typed(kernel)}
    if len(sizes) != 1:
        return [1]
    widest = max(1, MAX_VECTOR_BYTES // sizes.pop())
    return [v for v in (16, 8, 4, 2) if v <= widest and spec.vector_ok(kernel, v)] + [1]


def best_vector(kernel: FuncOp, spec: Spec) -> int:
    """The widest vector (elements) of at most 16 bytes the op's shapes allow, 1 if none."""
    return vectors(kernel, spec)[0]


def _context(kernel: FuncOp, vector: int, tile: dict[str, int] | None = None) -> Context:
    largest = max([math.prod(t.get_shape()) for _, t, _ in _tensors(kernel)] + [1])
    if largest < 2**31:
        return Context(kernel, vector, dict(tile or {}))
    return Context(kernel, vector, dict(tile or {}), "unsigned long long", "long long")


def launch_problem(kernel: FuncOp, spec: Spec, launch: LaunchAttr) -> str | None:
    """Why the skeleton cannot take `launch` for the op (None when it can): any grid of 1-D
    blocks, a vector width the shapes allow, knobs the op's plan takes."""
    if launch.tactic_name != TACTIC:
        return unknown_tactic(f"'{kernel.computation.name}'", launch.tactic_name, [TACTIC])
    vector = launch.tile_params.get("vector", 1)
    if vector != 1 and (vector < 1 or vector & (vector - 1) or not spec.vector_ok(kernel, vector)):
        return f"cannot move {vector} elements per access at these shapes (tile vector = {vector})"
    if launch.block_dims[1:] != (1, 1):
        return f"runs 1-D blocks, got {list(launch.block_dims)}"
    return spec.tile_problem(kernel, launch.tile_params)


def make_generator(spec: Spec) -> Generator:
    """The generator of the grid-stride skeleton for one op's Spec."""

    def launch(kernel: FuncOp, vector: int, tile: dict[str, int]) -> LaunchAttr:
        plan = spec.plan(_context(kernel, vector, tile))
        return LaunchAttr(TACTIC, [grid_stride_blocks(plan.count, BLOCK_SIZE)], [BLOCK_SIZE], 0, {**tile, "vector": vector})

    def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
        spec.check(kernel)
        return launch(kernel, best_vector(kernel, spec), spec.tile(kernel, target))

    def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
        spec.check(kernel)
        tile = spec.tile(kernel, target)
        return [launch(kernel, vector, tile) for vector in vectors(kernel, spec)]

    def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
        spec.check(kernel)
        return launch_problem(kernel, spec, launch)

    def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
        spec.check(kernel)
        why = launch_problem(kernel, spec, launch)
        if why is not None:
            raise refuse(kernel, why)
        vector = launch.tile_params.get("vector", 1)
        ctx = _context(kernel, vector, launch.tile_params)
        plan = spec.plan(ctx)
        block = launch.block_dims[0]
        return skeleton(kernel, params(kernel, spec, vector), plan, ctx, block)

    return Generator(configure, emit, candidates, check)


def skeleton(kernel: FuncOp, parameters: list[str], plan: Plan, ctx: Context, block: int) -> str:
    """The grid-stride loop over `plan.count` items around `plan.body`; an empty body when
    there are none (an empty output: its index math would divide by its zero extent)."""
    if plan.count == 0:
        return f"{kernel_signature(kernel.sym_name.data, parameters, block)}\n{{\n}}\n"
    body = "\n".join(f"        {line}" for line in plan.body)
    preamble = "".join(f"    {line}\n" for line in plan.preamble)
    t = ctx.index
    return (
        f"{kernel_signature(kernel.sym_name.data, parameters, block)}\n{{\n"
        f"{preamble}"
        f"    const {t} n = {ctx.lit(plan.count)};\n"
        f"    for ({t} i = ({t})blockIdx.x * blockDim.x + threadIdx.x; i < n; i += ({t})gridDim.x * blockDim.x) {{\n"
        f"{body}\n    }}\n}}\n"
    )


def vector_shape(shape: Sequence[int], vector: int) -> list[int]:
    """`shape` counted in vectors: the last dimension divided by `vector`."""
    if vector == 1 or not shape:
        return list(shape)
    assert shape[-1] % vector == 0
    return [*shape[:-1], shape[-1] // vector]


def strides(shape: Sequence[int]) -> list[int]:
    return [math.prod(shape[k + 1 :]) for k in range(len(shape))]
