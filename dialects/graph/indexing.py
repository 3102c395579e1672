"""Index-driven and position-driven ops: N-d gathers and scatters, one-hot encodings,
triangular masks and running sums.

These are what PyTorch's exporters emit for advanced indexing (`x[i, j]` becomes
GatherND, `x[i, j] = v` ScatterND), `torch.triu`/`tril` (causal masks), `cumsum`
(position ids from an attention mask) and `F.one_hot`. Configuration the ONNX op takes as
an input (Trilu's `k`, CumSum's `axis`, OneHot's `depth`) is a property here, so result
shapes stay static. ONNX ops without an op of their own are lowered by the importer:
Einsum to reduce_sum/transpose/reshape/matmul; NonZero (whose shape depends on values) only folds.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, StringAttr, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.dtypes import is_bool
from dialects.graph.base import GraphOp, expect_same_element_type, fail, int_of, str_of
from dialects.graph.tensor import _DATA_INDICES_FORMAT, _UNARY_FORMAT, _axis, _expect_index_type


def _expect_flag(op, props, name: str) -> int:
    """ONNX's 0/1 integer attributes (upper, exclusive, reverse)."""
    value = int_of(props[name])
    if value not in (0, 1):
        fail(op, f"expects {name} to be 0 or 1, got {value}")
    return value


def _expect_index_rows(op, data: TensorType, indices: TensorType) -> None:
    """Both ranked at least 1, indices integers: their last dimension holds index tuples."""
    _expect_index_type(op, indices)
    for what, t in (("data", data), ("indices", indices)):
        if t.get_num_dims() == 0:
            fail(op, f"expects {what} of rank at least 1, got {t}")


def _index_depth(op, data: TensorType, indices: TensorType, batch_dims: int = 0) -> int:
    """The length k of each index tuple (indices' last dimension), checked to address at
    most the data's dimensions after the batch dimensions."""
    depth = indices.get_shape()[-1]
    if not 1 <= depth <= data.get_num_dims() - batch_dims:
        fail(op, f"expects index tuples of length 1 to {data.get_num_dims() - batch_dims} for {data}, got {depth}")
    return depth


# --- N-d gather and scatter ---------------------------------------------------------


@irdl_op_definition
class GatherNDOp(GraphOp):
    """ONNX GatherND: each length-k row of `indices` picks a slice of `data` after its
    first `batch_dims` dimensions, which `data` and `indices` share. The result is
    `indices.shape[:-1] + data.shape[batch_dims + k:]`:
    `graph.gather_nd %x, %i {batch_dims = 0 : i64} : (tensor<3x4xf32>, tensor<2x2xi64>) -> tensor<2xf32>`."""

    name = "graph.gather_nd"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    batch_dims = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = _DATA_INDICES_FORMAT

    @classmethod
    def infer(cls, types, props):
        data, indices = types
        _expect_index_rows(cls, data, indices)
        batch = int_of(props["batch_dims"])
        if not 0 <= batch < min(data.get_num_dims(), indices.get_num_dims()):
            fail(cls, f"expects batch_dims below the ranks of {data} and {indices}, got {batch}")
        if data.get_shape()[:batch] != indices.get_shape()[:batch]:
            fail(cls, f"expects {data} and {indices} to agree on their first {batch} (batch) dimensions")
        depth = _index_depth(cls, data, indices, batch)
        shape = list(indices.get_shape()[:-1]) + list(data.get_shape()[batch + depth :])
        return [TensorType(data.element_type, shape)]


@irdl_op_definition
class ScatterNDOp(GraphOp):
    """ONNX ScatterND: a copy of `data` where each length-k row of `indices` addresses a
    slice that the matching slice of `updates` replaces (`reduction = "none"`) or is
    combined into (`add`, `mul`, `max`, `min`, applied in index order)."""

    name = "graph.scatter_nd"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    updates = operand_def(TensorType)
    result = result_def(TensorType)
    reduction = prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$data `,` $indices `,` $updates attr-dict `:` "
        "`(` type($data) `,` type($indices) `,` type($updates) `)` `->` type($result)"
    )

    REDUCTIONS: ClassVar = ("none", "add", "mul", "max", "min")

    @classmethod
    def infer(cls, types, props):
        data, indices, updates = types
        reduction = str_of(props["reduction"])
        if reduction not in cls.REDUCTIONS:
            fail(cls, f"expects reduction to be one of {', '.join(cls.REDUCTIONS)}, got '{reduction}'")
        expect_same_element_type(cls, [data, updates])
        _expect_index_rows(cls, data, indices)
        depth = _index_depth(cls, data, indices)
        expected = list(indices.get_shape()[:-1]) + list(data.get_shape()[depth:])
        if list(updates.get_shape()) != expected:
            shown = TensorType(data.element_type, expected)
            fail(cls, f"expects updates of shape {shown} for {data} and {indices}, got {updates}")
        return [data]


# --- encodings and masks -----------------------------------------------------------


@irdl_op_definition
class OneHotOp(GraphOp):
    """ONNX OneHot: a new dimension of size `depth` at `axis` (of the result) holding
    `values[1]` where it equals the index (negative indices count from `depth`) and
    `values[0]` elsewhere, also for out-of-range indices:
    `graph.one_hot %i, %v {axis = 1 : i64, depth = 4 : i64} : (tensor<3xi64>, tensor<2xf32>) -> tensor<3x4xf32>`."""

    name = "graph.one_hot"
    indices = operand_def(TensorType)
    values = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    depth = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = (
        "$indices `,` $values attr-dict `:` `(` type($indices) `,` type($values) `)` `->` type($result)"
    )

    @classmethod
    def infer(cls, types, props):
        indices, values = types
        if is_bool(indices.element_type):
            fail(cls, f"expects numeric indices, got {indices}")
        if list(values.get_shape()) != [2]:
            fail(cls, f"expects values as [off, on], a tensor of 2 elements, got {values}")
        depth = int_of(props["depth"])
        if depth < 1:
            fail(cls, f"expects a positive depth, got {depth}")
        shape = list(indices.get_shape())
        axis = _axis(cls, props, len(shape) + 1)
        return [TensorType(values.element_type, shape[:axis] + [depth] + shape[axis:])]


@irdl_op_definition
class TriluOp(GraphOp):
    """ONNX Trilu on the last two dimensions: keeps the elements on and above (`upper = 1`)
    or on and below (`upper = 0`) diagonal `k` (positive above the main one) and zeroes
    the rest: `graph.trilu %x {upper = 1 : i64, k = 1 : i64} : tensor<4x4xf32> -> tensor<4x4xf32>`."""

    name = "graph.trilu"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    upper = prop_def(IntegerAttr[I64])
    k = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        if x.get_num_dims() < 2:
            fail(cls, f"expects an input of rank at least 2, got {x}")
        _expect_flag(cls, props, "upper")
        return [x]


@irdl_op_definition
class CumSumOp(GraphOp):
    """ONNX CumSum along `axis`: running sums that include (`exclusive = 0`) or exclude
    the element itself, from the front or, with `reverse = 1`, from the back:
    `graph.cum_sum %x {axis = 1 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<2x5xi64> -> tensor<2x5xi64>`."""

    name = "graph.cum_sum"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    exclusive = prop_def(IntegerAttr[I64])
    reverse = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        if is_bool(x.element_type) or x.get_num_dims() == 0:
            fail(cls, f"expects a numeric input of rank at least 1, got {x}")
        _axis(cls, props, x.get_num_dims())
        _expect_flag(cls, props, "exclusive")
        _expect_flag(cls, props, "reverse")
        return [x]


__all__ = [
    "CumSumOp",
    "GatherNDOp",
    "OneHotOp",
    "ScatterNDOp",
    "TriluOp",
]
