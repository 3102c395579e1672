"""What the weight-folding passes share: per-channel constants, exact folding arithmetic,
and the convolution rewrite they all end in.

`graph-fold-batch-norm`, `graph-fold-conv-affine` and `graph-matmul-bias` each turn a
per-channel affine map `y * scale + shift` that follows a linear op into that op's
weights and bias. The arithmetic is done in float64 and rounded once to the weight's
element type (bf16, which the store holds as float32, through float32), so a folded f16
or f32 weight is the exact product correctly rounded. A fold whose result is not finite
in that type (overflow, a NaN in the statistics) is not done: it would change which
outputs are infinite or NaN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter

from dialects.dtypes import is_float, numpy_dtype, round_to_bf16
from dialects.graph import ConstantOp, ConvOp, ConvTransposeOp, WeightOp
from dialects.graph.base import int_of
from dialects.graph.layout import channel_axis
from passes.graph.constants import constant_op, known_value, module_store

_FOLDED_SUFFIX = re.compile(r"(\.folded(\.[0-9a-f]{8})?)+$")


def channel_vector(array: np.ndarray, shape: Sequence[int], axis: int) -> np.ndarray | None:
    """`array` as a float64 vector over `axis` of a tensor of `shape`, when adding or
    multiplying it there varies only along that axis and leaves `shape` unchanged
    (`[C,1,1]`, `[1,C,1,1]`, a scalar, `[1]` for axis 1 of a rank-4 tensor); else None."""
    rank = len(shape)
    if array.ndim > rank:
        return None
    padded = array.reshape((1,) * (rank - array.ndim) + array.shape)
    if any(d != 1 for i, d in enumerate(padded.shape) if i != axis):
        return None
    if padded.shape[axis] not in (1, shape[axis]):
        return None
    return np.broadcast_to(padded.reshape(-1).astype(np.float64), (shape[axis],))


def in_element_type(array: np.ndarray, element_type: Attribute) -> np.ndarray | None:
    """A float64 result rounded once to `element_type`; None when a value is not finite
    there (overflow, or NaN/inf in the inputs)."""
    if not np.all(np.isfinite(array)):
        return None
    with np.errstate(over="ignore"):
        rounded = array.astype(numpy_dtype(element_type))
    if isinstance(element_type, BFloat16Type):
        rounded = round_to_bf16(rounded)
    return rounded if np.all(np.isfinite(rounded)) else None


def known_float64(value: SSAValue | None, store) -> np.ndarray | None:
    """The constant behind `value` in float64, or None when it is not known."""
    if value is None:
        return None
    array = known_value(value, store)
    return None if array is None else array.astype(np.float64)


def is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and is_float(value.type.element_type)


def only_user(value: SSAValue) -> Operation | None:
    """The one op that uses `value`, if it has exactly one use."""
    uses = list(value.uses)
    return uses[0].operation if len(uses) == 1 else None


def name_stem(value: SSAValue | None, fallback: str) -> str:
    """The store name a folded copy of `value` is derived from: its weight name without the
    `.folded.<digest>` suffixes earlier folds added (`conv1.weight.folded.1a2b3c4d` →
    `conv1.weight`), or `fallback` for an inline constant."""
    if value is not None and isinstance(value.owner, WeightOp):
        return _FOLDED_SUFFIX.sub("", value.owner.sym.data)
    return fallback


def bias_hint(bias: SSAValue | None, weight: SSAValue, fallback: str) -> str:
    """The store hint of a folded bias: the old bias's name, else the weight's with
    `.weight` turned into `.bias` (`fc1.weight` → `fc1.bias.folded`), else `fallback.bias`."""
    weight_stem = name_stem(weight, fallback + ".weight").removesuffix(".weight")
    return name_stem(bias, weight_stem + ".bias") + ".folded"


def name_of(value: SSAValue | None, default: str) -> str:
    """The SSA name a folded replacement of `value` prints with: `value`'s, else `default`."""
    return value.name_hint if value is not None and value.name_hint else default


def new_constant(array: np.ndarray, element_type: Attribute, op: Operation, hint: str, name: str) -> Operation:
    """A constant for `array` (already in the element type's numpy dtype) in `op`'s module,
    stored under `hint` if large, printed as `%name`."""
    constant = constant_op(array, element_type, module_store(op), hint)
    constant.results[0].name_hint = name
    return constant


def rebuild_props(op: Operation, **changes: Attribute) -> dict[str, Attribute]:
    """`op`'s properties with `changes`, without the operand segment sizes `make` recomputes."""
    props = {k: v for k, v in op.properties.items() if k != "operandSegmentSizes"}
    props.update(changes)
    return props


def erase_unused_constants(values: Iterable[SSAValue | None], rewriter: PatternRewriter) -> None:
    """Erase the constants and weights among `values` that a fold left without users."""
    owners = {id(v.owner): v.owner for v in values if v is not None}
    for owner in owners.values():
        if isinstance(owner, ConstantOp | WeightOp) and owner.parent is not None and not owner.result.uses:
            rewriter.erase(owner)


# --- convolutions ----------------------------------------------------------


def scale_output_channels(conv: ConvOp | ConvTransposeOp, weight: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """`weight` with output channel m multiplied by `scale[m]`. A conv weight is
    (M, C/group, *kernel), or (M, *kernel, C/group) in NHWC: either way axis 0 is the
    output channel; a transposed conv's is (C, M/group, *kernel), where output
    channel g*(M/group)+j of group g reads column j of that group's rows."""
    kernel = weight.shape[2:]
    if isinstance(conv, ConvTransposeOp):
        group = int_of(conv.group)
        c, per_group = weight.shape[:2]
        grouped = weight.reshape(group, c // group, per_group, *kernel)
        return (grouped * scale.reshape(group, 1, per_group, *[1] * len(kernel))).reshape(weight.shape)
    return weight * scale.reshape(-1, 1, *[1] * len(kernel))


def _folded_bias(bias: np.ndarray | None, channels: int, scale, shift) -> np.ndarray | None:
    """`bias * scale + shift` in float64; None when the conv keeps no bias."""
    if bias is None and shift is None:
        return None
    folded = np.zeros(channels) if bias is None else bias
    folded = folded if scale is None else folded * scale
    return folded if shift is None else folded + shift


def fold_affine_into_conv(
    conv: ConvOp | ConvTransposeOp,
    consumer: Operation,
    scale: np.ndarray | None,
    shift: np.ndarray | None,
    rewriter: PatternRewriter,
) -> bool:
    """Replace `consumer`, which computes `conv * scale + shift` per output channel (float64
    vectors; None stands for 1 and 0), by one convolution with the folded weight and bias.
    `conv` must have no other user. Returns False, changing nothing, when the weight or
    bias is not a constant or a folded value would not be finite."""
    store = module_store(conv)
    weight, bias = known_float64(conv.weight, store), known_float64(conv.bias, store)
    if weight is None or (conv.bias is not None and bias is None):
        return False
    elem, channels = conv.result.type.element_type, conv.result.type.get_shape()[channel_axis(conv)]
    new_weight = in_element_type(weight if scale is None else scale_output_channels(conv, weight, scale), elem)
    folded_bias = _folded_bias(bias, channels, scale, shift)
    new_bias = None if folded_bias is None else in_element_type(folded_bias, elem)
    if new_weight is None or (folded_bias is not None and new_bias is None):
        return False
    weight_hint = name_stem(conv.weight, "conv.weight") + ".folded"
    ops = [new_constant(new_weight, elem, conv, weight_hint, name_of(conv.weight, "weight"))]
    bias_value = None
    if new_bias is not None:
        ops.append(new_constant(new_bias, elem, conv, bias_hint(conv.bias, conv.weight, "conv"), name_of(conv.bias, "bias")))
        bias_value = ops[-1].results[0]
    ops.append(type(conv).make([conv.input, ops[0].results[0], bias_value], rebuild_props(conv)))
    old = [*conv.operands, *consumer.operands]
    rewriter.replace(consumer, ops)
    rewriter.erase(conv)
    erase_unused_constants(old, rewriter)
    return True


__all__ = [
    "bias_hint",
    "channel_vector",
    "erase_unused_constants",
    "fold_affine_into_conv",
    "in_element_type",
    "is_float_tensor",
    "known_float64",
    "name_of",
    "name_stem",
    "new_constant",
    "only_user",
    "rebuild_props",
    "scale_output_channels",
]
