"""`quant-fold-qdq`: the quant level's main rewrite. On fused IR, quantize and dequantize
ops fold into the kernels around them, contractions whose operands are dequantized 8-bit
integers multiply those integers, and what is left becomes kernels of its own, so that no
quant op remains.

The rules, in order (docs/quantization.md shows them on a model):

a. A `fused.matmul` / `fused.conv` whose two operands are symmetric dequantizes of 8-bit
   integers (zero points absent or all zero, scales known at compile time, the activation
   per tensor, the weight per tensor or per output channel: conv weight axis 0 in either
   layout, matmul rhs's N axis as read under `transpose_b`; per-axis scales only on a
   constant weight) becomes an integer contraction of the quantized values: an i32
   accumulator, whose epilogue casts it to f32, multiplies by the combined scale
   `s_x * s_w` (folded at compile time: a literal, or a constant extra per output channel)
   and runs the old epilogue. A constant [K, N] matmul weight is stored [N, K]
   (`transpose_b`), as the int8 tensor-core kernel reads it. Otherwise a debug line (logger `passes.quant`) says why and
   the contraction stays float, as TensorRT keeps it.
b. A fused op whose single result is read only by one per-tensor `quant.quantize` absorbs
   it: the quantize's expansion ends the region, and the op yields the quantized value.
c. An operand of a `fused.elementwise` / `fused.reduction`, or an extra of a contraction
   (a residual), that a `quant.dequantize` produces is replaced by the dequantize's input,
   the expansion starting the region; the dequantize stays while something else reads it.
   A dequantized constant (a quantized norm scale or bias) is folded instead: its float
   values, computed at compile time, are what the region read before (kernels take
   per-channel parameters as operands, not as values computed in the region).
d. Every quantize and dequantize left becomes a one-op `fused.elementwise` of its
   expansion (a blocked one on its input viewed as [n / b, b] blocks, by reshapes around
   the kernel), and the integer ops imported from ONNX's MatMulInteger, ConvInteger and
   QLinear* nodes are lowered: `quant.matmul` / `quant.conv` whose zero points are absent
   or all zero to an integer contraction yielding its accumulator, others to an exact f64
   contraction of the centered operands (`lower_integer_contraction`), `quant.requantize`
   to an elementwise kernel.

Before the rules, a dequantize of an i32 constant (a QDQ model's bias) folds to a float
constant: the same bytes, and one kernel less. The expansions are `expand.py`'s, exact
against the reference; a model with no quant op is left as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from dialects import fused, quant
from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.fused import INTEGER_ACCUMULATOR, INTEGER_OPERANDS
from dialects.graph import CastOp, ConstantOp, ReshapeOp, WeightOp
from dialects.graph.base import int_of
from dialects.graph.layout import is_channels_last
from dialects.weights import WeightStore
from passes.graph.constants import constant_op, known_value, module_store
from passes.graph.dce import GraphDeadCodeElimination
from passes.quant.expand import (
    available_before,
    Staged,
    centered_ops,
    dequantize_ops,
    f32,
    f64,
    known_operand,
    known_parameter,
    quantize_ops,
    requantize_ops,
    staged_parameter,
    operands_of,
    zero_point_is_zero,
)
from runtime.reference.quant import dequantize

logger = logging.getLogger("passes.quant")

CONTRACTIONS = (fused.MatmulOp, fused.ConvOp)
FUSED = (*CONTRACTIONS, fused.ElementwiseOp, fused.ReductionOp)


# --- rebuilding a fused op with other operands ------------------------------------------


def _leading(op: Operation) -> list[SSAValue]:
    """A contraction's two product operands (no block arguments stand for them)."""
    return list(op.operands[:2]) if isinstance(op, CONTRACTIONS) else []


def _rest(op: Operation) -> list[SSAValue]:
    """The operands the region reads as block arguments: a group's inputs, a contraction's extras."""
    return list(op.extras) if isinstance(op, CONTRACTIONS) else list(op.inputs)


def _first_rest_arg(op: Operation) -> int:
    """The block argument of the first `_rest` operand (a contraction's first is its accumulator)."""
    return 1 if isinstance(op, CONTRACTIONS) else 0


def _rebuild(
    op: Operation, leading: Sequence[SSAValue], rest: Sequence[SSAValue], result_types: Sequence[TensorType]
) -> Operation:
    """`op` with new operands and result types, its region moved over, inserted in its place.
    The caller rewires the old results' uses and erases `op`."""
    region = op.regions[0]
    op.detach_region(region)
    props = {k: v for k, v in op.properties.items() if k != "operandSegmentSizes"}
    operands = [list(rest)] if not isinstance(op, CONTRACTIONS) else [*leading, list(rest)]
    new = type(op)(operands=operands, result_types=[list(result_types)], properties=props, regions=[region])
    Rewriter.insert_op(new, InsertPoint.before(op))
    return new


def _replace(op: Operation, new: Operation) -> None:
    for old, value in zip(op.results, new.results):
        old.replace_all_uses_with(value)
    Rewriter.erase_op(op)


def _insert_outside(ops: Sequence[Operation], before: Operation) -> None:
    for o in ops:
        Rewriter.insert_op(o, InsertPoint.before(before))


def _add_args(block: Block, staged: Sequence[Staged]) -> list[SSAValue]:
    """Each staged parameter's value in the region: a new last block argument for an
    operand, the constant itself (put at the block's start) for one held inside."""
    values, first = [], block.first_op
    for s in staged:
        if s.operand is not None:
            values.append(block.insert_arg(s.operand.type, len(block.args)))
            continue
        if first is None:
            block.add_op(s.inside)
        else:
            block.insert_op_before(s.inside, first)
        values.append(s.inside.results[0])
    return values


# --- rule a: integer contractions ---------------------------------------------------------


@dataclass
class Dequantized:
    """A contraction operand that is a symmetric dequantize: the 8-bit value it reads, its
    scale (f32, rank 0 or 1) and its axis (None: per tensor)."""

    value: SSAValue
    scale: np.ndarray
    axis: int | None


def _dequantized(operand: SSAValue, channel: int | None, store: WeightStore) -> Dequantized | str:
    """`operand` as a symmetric dequantize whose scale is per tensor or, where `channel` is
    given and the dequantized value a constant, per axis on `channel`; else why not."""
    dq = operand.owner
    if not isinstance(dq, quant.DequantizeOp):
        return "is not dequantized"
    stored = dq.input.type.element_type
    if stored not in INTEGER_OPERANDS:
        return f"dequantizes {stored}, not an 8-bit integer"
    if dq.block_size is not None:
        return "has a blocked scale"
    scale = known_value(dq.scale, store)
    if scale is None:
        return "has a scale known only at run time"
    if zero_point_is_zero(dq.zero_point, store) is not True:
        return "has a zero point that is not zero (asymmetric: optc multiplies symmetric integers only)"
    axis = None if dq.axis is None else int_of(dq.axis)
    if axis is not None:
        constant = isinstance(dq.input.owner, (ConstantOp, WeightOp))
        if axis != channel or not constant:
            return f"has a scale per axis {axis}, not per tensor or per output channel of a constant weight"
    return Dequantized(dq.input, scale.astype(np.float32), axis)


def _output_channel(op: Operation) -> tuple[int, int]:
    """(the weight's output-channel axis, the accumulator's): conv weight axis 0 (OIHW and
    the channels-last OHWI alike), matmul rhs's N axis as read under transpose_b."""
    if isinstance(op, fused.ConvOp):
        return 0, _accumulator(op).get_num_dims() - 1 if is_channels_last(op) else 1
    rank = op.rhs.type.get_num_dims()
    _, transpose_b = op.transposes()
    return rank - 2 if transpose_b else rank - 1, _accumulator(op).get_num_dims() - 1


def _accumulator(op: Operation) -> TensorType:
    """The product's type, as the epilogue receives it (not the results', which views in the
    epilogue may reshape: a head split)."""
    return op.epilogue.block.args[0].type


def _combined_scale(x: Dequantized, w: Dequantized, acc_rank: int, acc_channel: int, store: WeightStore) -> Staged:
    """s_x * s_w in f32: a literal per tensor, a constant extra per output channel."""
    combined = np.float32(x.scale.reshape(())) * w.scale
    axis = acc_channel if w.axis is not None else None
    return known_parameter(combined, axis, acc_rank, f32, store)


def _integer_epilogue(op: Operation, scale: Staged) -> Region:
    """The old epilogue after `acc -> f32 * scale (-> the old accumulator type)`, over an
    i32 accumulator; block arguments: acc, the scale's extra if any, the old extras."""
    old = op.epilogue.block
    acc_type = old.args[0].type
    block = Block(arg_types=[TensorType(INTEGER_ACCUMULATOR, acc_type.get_shape())])
    block.args[0].name_hint = "acc"
    (scale_value,) = _add_args(block, [scale])
    rescale = dequantize_ops(block.args[0], scale_value, None, acc_type.element_type)
    for o in rescale:
        block.add_op(o)
    scaled = rescale[-1].results[0]
    scaled.name_hint = "scaled"  # not the old accumulator's name: it is the rescaled product
    old.args[0].replace_all_uses_with(scaled)
    for arg in old.args[1:]:
        arg.replace_all_uses_with(block.insert_arg(arg.type, len(block.args)))
    for o in list(old.ops):
        o.detach()
        block.add_op(o)
    return Region(block)


def _weight_as_n_by_k(op: Operation, weight: SSAValue, props: dict, store: WeightStore) -> SSAValue:
    """A matmul's constant 2-D weight read as [K, N], transposed at compile time to [N, K]
    (`transpose_b` set in `props`): the layout the int8 tensor-core kernel loads, K
    contiguous in byte pairs. Anything else as it is."""
    array = known_value(weight, store)
    if not isinstance(op, fused.MatmulOp) or op.transposes()[1] or array is None or array.ndim != 2:
        return weight
    transposed = constant_op(np.ascontiguousarray(array.T), weight.type.element_type, store, "weight_nk")
    Rewriter.insert_op(transposed, InsertPoint.before(op))
    props["transpose_b"] = builtin.IntegerAttr(1, 64)
    return transposed.results[0]


def fold_contraction(op: Operation, store: WeightStore) -> str | None:
    """Rule a on `op`; why it stays float, or None when folded."""
    w_axis, acc_axis = _output_channel(op)
    x = _dequantized(op.operands[0], None, store)
    w = _dequantized(op.operands[1], w_axis, store)
    for what, got in (("activation", x), ("weight", w)):
        if isinstance(got, str):
            return f"the {what} operand {got}"
    acc_rank = _accumulator(op).get_num_dims()
    scale = _combined_scale(x, w, acc_rank, acc_axis, store)
    _insert_outside(scale.outside, op)
    region = _integer_epilogue(op, scale)
    props = {k: v for k, v in op.properties.items() if k != "operandSegmentSizes"}
    weight = _weight_as_n_by_k(op, w.value, props, store)
    extras = [*operands_of([scale]), *op.extras]
    result_types = [[r.type for r in op.results]]
    new = type(op)(operands=[x.value, weight, extras], result_types=result_types, properties=props, regions=[region])
    Rewriter.insert_op(new, InsertPoint.before(op))
    _replace(op, new)
    return None


# --- rule b: a quantize joins the op that computes its input -----------------------------


def _sole_quantize(op: Operation, store: WeightStore) -> quant.QuantizeOp | None:
    if len(op.results) != 1:
        return None
    users = {use.operation for use in op.results[0].uses}
    if len(users) != 1:
        return None
    (user,) = users
    if not (isinstance(user, quant.QuantizeOp) and user.axis is None and user.block_size is None):
        return None
    run_time = [v for v in (user.scale, user.zero_point) if v is not None and known_value(v, store) is None]
    if not all(available_before(v, op) for v in run_time):
        return None  # a scale computed after `op` (from its result: DynamicQuantizeLinear)
    return user


def _parameters(op: quant.QuantizeOp | quant.DequantizeOp, store: WeightStore, scale_type=None) -> list[Staged]:
    """The scale (as `scale_type`, default its own) and the zero point unless zero (f32: the
    expansions add and subtract it in f32) of a per-tensor or per-axis quantize or
    dequantize, shaped to broadcast against its input."""
    rank = op.input.type.get_num_dims()
    axis = None if op.axis is None else int_of(op.axis)
    staged = [staged_parameter(op.scale, axis, rank, store, scale_type)]
    if zero_point_is_zero(op.zero_point, store) is not True:
        staged.append(staged_parameter(op.zero_point, axis, rank, store, f32))
    return staged


def _saturate(q: quant.QuantizeOp) -> bool:
    return int_of(q.saturate, 1) == 1


def absorb_quantize(op: Operation, store: WeightStore) -> bool:
    """Rule b on `op`: whether it absorbed the quantize reading its result."""
    q = _sole_quantize(op, store)
    if q is None:
        return False
    staged = _parameters(q, store)
    _insert_outside([o for s in staged for o in s.outside], op)
    new = _rebuild(op, _leading(op), [*_rest(op), *operands_of(staged)], [q.result.type])
    block = new.regions[0].block
    values = _add_args(block, staged)
    yield_op = block.last_op
    expansion = quantize_ops(yield_op.values[0], values[0], values[1] if len(values) > 1 else None,
                             q.result.type.element_type, _saturate(q))
    for o in expansion:
        block.insert_op_before(o, yield_op)
    yield_op.operands[0] = expansion[-1].results[0]
    q.result.replace_all_uses_with(new.results[0])
    Rewriter.erase_op(q)
    Rewriter.erase_op(op)
    return True


# --- rule c: a dequantize joins the op that reads it ---------------------------------------


def _expandable_dequantize(value: SSAValue) -> quant.DequantizeOp | None:
    dq = value.owner
    return dq if isinstance(dq, quant.DequantizeOp) and dq.block_size is None else None


def absorb_dequantize(op: Operation, store: WeightStore) -> Operation | None:
    """Rule c on `op`, for its first dequantized operand: the op that replaced it, or None
    when no operand is dequantized."""
    rest = _rest(op)
    for index, value in enumerate(rest):
        dq = _expandable_dequantize(value)
        if dq is None:
            continue
        constant = dequantized_constant(dq, store)
        if constant is not None:  # a parameter (a norm's scale): the float values, as before
            Rewriter.insert_op(constant, InsertPoint.before(op))
            op.operands[len(_leading(op)) + index] = constant.results[0]
            return op
        staged = _parameters(dq, store, f32)
        _insert_outside([o for s in staged for o in s.outside], op)
        new_rest = [*rest[:index], dq.input, *rest[index + 1 :], *operands_of(staged)]
        new = _rebuild(op, _leading(op), new_rest, [r.type for r in op.results])
        block = new.regions[0].block
        old_arg = block.args[_first_rest_arg(op) + index]
        stored = block.insert_arg(dq.input.type, old_arg.index + 1)
        values = _add_args(block, staged)
        zero_point = values[1] if len(values) > 1 else None
        expansion = dequantize_ops(stored, values[0], zero_point, dq.result.type.element_type)
        anchor = block.first_op
        while isinstance(anchor, ConstantOp):  # after the constants _add_args put first
            anchor = anchor.next_op
        for o in expansion:
            block.insert_op_before(o, anchor)
        old_arg.replace_all_uses_with(expansion[-1].results[0])
        block.erase_arg(old_arg)
        _replace(op, new)
        return new
    return None


# --- rule d: what is left, each its own kernel ----------------------------------------------


def _kernel(before: Operation, x: SSAValue, staged: Sequence[Staged], expand: Callable, result: TensorType) -> Operation:
    """A `fused.elementwise` over `x` and the staged parameters, whose body is
    `expand(x, parameter values...)`, inserted (with what the parameters need) before `before`."""
    _insert_outside([o for s in staged for o in s.outside], before)
    block = Block(arg_types=[x.type])
    values = _add_args(block, staged)
    expansion = expand(block.args[0], *values)
    block.add_ops([*expansion, fused.YieldOp(expansion[-1].results[0])])
    new = fused.ElementwiseOp(operands=[[x, *operands_of(staged)]], result_types=[[result]], regions=[Region(block)])
    Rewriter.insert_op(new, InsertPoint.before(before))
    return new


def _elementwise(op: Operation, staged: Sequence[Staged], expand: Callable, view: list[int] | None = None) -> None:
    """Replace `op` by a `_kernel` of its input; on the input viewed as `view` when given (a
    reshape before, and one after back to the op's result)."""
    x, result = op.operands[0], op.results[0].type
    if view is not None:
        x = _reshape_before(op, x, view)
        result = TensorType(result.element_type, view)
    new = _kernel(op, x, staged, expand, result)
    if view is not None:
        back = ReshapeOp(operands=[new.results[0]], result_types=[op.results[0].type])
        Rewriter.insert_op(back, InsertPoint.before(op))
        new = back
    _replace(op, new)


def _reshape_before(op: Operation, value: SSAValue, shape: Sequence[int]) -> SSAValue:
    view = ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, list(shape))])
    Rewriter.insert_op(view, InsertPoint.before(op))
    return view.results[0]


def _blocked(op: quant.QuantizeOp | quant.DequantizeOp, store: WeightStore, scale_type) -> tuple[list[Staged], list[int]]:
    """A blocked op's parameters and the view of its input they broadcast against: axis `a`
    of n elements in blocks of b split into [n / b, b], the parameters' [n / b] into
    [n / b, 1]. A last block cut short has no such view: an error."""
    shape, axis, block = list(op.input.type.get_shape()), int_of(op.axis), int_of(op.block_size)
    if shape[axis] % block:
        raise OptcError(
            f"'{op.name}' of {op.input.type} in blocks of {block} along axis {axis}: optc expands blocked "
            f"quantization only where the blocks divide the axis ({shape[axis]} elements)"
        )
    before, blocks, after = shape[:axis], shape[axis] // block, shape[axis + 1 :]
    view, params = [*before, blocks, block, *after], [*before, blocks, 1, *after]
    staged = []
    for value, element in ((op.scale, scale_type), (op.zero_point, f32)):
        if value is None or (value is op.zero_point and zero_point_is_zero(value, store) is True):
            continue
        array = known_value(value, store)
        if array is None:
            reshaped = ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, params)])
            staged.append(Staged(operand=reshaped.results[0], outside=[reshaped]))
        else:
            staged.append(known_operand(array.reshape(params), element or value.type.element_type, store))
    return staged, view


def _expanded(op: quant.QuantizeOp | quant.DequantizeOp, store: WeightStore, scale_type, expand: Callable) -> None:
    """`op` as an elementwise kernel of `expand`, through a view of its input when blocked."""
    if op.block_size is None:
        _elementwise(op, _parameters(op, store, scale_type), expand)
        return
    staged, view = _blocked(op, store, scale_type)
    _elementwise(op, staged, expand, view)


def expand_dequantize(dq: quant.DequantizeOp, store: WeightStore) -> None:
    element = dq.result.type.element_type
    _expanded(dq, store, f32, lambda x, s, z=None: dequantize_ops(x, s, z, element))


def expand_quantize(q: quant.QuantizeOp, store: WeightStore) -> None:
    element, saturate = q.result.type.element_type, _saturate(q)
    _expanded(q, store, None, lambda y, s, z=None: quantize_ops(y, s, z, element, saturate))


def expand_requantize(r: quant.RequantizeOp, store: WeightStore) -> None:
    rank = r.input.type.get_num_dims()
    axis = None if r.axis is None else int_of(r.axis)
    staged = [staged_parameter(r.scale, axis, rank, store, f64)]
    if zero_point_is_zero(r.zero_point, store) is not True:
        zero_axis = axis if r.zero_point.type.get_num_dims() else None
        staged.append(staged_parameter(r.zero_point, zero_axis, rank, store, f64))
    element = r.result.type.element_type
    _elementwise(r, staged, lambda acc, s, z=None: requantize_ops(acc, s, z, element))


def _zero_points(op: quant.MatmulOp | quant.ConvOp) -> list[tuple[SSAValue | None, int | None]]:
    """Each operand's zero point and the operand axis a vector one runs along: lhs rows and
    rhs columns of a matmul, the conv weight's output channels (the input's is per tensor)."""
    if isinstance(op, quant.MatmulOp):
        return [(op.lhs_zero_point, op.lhs.type.get_num_dims() - 2), (op.rhs_zero_point, op.rhs.type.get_num_dims() - 1)]
    return [(op.input_zero_point, None), (op.weight_zero_point, 0)]


def _centered(op: Operation, x: SSAValue, zero_point: SSAValue | None, axis: int | None, store: WeightStore) -> SSAValue:
    """`x - zero_point` in f64 (exact for 8-bit values), by an elementwise kernel."""
    rank = x.type.get_num_dims()
    staged = [] if zero_point_is_zero(zero_point, store) is True else [
        staged_parameter(zero_point, axis if zero_point.type.get_num_dims() else None, rank, store, f64)
    ]
    return _kernel(op, x, staged, centered_ops, TensorType(f64, x.type.get_shape())).results[0]


def _cast_epilogue(acc: TensorType, result: TensorType) -> Region:
    """An epilogue that casts the accumulator to `result` (the identity when they are one)."""
    block = Block(arg_types=[acc])
    block.args[0].name_hint = "acc"
    value = block.args[0]
    if acc != result:
        cast = CastOp.to(value, result.element_type)
        block.add_op(cast)
        value = cast.results[0]
    block.add_op(fused.YieldOp(value))
    return Region(block)


def lower_integer_contraction(op: quant.MatmulOp | quant.ConvOp, store: WeightStore) -> None:
    """A `quant.matmul` / `quant.conv` as a `fused.matmul` / `fused.conv` yielding its i32
    accumulator: of the integers themselves when every zero point is zero (an integer
    contraction), else of the centered operands `x - zero_point` in f64, whose products
    (below 2^16) sum exactly while K < 2^37, and whose sum is cast to i32. That second form
    is exact but slow (f64 kernels), until integer kernels take the zero-point corrections;
    it differs from the reference only where the sum leaves i32's range, which the reference
    wraps and a cast leaves undefined."""
    (lhs, rhs) = op.operands[:2]
    zero_points = _zero_points(op)
    acc = op.result.type
    if all(zero_point_is_zero(z, store) is True for z, _ in zero_points):
        operands, product = [lhs, rhs], acc
    else:
        logger.debug("quant-fold-qdq: %s has zero points: it multiplies the centered operands in f64", op.name)
        operands = [_centered(op, v, z, axis, store) for v, (z, axis) in zip((lhs, rhs), zero_points)]
        product = TensorType(f64, acc.get_shape())
    region = _cast_epilogue(product, acc)
    if isinstance(op, quant.MatmulOp):
        props = {"transpose_b": builtin.IntegerAttr(0, 64)}
        new = fused.MatmulOp(operands=[*operands, []], result_types=[[acc]], properties=props, regions=[region])
    else:
        props = {k: op.properties[k] for k in ("strides", "pads", "dilations", "group")}
        new = fused.ConvOp(operands=[*operands, []], result_types=[[acc]], properties=props, regions=[region])
    Rewriter.insert_op(new, InsertPoint.before(op))
    _replace(op, new)


# --- before the rules: constant biases ---------------------------------------------------


def dequantized_constant(dq: quant.DequantizeOp, store: WeightStore) -> Operation | None:
    """The values of `dq` as a float constant (or weight) computed at compile time, when its
    input, scale and zero point are all known; None otherwise."""
    args = [known_value(v, store) for v in (dq.input, dq.scale, dq.zero_point) if v is not None]
    if any(a is None for a in args):
        return None
    array = dequantize(dq, *args).astype(numpy_dtype(dq.result.type.element_type))
    return constant_op(array, dq.result.type.element_type, store, "dequantized")


def fold_constant_dequantize(dq: quant.DequantizeOp, store: WeightStore) -> bool:
    """A dequantize of an i32 constant (a bias) with known parameters becomes the float
    constant: the same bytes, one kernel less."""
    constant = dequantized_constant(dq, store) if dq.input.type.element_type == quant.ACCUMULATOR else None
    if constant is None:
        return False
    Rewriter.insert_op(constant, InsertPoint.before(dq))
    _replace(dq, constant)
    return True


# --- the pass ------------------------------------------------------------------------------


def _body_ops(func: FuncOp, kinds) -> list[Operation]:
    return [o for o in func.body.block.ops if isinstance(o, kinds)]


def _describe(op: Operation) -> str:
    operands = ", ".join(str(v.type) for v in op.operands[:2])
    return f"{op.name} ({operands})"


def fold_function(func: FuncOp, store: WeightStore) -> None:
    for dq in _body_ops(func, quant.DequantizeOp):
        fold_constant_dequantize(dq, store)
    for op in _body_ops(func, CONTRACTIONS):
        why = fold_contraction(op, store)
        if why is not None and any(isinstance(v.owner, quant.DequantizeOp) for v in op.operands[:2]):
            logger.debug("quant-fold-qdq: %s stays float: %s", _describe(op), why)
    for op in _body_ops(func, FUSED):
        absorb_quantize(op, store)
    for op in _body_ops(func, FUSED):
        while op is not None:
            op = absorb_dequantize(op, store)
    _erase_unused(func)
    for op in _body_ops(func, (quant.MatmulOp, quant.ConvOp)):
        lower_integer_contraction(op, store)
    for op in _body_ops(func, (quant.QuantizeOp, quant.DequantizeOp, quant.RequantizeOp)):
        {quant.QuantizeOp: expand_quantize, quant.DequantizeOp: expand_dequantize,
         quant.RequantizeOp: expand_requantize}[type(op)](op, store)


def _erase_unused(func: FuncOp) -> None:
    """Dequantizes whose readers all absorbed them."""
    for op in reversed(_body_ops(func, (quant.DequantizeOp, quant.QuantizeOp))):
        if not any(r.uses for r in op.results):
            Rewriter.erase_op(op)


@dataclass(frozen=True)
class QuantFoldQdq(ModulePass):
    """Fold quantize/dequantize into integer contractions and fused kernels; no quant op remains."""

    name = "quant-fold-qdq"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if not any(isinstance(o, (quant.QuantizeOp, quant.DequantizeOp, quant.RequantizeOp, quant.MatmulOp, quant.ConvOp))
                   for o in op.walk()):
            return
        store = module_store(op)
        for func in [o for o in op.walk() if isinstance(o, FuncOp)]:
            fold_function(func, store)
        GraphDeadCodeElimination().apply(ctx, op)
