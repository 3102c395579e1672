"""What `graph-to-nhwc` knows of each op kind: how a value's layout is recognised and an
axis renumbered, and how an op that reads channels-first data is written channels last.

A `Form` says which operands of an op are activations and what its properties become: a
pool or a norm gets `layout = "NHWC"`, an elementwise op keeps its properties, an op with
axes has them renumbered (concat's and softmax's axis, pads, slice starts and steps,
resize scales), a reduction only when it keeps its dims. The tables `POOLS`, `NORMS`,
`ELEMENTWISE` and `AXES` map an op class, or a family's base class, to its form; the pass's
options choose which tables apply. Free views that regroup only spatial axes have
their own rule, `view_channels_last`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import DenseArrayBase, StringAttr, TensorType, f32
from xdsl.ir import Attribute, Operation, SSAValue

from dialects.graph import (
    AveragePoolOp,
    BatchNormOp,
    CastOp,
    ClipOp,
    ConcatOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
    InstanceNormOp,
    IsInfOp,
    IsNaNOp,
    LogSoftmaxOp,
    MaxPoolOp,
    PadOp,
    ResizeOp,
    SliceOp,
    SoftmaxOp,
    TransposeOp,
    WhereOp,
)
from dialects.graph.base import BinaryOp, UnaryOp, i64_array, int_attr, int_of, ints, is_free_view
from dialects.graph.layout import channels_first_perm, channels_last_perm, is_channels_last
from dialects.graph.reduction import ArgReduceOp, ReduceOp

NHWC = StringAttr("NHWC")
SPATIAL_RANKS = (3, 4, 5)
"""Ranks of the tensors a convolution reads (1-D, 2-D and 3-D convolutions)."""


# --- layouts of values ------------------------------------------------------------------


def _is_transpose(op: Operation | None, perm: Callable[[int], tuple[int, ...]]) -> bool:
    """Whether `op` is a `graph.transpose` by `perm(rank)` of a tensor of a convolution's rank."""
    if not isinstance(op, TransposeOp):
        return False
    rank = op.input.type.get_num_dims()
    return rank in SPATIAL_RANKS and ints(op.perm) == perm(rank)


def channels_first_source(value: SSAValue) -> SSAValue | None:
    """The channels-last value that `value` is a channels-first transpose of, if it is one."""
    owner = value.owner
    return owner.input if _is_transpose(owner, channels_first_perm) else None


def to_channels_last(items: Sequence, rank: int) -> list:
    """Per-axis `items` of a channels-first tensor (a shape, pads, scales) in the order of
    its channels-last form: item j of the result is item `channels_last_perm[j]`."""
    return [items[i] for i in channels_last_perm(rank)]


def axis_to_channels_last(axis: int, rank: int) -> int:
    """The channels-last position of a channels-first axis (1 → rank - 1, 2 → 1, ...)."""
    return channels_first_perm(rank)[axis]


def channels_last_type(t: TensorType) -> TensorType:
    return TensorType(t.element_type, to_channels_last(t.get_shape(), t.get_num_dims()))


# --- what each reader becomes channels last ----------------------------------------------


@dataclass(frozen=True)
class Form:
    """How an op reading a channels-first value is written channels last: which operands
    are activations (the others, such as a batch norm's statistics, stay), and its new
    properties (None: it has no channels-last form with these properties)."""

    activations: Callable[[Operation], Sequence[int]]
    props: Callable[[Operation, int], dict[str, Attribute] | None]


def _all(op: Operation) -> Sequence[int]:
    return range(len(op.operands))


def _first(op: Operation) -> Sequence[int]:
    return (0,)


def _props(op: Operation, **changes: Attribute) -> dict[str, Attribute]:
    """`op`'s properties (operand segment sizes included: the operands keep their
    structure) with `changes`."""
    return {**op.properties, **changes}


def _same(op: Operation, rank: int) -> dict[str, Attribute] | None:
    """Elementwise ops keep their properties; a unary op with an axis is no elementwise op."""
    return None if "axis" in op.properties else _props(op)


def _with_layout(op: Operation, rank: int) -> dict[str, Attribute] | None:
    return None if is_channels_last(op) else _props(op, layout=NHWC)


def _axis(op: Operation, rank: int) -> dict[str, Attribute]:
    return _props(op, axis=int_attr(axis_to_channels_last(int_of(op.axis), rank)))


def _kept_axis(op: Operation, rank: int) -> dict[str, Attribute] | None:
    return _axis(op, rank) if int_of(op.keepdims) else None


def _kept_axes(op: ReduceOp, rank: int) -> dict[str, Attribute] | None:
    if not int_of(op.keepdims):
        return None
    return _props(op, axes=i64_array(sorted(axis_to_channels_last(a, rank) for a in ints(op.axes))))


def _pads(op: PadOp, rank: int) -> dict[str, Attribute]:
    pads = ints(op.pads)
    begins, ends = to_channels_last(pads[:rank], rank), to_channels_last(pads[rank:], rank)
    return _props(op, pads=i64_array([*begins, *ends]))


def _slice(op: SliceOp, rank: int) -> dict[str, Attribute]:
    return _props(
        op, starts=i64_array(to_channels_last(ints(op.starts), rank)), steps=i64_array(to_channels_last(ints(op.steps), rank))
    )


def _scales(op: ResizeOp, rank: int) -> dict[str, Attribute]:
    scales = to_channels_last(list(op.scales.get_values()), rank)
    return _props(op, scales=DenseArrayBase.from_list(f32, scales))


LAYOUT_FORM = Form(_first, _with_layout)
ELEMENTWISE_FORM = Form(_all, _same)

POOLS: dict[type[Operation], Form] = {
    op: LAYOUT_FORM for op in (MaxPoolOp, AveragePoolOp, GlobalAveragePoolOp, GlobalMaxPoolOp)
}
NORMS: dict[type[Operation], Form] = {BatchNormOp: LAYOUT_FORM, InstanceNormOp: LAYOUT_FORM}
ELEMENTWISE: dict[type[Operation], Form] = {
    op: ELEMENTWISE_FORM for op in (UnaryOp, BinaryOp, WhereOp, ClipOp, CastOp, IsNaNOp, IsInfOp)
}
AXES: dict[type[Operation], Form] = {
    ConcatOp: Form(_all, _axis),
    PadOp: Form(_first, _pads),
    SliceOp: Form(_first, _slice),
    ResizeOp: Form(_first, _scales),
    SoftmaxOp: Form(_first, _axis),
    LogSoftmaxOp: Form(_first, _axis),
    ReduceOp: Form(_first, _kept_axes),
    ArgReduceOp: Form(_first, _kept_axis),
}
"""Each table maps an op class (or a family's base class) to its channels-last form."""


def form_of(op: Operation, forms: dict[type[Operation], Form]) -> Form | None:
    """The form of `op`'s class, or of the nearest family base class in `forms`."""
    for cls in type(op).__mro__:
        if cls in forms:
            return forms[cls]
    return None


def channels_last_op(op: Operation, operands: Sequence[SSAValue], props: dict[str, Attribute]) -> Operation:
    """`op`'s channels-last form: the same op on `operands` with `props` and its result type
    moved channels last."""
    return type(op).create(
        operands=list(operands),
        result_types=[channels_last_type(op.results[0].type)],
        properties=props,
        attributes=dict(op.attributes),
    )


# --- views that regroup only spatial axes ------------------------------------------------


def view_channels_last(op: Operation) -> TensorType | None:
    """For a view op that keeps the batch and channel axes and regroups only the spatial
    ones (`[N, C, H, W]` → `[N, C, H*W]`, `[N, C, 1, 1]` → `[N, C]`), the result type of the
    same view of the channels-last input; else None."""
    if not is_free_view(op):
        return None
    src, dst = op.input.type.get_shape(), op.result.type.get_shape()
    if min(len(src), len(dst)) < 2 or src[:2] != dst[:2]:
        return None
    return TensorType(op.result.type.element_type, [dst[0], *dst[2:], dst[1]])
