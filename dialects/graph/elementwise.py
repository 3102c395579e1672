"""Elementwise ops: math functions, arithmetic with broadcasting, comparisons, logic, casts.
Activation functions, elementwise too, live in `activation.py` and use this module's mixins.

Families (from `base`): a unary op keeps its operand's type (`graph.sqrt %x : tensor<4xf32>`);
a binary op broadcasts its two operands the ONNX (numpy) way; comparisons and logic give i1.
Each op names the element types it accepts with a mixin (`FloatOperands`, ...), so
`graph.exp` on integers is rejected by the verifier with a sentence instead of reaching a
kernel. ONNX's variadic Sum/Mean/Min/Max have no op of their own: the importer chains the
binary ops, which keeps every elementwise op at one or two operands for fusion and codegen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import ClassVar

from xdsl.dialects.builtin import Float8E8M0FNUType, FloatAttr, I64, IntegerAttr, Signedness, StringAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    ParsePropInAttrDict,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from dialects.dtypes import FLOAT8_TYPES, i1, is_bool, is_float, is_integer
from dialects.graph.base import (
    BinaryOp,
    GraphOp,
    MovesData,
    UnaryOp,
    broadcast_shapes,
    expect_same_element_type,
    fail,
    int_attr,
    int_of,
    str_of,
)


def _is_signed(t: Attribute) -> bool:
    return is_float(t) or (is_integer(t) and t.signedness.data != Signedness.UNSIGNED)


ELEMENT_KINDS: dict[str, Callable[[Attribute], bool]] = {
    "floating-point": is_float,
    "signed numeric": _is_signed,
    "numeric": lambda t: not is_bool(t),
    "boolean (i1)": is_bool,
}
"""The element-type classes ONNX's type constraints use, by the name messages print."""


def expect_kind(op, kind: str, types: Sequence[TensorType], what: str = "operands") -> None:
    for t in types:
        if not ELEMENT_KINDS[kind](t.element_type):
            fail(op, f"expects {what} of {kind} type, got {t}")


# --- mixins: which element types an op accepts, what it produces --------------------


class _Accepts:
    """Check every operand's element kind, then infer as the op's family does."""

    KIND: ClassVar[str]

    @classmethod
    def infer(cls, types, props):
        expect_kind(cls, cls.KIND, types)
        return super().infer(types, props)


class FloatOperands(_Accepts):
    KIND: ClassVar[str] = "floating-point"


class SignedOperands(_Accepts):
    KIND: ClassVar[str] = "signed numeric"


class NumericOperands(_Accepts):
    KIND: ClassVar[str] = "numeric"


class BoolOperands(_Accepts):
    KIND: ClassVar[str] = "boolean (i1)"


class BoolResult:
    """Comparisons and logic produce i1 (read by `BinaryOp.infer`)."""

    RESULT_ELEMENT_TYPE: ClassVar[Attribute | None] = i1


# --- unary: same type in and out -------------------------------------------------------


@irdl_op_definition
class TanhOp(FloatOperands, UnaryOp):
    name = "graph.tanh"


@irdl_op_definition
class ErfOp(FloatOperands, UnaryOp):
    name = "graph.erf"


@irdl_op_definition
class ExpOp(FloatOperands, UnaryOp):
    name = "graph.exp"


@irdl_op_definition
class LogOp(FloatOperands, UnaryOp):
    name = "graph.log"


@irdl_op_definition
class SqrtOp(FloatOperands, UnaryOp):
    name = "graph.sqrt"


@irdl_op_definition
class ReciprocalOp(FloatOperands, UnaryOp):
    name = "graph.reciprocal"


@irdl_op_definition
class NegOp(SignedOperands, UnaryOp):
    name = "graph.neg"


@irdl_op_definition
class AbsOp(NumericOperands, UnaryOp):
    name = "graph.abs"


@irdl_op_definition
class SignOp(NumericOperands, UnaryOp):
    name = "graph.sign"


@irdl_op_definition
class SinOp(FloatOperands, UnaryOp):
    name = "graph.sin"


@irdl_op_definition
class CosOp(FloatOperands, UnaryOp):
    name = "graph.cos"


@irdl_op_definition
class FloorOp(FloatOperands, UnaryOp):
    name = "graph.floor"


@irdl_op_definition
class CeilOp(FloatOperands, UnaryOp):
    name = "graph.ceil"


@irdl_op_definition
class RoundOp(FloatOperands, UnaryOp):
    """Rounds halves to even, as ONNX specifies (2.5 -> 2)."""

    name = "graph.round"


@irdl_op_definition
class NotOp(BoolOperands, UnaryOp):
    name = "graph.not"


# --- clamping: bounds as properties or operands --------------------------------------------


@irdl_op_definition
class ClipOp(GraphOp):
    """min(max(x, min), max): where min > max every element becomes max, as in ONNX.

    Each bound is exactly one of: a property of the tensor's element type, when known at
    compile time (`{min = 0.0 : f32}`), so kernels see a literal; or an operand, when
    computed at run time (`graph.clip %x min(%lo : tensor<f32>) ...`). ONNX's defaults,
    the type's lowest and highest finite values, are written out by the importer, which
    makes onnxruntime's clamping of infinities to them explicit."""

    name = "graph.clip"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    min_value = opt_operand_def(TensorType)
    max_value = opt_operand_def(TensorType)
    result = result_def(T)
    min = opt_prop_def(base(FloatAttr) | base(IntegerAttr))
    max = opt_prop_def(base(FloatAttr) | base(IntegerAttr))
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$input (`min` `(` $min_value^ `:` type($min_value) `)`)? "
        "(`max` `(` $max_value^ `:` type($max_value) `)`)? attr-dict `:` type($input)"
    )

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        expect_kind(cls, "numeric", [x])
        for bound in ("min", "max"):
            attr = props.get(bound)
            if attr is not None and attr.type != x.element_type:
                fail(cls, f"expects {bound} of type {x.element_type}, got {attr}")
        for t in types[1:]:
            if t.element_type != x.element_type or math.prod(t.get_shape()) != 1:
                fail(cls, f"expects run-time bounds to be one {x.element_type} value, got {t}")
        return [x]

    def verify_(self) -> None:
        super().verify_()
        for bound, operand in (("min", self.min_value), ("max", self.max_value)):
            if (operand is not None) == (bound in self.properties):
                got = "both" if operand is not None else "neither"
                fail(self, f"expects {bound} as a property or an operand, got {got}")


# --- predicates: floats in, i1 of the same shape out -----------------------------------


class _Predicate(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @classmethod
    def infer(cls, types, props):
        expect_kind(cls, "floating-point", types)
        return [TensorType(i1, types[0].get_shape())]


@irdl_op_definition
class IsNaNOp(_Predicate):
    name = "graph.is_nan"


@irdl_op_definition
class IsInfOp(_Predicate):
    """True at +inf when detect_positive is 1, at -inf when detect_negative is 1."""

    name = "graph.is_inf"
    detect_negative = prop_def(IntegerAttr[I64])
    detect_positive = prop_def(IntegerAttr[I64])


# --- binary, broadcasting ----------------------------------------------------------------


@irdl_op_definition
class AddOp(NumericOperands, BinaryOp):
    name = "graph.add"


@irdl_op_definition
class SubOp(NumericOperands, BinaryOp):
    name = "graph.sub"


@irdl_op_definition
class MulOp(NumericOperands, BinaryOp):
    name = "graph.mul"


@irdl_op_definition
class DivOp(NumericOperands, BinaryOp):
    """Integer division truncates toward zero (-7 / 2 = -3), as C and onnxruntime do."""

    name = "graph.div"


@irdl_op_definition
class MinOp(NumericOperands, BinaryOp):
    name = "graph.min"


@irdl_op_definition
class MaxOp(NumericOperands, BinaryOp):
    name = "graph.max"


@irdl_op_definition
class ModOp(NumericOperands, BinaryOp):
    """fmod = 0: a - floor(a / b) * b, the divisor's sign (Python's %); fmod = 1:
    a - trunc(a / b) * b, the dividend's sign (C's fmod). Before opset 28 ONNX left
    fmod = 0 undefined for floats; Mod-28 defines it as above, and so does optc."""

    name = "graph.mod"
    fmod = prop_def(IntegerAttr[I64])

    @classmethod
    def infer(cls, types, props):
        if int_of(props.get("fmod")) not in (0, 1):
            fail(cls, f"expects fmod to be 0 or 1, got {int_of(props.get('fmod'))}")
        return super().infer(types, props)


@irdl_op_definition
class PowOp(BinaryOp):
    """base ** exponent. ONNX lets the exponent's element type differ from the base's;
    the result has the base's."""

    name = "graph.pow"

    @classmethod
    def infer(cls, types, props):
        expect_kind(cls, "numeric", types)
        shape = broadcast_shapes(cls, types[0].get_shape(), types[1].get_shape())
        return [TensorType(types[0].element_type, shape)]


@irdl_op_definition
class EqualOp(BoolResult, BinaryOp):
    name = "graph.equal"


@irdl_op_definition
class LessOp(NumericOperands, BoolResult, BinaryOp):
    name = "graph.less"


@irdl_op_definition
class LessOrEqualOp(NumericOperands, BoolResult, BinaryOp):
    name = "graph.less_or_equal"


@irdl_op_definition
class GreaterOp(NumericOperands, BoolResult, BinaryOp):
    name = "graph.greater"


@irdl_op_definition
class GreaterOrEqualOp(NumericOperands, BoolResult, BinaryOp):
    name = "graph.greater_or_equal"


@irdl_op_definition
class AndOp(BoolOperands, BoolResult, BinaryOp):
    name = "graph.and"


@irdl_op_definition
class OrOp(BoolOperands, BoolResult, BinaryOp):
    name = "graph.or"


@irdl_op_definition
class XorOp(BoolOperands, BoolResult, BinaryOp):
    name = "graph.xor"


# --- select and casts --------------------------------------------------------------------


@irdl_op_definition
class WhereOp(GraphOp):
    """condition ? on_true : on_false, all three broadcast together."""

    name = "graph.where"
    condition = operand_def(TensorType)
    on_true = operand_def(TensorType)
    on_false = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$condition `,` $on_true `,` $on_false attr-dict `:` "
        "`(` type($condition) `,` type($on_true) `,` type($on_false) `)` `->` type($result)"
    )

    @classmethod
    def infer(cls, types, props):
        cond, on_true, on_false = types
        expect_kind(cls, "boolean (i1)", [cond], what="condition")
        elem = expect_same_element_type(cls, [on_true, on_false])
        shape = broadcast_shapes(cls, *(t.get_shape() for t in types))
        return [TensorType(elem, shape)]


@irdl_op_definition
class CastOp(GraphOp):
    """`%y = graph.cast %x : tensor<4xf32> -> tensor<4xf16>`: the shape stays, the
    element type becomes the result's. Floats to integers truncate toward zero (out of
    the integer's range ONNX leaves it undefined: the reference does the machine's C
    conversion, as onnxruntime does); to f16 and bf16 rounds to nearest even, through
    f32 as onnxruntime does; anything nonzero (NaN too) is true.

    Casts are how values enter and leave the storage-only types (float8, float4, int4,
    int2; `runtime.reference.low_precision` has their rules). ONNX's `saturate` is a
    property exactly when the target is a float8 type (`{saturate = 1 : i64}` clamps out
    of range values to the largest finite value, 0 gives inf or NaN), and `round_mode`
    (`"up"`, `"down"`, `"nearest"`) exactly when it is f8E8M0FNU."""

    name = "graph.cast"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    saturate = opt_prop_def(IntegerAttr[I64])
    round_mode = opt_prop_def(StringAttr)
    traits = traits_def(Pure(), MovesData())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @staticmethod
    def to(value: SSAValue, element_type: Attribute, saturate: bool = True, round_mode: str = "up") -> CastOp:
        """`saturate` and `round_mode` are kept only for the targets they apply to."""
        props: dict[str, Attribute] = {}
        if isinstance(element_type, FLOAT8_TYPES):
            props["saturate"] = int_attr(int(saturate))
        if isinstance(element_type, Float8E8M0FNUType):
            props["round_mode"] = StringAttr(round_mode)
        result = TensorType(element_type, value.type.get_shape())
        return CastOp(operands=[value], result_types=[result], properties=props)

    def verify_(self) -> None:
        if self.input.type.get_shape() != self.result.type.get_shape():
            fail(self, f"expects result shape equal to input shape, got {self.input.type} -> {self.result.type}")
        target = self.result.type.element_type
        _expect_prop_for(self, "saturate", isinstance(target, FLOAT8_TYPES), "float8 targets")
        _expect_prop_for(self, "round_mode", isinstance(target, Float8E8M0FNUType), "f8E8M0FNU targets")
        if self.saturate is not None and int_of(self.saturate) not in (0, 1):
            fail(self, f"expects saturate to be 0 or 1, got {int_of(self.saturate)}")
        if self.round_mode is not None and str_of(self.round_mode) not in E8M0_ROUND_MODES:
            modes = ", ".join(E8M0_ROUND_MODES)
            fail(self, f"expects round_mode to be one of {modes}, got '{str_of(self.round_mode)}'")


E8M0_ROUND_MODES = ("up", "down", "nearest")


def _expect_prop_for(op: CastOp, prop: str, applies: bool, targets: str) -> None:
    """A cast carries `prop` exactly when its target is one the property applies to."""
    if applies and prop not in op.properties:
        fail(op, f"expects {prop} for a cast to {op.result.type.element_type}")
    if not applies and prop in op.properties:
        fail(op, f"expects {prop} only for {targets}, got a cast to {op.result.type}")


__all__ = [
    "AbsOp",
    "AddOp",
    "AndOp",
    "CastOp",
    "CeilOp",
    "ClipOp",
    "CosOp",
    "DivOp",
    "EqualOp",
    "ErfOp",
    "ExpOp",
    "FloorOp",
    "GreaterOp",
    "GreaterOrEqualOp",
    "IsInfOp",
    "IsNaNOp",
    "LessOp",
    "LessOrEqualOp",
    "LogOp",
    "MaxOp",
    "MinOp",
    "ModOp",
    "MulOp",
    "NegOp",
    "NotOp",
    "OrOp",
    "PowOp",
    "ReciprocalOp",
    "RoundOp",
    "SignOp",
    "SinOp",
    "SqrtOp",
    "SubOp",
    "TanhOp",
    "WhereOp",
    "XorOp",
]
