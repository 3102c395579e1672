"""Cast rules for the storage-only element types: float8 (E4M3FN, E4M3FNUZ, E5M2,
E5M2FNUZ), E8M0, float4 (E2M1), int4/uint4 and int2/uint2, as ONNX's Cast defines them.

The interpreter holds these types as `ml_dtypes` arrays. A value of one of them is
first widened exactly (`widen`: floats to float32, integers to int8/uint8) and then
cast like any other value. Casting *to* one of them goes through `cast_to`, which uses
ml_dtypes only to store values already on the target's grid, and corrects it where it
is not the spec:

- Rounding is computed here, exactly, in float64 (`np.round` ties to even): ml_dtypes
  converts a float64 through float32 and so rounds twice.
- float8 with `saturate` (ONNX's default) clamps everything beyond the largest finite
  value, infinities included, to it; ml_dtypes always overflows, to inf (E5M2) or NaN
  (the others), which is what `saturate = 0` asks for. -0 becomes 0 in the FNUZ types,
  which have one zero and one NaN.
- float4 E2M1 has neither infinities nor NaN: ONNX clamps to ±6 and maps NaN to +6
  (onnx's docs/technical/float4.md; onnxruntime does the same). ml_dtypes maps NaN to
  -0, and so do onnx's reference evaluator and its node tests' expected outputs, which
  are computed with ml_dtypes.
- E8M0 (2^-127 .. 2^127 and NaN; no sign, no zero) follows the table of the Cast spec:
  x goes to a power of two by `round_mode` (`up` to the next, `down` to the previous,
  `nearest` linearly with ties up), and where that power is out of range (zero and
  infinities included) to the nearest end when saturating, NaN when not, as the float8
  tables' `[x]`; NaN stays NaN. The sign is ignored (casting negative values is
  undefined in ONNX). onnx's reference implementation works on float32 bit fields and
  agrees for every normal float32; it differs on infinities (NaN even when saturating)
  and below 2^-126.
- int4/uint4/int2/uint2 from a float follow onnx's docs/technical/int4.md and int2.md:
  "rounding to the nearest-integer (with ties to even) ... and truncating", where the
  truncation clamps to the type's range (as onnx's own reference did when it had one:
  `rint`, then `clip`); so 2.5 -> 2, -1.5 -> -2, 100 -> 7 and -inf -> -8 in int4. NaN,
  which the spec leaves undefined, becomes 0. Integers wrap to the low bits (two's
  complement), as Cast's "fixed point to fixed point" rule says; booleans become 0 or 1.
  Nothing here asks ml_dtypes how to convert (0.6 wrapped floats beyond the range, 0.7
  gives 0): it only stores values already in range.
"""

from __future__ import annotations

from collections.abc import Callable

import ml_dtypes
import numpy as np

from dialects.dtypes import STORAGE_DTYPES

_STORAGE_FLOATS = frozenset(d for d in STORAGE_DTYPES.values() if d.name.startswith("float"))


def widen(x: np.ndarray) -> np.ndarray:
    """A storage-only array as the smallest numpy type that holds its values exactly
    (float32, int8 or uint8); any other array unchanged."""
    if x.dtype not in STORAGE_DTYPES.values():
        return x
    if x.dtype in _STORAGE_FLOATS:
        return x.astype(np.float32)
    return x.astype(np.int8 if ml_dtypes.iinfo(x.dtype).min < 0 else np.uint8)


def cast_to(x: np.ndarray, dtype: np.dtype, saturate: bool = True, round_mode: str = "up") -> np.ndarray:
    """`x` (a numpy array of a standard type) cast to the storage-only `dtype`."""
    return _CASTS[np.dtype(dtype).name](np.asarray(x), np.dtype(dtype), saturate, round_mode)


def round_to_grid(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`x` rounded to nearest, ties to even, onto the values of the float type `dtype`
    (its mantissa width, its subnormals), with no upper bound on the exponent: ONNX's
    `[x]`. Exact, in float64; NaN and infinities pass through."""
    info = ml_dtypes.finfo(dtype)
    x = np.asarray(x, dtype=np.float64)
    _, e = np.frexp(x)  # |x| = m 2^e with 1/2 <= m < 1: the leading bit is 2^(e-1)
    ulp = np.maximum(e - 1, info.minexp) - info.nmant
    return np.ldexp(np.round(np.ldexp(x, -ulp)), ulp)


def _to_float8(x: np.ndarray, dtype: np.dtype, saturate: bool, round_mode: str) -> np.ndarray:
    largest = float(ml_dtypes.finfo(dtype).max)
    rounded = round_to_grid(x, dtype)
    beyond = np.abs(rounded) > largest
    limit = largest if saturate else np.inf  # ml_dtypes stores inf as inf or NaN by type
    return np.where(beyond, np.copysign(limit, rounded), rounded).astype(dtype)


def _to_float4(x: np.ndarray, dtype: np.dtype, saturate: bool, round_mode: str) -> np.ndarray:
    largest = float(ml_dtypes.finfo(dtype).max)
    clamped = np.clip(round_to_grid(x, dtype), -largest, largest)
    return np.where(np.isnan(clamped), largest, clamped).astype(dtype)


_E8M0_BIAS = 127
_E8M0_NAN = 0xFF
_E8M0_EXPONENT: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    # |x| = m 2^e with 1/2 <= m < 1, so 2^(e-1) <= |x| < 2^e
    "down": lambda m, e: e - 1,
    "up": lambda m, e: np.where(m == 0.5, e - 1, e),
    "nearest": lambda m, e: np.where(m >= 0.75, e, e - 1),
}


def _to_e8m0(x: np.ndarray, dtype: np.dtype, saturate: bool, round_mode: str) -> np.ndarray:
    magnitude = np.abs(np.asarray(x, dtype=np.float64))
    m, e = np.frexp(magnitude)
    exponent = _E8M0_EXPONENT[round_mode](m, e).astype(np.float64)
    exponent = np.where(magnitude == 0, -np.inf, np.where(np.isinf(magnitude), np.inf, exponent))
    if saturate:
        exponent = np.clip(exponent, -_E8M0_BIAS, _E8M0_BIAS)
    valid = (np.abs(exponent) <= _E8M0_BIAS) & ~np.isnan(magnitude)
    bits = np.where(valid, np.where(valid, exponent, 0) + _E8M0_BIAS, _E8M0_NAN)
    return bits.astype(np.uint8).view(dtype)


def _to_small_int(x: np.ndarray, dtype: np.dtype, saturate: bool, round_mode: str) -> np.ndarray:
    info = ml_dtypes.iinfo(dtype)
    if x.dtype.kind in "biu":  # fixed point: keep the low bits, two's complement
        low_bits = x.astype(np.int64) & ((1 << info.bits) - 1)
        value = np.where(low_bits > info.max, low_bits - (1 << info.bits), low_bits)
    else:  # floating point (bfloat16 and float8 widened to float64 exactly)
        wide = np.asarray(x, dtype=np.float64)
        value = np.clip(np.rint(np.where(np.isnan(wide), 0.0, wide)), info.min, info.max)
    return value.astype(np.int8).astype(dtype)


_CASTS: dict[str, Callable[..., np.ndarray]] = {
    "float8_e4m3fn": _to_float8,
    "float8_e4m3fnuz": _to_float8,
    "float8_e5m2": _to_float8,
    "float8_e5m2fnuz": _to_float8,
    "float8_e8m0fnu": _to_e8m0,
    "float4_e2m1fn": _to_float4,
    "int4": _to_small_int,
    "uint4": _to_small_int,
    "int2": _to_small_int,
    "uint2": _to_small_int,
}
"""ml_dtypes name → the function casting to it (every storage-only type has one)."""
