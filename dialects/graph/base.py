"""What every `graph` op shares: type inference that doubles as verification,
property helpers, and the op families' base classes.

An op that can compute its result types from its operand types and properties
overrides `infer`. Builders use it to create ops (`Op.make(...)`), and `verify_`
uses it to check parsed IR, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f32,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    operand_def,
    result_def,
    traits_def,
)
from xdsl.traits import OpTrait, Pure
from xdsl.utils.exceptions import VerifyException

from dialects.dtypes import is_float, is_storage_only

Props = Mapping[str, Attribute]


class ShapeOnly(OpTrait):
    """Results depend only on operand *types* (e.g. `graph.shape`), so the op folds to a
    constant whenever shapes are static."""


class MovesData(OpTrait):
    """The op copies, relabels or converts elements without computing on them (casts,
    views, concatenation, slicing, gathers), so it accepts storage-only element types
    (float8, float4, int4, ...; see `dialects.dtypes`). Every other graph op rejects them.
    `quant.quantize` and `quant.dequantize` carry it too: they convert between those types
    and floats, as casts do (`dialects/quant.py`)."""


class FreeView(OpTrait):
    """The result is the operand's elements in the same order under another shape (reshape,
    flatten, squeeze, unsqueeze of a contiguous tensor): no element moves, so the result
    aliases the operand's buffer, no kernel runs for it, and a fused kernel reads through it
    by flat index."""


def is_free_view(op: Operation | None) -> bool:
    """Whether `op` (an op, or None for a block argument's owner) is a free view."""
    return isinstance(op, Operation) and op.has_trait(FreeView)


class _ComputesOnlyOnArithmeticTypes(OpTrait):
    """Attached to `GraphOp`, so every graph op verifies it (xDSL collects the traits of
    all base classes): an op without `MovesData` rejects storage-only element types."""

    def verify(self, op: Operation) -> None:
        expect_computable(op, [v.type for v in (*op.operands, *op.results)])


def expect_computable(op: Operation | type[Operation], types: Sequence[Attribute]) -> None:
    """Fail unless `op` moves data or no type in `types` is storage-only."""
    if op.has_trait(MovesData):
        return
    for t in types:
        if isinstance(t, TensorType) and is_storage_only(t.element_type):
            fail(
                op,
                f"does not compute on {t.element_type} ({t}), a storage-only element type that only casts "
                "and data movement accept; cast it to f16 or f32 first",
            )


class GraphOp(IRDLOperation):
    """Base of every graph op. Properties may be written in the attribute dictionary."""

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(_ComputesOnlyOnArithmeticTypes())

    @classmethod
    def infer(cls, types: Sequence[TensorType], props: Props) -> list[Attribute] | None:
        """Result types from operand types and properties; None when the op cannot infer.
        Raise `VerifyException` (through `fail`) for operands the op does not accept."""
        return None

    @classmethod
    def make(
        cls,
        operands: Sequence[SSAValue | Operation | None],
        props: Props | None = None,
    ) -> GraphOp:
        """Create the op, inferring its result types."""
        props = {k: v for k, v in (props or {}).items() if v is not None}
        types = [_value_type(o) for o in operands if o is not None]
        expect_computable(cls, types)
        result_types = cls.infer(types, props)
        if result_types is None:
            raise TypeError(f"{cls.name} cannot infer its result types; pass them explicitly")
        return cls(operands=list(operands), result_types=result_types, properties=props)

    def verify_(self) -> None:
        expected = type(self).infer([o.type for o in self.operands], self.properties)
        if expected is None:
            return
        actual = [r.type for r in self.results]
        if list(actual) != list(expected):
            shown = ", ".join(str(t) for t in expected)
            got = ", ".join(str(t) for t in actual)
            fail(self, f"expects result type {shown}, got {got}")


def _value_type(value: SSAValue | Operation) -> Attribute:
    if isinstance(value, Operation):
        return value.results[0].type
    return value.type


def fail(op: Operation | type[Operation], message: str):
    """Raise the verifier's error in MLIR's words: `'graph.conv' op expects ...`."""
    raise VerifyException(f"'{op.name}' op {message}")


# --- operand checks --------------------------------------------------------


def expect_rank(op, what: str, t: TensorType, *ranks: int) -> None:
    if t.get_num_dims() not in ranks:
        want = " or ".join(str(r) for r in ranks)
        fail(op, f"expects {what} of rank {want}, got {t}")


def expect_same_element_type(op, types: Sequence[TensorType]) -> Attribute:
    elems = {t.element_type for t in types}
    if len(elems) != 1:
        fail(op, "expects operands of one element type, got " + ", ".join(str(t) for t in types))
    return types[0].element_type


def expect_float(op, t: TensorType) -> None:
    if not is_float(t.element_type):
        fail(op, f"expects a floating-point input, got {t}")


def expect_channel_vector(op, what: str, t: TensorType, channels: int) -> None:
    """A per-channel vector (a bias, a norm's scale): exactly `channels` elements."""
    if t.get_shape() != (channels,):
        fail(op, f"expects {what} of shape {channels}, got {t}")


def normalize_axis(op, axis: int, rank: int) -> int:
    """ONNX axes may be negative; return the axis in [0, rank) or fail."""
    if not -rank <= axis < max(rank, 1):
        fail(op, f"axis {axis} is out of range for rank {rank}")
    return axis % rank if rank else 0


def broadcast_shapes(op, *shapes: Sequence[int]) -> tuple[int, ...]:
    """ONNX (numpy) multidirectional broadcasting, or a clear error."""
    try:
        return tuple(np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError:
        shown = " and ".join("x".join(map(str, s)) or "scalar" for s in shapes)
        fail(op, f"cannot broadcast shapes {shown}")


# --- property helpers ------------------------------------------------------


def i64_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def ints(attr: Attribute | None, default: Sequence[int] = ()) -> tuple[int, ...]:
    if attr is None:
        return tuple(default)
    assert isinstance(attr, DenseArrayBase)
    return tuple(int(v) for v in attr.get_values())


def int_attr(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), i64)


def int_of(attr: Attribute | None, default: int = 0) -> int:
    return default if attr is None else attr.value.data


def float_attr(value: float) -> FloatAttr:
    return FloatAttr(float(value), f32)


def float_of(attr: Attribute | None, default: float = 0.0) -> float:
    return default if attr is None else attr.value.data


def str_attr(value: str) -> StringAttr:
    return StringAttr(value)


def str_of(attr: Attribute | None, default: str = "") -> str:
    return default if attr is None else attr.data


# --- families --------------------------------------------------------------


class UnaryOp(GraphOp):
    """Elementwise op whose result has its operand's type: `graph.relu %x : tensor<4xf32>`."""

    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input)"

    @classmethod
    def infer(cls, types, props):
        return [types[0]]


class BinaryOp(GraphOp):
    """Elementwise op on two operands with ONNX broadcasting."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    RESULT_ELEMENT_TYPE: ClassVar[Attribute | None] = None
    """For comparisons and logic the result is i1; None means the operands' type."""

    @classmethod
    def infer(cls, types, props):
        elem = expect_same_element_type(cls, types)
        shape = broadcast_shapes(cls, types[0].get_shape(), types[1].get_shape())
        return [TensorType(cls.RESULT_ELEMENT_TYPE or elem, shape)]
