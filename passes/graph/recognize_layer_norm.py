"""graph-recognize-layer-norm: collapse LayerNorm written out by exporters into `graph.layer_norm`.

Before opset 17 ONNX has no LayerNormalization, and PyTorch's exporter (BERT, GPT-2, ViT
exported at opset 13-16) and tf2onnx write it as ten ops:

    mean = ReduceMean(x, trailing axes)        d = x - mean
    var  = ReduceMean(d ^ 2  or  d * d)        std = Sqrt(var + epsilon)
    n    = d / std  or  d * Reciprocal(std)    y = n * gamma + beta   (gamma, beta optional)

TensorFlow's SquaredDifference leaves two identical `x - mean` (one squared, one divided);
both spellings match. The result is one `graph.layer_norm` with `axis` the first reduced
axis and `epsilon` the added constant; a missing gamma becomes a scale of ones. Only the
trailing-axes form matches (what `graph.layer_norm` means), and only when every value in
between has no other reader: a mean or variance something else reads would have to be
computed twice. Gamma and beta join the op when they broadcast to the normalised shape
without widening it; otherwise they stay as the Mul and Add after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from dialects.dtypes import numpy_dtype
from dialects.graph import (
    AddOp,
    DivOp,
    LayerNormOp,
    MulOp,
    PowOp,
    ReciprocalOp,
    ReduceMeanOp,
    SqrtOp,
    SubOp,
)
from dialects.graph.base import float_attr, int_attr, int_of, ints
from dialects.weights import WeightStore
from passes.graph.constants import constant_op, module_store
from passes.graph.matching import Chain, is_float_tensor, scalar, single_use, users


def trailing_axis(mean: ReduceMeanOp) -> int | None:
    """The first axis of a keepdims mean over the trailing axes, else None: only that
    is a layer norm's reduction."""
    rank = mean.input.type.get_num_dims()
    axes = ints(mean.axes)
    if int_of(mean.keepdims) != 1 or not axes or axes != tuple(range(rank - len(axes), rank)):
        return None
    return axes[0]


def _only_user(value: SSAValue, kind: type) -> Operation | None:
    """The one op reading `value`, if it has one use and is a `kind`."""
    if not single_use(value):
        return None
    user = next(iter(value.uses)).operation
    return user if isinstance(user, kind) else None


def _other(op: Operation, value: SSAValue) -> SSAValue:
    """The operand of a binary op that is not `value`."""
    return op.operands[1] if op.operands[0] is value else op.operands[0]


@dataclass
class LayerNorm:
    """What a match found: the layer norm of `x` over `axis..`, ending at `last`."""

    x: SSAValue
    axis: int
    epsilon: float
    last: Operation
    scale: SSAValue | None = None
    bias: SSAValue | None = None
    chain: Chain = field(default_factory=Chain)


def _deviations(mean: ReduceMeanOp) -> list[SubOp] | None:
    """The ops computing `x - mean`: every reader of the mean must be one (one, or two
    when the variance and the numerator each have their own)."""
    subs = users(mean.result)
    if not 1 <= len(subs) <= 2:
        return None
    for sub in subs:
        if not (isinstance(sub, SubOp) and sub.lhs is mean.input and sub.rhs is mean.result):
            return None
        if sub.result.type != mean.input.type:
            return None
    return list(subs)


def _squares(op: Operation, deviations: list[SSAValue], store: WeightStore) -> bool:
    """`d ^ 2` or `d * d` for a deviation d."""
    if isinstance(op, PowOp):
        return op.lhs in deviations and scalar(op.rhs, store) == 2.0
    return isinstance(op, MulOp) and op.lhs is op.rhs and op.lhs in deviations


def _std(square: Operation, axis: int, store: WeightStore, chain: Chain) -> tuple[SSAValue, float] | None:
    """From the squared deviation to `sqrt(mean(square) + epsilon)`: the value and epsilon."""
    var = _only_user(square.results[0], ReduceMeanOp)
    if var is None or trailing_axis(var) != axis:
        return None
    add = _only_user(var.result, AddOp)
    if add is None or add.result.type != var.result.type:
        return None
    epsilon = scalar(_other(add, var.result), store)
    sqrt = _only_user(add.result, SqrtOp)
    if epsilon is None or epsilon < 0 or sqrt is None:
        return None
    for op in (var, add, sqrt):
        chain.add(op)
    return sqrt.result, epsilon


def _normalizes(op: Operation, deviations: list[SSAValue], std: SSAValue, chain: Chain) -> bool:
    """`d / std`, or `d * r` (either order) with r = Reciprocal(std), for a deviation d."""
    if isinstance(op, DivOp):
        return op.lhs in deviations and op.rhs is std
    reciprocal = _only_user(std, ReciprocalOp)
    if reciprocal is None or not isinstance(op, MulOp) or reciprocal.result not in op.operands:
        return False
    chain.add(reciprocal)
    return _other(op, reciprocal.result) in deviations


def normalization_of(mean: ReduceMeanOp, store: WeightStore) -> LayerNorm | None:
    """The layer norm that `mean` starts, up to the normalised value (no gamma, no beta)."""
    axis = trailing_axis(mean)
    subs = _deviations(mean) if axis is not None and is_float_tensor(mean.input) else None
    if subs is None:
        return None
    deviations = [sub.result for sub in subs]
    readers = {use.operation for d in deviations for use in d.uses}
    squares = [op for op in readers if _squares(op, deviations, store)]
    if len(readers) != 2 or len(squares) != 1:
        return None
    (normalize,) = readers - {squares[0]}
    chain = Chain([mean, *subs, squares[0]])
    found = _std(squares[0], axis, store, chain)
    if found is None or not _normalizes(normalize, deviations, found[0], chain):
        return None
    if normalize.results[0].type != mean.input.type:
        return None
    chain.add(normalize)
    return LayerNorm(mean.input, axis, found[1], normalize, chain=chain)


def _fits(value: SSAValue, normalized: tuple[int, ...]) -> bool:
    """`value` broadcasts to the normalised shape without widening it."""
    try:
        return np.broadcast_shapes(normalized, value.type.get_shape()) == normalized
    except ValueError:
        return False


def _follow(ln: LayerNorm, kind: type) -> SSAValue | None:
    """If the match's value has one reader, a `kind` op by a value that fits the
    normalised shape, extend the match over it and return that value."""
    value = ln.last.results[0]
    op = _only_user(value, kind)
    if op is None or op.results[0].type != ln.x.type:
        return None
    operand = _other(op, value)
    if not _fits(operand, tuple(ln.x.type.get_shape()[ln.axis :])):
        return None
    ln.chain.add(op)
    ln.last = op
    return operand


def take_affine(ln: LayerNorm) -> None:
    """Extend the match over the `* gamma` and the `+ beta` that follow, where they fit."""
    ln.scale = _follow(ln, MulOp)
    ln.bias = _follow(ln, AddOp)


@dataclass
class RecognizeLayerNorm(RewritePattern):
    """A mean over trailing axes that starts a decomposed layer norm: replace the whole
    formula by `graph.layer_norm`."""

    store: WeightStore
    affine: bool

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReduceMeanOp, rewriter: PatternRewriter) -> None:
        ln = normalization_of(op, self.store)
        if ln is None:
            return
        if self.affine:
            take_affine(ln)
        new_ops = []
        if ln.scale is None:
            shape = ln.x.type.get_shape()[ln.axis :]
            element_type = ln.x.type.element_type
            ones = constant_op(np.ones(shape, numpy_dtype(element_type)), element_type, self.store, "layer_norm.scale")
            ones.results[0].name_hint = "ones"
            new_ops.append(ones)
            ln.scale = ones.results[0]
        props = {"axis": int_attr(ln.axis), "epsilon": float_attr(ln.epsilon)}
        new_ops.append(LayerNormOp.make([ln.x, ln.scale, ln.bias], props))
        ln.chain.replace(rewriter, ln.last, new_ops)


@dataclass(frozen=True)
class GraphRecognizeLayerNorm(ModulePass):
    """Collapse decomposed LayerNorm (ReduceMean, Sub, Pow, ..., Sqrt, Div) into graph.layer_norm."""

    name = "graph-recognize-layer-norm"

    affine: bool = True
    """Fold the `* gamma` and `+ beta` after the normalisation into the op's scale and bias."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        PatternRewriteWalker(RecognizeLayerNorm(module_store(op), self.affine)).rewrite_module(op)
