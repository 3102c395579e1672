"""Values that come from outside the computation: inline constants and weights."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, StringAttr, TensorType
from xdsl.ir import Attribute
from xdsl.irdl import irdl_op_definition, prop_def, result_def, traits_def
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure

from dialects.dtypes import is_bool, is_float, is_storage_float, numpy_dtype, tensor_type, tensor_type_of
from dialects.graph.base import GraphOp, MovesData, UnaryOp, fail

INLINE_LIMIT = 16
"""Constants with at most this many elements are printed inline; larger ones become weights,
unless every element is the same (a splat prints as one value whatever its size)."""


def is_splat(array: np.ndarray) -> bool:
    flat = array.reshape(-1)
    return flat.size > 0 and bool(np.all(flat == flat[0]))


def fits_inline(array: np.ndarray) -> bool:
    return array.size <= INLINE_LIMIT or is_splat(array)


@irdl_op_definition
class ConstantOp(GraphOp):
    """A small or splat constant printed inline: `%c = graph.constant dense<[1, 2]> : tensor<2xi64>`,
    `%z = graph.constant dense<0.0> : tensor<1x128x128xf32>`."""

    name = "graph.constant"
    value = prop_def(DenseIntOrFPElementsAttr)
    result = result_def(TensorType)
    traits = traits_def(ConstantLike(), Pure(), MovesData())

    @staticmethod
    def from_array(array: np.ndarray, element_type: Attribute | None = None) -> ConstantOp:
        """`element_type` names types numpy lacks (bf16 arrays are float32); default: the array's.
        Storage-only types (float8, int4, ...) are stored like any other: xDSL's dense
        attribute holds one element per byte and prints their values."""
        t = tensor_type_of(array) if element_type is None else tensor_type(array.shape, element_type)
        flat = array.reshape(-1)
        if flat.size > 1 and is_splat(flat):
            flat = flat[:1]
        if is_bool(t.element_type):
            flat = flat.astype(np.int64)
        attr = DenseIntOrFPElementsAttr.from_list(t, flat.tolist())
        return ConstantOp.create(properties={"value": attr}, result_types=[t])

    def to_array(self) -> np.ndarray:
        t = self.result.type
        dtype, shape = numpy_dtype(t.element_type), t.get_shape()
        if len(self.value) > 1 and self.value.is_splat():
            return np.full(shape, next(iter(self.value.iter_values())), dtype=dtype)
        return np.asarray(self.value.get_values(), dtype=dtype).reshape(shape)

    def verify_(self) -> None:
        if self.value.type != self.result.type:
            fail(self, f"expects result type {self.value.type}, got {self.result.type}")

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        if self._has_non_finite():
            # xDSL prints inf/nan elements as hex that its parser reads back as integers;
            # MLIR's hex-buffer form round-trips exactly.
            printer.print_string(f'dense<"0x{self.value.data.data.hex().upper()}"> : ')
            printer.print_attribute(self.value.type)
        else:
            printer.print_attribute(self.value)
        printer.print_op_attributes(self.attributes)

    def _has_non_finite(self) -> bool:
        elem = self.result.type.element_type
        return (is_float(elem) or is_storage_float(elem)) and not bool(np.all(np.isfinite(self.to_array())))

    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        value = parser.parse_attribute()
        if not isinstance(value, DenseIntOrFPElementsAttr):
            parser.raise_error("graph.constant expects a dense<...> : tensor<...> value")
        attrs = parser.parse_optional_attr_dict()
        op = cls.create(properties={"value": value}, result_types=[value.type])
        op.attributes.update(attrs)
        return op


@irdl_op_definition
class WeightOp(GraphOp):
    """A tensor held in the module's weight store, by name:
    `%w = graph.weight "conv1.weight" : tensor<64x3x7x7xf32>`."""

    name = "graph.weight"
    sym = prop_def(StringAttr)
    result = result_def(TensorType)
    traits = traits_def(ConstantLike(), Pure(), MovesData())
    assembly_format = "$sym attr-dict `:` type($result)"

    @staticmethod
    def of(name: str, type: TensorType) -> WeightOp:
        return WeightOp.create(properties={"sym": StringAttr(name)}, result_types=[type])


@irdl_op_definition
class IdentityOp(UnaryOp):
    name = "graph.identity"
    traits = traits_def(MovesData())
