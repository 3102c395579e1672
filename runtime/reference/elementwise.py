"""Reference semantics of elementwise ops.

Conventions, all chosen to match onnxruntime's CPU kernels:
- float16 operands of multi-step formulas (sigmoid, gelu, ...) are widened to float32 and
  rounded once at the end by `as_result`, as onnxruntime's half kernels do; bf16 values are
  float32 already and `as_result` rounds them.
- IEEE results (log(-1) = nan, 1/0 = inf) are the semantics, not accidents, so numpy's
  floating-point warnings are off inside these implementations.
- numpy has no erf; `erf` below is a vectorised double-precision one.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type

from dialects.graph import (
    AbsOp,
    AddOp,
    AndOp,
    CastOp,
    CeilOp,
    CeluOp,
    ClipOp,
    CosOp,
    DivOp,
    EluOp,
    EqualOp,
    ErfOp,
    ExpOp,
    FloorOp,
    GeluOp,
    GreaterOp,
    GreaterOrEqualOp,
    HardSigmoidOp,
    HardSwishOp,
    IsInfOp,
    IsNaNOp,
    LeakyReluOp,
    LessOp,
    LessOrEqualOp,
    LogOp,
    MaxOp,
    MinOp,
    ModOp,
    MulOp,
    NegOp,
    NotOp,
    OrOp,
    PowOp,
    PReluOp,
    ReciprocalOp,
    ReluOp,
    RoundOp,
    SeluOp,
    SigmoidOp,
    SignOp,
    SiluOp,
    SinOp,
    SoftplusOp,
    SqrtOp,
    SubOp,
    TanhOp,
    ThresholdedReluOp,
    WhereOp,
    XorOp,
)
from dialects.dtypes import is_storage_only
from dialects.graph.base import float_of, int_of, str_of
from runtime.reference import low_precision
from runtime.reference.registry import reference, result_dtype, widen


def elementwise(*op_types):
    """`@reference`, with numpy's floating-point warnings off while the op runs."""

    def register(fn):
        @functools.wraps(fn)
        def quiet(op, *args):
            with np.errstate(all="ignore"):
                return fn(op, *args)

        return reference(*op_types)(quiet)

    return register


def _wide(x: np.ndarray) -> np.ndarray:
    """float16 → float32 for formulas of several steps; other dtypes unchanged."""
    return widen(x)[0]


# --- erf -----------------------------------------------------------------------------

_ERF_SERIES = np.array([(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(44)])
"""Maclaurin coefficients of erf(x) * sqrt(pi) / (2x) in x²; 44 terms reach double
precision for |x| < 2.5 (the alternating terms cost about one digit there)."""
_ERF_SPLIT = 2.5
_ERFC_DEPTH = 60
"""Levels of Laplace's continued fraction for erfc, enough for double precision from 2.5 up."""


def erf(x: np.ndarray) -> np.ndarray:
    """erf in float64 to about 4e-15: the power series near zero, where it converges fast,
    and 1 - erfc from its continued fraction beyond, where the series would cancel."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)
    near = a < _ERF_SPLIT
    s = a[near]
    acc = np.zeros_like(s)
    for c in _ERF_SERIES[::-1]:
        acc = acc * (s * s) + c
    out[near] = 2 / math.sqrt(math.pi) * s * acc
    far = a[~near]
    # erfc(x) = exp(-x²) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...))))
    frac = far.copy()
    for k in range(_ERFC_DEPTH, 0, -1):
        frac = far + (k / 2) / frac
    out[~near] = 1 - np.exp(-far * far) / (math.sqrt(math.pi) * frac)
    return np.copysign(out, x)


# --- unary -----------------------------------------------------------------------------


def _sigmoid(x):
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


UNARY: dict[type, Callable[[np.ndarray], np.ndarray]] = {
    ReluOp: lambda x: np.maximum(x, 0),
    SigmoidOp: _sigmoid,
    TanhOp: np.tanh,
    ErfOp: erf,
    ExpOp: np.exp,
    LogOp: np.log,
    SqrtOp: np.sqrt,
    ReciprocalOp: np.reciprocal,
    NegOp: np.negative,
    AbsOp: np.abs,
    SignOp: np.sign,
    HardSwishOp: lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    SiluOp: lambda x: x * _sigmoid(x),
    SoftplusOp: lambda x: np.logaddexp(x, 0),
    SinOp: np.sin,
    CosOp: np.cos,
    FloorOp: np.floor,
    CeilOp: np.ceil,
    RoundOp: np.rint,
    NotOp: np.logical_not,
}


def _register_unary(op_type, fn):
    elementwise(op_type)(lambda op, x: fn(_wide(x)))


for _op_type, _fn in UNARY.items():
    _register_unary(_op_type, _fn)


@elementwise(LeakyReluOp)
def leaky_relu(op, x):
    x = _wide(x)
    return np.where(x >= 0, x, float_of(op.alpha) * x)


@elementwise(EluOp)
def elu(op, x):
    x = _wide(x)
    return np.where(x >= 0, x, float_of(op.alpha) * np.expm1(x))


@elementwise(SeluOp)
def selu(op, x):
    x, alpha, gamma = _wide(x), float_of(op.alpha), float_of(op.gamma)
    return gamma * np.where(x > 0, x, alpha * np.exp(x) - alpha)


@elementwise(CeluOp)
def celu(op, x):
    x, alpha = _wide(x), float_of(op.alpha)
    return np.maximum(x, 0) + np.minimum(0, alpha * np.expm1(x / alpha))


@elementwise(ThresholdedReluOp)
def thresholded_relu(op, x):
    return np.where(x > float_of(op.alpha), x, 0)


@elementwise(HardSigmoidOp)
def hard_sigmoid(op, x):
    x = _wide(x)
    return np.maximum(0, np.minimum(1, float_of(op.alpha) * x + float_of(op.beta)))


@elementwise(GeluOp)
def gelu(op, x):
    x = _wide(x)
    if str_of(op.approximate) == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


@elementwise(ClipOp)
def clip(op, x, *run_time_bounds):
    """Each bound is an operand (min before max) or a property."""
    operands = iter(run_time_bounds)
    lo = np.reshape(next(operands), ()) if op.min_value is not None else op.min.value.data
    hi = np.reshape(next(operands), ()) if op.max_value is not None else op.max.value.data
    return np.minimum(np.maximum(x, lo), hi)


@elementwise(IsNaNOp)
def is_nan(op, x):
    return np.isnan(x)


@elementwise(IsInfOp)
def is_inf(op, x):
    positive = np.isposinf(x) & bool(int_of(op.detect_positive))
    return positive | (np.isneginf(x) & bool(int_of(op.detect_negative)))


# --- binary -------------------------------------------------------------------------------


def _divide(a, b):
    """Integers truncate toward zero like C (numpy's // floors); floats divide."""
    if not np.issubdtype(a.dtype, np.integer):
        return a / b
    floor = a // b
    return floor + ((a % b != 0) & ((a < 0) != (b < 0)))


BINARY: dict[type, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    AddOp: np.add,
    SubOp: np.subtract,
    MulOp: np.multiply,
    DivOp: _divide,
    MinOp: np.minimum,
    MaxOp: np.maximum,
    PReluOp: lambda x, slope: np.where(x < 0, x * slope, x),
    EqualOp: np.equal,
    LessOp: np.less,
    LessOrEqualOp: np.less_equal,
    GreaterOp: np.greater,
    GreaterOrEqualOp: np.greater_equal,
    AndOp: np.logical_and,
    OrOp: np.logical_or,
    XorOp: np.logical_xor,
}


def _register_binary(op_type, fn):
    elementwise(op_type)(lambda op, a, b: fn(a, b))


for _op_type, _fn in BINARY.items():
    _register_binary(_op_type, _fn)


@elementwise(ModOp)
def mod(op, a, b):
    return np.fmod(a, b) if int_of(op.fmod) else np.mod(a, b)


@elementwise(PowOp)
def power(op, base, exponent):
    """In float64, then to the base's type (truncating for integers), as onnxruntime's
    `static_cast<T>(std::pow(x, y))` does; numpy's integer power rejects negative exponents."""
    wide = np.power(base.astype(np.float64), exponent.astype(np.float64))
    return wide.astype(base.dtype)


# --- select and casts -------------------------------------------------------------------


@elementwise(WhereOp)
def where(op, condition, on_true, on_false):
    return np.where(condition, on_true, on_false)


@elementwise(CastOp)
def cast(op, x):
    """To f16 and bf16 through float32, as onnxruntime converts (so f64 and int64 round
    twice there too); bf16 is rounded by `as_result`. Storage-only types (float8, int4,
    ...) are widened exactly first, and cast to by `low_precision.cast_to`."""
    target = op.result.type.element_type
    x = low_precision.widen(x)
    if is_storage_only(target):
        saturate, round_mode = int_of(op.saturate, 1) == 1, str_of(op.round_mode, "up")
        return low_precision.cast_to(x, result_dtype(op), saturate, round_mode)
    if isinstance(target, Float16Type | BFloat16Type):
        x = x.astype(np.float32)
    return x.astype(result_dtype(op))
