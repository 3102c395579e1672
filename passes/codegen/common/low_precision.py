"""The storage-only element types in pointwise CUDA: float8 (E4M3FN, E4M3FNUZ, E5M2,
E5M2FNUZ, E8M0FNU), float4 E2M1FN, int4/uint4 and int2/uint2.

On the device each element is one byte, exactly the byte the host's `ml_dtypes` array
holds (a float's bit pattern in the low bits; an int4/int2 as its low 4/2 bits, so
-1 is 0x0F as int4). A kernel holds such a value as that byte (`STORAGE_CTYPE`: storage
and compute `unsigned char`), so loads, stores, vector copies, views, identity and
where move it untouched; only `graph.cast` looks inside, through the conversion
functions of `HELPERS` (`cast_expression` prints the call):

- *from* a storage type: decode exactly (floats to float, ints to int), then convert
  like any other float or int value, as the reference widens (float32, int8/uint8) and
  then casts;
- *to* a storage type: from the value as a double (exact for every float input, and
  the reference's float64 for integers), rounded to nearest even on the format's grid
  (subnormals included) by integer arithmetic on the double's bits, then overflow,
  NaN and zero encoded as `runtime.reference.low_precision` does (saturate clamps to
  the largest finite value; otherwise inf for E5M2, NaN for the others; FNUZ has no -0;
  float4 always clamps and takes NaN to +6; E8M0 by `round_mode`; floats to small ints
  round to nearest even and clamp, NaN to 0; integers to small ints keep the low bits).

Everything is software (no sm_89 cvt instructions), so it runs on sm_80 and compiles on
the host (the tests compare every bit pattern with ml_dtypes and the reference there).
`HELPERS` is guarded, so several kernels of one `.cu` file may each carry it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import (
    Float4E2M1FNType,
    Float8E4M3FNType,
    Float8E4M3FNUZType,
    Float8E5M2FNUZType,
    Float8E5M2Type,
    Float8E8M0FNUType,
    IntegerType,
    Signedness,
)
from xdsl.ir import Attribute

from dialects.dtypes import is_storage_only
from dialects.errors import OptcError
from passes.codegen.common import types
from passes.codegen.common.types import CType, ctype_of

STORAGE_CTYPE = CType("unsigned char", "unsigned char", 1)
"""A storage-only element in a kernel: its byte, in memory and in registers."""

HELPER_PREFIX = "optc_lp_"

HELPERS = r"""#ifndef OPTC_LOW_PRECISION
#define OPTC_LOW_PRECISION
// optc low-precision conversions (float8, float4, e8m0, int4, int2), in software.
// The magnitude of x rounded to nearest even onto a float format with `nmant` mantissa
// bits and smallest normal exponent `minexp` (no largest exponent): its bits in that
// format (monotonic, so above the largest finite value's bits means beyond it);
// 0x7fffffff for inf, -1 for NaN.
__device__ __forceinline__ int optc_lp_round(double x, int nmant, int minexp) {
    const unsigned long long u = (unsigned long long)__double_as_longlong(x);
    const int e = (int)((u >> 52) & 0x7ff);
    const unsigned long long m = u & 0xfffffffffffffULL;
    if (e == 0x7ff) return m ? -1 : 0x7fffffff;
    if (e == 0) return 0;  // 0, or a double subnormal: far below half a subnormal of the format
    const int ex = e - 1023;
    const int q = (ex > minexp ? ex : minexp) - nmant;  // the exponent of the format's ulp at x
    const int shift = q - ex + 52;                      // the bits of the significand below it
    if (shift > 54) return 0;
    const unsigned long long sig = m | (1ULL << 52);
    unsigned long long k = sig >> shift;
    const unsigned long long rem = sig & ((1ULL << shift) - 1), half = 1ULL << (shift - 1);
    if (rem > half || (rem == half && (k & 1ULL))) k += 1;
    // subnormal: k ulps are the bits (k = 2^nmant is the smallest normal's); normal: the
    // exponent field counts from minexp, and a carry out of the mantissa moves into it
    return ((ex > minexp ? ex - minexp : 0) << nmant) + (int)k;
}
// A float format of 8 or 4 bits: `sign` is its sign bit, `largest` the bits of its largest
// finite magnitude, `overflow` the bits (sign added) of an overflow without saturation,
// `nan` those of NaN (sign added unless it has the sign bit itself), `fnuz`: no -0.
__device__ __forceinline__ unsigned char optc_lp_encode(
        double x, int nmant, int minexp, int sign, int largest, int overflow, int nan, bool fnuz, bool saturate) {
    const int s = (__double_as_longlong(x) < 0) ? sign : 0;
    const int r = optc_lp_round(x, nmant, minexp);
    if (r < 0) return (unsigned char)((nan & sign) ? nan : (nan | s));
    if (r > largest) return (unsigned char)(saturate ? (s | largest) : ((overflow & sign) ? overflow : (overflow | s)));
    if (r == 0 && fnuz) return 0;
    return (unsigned char)(s | r);
}
__device__ __forceinline__ float optc_lp_pow2(int k) {  // 2^k for -126 <= k <= 127
    return __uint_as_float((unsigned int)(k + 127) << 23);
}
// The value of a float format's finite bits b (sign bit `sign`).
__device__ __forceinline__ float optc_lp_decode(unsigned int b, int nmant, int minexp, int sign) {
    const unsigned int mag = b & (unsigned int)(sign - 1), field = mag >> nmant;
    const unsigned int frac = mag & ((1u << nmant) - 1u);
    const float v = field == 0 ? (float)frac * optc_lp_pow2(minexp - nmant)
                               : (float)(frac | (1u << nmant)) * optc_lp_pow2((int)field - 1 + minexp - nmant);
    return (b & (unsigned int)sign) ? -v : v;
}
__device__ __forceinline__ float optc_lp_nan(bool negative) {
    return __uint_as_float(negative ? 0xffc00000u : 0x7fc00000u);
}
__device__ __forceinline__ float optc_lp_from_f8e4m3fn(unsigned char b) {
    return (b & 0x7f) == 0x7f ? optc_lp_nan(b & 0x80) : optc_lp_decode(b, 3, -6, 0x80);
}
__device__ __forceinline__ float optc_lp_from_f8e4m3fnuz(unsigned char b) {
    return b == 0x80 ? optc_lp_nan(true) : optc_lp_decode(b, 3, -7, 0x80);
}
__device__ __forceinline__ float optc_lp_from_f8e5m2(unsigned char b) {
    if ((b & 0x7c) == 0x7c) return (b & 0x03) ? optc_lp_nan(b & 0x80) : __uint_as_float((b & 0x80) ? 0xff800000u : 0x7f800000u);
    return optc_lp_decode(b, 2, -14, 0x80);
}
__device__ __forceinline__ float optc_lp_from_f8e5m2fnuz(unsigned char b) {
    return b == 0x80 ? optc_lp_nan(true) : optc_lp_decode(b, 2, -15, 0x80);
}
__device__ __forceinline__ float optc_lp_from_f4e2m1fn(unsigned char b) {
    return optc_lp_decode(b & 0x0f, 1, 0, 0x08);
}
__device__ __forceinline__ float optc_lp_from_f8e8m0fnu(unsigned char b) {
    if (b == 0xff) return optc_lp_nan(false);
    return b == 0 ? __uint_as_float(0x00400000u) : __uint_as_float((unsigned int)b << 23);
}
__device__ __forceinline__ unsigned char optc_lp_to_f8e4m3fn(double x, bool saturate) {
    return optc_lp_encode(x, 3, -6, 0x80, 0x7e, 0x7f, 0x7f, false, saturate);
}
__device__ __forceinline__ unsigned char optc_lp_to_f8e4m3fnuz(double x, bool saturate) {
    return optc_lp_encode(x, 3, -7, 0x80, 0x7f, 0x80, 0x80, true, saturate);
}
__device__ __forceinline__ unsigned char optc_lp_to_f8e5m2(double x, bool saturate) {
    return optc_lp_encode(x, 2, -14, 0x80, 0x7b, 0x7c, 0x7e, false, saturate);
}
__device__ __forceinline__ unsigned char optc_lp_to_f8e5m2fnuz(double x, bool saturate) {
    return optc_lp_encode(x, 2, -15, 0x80, 0x7f, 0x80, 0x80, true, saturate);
}
// float4 has no inf or NaN: everything beyond +-6 clamps, NaN becomes +6 (the reference).
__device__ __forceinline__ unsigned char optc_lp_to_f4e2m1fn(double x) {
    return (x != x) ? (unsigned char)0x07 : optc_lp_encode(x, 1, 0, 0x08, 0x07, 0x07, 0x07, false, true);
}
// E8M0 (2^-127 .. 2^127, NaN = 0xff, no sign, no zero): |x| to a power of two by `mode`
// (0 down, 1 up, 2 nearest with ties up); out of range (0 and inf included) to the nearest
// end when saturating, NaN when not.
__device__ __forceinline__ unsigned char optc_lp_to_f8e8m0fnu(double x, int mode, bool saturate) {
    const unsigned long long u = (unsigned long long)__double_as_longlong(x);
    const int e = (int)((u >> 52) & 0x7ff);
    const unsigned long long m = u & 0xfffffffffffffULL;
    if (e == 0x7ff && m) return 0xff;
    int p;  // the power of two
    if (e == 0x7ff) p = 1000;
    else if (e == 0) p = -1000;  // 0 or a double subnormal: far below 2^-127
    else {
        const int fe = e - 1022;  // |x| = f 2^fe with 1/2 <= f < 1
        p = mode == 0 ? fe - 1 : mode == 1 ? (m == 0 ? fe - 1 : fe) : ((m >> 51) ? fe : fe - 1);
    }
    if (saturate) p = p < -127 ? -127 : (p > 127 ? 127 : p);
    return (p < -127 || p > 127) ? (unsigned char)0xff : (unsigned char)(p + 127);
}
// Floats to int4/int2 as onnx's int4.md/int2.md say: round to nearest even, clamp to
// [lo, hi]; NaN (undefined there) gives 0, as the reference.
__device__ __forceinline__ long long optc_lp_small_int(double x, int lo, int hi) {
    if (x != x) return 0;
    const double r = rint(x);
    return r < lo ? lo : (r > hi ? hi : (long long)r);
}
__device__ __forceinline__ int optc_lp_from_int4(unsigned char b) { return (int)((b & 0x0f) ^ 0x08) - 8; }
__device__ __forceinline__ int optc_lp_from_uint4(unsigned char b) { return (int)(b & 0x0f); }
__device__ __forceinline__ int optc_lp_from_int2(unsigned char b) { return (int)((b & 0x03) ^ 0x02) - 2; }
__device__ __forceinline__ int optc_lp_from_uint2(unsigned char b) { return (int)(b & 0x03); }
#endif
"""


@dataclass(frozen=True)
class _Format:
    """How a kernel converts one storage-only type: the C functions, and what the decoded
    value's C type is."""

    suffix: str
    decoded: str
    """The C type `optc_lp_from_<suffix>` returns: float, or int for the small ints."""
    bits: int
    """Value bits of the small ints (the mask their encoding keeps); 0 for floats."""
    signed: bool = False

    @property
    def range(self) -> tuple[int, int]:
        """The small int's smallest and largest value."""
        return (-(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1) if self.signed else (0, (1 << self.bits) - 1)


def _format(element_type: Attribute) -> _Format:
    floats = {
        Float8E4M3FNType: "f8e4m3fn",
        Float8E4M3FNUZType: "f8e4m3fnuz",
        Float8E5M2Type: "f8e5m2",
        Float8E5M2FNUZType: "f8e5m2fnuz",
        Float8E8M0FNUType: "f8e8m0fnu",
        Float4E2M1FNType: "f4e2m1fn",
    }
    for cls, suffix in floats.items():
        if isinstance(element_type, cls):
            return _Format(suffix, "float", 0)
    assert isinstance(element_type, IntegerType) and is_storage_only(element_type)
    width = element_type.width.data
    unsigned = element_type.signedness.data == Signedness.UNSIGNED
    return _Format(f"{'u' if unsigned else ''}int{width}", "int", width, signed=not unsigned)


def element_ctype(element_type: Attribute, where: str) -> CType:
    """`types.ctype_of`, and `STORAGE_CTYPE` for the storage-only types."""
    if is_storage_only(element_type):
        return STORAGE_CTYPE
    return ctype_of(element_type, where)


def pointer_params(kernel) -> list[str]:
    """`types.pointer_params` where storage-only tensors are `unsigned char*`."""
    return types.pointer_params(kernel, element_ctype)


_ROUND_MODES = {"down": 0, "up": 1, "nearest": 2}


def decode(element_type: Attribute, bits: str) -> tuple[str, str]:
    """A storage-only value's byte `bits` as (C expression of its value, its C type)."""
    fmt = _format(element_type)
    return f"optc_lp_from_{fmt.suffix}({bits})", fmt.decoded


def encode(element_type: Attribute, x: str, source: str, saturate: bool, round_mode: str) -> str:
    """The byte of the storage-only `element_type` for `x`, a value of compute C type
    `source` (float, double, an integer type or bool)."""
    fmt = _format(element_type)
    if fmt.bits:
        value = f"((long long){x})"  # integers wrap: the mask keeps the low bits
        if source in ("float", "double"):
            low, high = fmt.range
            value = f"optc_lp_small_int((double){x}, {low}, {high})"
        return f"((unsigned char)({value} & {(1 << fmt.bits) - 1}))"
    wide = f"(double){x}"
    flag = "true" if saturate else "false"
    if fmt.suffix == "f4e2m1fn":
        return f"optc_lp_to_f4e2m1fn({wide})"
    if fmt.suffix == "f8e8m0fnu":
        if round_mode not in _ROUND_MODES:
            raise OptcError(f"round_mode '{round_mode}' is not one of {', '.join(_ROUND_MODES)}")
        return f"optc_lp_to_f8e8m0fnu({wide}, {_ROUND_MODES[round_mode]}, {flag})"
    return f"optc_lp_to_{fmt.suffix}({wide}, {flag})"


def uses_helpers(source: str) -> bool:
    """Whether CUDA C text calls a conversion of `HELPERS` (and so must carry them)."""
    return HELPER_PREFIX in source
