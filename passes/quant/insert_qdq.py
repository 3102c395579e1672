"""`quant-insert-qdq`: turn a float graph into a QDQ graph with the scales of a calibration.

Post-training calibration (`--precision int8`, docs/calibration.md) produces the same form
a QDQ ONNX model imports as (TensorRT 10's explicit quantization): `quant.quantize ->
quant.dequantize` pairs in front of the inputs that should run in int8, around float graph
ops that the quant level later folds into integer kernels. The pass runs on graph-level IR
after `graph-optimize` (BatchNorm folded into the weights, biases folded into the products,
convolutions channels last) and reads the calibration cache (`cache=FILE`): per value, the
absolute maximum (amax) to represent.

Placement (`placement`), as TensorRT places Q/DQ:
- conv, matmul, gemm: the activation input gets `quantize -> dequantize` (per tensor,
  symmetric i8, scale amax / 127, no zero point); a constant weight becomes an i8 constant,
  quantized here per output channel (symmetric, scale the channel's amax / 127), read
  through a per-axis `quant.dequantize` (axis: a conv weight's 0 in both layouts, a matmul
  rhs's last, a gemm b's N axis). A matmul/gemm of two activations gets both quantized.
- a residual add (an add of a quantized contraction's result and another tensor of the
  same shape): both inputs, so the add can run in the contraction's int8 epilogue.
- stays float: LayerNorm, softmax, everything else not named above; the attention path (a
  matmul of two activations whose result reaches a softmax or whose operand comes from
  one, through elementwise and view ops: q·kᵀ and softmax·v); contractions too small to
  profit (`MIN_CHANNELS`): input channels per group, the reduction size K or the output
  channels N below 16 (the first conv of an RGB image).
One pair per value: every quantized reader of a value reads the same dequantize; other
readers keep the float value.

Values are named in the cache by `value_keys`: a function argument by its ONNX name
(`input:NAME`), an op result by the op's position in the function and the result's index
(`17:graph.relu:0`). Positions are stable because the graph-level pipeline is
deterministic; the cache also holds the function's `fingerprint` (a digest of its printed
IR: ops, types, weight names), so a cache made for another model or another pipeline is an
error, not a silent mismatch. Weight bytes are not hashed, but the weights passes make
(BatchNorm folded, channels-last copies) are named with a digest of theirs, so a retrained
CNN gets another fingerprint: its activations' ranges moved with its weights.

With `--int8-fallback auto` the cache also lists layers (by their result's key) whose int8
error was over budget (`compiler/calibration/fallback.py`): they stay float.

A model that already holds quant ops (a QDQ model) is quantized already: the pass refuses a
cache for it, and without one leaves it as it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin, func
from xdsl.dialects.builtin import Float32Type, IntegerType, TensorType
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.printer import Printer
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from dialects.graph import (
    AddOp,
    CastOp,
    ConstantOp,
    ConvOp,
    DivOp,
    GemmOp,
    MatMulOp,
    MulOp,
    ReshapeOp,
    SoftmaxOp,
    SubOp,
    TransposeOp,
    WeightOp,
    WhereOp,
)
from dialects.graph.base import int_of
from dialects.graph.layout import is_channels_last
from dialects.quant import DequantizeOp, QuantizeOp
from dialects.weights import WeightStore, store_of
from passes.graph.constants import constant_op, known_value
from runtime.reference.interpreter import io_names

logger = logging.getLogger("passes.quant")

CACHE_VERSION = 1
"""The calibration cache's format (`compiler/calibration/cache.py` writes it)."""
i8 = IntegerType(8)
LEVELS = 127
"""Symmetric int8: amax maps to 127 (and -amax to -127; -128 is never produced)."""
MIN_CHANNELS = 16
"""Contractions with fewer input channels (per group), a smaller K or fewer output channels
stay float: too little work per element for int8 to pay for its quantize."""
ATTENTION_HOPS = 4
"""How many elementwise/view ops may stand between an attention matmul and its softmax
(scale, mask, reshape, transpose)."""
_PASS_THROUGH = (AddOp, SubOp, MulOp, DivOp, WhereOp, CastOp, ReshapeOp, TransposeOp)


# --- value keys and the model's fingerprint -------------------------------------------


def main_function(module: builtin.ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main" and op.body.blocks:
            return op
    raise PassFailedException("quant-insert-qdq needs a module with a @main function")


def value_keys(fn: func.FuncOp) -> dict[SSAValue, str]:
    """Every value of `fn`'s body by its cache key: `input:NAME` for an argument,
    `POSITION:OP:RESULT` for an op's result."""
    block = fn.body.block
    keys: dict[SSAValue, str] = {arg: f"input:{name}" for name, arg in zip(io_names(fn), block.args)}
    for position, op in enumerate(block.ops):
        for index, result in enumerate(op.results):
            keys[result] = f"{position}:{op.name}:{index}"
    return keys


def fingerprint(fn: func.FuncOp) -> str:
    """A digest of `fn`'s printed IR: equal for the same model through the same pipeline."""
    text = io.StringIO()
    Printer(stream=text).print_op(fn)
    return hashlib.sha256(text.getvalue().encode()).hexdigest()[:16]


def describe(fn: func.FuncOp) -> str:
    """A few words that tell models apart in an error: op count and inputs."""
    block = fn.body.block
    inputs = ", ".join(f"{name} {arg.type}" for name, arg in zip(io_names(fn), block.args))
    return f"{len(block.ops)} ops, inputs {inputs}"


# --- placement ------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightUse:
    """A constant weight operand of a contraction, quantized per output channel on `axis`."""

    op: Operation
    operand: int
    axis: int


@dataclass
class Placement:
    """What to quantize: activation values (per tensor) with the (op, operand) positions
    that read them quantized, and constant weights (per channel)."""

    activations: dict[SSAValue, list[tuple[Operation, int]]] = field(default_factory=dict)
    weights: list[WeightUse] = field(default_factory=list)

    def add_activation(self, op: Operation, operand: int) -> None:
        self.activations.setdefault(op.operands[operand], []).append((op, operand))


@dataclass(frozen=True)
class _Contraction:
    """A contraction's operands as (activation operand, weight operand, weight's output
    axis) and its sizes."""

    lhs: int
    rhs: int
    axis: int
    c_in: int
    k: int
    n: int


def _contraction(op: Operation) -> _Contraction | None:
    """conv / matmul / gemm in the terms placement needs, or None (not one, or 1-D)."""
    if isinstance(op, ConvOp):
        w = op.weight.type.get_shape()
        c_per_group = w[-1] if is_channels_last(op) else w[1]
        kernel = w[1:-1] if is_channels_last(op) else w[2:]
        return _Contraction(0, 1, 0, c_per_group, c_per_group * math.prod(kernel), w[0])
    if isinstance(op, MatMulOp):
        a, b = op.lhs.type.get_shape(), op.rhs.type.get_shape()
        if len(a) < 2 or len(b) < 2:
            return None
        return _Contraction(0, 1, len(b) - 1, a[-1], a[-1], b[-1])
    if isinstance(op, GemmOp):
        k = op.a.type.get_shape()[0 if int_of(op.trans_a) else 1]
        axis = 0 if int_of(op.trans_b) else 1
        return _Contraction(0, 1, axis, k, k, op.b.type.get_shape()[axis])
    return None


def _is_f32(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and isinstance(value.type.element_type, Float32Type)


def _too_small(c: _Contraction) -> bool:
    return min(c.c_in, c.k, c.n) < MIN_CHANNELS


def _reaches_softmax(value: SSAValue, hops: int = ATTENTION_HOPS) -> bool:
    for use in value.uses:
        if isinstance(use.operation, SoftmaxOp):
            return True
        if hops and isinstance(use.operation, _PASS_THROUGH) and _reaches_softmax(use.operation.results[0], hops - 1):
            return True
    return False


def _from_softmax(value: SSAValue, hops: int = ATTENTION_HOPS) -> bool:
    owner = value.owner
    if isinstance(owner, SoftmaxOp):
        return True
    return bool(hops) and isinstance(owner, _PASS_THROUGH) and any(_from_softmax(v, hops - 1) for v in owner.operands)


def _on_attention_path(op: Operation, c: _Contraction) -> bool:
    """q·kᵀ (its result reaches a softmax) or softmax·v (an operand comes from one)."""
    operands = (op.operands[c.lhs], op.operands[c.rhs])
    return _reaches_softmax(op.results[0]) or any(_from_softmax(v) for v in operands)


def _place_contraction(op: Operation, store: WeightStore, placement: Placement, float_layer: bool) -> bool:
    """Quantize `op`'s inputs if the rules allow; whether it was quantized."""
    c = _contraction(op)
    if c is None or not all(_is_f32(v) for v in (*op.operands, op.results[0])):
        return False
    if float_layer:
        logger.debug("quant-insert-qdq: %s stays float (the cache's int8 fallback)", op.name)
        return False
    x, w = op.operands[c.lhs], op.operands[c.rhs]
    if known_value(x, store) is not None or _too_small(c):
        logger.debug("quant-insert-qdq: %s stays float (constant input or too small: C_in %d, K %d, N %d)", op.name, c.c_in, c.k, c.n)
        return False
    weight_known = known_value(w, store) is not None
    if not weight_known and _on_attention_path(op, c):
        logger.debug("quant-insert-qdq: %s stays float (the attention path)", op.name)
        return False
    placement.add_activation(op, c.lhs)
    if weight_known:
        placement.weights.append(WeightUse(op, c.rhs, c.axis))
    else:
        placement.add_activation(op, c.rhs)
    return True


def _place_residual(op: AddOp, quantized: set[Operation], placement: Placement) -> None:
    a, b = op.operands
    if not (_is_f32(a) and a.type == b.type == op.results[0].type):
        return  # a broadcast add (a bias, a per-channel vector) is not a residual
    if a.owner in quantized or b.owner in quantized:
        if not any(isinstance(v.owner, ConstantOp | WeightOp) for v in (a, b)):
            placement.add_activation(op, 0)
            placement.add_activation(op, 1)


def placement(fn: func.FuncOp, store: WeightStore, float_layers: Collection[str] = ()) -> Placement:
    """What `quant-insert-qdq` quantizes in `fn` (the module docstring's rules); contractions
    whose result's key is in `float_layers` (the int8 fallback) stay float."""
    result = Placement()
    quantized: set[Operation] = set()
    keys = value_keys(fn) if float_layers else {}
    for op in fn.body.block.ops:
        if _place_contraction(op, store, result, bool(op.results) and keys.get(op.results[0]) in float_layers):
            quantized.add(op)
        elif isinstance(op, AddOp):
            _place_residual(op, quantized, result)
    return result


def holds_quant_ops(module: builtin.ModuleOp) -> bool:
    return any(isinstance(op, QuantizeOp | DequantizeOp) for op in module.walk())


# --- the cache ------------------------------------------------------------------------


def _cache_error(path: str, problem: str) -> PassFailedException:
    return PassFailedException(f"calibration cache '{path}' {problem}")


def read_cache(path: str) -> dict:
    """The cache's JSON, checked for its version and fields."""
    try:
        with open(path) as f:
            cache = json.load(f)
    except FileNotFoundError:
        raise _cache_error(path, "does not exist: give --calibration-data to compute it") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _cache_error(path, f"cannot be read as JSON ({e})") from None
    if not isinstance(cache, dict) or cache.get("version") != CACHE_VERSION:
        got = cache.get("version") if isinstance(cache, dict) else type(cache).__name__
        raise _cache_error(path, f"has version {got!r}, optc reads version {CACHE_VERSION}: recompute it with --calibration-data")
    amax = cache.get("amax")
    if not isinstance(amax, dict) or not all(isinstance(v, int | float) for v in amax.values()):
        raise _cache_error(path, "has no 'amax' table of numbers")
    if not isinstance(cache.get("fallback", {}), dict):
        raise _cache_error(path, "has a 'fallback' that is not a table of layer -> reason")
    return cache


def checked_cache(path: str, fn: func.FuncOp) -> dict:
    """The cache, after checking it was made for `fn`'s model."""
    cache = read_cache(path)
    if cache.get("fingerprint") != fingerprint(fn):
        raise _cache_error(
            path,
            f"was made for another model ({cache.get('model', '?')}, fingerprint {cache.get('fingerprint')}) "
            f"than this one ({describe(fn)}, fingerprint {fingerprint(fn)}): recompute it with --calibration-data",
        )
    return cache


# --- the rewrite ----------------------------------------------------------------------


def activation_scale(amax: float) -> np.float32:
    """amax / 127, rounded once to f32; an all-zero value (amax 0) gets 1/127: it
    quantizes to 0 with any scale."""
    return np.float32((amax if amax > 0 else 1.0) / LEVELS)


def quantize_weight(weight: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """`weight` (f32) as i8 per channel of `axis` and the channels' f32 scales, rounded as
    `quant.quantize` rounds (the quotient in f32, halves to even)."""
    others = tuple(i for i in range(weight.ndim) if i != axis)
    amax = np.max(np.abs(weight), axis=others).astype(np.float64)
    scales = np.array([activation_scale(a) for a in amax], np.float32)
    shape = [1] * weight.ndim
    shape[axis] = -1
    quotient = weight.astype(np.float32) / scales.reshape(shape)
    return np.clip(np.rint(quotient), -LEVELS, LEVELS).astype(np.int8), scales


@dataclass
class _Insertion:
    block: Block
    store: WeightStore
    rewriter: Rewriter = field(default_factory=Rewriter)
    entry: Operation | None = None
    """The last op inserted for a function argument: the next one goes after it, so the
    pairs of the arguments stand at the entry in argument order."""

    def after_definition(self, value: SSAValue) -> InsertPoint:
        if isinstance(value, BlockArgument):
            return InsertPoint.after(self.entry) if self.entry else InsertPoint.at_start(self.block)
        return InsertPoint.after(value.owner)

    def activation(self, value: SSAValue, amax: float, readers: list[tuple[Operation, int]]) -> None:
        scale = ConstantOp.from_array(np.array(activation_scale(amax), np.float32), Float32Type())
        q = QuantizeOp.make(value, scale.result, None, i8)
        dq = DequantizeOp.make(q.result, scale.result, None, value.type.element_type)
        for op in (scale, q, dq):
            op.results[0].name_hint = None
        self.rewriter.insert_op([scale, q, dq], self.after_definition(value))
        if isinstance(value, BlockArgument):
            self.entry = dq
        for op, operand in readers:
            op.operands[operand] = dq.result

    def weight(self, use: WeightUse) -> None:
        value = use.op.operands[use.operand]
        array = np.asarray(known_value(value, self.store), np.float32)
        q_array, scales = quantize_weight(array, use.axis)
        hint = value.owner.sym.data if isinstance(value.owner, WeightOp) else "weight"
        q = constant_op(q_array, i8, self.store, f"{hint}.i8")
        scale = constant_op(scales, Float32Type(), self.store, f"{hint}.scale")
        dq = DequantizeOp.make(q.results[0], scale.results[0], None, value.type.element_type, axis=use.axis)
        self.rewriter.insert_op([q, scale, dq], InsertPoint.before(use.op))
        use.op.operands[use.operand] = dq.result
        if not value.uses:  # the f32 weight: every reader reads the i8 one now
            self.rewriter.erase_op(value.owner)


def _amax_of(amax: dict[str, float], key: str, path: str) -> float:
    if key not in amax:
        raise _cache_error(path, f"has no amax for value '{key}': recompute it with --calibration-data")
    value = amax[key]
    if not math.isfinite(value) or value < 0:
        raise _cache_error(path, f"has amax {value} for value '{key}': it must be a finite number >= 0")
    return value


def insert_qdq(fn: func.FuncOp, store: WeightStore, cache: dict, path: str) -> Placement:
    """Quantize `fn` in place with the cache's amax, leaving its fallback layers float;
    returns what was quantized."""
    keys = value_keys(fn)
    amax = {k: float(v) for k, v in cache["amax"].items()}
    where = placement(fn, store, frozenset(cache.get("fallback", {})))
    inserting = _Insertion(fn.body.block, store)
    for value, readers in where.activations.items():
        inserting.activation(value, _amax_of(amax, keys[value], path), readers)
    for use in where.weights:
        inserting.weight(use)
    return where


def quantized_values(fn: func.FuncOp, store: WeightStore) -> Iterator[tuple[str, SSAValue]]:
    """The activation values the pass would quantize in `fn`, by cache key, in order:
    what calibration observes."""
    keys = value_keys(fn)
    for value in placement(fn, store).activations:
        yield keys[value], value


@dataclass(frozen=True)
class QuantInsertQdq(ModulePass):
    """Insert quantize/dequantize in front of conv/matmul/gemm inputs and residual adds, with calibrated scales."""

    name = "quant-insert-qdq"

    cache: str = ""
    """The calibration cache (JSON) with each value's amax; `compiler.calibration` writes it."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if holds_quant_ops(op):
            if self.cache:
                raise PassFailedException(
                    "quant-insert-qdq: the model holds quant ops already (a QDQ model, quantized with its own "
                    f"scales); it takes no calibration cache ('{self.cache}')"
                )
            logger.debug("quant-insert-qdq: the model is a QDQ model already; nothing inserted")
            return
        if not self.cache:
            raise PassFailedException("quant-insert-qdq needs a calibration cache (cache=FILE, from --calibration-data)")
        fn = main_function(op)
        insert_qdq(fn, store_of(op), checked_cache(self.cache, fn), self.cache)
