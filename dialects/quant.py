"""The `quant` dialect: integer (and float8) arithmetic with explicit scales and zero points.

Each op states its quantization parameters as operands, so they may be weights or values
computed at run time alike:

- `quant.quantize`: float -> quantized storage, `saturate(round(x / scale) + zero_point)`,
  rounding halves to even (ONNX QuantizeLinear).
- `quant.dequantize`: quantized (or i32) -> float, `(x - zero_point) * scale` (ONNX
  DequantizeLinear); the float type is the result's.
- `quant.requantize`: an i32 accumulator -> quantized integers,
  `saturate(round(acc * scale) + zero_point)`, or -> float, `acc * scale`. Its `scale` is
  the accumulator's scale divided by the output's (ONNX's `a_scale * b_scale / y_scale`):
  one multiplier per tensor or per output channel, the number a kernel's epilogue applies.
- `quant.matmul`, `quant.conv`: integer contractions, `sum((a - a_zero) * (b - b_zero))`
  accumulated in the result's type (ONNX MatMulInteger, ConvInteger). The accumulator is
  i32 and is checked as such: it is the result type, not tied to the inputs' i8/ui8.

ONNX's QLinearMatMul and QLinearConv import as a contraction, a `graph.add` of the
(i32) bias where there is one, and a `quant.requantize`, rather than as one op with an
epilogue region: each of the three is checked on its own by the reference interpreter,
and they are the shape that the `fused` level's contractions (`fused.matmul`/`fused.conv`
with an epilogue region) will take them in, whether they came from QLinear* nodes or from
DequantizeLinear -> Conv -> QuantizeLinear chains folded later.

Granularity follows ONNX and is read from the scale's shape:
- per tensor: a rank-0 scale, and no `axis`;
- per axis: a 1-D scale as long as the input's axis `axis` (non-negative: the importer
  resolves ONNX's negative axes);
- blocked (quantize/dequantize only): a scale of the input's rank, equal to its shape
  but on `axis`, where it holds ceil(size / block_size) blocks; `block_size` is set
  exactly for this form.
A zero point has the scale's shape and the quantized element type (requantize's may also
be rank-0 with a per-axis scale: ONNX's output zero points are per tensor). Absent, it is
zero. Float8/float4 zero points are zero by the spec; the interpreter checks that.

Quantized element types are those ONNX quantizes to: i8, ui8, i16, ui16, the storage-only
i4, ui4, i2, ui2, and the float8 (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ) and float4 (E2M1FN)
types. Quantize and dequantize convert between these and floats as a cast does, so they
carry `MovesData`, which lets storage-only element types through; none of these ops is
elementwise to the fusion passes, which leave them alone. `saturate` (0 or 1) is a
property of a quantize exactly when its result is a float8 type, as on `graph.cast`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    BFloat16Type,
    DenseArrayBase,
    Float4E2M1FNType,
    Float8E4M3FNType,
    Float8E4M3FNUZType,
    Float8E5M2FNUZType,
    Float8E5M2Type,
    Float16Type,
    Float32Type,
    IntegerAttr,
    IntegerType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from dialects.graph.base import MovesData, broadcast_shapes, expect_rank, fail, int_attr, int_of, ints
from dialects.graph.nn import conv_output_size

_UNSIGNED = Signedness.UNSIGNED

i32 = IntegerType(32)
FLOAT8 = (Float8E4M3FNType(), Float8E4M3FNUZType(), Float8E5M2Type(), Float8E5M2FNUZType())
"""The float8 types: a quantize to one of them carries `saturate`."""
QUANTIZED_INTEGERS = tuple(IntegerType(w, s) for w in (8, 16, 4, 2) for s in (Signedness.SIGNLESS, _UNSIGNED))
QUANTIZED = (*QUANTIZED_INTEGERS, *FLOAT8, Float4E2M1FNType())
"""What quantize produces and dequantize reads (dequantize also reads i32)."""
REAL = (Float32Type(), Float16Type(), BFloat16Type())
"""The float types of scales and of real (dequantized) values."""
CONTRACTED = (IntegerType(8), IntegerType(8, _UNSIGNED))
"""What the integer contractions multiply."""
ACCUMULATOR = i32
REQUANTIZED = (*(IntegerType(w, s) for w in (8, 16) for s in (Signedness.SIGNLESS, _UNSIGNED)), *REAL)
"""What requantize produces: 8- and 16-bit integers, or floats."""


def _names(types: Sequence[Attribute]) -> str:
    return ", ".join(str(t) for t in types)


def _expect_element(op: Operation, what: str, t: TensorType, allowed: Sequence[Attribute], kind: str) -> None:
    if t.element_type not in allowed:
        fail(op, f"expects {what} of {kind} type ({_names(allowed)}), got {t}")


def _expect_same_shape(op: Operation, source: TensorType, result: TensorType) -> None:
    if source.get_shape() != result.get_shape():
        fail(op, f"expects result shape equal to input shape, got {source} -> {result}")


def _expect_axis(op: Operation, axis: int, t: TensorType) -> None:
    if not 0 <= axis < t.get_num_dims():
        fail(op, f"expects axis in [0, {t.get_num_dims()}) for {t}, got {axis}")


def expect_granularity(op: Operation, value: TensorType, scale: TensorType) -> None:
    """The scale's shape against `value` (the quantized or real tensor), `axis` and
    `block_size`: per tensor, per axis, or blocked where the op may be (`BLOCKED`); see the
    module docstring."""
    axis, block_size = op.properties.get("axis"), op.properties.get("block_size")
    if scale.get_num_dims() == 0:
        if axis is not None or block_size is not None:
            fail(op, f"expects no axis or block_size with a per-tensor (rank-0) scale, got {scale}")
        return
    if axis is None:
        fail(op, f"expects an axis with a per-axis or blocked scale, got {scale}")
    _expect_axis(op, int_of(axis), value)
    if block_size is None:
        _expect_per_axis(op, value, scale, int_of(axis), op.BLOCKED)
    else:
        _expect_blocked(op, value, scale, int_of(axis), int_of(block_size))


def _expect_per_axis(op: Operation, value: TensorType, scale: TensorType, axis: int, blocks: bool) -> None:
    want = (value.get_shape()[axis],)
    if scale.get_shape() != want:
        more = " (a blocked scale needs block_size)" if blocks and scale.get_num_dims() > 1 else ""
        fail(op, f"expects a per-axis scale of shape {list(want)} (axis {axis} of {value}), got {scale}{more}")


def blocked_shape(shape: Sequence[int], axis: int, block_size: int) -> list[int]:
    """The scale shape of a tensor of `shape` quantized in blocks of `block_size` along `axis`."""
    return [-(-d // block_size) if i == axis else d for i, d in enumerate(shape)]


def _expect_blocked(op: Operation, value: TensorType, scale: TensorType, axis: int, block_size: int) -> None:
    if block_size < 1:
        fail(op, f"expects block_size to be at least 1, got {block_size}")
    want = blocked_shape(value.get_shape(), axis, block_size)
    if list(scale.get_shape()) != want:
        fail(op, f"expects a blocked scale of shape {want} (axis {axis} of {value} in blocks of {block_size}), got {scale}")


def expect_zero_point(
    op: Operation, zero_point: SSAValue | None, quantized: Attribute, scale: TensorType | None, what: str = "zero_point"
) -> None:
    """A zero point has the quantized element type and the scale's shape (any shape when
    `scale` is None: the caller checks it)."""
    if zero_point is None:
        return
    t = zero_point.type
    if t.element_type != quantized:
        fail(op, f"expects {what} of element type {quantized} (the quantized type), got {t}")
    if scale is not None and t.get_shape() != scale.get_shape():
        fail(op, f"expects {what} of the scale's shape {list(scale.get_shape())}, got {t}")


class _QuantOp(IRDLOperation):
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))


class _ScaledOp(_QuantOp):
    """An op with one input, a scale and an optional zero point, and a result of its shape."""

    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    zero_point = opt_operand_def(TensorType)
    result = result_def(TensorType)
    axis = opt_prop_def(IntegerAttr[I64])
    BLOCKED: ClassVar[bool] = False
    """Whether the op may quantize in blocks (`block_size`)."""
    assembly_format = (
        "$input `scale` `(` $scale `:` type($scale) `)` (`zero_point` `(` $zero_point^ `:` type($zero_point) `)`)? "
        "attr-dict `:` type($input) `->` type($result)"
    )

    def _expect_scale_and_shape(self) -> None:
        _expect_element(self, "scale", self.scale.type, REAL, "a float")
        _expect_same_shape(self, self.input.type, self.result.type)


def _granularity(axis: int | None, block_size: int | None) -> dict[str, Attribute]:
    """The `axis` and `block_size` properties, each only when given."""
    return {k: int_attr(v) for k, v in (("axis", axis), ("block_size", block_size)) if v is not None}


@irdl_op_definition
class QuantizeOp(_ScaledOp):
    """`%q = quant.quantize %x scale(%s : tensor<3xf32>) zero_point(%z : tensor<3xi8>) {axis = 1 : i64}
    : tensor<2x3xf32> -> tensor<2x3xi8>`: `saturate(round(x / scale) + zero_point)`, the
    division in the scale's float type."""

    name = "quant.quantize"
    BLOCKED: ClassVar[bool] = True
    block_size = opt_prop_def(IntegerAttr[I64])
    saturate = opt_prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())

    @staticmethod
    def make(
        x: SSAValue,
        scale: SSAValue,
        zero_point: SSAValue | None,
        element_type: Attribute,
        axis: int | None = None,
        block_size: int | None = None,
        saturate: bool = True,
    ) -> QuantizeOp:
        """`saturate` is kept only for float8 results, which are the ones it applies to."""
        props = _granularity(axis, block_size)
        if element_type in FLOAT8:
            props["saturate"] = int_attr(int(saturate))
        result = TensorType(element_type, x.type.get_shape())
        return QuantizeOp(operands=[x, scale, zero_point], result_types=[result], properties=props)

    def verify_(self) -> None:
        _expect_element(self, "input", self.input.type, REAL, "a float")
        _expect_element(self, "result", self.result.type, QUANTIZED, "a quantized")
        self._expect_scale_and_shape()
        expect_granularity(self, self.input.type, self.scale.type)
        expect_zero_point(self, self.zero_point, self.result.type.element_type, self.scale.type)
        target = self.result.type.element_type
        if (target in FLOAT8) != (self.saturate is not None):
            wanted = "expects saturate" if target in FLOAT8 else "expects saturate only for float8 results, not"
            fail(self, f"{wanted} for a quantization to {target}")
        if self.saturate is not None and int_of(self.saturate) not in (0, 1):
            fail(self, f"expects saturate to be 0 or 1, got {int_of(self.saturate)}")


@irdl_op_definition
class DequantizeOp(_ScaledOp):
    """`%x = quant.dequantize %q scale(%s : tensor<f32>) : tensor<4xui8> -> tensor<4xf32>`:
    `(q - zero_point) * scale`, rounded once to the result's float type."""

    name = "quant.dequantize"
    BLOCKED: ClassVar[bool] = True
    block_size = opt_prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())

    @staticmethod
    def make(
        q: SSAValue,
        scale: SSAValue,
        zero_point: SSAValue | None,
        element_type: Attribute,
        axis: int | None = None,
        block_size: int | None = None,
    ) -> DequantizeOp:
        result = TensorType(element_type, q.type.get_shape())
        return DequantizeOp(operands=[q, scale, zero_point], result_types=[result], properties=_granularity(axis, block_size))

    def verify_(self) -> None:
        _expect_element(self, "input", self.input.type, (*QUANTIZED, i32), "a quantized")
        _expect_element(self, "result", self.result.type, REAL, "a float")
        self._expect_scale_and_shape()
        expect_granularity(self, self.input.type, self.scale.type)
        expect_zero_point(self, self.zero_point, self.input.type.element_type, self.scale.type)


@irdl_op_definition
class RequantizeOp(_ScaledOp):
    """`%y = quant.requantize %acc scale(%m : tensor<4xf32>) zero_point(%z : tensor<i8>) {axis = 1 : i64}
    : tensor<2x4xi32> -> tensor<2x4xi8>`: `saturate(round(acc * scale) + zero_point)`, or
    `acc * scale` for a float result (which takes no zero point)."""

    name = "quant.requantize"
    traits = traits_def(Pure())

    @staticmethod
    def make(
        acc: SSAValue, scale: SSAValue, zero_point: SSAValue | None, element_type: Attribute, axis: int | None = None
    ) -> RequantizeOp:
        result = TensorType(element_type, acc.type.get_shape())
        return RequantizeOp(operands=[acc, scale, zero_point], result_types=[result], properties=_granularity(axis, None))

    def verify_(self) -> None:
        if self.input.type.element_type != ACCUMULATOR:
            fail(self, f"expects an {ACCUMULATOR} accumulator as input, got {self.input.type}")
        _expect_element(self, "result", self.result.type, REQUANTIZED, "an integer quantized or a float")
        self._expect_scale_and_shape()
        expect_granularity(self, self.input.type, self.scale.type)
        target = self.result.type.element_type
        if self.zero_point is not None and target in REAL:
            fail(self, f"expects no zero_point for a float result, got {self.result.type}")
        per_tensor = self.zero_point is not None and self.zero_point.type.get_num_dims() == 0
        expect_zero_point(self, self.zero_point, target, None if per_tensor else self.scale.type)


# --- contractions ----------------------------------------------------------------------


def _expect_accumulator(op: Operation, result: TensorType) -> None:
    if result.element_type != ACCUMULATOR:
        fail(op, f"expects an {ACCUMULATOR} accumulator as result, got {result}")


def _expect_vector_or_scalar(op: Operation, what: str, zero_point: SSAValue | None, operand: TensorType, size: int, of: str) -> None:
    """A contraction's zero point: its operand's element type, and rank 0 or `size` long."""
    expect_zero_point(op, zero_point, operand.element_type, None, what)
    if zero_point is not None and zero_point.type.get_shape() not in ((), (size,)):
        fail(op, f"expects {what} of rank 0 or of shape [{size}] ({of}), got {zero_point.type}")


def _expect_result(op: Operation, want: list[int], result: TensorType) -> None:
    if list(result.get_shape()) != want:
        fail(op, f"expects result shape {want}, got {result}")


@irdl_op_definition
class MatmulOp(_QuantOp):
    """`%acc = quant.matmul %a, %b lhs_zero_point(%za : tensor<ui8>) : (tensor<4x3xui8>, tensor<3x2xi8>)
    -> tensor<4x2xi32>`: `(a - lhs_zero_point) · (b - rhs_zero_point)`, numpy's matmul of
    operands of rank 2 or more (batch dimensions broadcast), accumulated in i32. The lhs
    zero point is per tensor or per row ([M]), the rhs's per tensor or per column ([N])."""

    name = "quant.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    lhs_zero_point = opt_operand_def(TensorType)
    rhs_zero_point = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$lhs `,` $rhs (`lhs_zero_point` `(` $lhs_zero_point^ `:` type($lhs_zero_point) `)`)? "
        "(`rhs_zero_point` `(` $rhs_zero_point^ `:` type($rhs_zero_point) `)`)? attr-dict `:` "
        "`(` type($lhs) `,` type($rhs) `)` `->` type($result)"
    )

    @staticmethod
    def make(a: SSAValue, b: SSAValue, a_zero: SSAValue | None, b_zero: SSAValue | None) -> MatmulOp:
        a_shape, b_shape = a.type.get_shape(), b.type.get_shape()
        batch = broadcast_shapes(MatmulOp, a_shape[:-2], b_shape[:-2])
        result = TensorType(ACCUMULATOR, [*batch, a_shape[-2], b_shape[-1]])
        return MatmulOp(operands=[a, b, a_zero, b_zero], result_types=[result])

    def verify_(self) -> None:
        a, b = self.lhs.type, self.rhs.type
        for what, t in (("lhs", a), ("rhs", b)):
            _expect_element(self, what, t, CONTRACTED, "an 8-bit integer")
            expect_rank(self, what, t, *range(2, 7))
        _expect_accumulator(self, self.result.type)
        (m, k), (k2, n) = a.get_shape()[-2:], b.get_shape()[-2:]
        if k != k2:
            fail(self, f"expects matching inner dimensions, got {k} and {k2} for {a} and {b}")
        _expect_vector_or_scalar(self, "lhs_zero_point", self.lhs_zero_point, a, m, "one per row of lhs")
        _expect_vector_or_scalar(self, "rhs_zero_point", self.rhs_zero_point, b, n, "one per column of rhs")
        batch = broadcast_shapes(self, a.get_shape()[:-2], b.get_shape()[:-2])
        _expect_result(self, [*batch, m, n], self.result.type)


@irdl_op_definition
class ConvOp(_QuantOp):
    """`%acc = quant.conv %x, %w input_zero_point(%zx : tensor<ui8>) weight_zero_point(%zw : tensor<4xui8>)
    {strides = ..., pads = ..., dilations = ..., group = 1 : i64} : (...) -> tensor<...xi32>`:
    graph.conv's NCHW convolution (its properties, no bias) of `x - input_zero_point` by
    `w - weight_zero_point`, accumulated in i32; padding is the input's zero point, i.e. 0
    after the subtraction. The input zero point is per tensor, the weight's per tensor or
    per output channel ([M])."""

    name = "quant.conv"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    input_zero_point = opt_operand_def(TensorType)
    weight_zero_point = opt_operand_def(TensorType)
    result = result_def(TensorType)
    strides = prop_def(DenseArrayBase[I64])
    pads = prop_def(DenseArrayBase[I64])
    dilations = prop_def(DenseArrayBase[I64])
    group = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight (`input_zero_point` `(` $input_zero_point^ `:` type($input_zero_point) `)`)? "
        "(`weight_zero_point` `(` $weight_zero_point^ `:` type($weight_zero_point) `)`)? attr-dict `:` "
        "`(` type($input) `,` type($weight) `)` `->` type($result)"
    )

    @staticmethod
    def make(
        x: SSAValue, w: SSAValue, x_zero: SSAValue | None, w_zero: SSAValue | None, props: dict[str, Attribute]
    ) -> ConvOp:
        spatial = _conv_output(x.type, w.type, props)
        result = TensorType(ACCUMULATOR, [x.type.get_shape()[0], w.type.get_shape()[0], *spatial])
        return ConvOp(operands=[x, w, x_zero, w_zero], result_types=[result], properties=dict(props))

    def verify_(self) -> None:
        x, w = self.input.type, self.weight.type
        for what, t in (("input", x), ("weight", w)):
            _expect_element(self, what, t, CONTRACTED, "an 8-bit integer")
        expect_rank(self, "input", x, 3, 4, 5)
        expect_rank(self, "weight", w, x.get_num_dims())
        _expect_accumulator(self, self.result.type)
        self._expect_geometry(x, w)
        expect_zero_point(self, self.input_zero_point, x.element_type, None, "input_zero_point")
        if self.input_zero_point is not None and self.input_zero_point.type.get_num_dims() != 0:
            fail(self, f"expects input_zero_point of rank 0 (per tensor), got {self.input_zero_point.type}")
        m = w.get_shape()[0]
        _expect_vector_or_scalar(self, "weight_zero_point", self.weight_zero_point, w, m, "one per output channel")
        _expect_result(self, [x.get_shape()[0], m, *_conv_output(x, w, self.properties)], self.result.type)

    def _expect_geometry(self, x: TensorType, w: TensorType) -> None:
        spatial, group = x.get_num_dims() - 2, int_of(self.group)
        for name, count, lowest in (("strides", spatial, 1), ("dilations", spatial, 1), ("pads", 2 * spatial, 0)):
            values = ints(self.properties[name])
            if len(values) != count or min(values, default=lowest) < lowest:
                fail(self, f"expects {count} {name} of at least {lowest} for input {x}, got {list(values)}")
        c, (m, c_per_group) = x.get_shape()[1], w.get_shape()[:2]
        if group < 1 or c % group or m % group or c // group != c_per_group:
            fail(self, f"expects weight {w} to have {c}/{group} input channels per group, got {c_per_group}")
        if min(_conv_output(x, w, self.properties)) < 1:
            fail(self, f"produces an empty output for input {x} and weight {w}")


def _conv_output(x: TensorType, w: TensorType, props) -> list[int]:
    """The spatial output sizes of an NCHW convolution."""
    strides, dilations, pads = ints(props["strides"]), ints(props["dilations"]), ints(props["pads"])
    spatial = x.get_num_dims() - 2
    sizes, kernel = x.get_shape()[2:], w.get_shape()[2:]
    return [conv_output_size(sizes[i], kernel[i], strides[i], pads[i], pads[spatial + i], dilations[i]) for i in range(spatial)]


Quant = Dialect("quant", [QuantizeOp, DequantizeOp, RequantizeOp, MatmulOp, ConvOp], [])

__all__ = [
    "ACCUMULATOR",
    "CONTRACTED",
    "ConvOp",
    "DequantizeOp",
    "FLOAT8",
    "MatmulOp",
    "QUANTIZED",
    "Quant",
    "QuantizeOp",
    "REAL",
    "REQUANTIZED",
    "RequantizeOp",
    "blocked_shape",
    "expect_granularity",
    "expect_zero_point",
]
