"""Reductions: over a list of axes (`graph.reduce_*`) and to an index (`graph.arg_max`/`arg_min`)."""

from __future__ import annotations

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, TensorType, i64
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.graph.base import GraphOp, fail, int_of, ints
from dialects.graph.tensor import _UNARY_FORMAT, _axis, _distinct_axes


class ReduceOp(GraphOp):
    """Reduce over `axes` (sorted, non-negative; empty reduces nothing), keeping them as
    size-1 dimensions when `keepdims` is 1."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase[I64])
    keepdims = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, axes = types[0], ints(props["axes"])
        _distinct_axes(cls, axes, x.get_num_dims())
        keep = int_of(props["keepdims"])
        shape = [1 if i in axes else d for i, d in enumerate(x.get_shape()) if keep or i not in axes]
        return [TensorType(x.element_type, shape)]


@irdl_op_definition
class ReduceMeanOp(ReduceOp):
    name = "graph.reduce_mean"


@irdl_op_definition
class ReduceSumOp(ReduceOp):
    name = "graph.reduce_sum"


@irdl_op_definition
class ReduceMaxOp(ReduceOp):
    name = "graph.reduce_max"


@irdl_op_definition
class ReduceMinOp(ReduceOp):
    name = "graph.reduce_min"


@irdl_op_definition
class ReduceProdOp(ReduceOp):
    name = "graph.reduce_prod"


@irdl_op_definition
class ReduceL2Op(ReduceOp):
    name = "graph.reduce_l2"


@irdl_op_definition
class ReduceSumSquareOp(ReduceOp):
    name = "graph.reduce_sum_square"


class ArgReduceOp(GraphOp):
    """Index (i64) of the extreme along `axis`; ties go to the first index, or the last
    with `select_last_index`."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    keepdims = prop_def(IntegerAttr[I64])
    select_last_index = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        axis = _axis(cls, props, x.get_num_dims())
        shape = list(x.get_shape())
        shape[axis : axis + 1] = [1] if int_of(props["keepdims"]) else []
        return [TensorType(i64, shape)]


@irdl_op_definition
class ArgMaxOp(ArgReduceOp):
    name = "graph.arg_max"


@irdl_op_definition
class ArgMinOp(ArgReduceOp):
    name = "graph.arg_min"


__all__ = [
    "ArgMaxOp",
    "ArgMinOp",
    "ReduceL2Op",
    "ReduceMaxOp",
    "ReduceMeanOp",
    "ReduceMinOp",
    "ReduceProdOp",
    "ReduceSumOp",
    "ReduceSumSquareOp",
]
