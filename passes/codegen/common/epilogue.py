"""Printing a fused epilogue region (of `fused.matmul` or `fused.conv`) as scalar C that
runs once per accumulator element: the elementwise part through `elementwise.elementwise.scalar_code`,
the tail (views, transposes, splits, slices) as arithmetic on the store indices.

The kernel holds one accumulator element at a time, at a multi-index of the accumulator
(C expressions the kernel provides). Every value of the region is one of:

- *placed*: the accumulator and what is computed from it. Its scalar is the current
  element's; its *place* says where that element sits in the value's own tensor (shape,
  per-dimension indices, and conditions: a split or a slice keeps only some elements). A
  view relabels the place (same element, new indices); a transpose permutes the indices; a
  split or slice shifts one and adds conditions. An elementwise op on placed operands (all
  at the same element) is placed where they are. Results are stored at their place.
- *free*: extras, constants and what is computed from them alone (`beta · C` with C
  smaller than the output, a constant mask cast to f32, a view or transpose of an extra).
  A free value is never materialised: it is evaluated, on demand, at the indices its
  placed reader needs (ONNX broadcasting, right-aligned), its own operands in turn at
  broadcast indices, views/transposes/slices/splits mapped backwards onto their source.

So every epilogue value is evaluated at the current output multi-index, whatever its
shape, as long as its readers broadcast to the accumulator's element.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.ir import Block, BlockArgument, Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.graph.base import int_of, ints, is_free_view
from passes.codegen.common.types import ctype_of, strides
from passes.codegen.common.pointwise_templates import TEMPLATES
from passes.codegen.common.scalar import scalar_code

MOVES = (graph.TransposeOp, graph.SplitOp, graph.SliceOp)


def is_tail(op: Operation) -> bool:
    """Ops that move elements without computing (free views and `MOVES`): store-index
    arithmetic on placed values, source-index arithmetic on free ones."""
    return is_free_view(op) or isinstance(op, MOVES)


__all__ = ["Place", "EpiloguePrinter", "flat_of", "regrouped"]


def _div(expr: str, by: int) -> str:
    return expr if by == 1 else f"({expr} / {by})"


def flat_of(shape: Sequence[int], idx: Sequence[str]) -> str:
    """The row-major flat index of the element at `idx` of a `shape` tensor."""
    terms = [i if s == 1 else f"{i} * {s}" for i, s, d in zip(idx, strides(shape), shape) if d != 1]
    if len(terms) == 1 and terms[0] in idx:
        return terms[0]
    return f"({' + '.join(terms)})" if terms else "0"


def unflat(shape: Sequence[int], flat: str) -> tuple[str, ...]:
    """Per-dimension indices of flat index `flat` of a `shape` tensor."""
    return tuple(
        "0" if dim == 1 else (_div(flat, s) if k == 0 else f"({_div(flat, s)} % {dim})")
        for k, (dim, s) in enumerate(zip(shape, strides(shape)))
    )


@dataclass
class Place:
    """Where the element at hand lives in a value's tensor: its shape, its per-dimension
    indices or its flat index (C expressions; either derived from the other on demand),
    and the conditions under which the value has that element at all."""

    shape: tuple[int, ...]
    flat: str | None = None
    idx: tuple[str, ...] | None = None
    conds: tuple[str, ...] = ()

    def indices(self) -> tuple[str, ...]:
        if self.idx is None:
            self.idx = unflat(self.shape, self.flat)
        return self.idx

    def flat_index(self) -> str:
        if self.flat is None:
            self.flat = flat_of(self.shape, self.indices())
        return self.flat


def regrouped(old: Sequence[int], idx: Sequence[str], new: Sequence[int]) -> tuple[str, ...] | None:
    """Indices into `new` of the element at `idx` of `old` (same elements, row-major), by
    matching groups of dimensions with equal products, so a reshape [s, h·d] → [s, h, d]
    gives (i0, i1 / d, i1 % d) rather than a division of the flat index. None where a
    size-0 dimension defeats the grouping."""
    if 0 in old or 0 in new:
        return None
    old_dims = [(d, x) for d, x in zip(old, idx) if d != 1]
    out: list[str] = []
    i = j = 0
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
        linear = flat_of([d for d, _ in group_old], [x for _, x in group_old])
        out.extend(unflat([new[g] for g in group_new], linear))
    return tuple(out)


def _broadcast(shape: Sequence[int], idx: Sequence[str]) -> tuple[str, ...]:
    """Indices of a `shape` operand that broadcasts (ONNX, right-aligned) to a tensor at `idx`."""
    offset = len(idx) - len(shape)
    return tuple("0" if d == 1 else idx[k + offset] for k, d in enumerate(shape))


def _strip(shape: Sequence[int]) -> tuple[int, ...]:
    shape = list(shape)
    while shape and shape[0] == 1:
        shape.pop(0)
    return tuple(shape)


def _aligned(place: Place, shape: Sequence[int]) -> Place:
    """`place` relabelled for a tensor of `shape`, equal to its own up to leading ones."""
    shape = tuple(shape)
    if shape == place.shape:
        return place
    idx = place.indices()
    lead = len(shape) - len(place.shape)
    new = ("0",) * lead + idx if lead >= 0 else idx[-lead:]
    return Place(shape, idx=new, conds=place.conds)


@dataclass
class EpiloguePrinter:
    """Prints one epilogue region as C statements.

    `block`: the region (first argument the accumulator, then one per extra); `params`: each
    extra's block argument → the kernel parameter it is read from (`"in3"`); `acc`: the C
    expression of the accumulator element in the region's compute type; `acc_place`: its
    place in the accumulator's tensor; `fail`: builds the OptcError (naming the kernel);
    `uncontracted`: f32 add/sub/mul round one by one as the reference's ops do (no fma), for
    the bit-exact epilogues of integer contractions (`scalar_code`)."""

    block: Block
    params: dict[SSAValue, str]
    acc: str
    acc_place: Place
    fail: Callable[[str], OptcError]
    prefix: str = "e"
    uncontracted: bool = False
    lines: list[str] = field(default_factory=list)
    names: dict[SSAValue, str] = field(default_factory=dict)
    places: dict[SSAValue, Place] = field(default_factory=dict)
    memo: dict[tuple[SSAValue, tuple[str, ...]], str] = field(default_factory=dict)
    counter: int = 0
    loads: int = 0

    def print(self, targets: Callable[[int], Sequence[int]]) -> list[str]:
        """The statements computing the region at the element at hand and storing each
        yielded value: yield position r goes to `out<t>` for every t in `targets(r)`."""
        acc = self.block.args[0]
        self.names[acc], self.places[acc] = self.acc, self.acc_place
        terminator = self.block.last_op
        for op in self.block.ops:
            if op is terminator:
                continue
            if not op.results or not any(r in self.places for r in op.operands):
                continue  # free: evaluated where a placed value reads it
            if is_tail(op):
                self.move(op)
            elif type(op) in TEMPLATES:
                self.elementwise(op)
            else:
                raise self.unsupported(op)
        return self.lines + self.stores(list(terminator.operands), targets)

    def unsupported(self, op: Operation) -> OptcError:
        return self.fail(f"'{op.name}' has no CUDA template (an epilogue runs elementwise ops, views, transposes, splits and slices)")

    def fresh(self) -> str:
        self.counter += 1
        return f"{self.prefix}{self.counter - 1}_"

    # placed values

    def elementwise(self, op: Operation) -> None:
        result = op.results[0]
        shape = tuple(result.type.get_shape())
        placed = [v for v in op.operands if v in self.places]
        for v in placed:
            if _strip(v.type.get_shape()) != _strip(shape):
                raise self.fail(
                    f"'{op.name}' in the epilogue computes {result.type} from {v.type}: not one element per accumulator element"
                )
        place = _aligned(self.places[placed[0]], shape)
        for v in placed[1:]:
            other = _aligned(self.places[v], shape)
            if other.indices() != place.indices():
                raise self.fail(f"'{op.name}' in the epilogue combines different elements of the accumulator")
            place = Place(shape, idx=place.indices(), conds=tuple(dict.fromkeys((*place.conds, *other.conds))))
        names = {v: self.names[v] if v in self.places else self.free(v, _broadcast(v.type.get_shape(), place.indices())) for v in op.operands}
        self.scalar(op, names, place.indices())
        self.names[result] = names[result]
        self.places[result] = place

    def move(self, op: Operation) -> None:
        """A view, transpose, split or slice of a placed value: the same scalar at a new place."""
        source = op.operands[0]
        place = self.places[source]
        if is_free_view(op):
            shape = tuple(op.results[0].type.get_shape())
            idx = regrouped(place.shape, place.indices(), shape)
            out = [Place(shape, flat=None if idx else place.flat_index(), idx=idx, conds=place.conds)]
        elif isinstance(op, graph.TransposeOp):
            idx = place.indices()
            out = [Place(tuple(op.result.type.get_shape()), idx=tuple(idx[p] for p in ints(op.perm)), conds=place.conds)]
        elif isinstance(op, graph.SplitOp):
            axis = int_of(op.axis) % len(place.shape)
            idx, out, start = place.indices(), [], 0
            for r in op.outputs:
                size = r.type.get_shape()[axis]
                shifted = idx[axis] if start == 0 else f"({idx[axis]} - {start})"
                conds = [f"{idx[axis]} >= {start}"] if start else []
                if start + size < place.shape[axis]:
                    conds.append(f"{idx[axis]} < {start + size}")
                out.append(Place(tuple(r.type.get_shape()), idx=(*idx[:axis], shifted, *idx[axis + 1 :]), conds=(*place.conds, *conds)))
                start += size
        else:  # slice: element x of an axis is output o when x = start + step·o, 0 <= o < size
            idx, new, conds = place.indices(), [], list(place.conds)
            for x, dim, size, start, step in zip(idx, place.shape, op.result.type.get_shape(), ints(op.starts), ints(op.steps)):
                if start == 0 and step == 1 and size == dim:
                    new.append(x)
                    continue
                d = x if start == 0 else f"({x} - {start})"
                o = d if step == 1 else f"({d} / {step})"
                if step != 1:
                    conds.append(f"{d} % {step} == 0")
                conds += [f"{o} >= 0", f"{o} < {size}"]
                new.append(o)
            out = [Place(tuple(op.result.type.get_shape()), idx=tuple(new), conds=tuple(conds))]
        for r, p in zip(op.results, out):
            self.places[r], self.names[r] = p, self.names[source]

    def stores(self, yielded: Sequence[SSAValue], targets: Callable[[int], Sequence[int]]) -> list[str]:
        lines = []
        for r, v in enumerate(yielded):
            if v not in self.places:
                raise self.fail("the epilogue yields a value computed from extras or constants alone; that is not a result of the accumulator")
            place = self.places[v]
            value = ctype_of(v.type.element_type, "the epilogue").store(self.names[v])
            for t in targets(r):
                line = f"out{t}[{place.flat_index()}] = {value};"
                lines.append(f"if ({' && '.join(place.conds)}) {line}" if place.conds else line)
        return lines

    # free values

    def free(self, v: SSAValue, idx: tuple[str, ...]) -> str:
        """A C expression of free value `v`'s element at `idx` (its own indices)."""
        key = (v, idx)
        if key in self.memo:
            return self.memo[key]
        shape = tuple(v.type.get_shape())
        if isinstance(v, BlockArgument):
            if v not in self.params:
                raise self.fail("the epilogue reads the accumulator where it expects an extra")
            ctype = ctype_of(v.type.element_type, "an epilogue extra")
            index = self.same_as_acc(shape, idx) or flat_of(shape, idx)
            name = f"x{self.loads}"
            self.loads += 1
            self.lines.append(f"const {ctype.compute} {name} = {ctype.load(f'{self.params[v]}[{index}]')};")
        else:
            op = v.owner
            if is_tail(op):
                name = self.free(op.operands[0], self.source_indices(op, v, idx))
            elif isinstance(op, graph.ConstantOp) or type(op) in TEMPLATES:
                names = {o: self.free(o, _broadcast(o.type.get_shape(), idx)) for o in op.operands}
                self.scalar(op, names, idx)
                name = names[v]
            else:
                raise self.unsupported(op)
        self.memo[key] = name
        return name

    def same_as_acc(self, shape: tuple[int, ...], idx: tuple[str, ...]) -> str | None:
        """The accumulator's own flat index (the kernel has it at hand) when the element at
        `idx` of a `shape` tensor is the accumulator's element (a residual, say)."""
        acc = self.acc_place
        if acc.flat is None or _strip(shape) != _strip(acc.shape):
            return None
        return acc.flat if _aligned(acc, shape).indices() == idx else None

    def source_indices(self, op: Operation, result: SSAValue, idx: tuple[str, ...]) -> tuple[str, ...]:
        """The indices in a tail op's source of the element at `idx` of its `result`."""
        src = tuple(op.operands[0].type.get_shape())
        if is_free_view(op):
            shape = tuple(result.type.get_shape())
            return regrouped(shape, idx, src) or unflat(src, flat_of(shape, idx))
        if isinstance(op, graph.TransposeOp):
            out = [""] * len(src)
            for j, p in enumerate(ints(op.perm)):
                out[p] = idx[j]
            return tuple(out)
        if isinstance(op, graph.SplitOp):
            axis = int_of(op.axis) % len(src)
            start = sum(r.type.get_shape()[axis] for r in op.outputs[: list(op.outputs).index(result)])
            return tuple(f"({x} + {start})" if k == axis and start else x for k, x in enumerate(idx))
        return tuple(  # slice
            x if (start == 0 and step == 1) else f"({start} + {x} * {step})" if step != 1 else f"({x} + {start})"
            for x, start, step in zip(idx, ints(op.starts), ints(op.steps))
        )

    def scalar(self, op: Operation, names: dict[SSAValue, str], idx: tuple[str, ...]) -> None:
        """`op` (elementwise or constant) printed by scalar_code at `idx`; its result's name
        is added to `names`."""
        try:
            self.lines += scalar_code([op], names, lambda shape: flat_of(shape, _broadcast(shape, idx)), self.fresh(), self.uncontracted)
        except OptcError as exc:
            raise self.fail(str(exc)) from None
