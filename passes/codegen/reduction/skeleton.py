"""The C skeletons of reduction kernels: index variables, cross-thread all-reductions, and the
two loop shapes (`reduction/reduction.py` decides what is computed; this module only says where).

A reduced tensor is seen as [outer, reduced, inner] (`Geometry`):

- row mode (inner == 1: softmax or layer norm on the hidden dim, reduce over the last
  axes): `threads_per_row` threads (a power of two) own one row; a warp holds
  32 / threads_per_row rows, or a block of up to 1024 threads holds one row. Each thread
  takes `vector` consecutive elements per step (16-byte loads where the row length allows),
  all-reduces with `__shfl_xor_sync` (and, across warps, through shared memory), so every
  thread ends up holding the row's statistics. With `cache`, the row's input values stay
  in registers between passes (a softmax reads its row once).
- column mode (inner > 1: the spatial axes of NHWC, axis 0): `block_inner` threads own
  consecutive inner positions (coalesced) and `block_reduce` threads split the reduced axis;
  they all-reduce through shared memory.

Both modes never leave a thread out of a shuffle or a barrier: threads past the end only
skip their loads and stores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FULL_MASK = "0xffffffffu"

VECTOR_TYPES = {2: "unsigned short", 4: "unsigned int", 8: "uint2", 16: "uint4"}
"""The integer type one vector access moves, by its size in bytes."""


@dataclass(frozen=True)
class Geometry:
    """How the anchor's input decomposes: each dimension's role ('o' outer, 'r' reduced,
    'n' inner, '1' size one) and the sizes of the three groups."""

    shape: tuple[int, ...]
    roles: tuple[str, ...]

    def size(self, role: str) -> int:
        return math.prod(d for d, k in zip(self.shape, self.roles) if k == role)

    @property
    def outer(self) -> int:
        return self.size("o")

    @property
    def reduced(self) -> int:
        return self.size("r")

    @property
    def inner(self) -> int:
        return self.size("n")

    @property
    def contiguous(self) -> bool:
        """Whether the flat index is (o * reduced + r) * inner + n (roles in o, r, n order)."""
        order = "".join(k for k in self.roles if k != "1")
        return re.fullmatch("o*r*n*", order) is not None

    @property
    def row_mode(self) -> bool:
        return self.inner == 1


def geometry(shape: Sequence[int], axes: Sequence[int]) -> Geometry:
    """The roles of `shape`'s dims when reducing over `axes`: inner dims are the kept ones
    after the last reduced dimension of size > 1, outer dims all other kept ones."""
    live_reduced = [k for k in axes if shape[k] != 1]
    last = max(live_reduced, default=-1)
    roles = []
    for k, d in enumerate(shape):
        if d == 1:
            roles.append("1")
        elif k in live_reduced:
            roles.append("r")
        elif live_reduced and k > last:
            roles.append("n")
        else:
            roles.append("o")
    return Geometry(tuple(shape), tuple(roles))


# --- index variables --------------------------------------------------------------------


def group_index_vars(shape: Sequence[int], roles: Sequence[str], group_vars: dict[str, str]) -> list[str]:
    """`const long long iK = ...;` for every dimension of size > 1, from the variable of its
    group (`group_vars[role]`, ranging over the product of that group's dims)."""
    lines = []
    for role, var in group_vars.items():
        dims = [(k, d) for k, (d, r) in enumerate(zip(shape, roles)) if r == role]
        sizes = [d for _, d in dims]
        for pos, (k, d) in enumerate(dims):
            stride = math.prod(sizes[pos + 1 :])
            q = var if stride == 1 else f"({var} / {stride}LL)"
            lines.append(f"const long long i{k} = {q};" if pos == 0 else f"const long long i{k} = {q} % {d}LL;")
    return lines


def flat_index_vars(shape: Sequence[int], var: str = "i") -> list[str]:
    """Index variables of `shape` from its flat index `var`."""
    return group_index_vars(shape, ["x" if d != 1 else "1" for d in shape], {"x": var})


def used(lines: Sequence[str], code: Sequence[str]) -> list[str]:
    """Those index-variable definitions that `code` (or an earlier kept one) reads."""
    text = "\n".join(code)
    wanted = set(re.findall(r"\bi(\d+)\b", text))
    return [line for line in lines if re.match(r"const long long i(\d+)", line).group(1) in wanted]


def generic_flat(shape: Sequence[int]) -> str:
    """The flat row-major index from the index variables (any roles)."""
    terms = []
    for k, d in enumerate(shape):
        if d == 1:
            continue
        stride = math.prod(shape[k + 1 :])
        terms.append(f"i{k}" if stride == 1 else f"i{k} * {stride}LL")
    return " + ".join(terms) or "0LL"


# --- all-reductions -----------------------------------------------------------------------

Combine = Callable[[Sequence[str], Sequence[str]], str]
"""(accumulator names, other values) → C statements folding the others into the accumulator."""


@dataclass(frozen=True)
class Stat:
    """One reduction of the row: accumulator components (C types, initial values), what one
    element contributes (`lift`, after the element lines `pre`), how two partials combine,
    and the row-scope lines that turn the total into named scalars (`after`)."""

    name: str
    types: tuple[str, ...]
    init: tuple[str, ...]
    lift: tuple[str, ...]
    combine: Combine
    after: tuple[str, ...] = ()
    pre: tuple[str, ...] = ()
    cache_store: str | None = None
    """With the register cache: what replaces the cached value after this pass (softmax
    keeps exp(x - max) for the write pass)."""

    def acc(self) -> list[str]:
        return [f"{self.name}{c}" for c in range(len(self.types))]

    def declare(self) -> list[str]:
        return [f"{t} {a} = {v};" for t, a, v in zip(self.types, self.acc(), self.init)]

    def fold_element(self) -> list[str]:
        return [*self.pre, self.combine(self.acc(), self.lift)]


def warp_allreduce(stat: Stat, width: int) -> list[str]:
    """Butterfly over lanes `width` apart and less: every lane of each aligned group of
    `width` lanes ends with the group's total."""
    if width <= 1:
        return []
    acc = stat.acc()
    others = [f"{a}_o" for a in acc]
    body = [f"{t} {o} = __shfl_xor_sync({FULL_MASK}, {a}, off, 32);" for t, a, o in zip(stat.types, acc, others)]
    body.append(stat.combine(acc, others))
    inner = " ".join(body)
    return [f"#pragma unroll", f"for (int off = {width // 2}; off > 0; off >>= 1) {{ {inner} }}"]


def block_allreduce(stat: Stat, threads: int) -> list[str]:
    """A row of `threads` (> 32) threads: warps all-reduce, lane 0 of each writes its partial
    to shared memory, and every thread folds the partials in warp order."""
    warps = threads // 32
    acc = stat.acc()
    lines = warp_allreduce(stat, 32)
    shared = [f"{stat.name}_w{c}" for c in range(len(acc))]
    lines += [f"__shared__ {t} {s}[{warps}];" for t, s in zip(stat.types, shared)]
    lines.append("if ((threadIdx.x & 31) == 0) { " + " ".join(f"{s}[threadIdx.x >> 5] = {a};" for s, a in zip(shared, acc)) + " }")
    lines.append("__syncthreads();")
    lines += [f"{a} = {s}[0];" for a, s in zip(acc, shared)]
    others = [f"{s}[w]" for s in shared]
    lines.append(f"#pragma unroll\nfor (int w = 1; w < {warps}; ++w) {{ {stat.combine(acc, others)} }}")
    return lines


def column_allreduce(stat: Stat, block_inner: int, block_reduce: int) -> list[str]:
    """Threads (tx, ty) with the same tx all-reduce through shared memory [ty][tx]."""
    if block_reduce == 1:
        return []
    acc = stat.acc()
    shared = [f"{stat.name}_s{c}" for c in range(len(acc))]
    lines = [f"__shared__ {t} {s}[{block_reduce}][{block_inner}];" for t, s in zip(stat.types, shared)]
    lines += [f"{s}[threadIdx.y][threadIdx.x] = {a};" for s, a in zip(shared, acc)]
    lines.append("__syncthreads();")
    lines += [f"{a} = {s}[0][threadIdx.x];" for a, s in zip(acc, shared)]
    others = [f"{s}[w][threadIdx.x]" for s in shared]
    lines.append(f"for (int w = 1; w < {block_reduce}; ++w) {{ {stat.combine(acc, others)} }}")
    return lines


# --- vector accesses ---------------------------------------------------------------------


def vector_load(storage: str, itemsize: int, vector: int, array: str, pointer: str, offset: str) -> list[str]:
    """`vector` consecutive elements of `pointer` from `offset` into a local array, in one access."""
    bytes_ = itemsize * vector
    decl = f"__align__(16) {storage} {array}[{vector}];"
    if bytes_ not in VECTOR_TYPES:
        return [decl, f"for (int u = 0; u < {vector}; ++u) {array}[u] = {pointer}[{offset} + u];"]
    t = VECTOR_TYPES[bytes_]
    return [decl, f"*reinterpret_cast<{t}*>({array}) = *reinterpret_cast<const {t}*>({pointer} + {offset});"]


def vector_store(itemsize: int, vector: int, array: str, pointer: str, offset: str) -> str:
    bytes_ = itemsize * vector
    if bytes_ not in VECTOR_TYPES:
        return f"for (int u = 0; u < {vector}; ++u) {pointer}[{offset} + u] = {array}[u];"
    t = VECTOR_TYPES[bytes_]
    return f"*reinterpret_cast<{t}*>({pointer} + {offset}) = *reinterpret_cast<const {t}*>({array});"


def indent(lines: Sequence[str], depth: int) -> list[str]:
    pad = "    " * depth
    return [pad + piece for line in lines for piece in line.split("\n")]
