"""The op table of pointwise CUDA: graph op class → a C expression of its result, for one
element, given its operands' C expressions and their compute types.

Every template follows the reference interpreter (`runtime/reference/elementwise.py`),
which follows onnxruntime: NaN propagates through min/max/clip/relu as numpy's
minimum/maximum do, integer division truncates (and gives 0 for a zero divisor, as numpy
does), `mod` with fmod = 0 takes the divisor's sign (numpy's `mod`, floats included),
round is half to even (`rint`), casts to f16/bf16 round at the cast, integer `pow` goes
through double. Compute types are those of `common.types.ctype_of`: f16/bf16 compute in
float, f64 in double (the `f`-less libdevice functions), integers in their own C type.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation

from dialects import graph
from dialects.dtypes import is_storage_only
from dialects.errors import OptcError
from dialects.graph.base import float_of, int_of, str_of
from passes.codegen.common.low_precision import HELPERS, decode, encode, uses_helpers
from passes.codegen.common.types import ctype_of, literal

Emit = Callable[[Operation, Sequence[str], Sequence[str]], str]
"""(op, operand names, operand compute C types) → a C expression of the op's (first) result."""

FLOATS = ("float", "double")
UNSIGNED = ("unsigned char", "unsigned short", "unsigned int", "unsigned long long")


def _fn(name: str, t: str) -> str:
    """The libdevice function for compute type `t`: expf for float, exp for double."""
    return f"{name}f" if t == "float" else name


def _float(op: Operation, t: str) -> None:
    if t not in FLOATS:
        raise OptcError(f"'{op.name}' on {t} has no CUDA template (floating-point only)")


def _lit(value, t: str) -> str:
    return literal(value, t)


def _clamp(x: str, lo: str, hi: str) -> str:
    """min(max(x, lo), hi) as numpy's maximum/minimum: NaN stays NaN; lo > hi gives hi."""
    low = f"({x} < {lo} ? {lo} : {x})"
    return f"({low} > {hi} ? {hi} : {low})"


def _max(a: str, b: str) -> str:
    """numpy's maximum: NaN if either is NaN."""
    return f"(({a} > {b} || {a} != {a}) ? {a} : {b})"


def _min(a: str, b: str) -> str:
    return f"(({a} < {b} || {a} != {a}) ? {a} : {b})"


def _sigmoid(x: str, t: str) -> str:
    """1 / (1 + e^-x) without overflow, as the reference: e = e^-|x| never exceeds 1."""
    e = f"{_fn('exp', t)}(-{_fn('fabs', t)}({x}))"
    one = _lit(1, t)
    return f"({x} >= {_lit(0, t)} ? {one} / ({one} + {e}) : {e} / ({one} + {e}))"


# --- template makers ----------------------------------------------------------------------


def _expr(template: str) -> Emit:
    """`{0}`, `{1}`... are the operands' names; `{t}` is the first operand's C type."""
    return lambda op, a, t: template.format(*a, t=t[0])


def _math(name: str) -> Emit:
    """A one-argument libdevice function, floats only."""

    def emit(op, a, t):
        _float(op, t[0])
        return f"{_fn(name, t[0])}({a[0]})"

    return emit


def _float_formula(build: Callable[[Operation, str, str], str]) -> Emit:
    """A float-only formula `build(op, x, t)` of the one operand."""

    def emit(op, a, t):
        _float(op, t[0])
        return build(op, a[0], t[0])

    return emit


# --- unary --------------------------------------------------------------------------------


def _abs(op, a, t):
    if t[0] in FLOATS:
        return f"{_fn('fabs', t[0])}({a[0]})"
    return a[0] if t[0] in UNSIGNED or t[0] == "bool" else f"({a[0]} < 0 ? -{a[0]} : {a[0]})"


def _sign(op, a, t):
    x, ty = a[0], t[0]
    if ty in FLOATS:  # np.sign: 0 and NaN are themselves
        return f"({x} > 0 ? {_lit(1, ty)} : ({x} < 0 ? {_lit(-1, ty)} : {x}))"
    if ty in UNSIGNED:
        return f"(({ty})({x} > 0))"
    return f"(({ty})(({x} > 0) - ({x} < 0)))"


def _relu(op, a, t):
    """np.maximum(x, 0): NaN stays NaN (x < 0 is false for it)."""
    return f"({a[0]} < 0 ? {_lit(0, t[0])} : {a[0]})"


def _reciprocal(op, x, t):
    return f"({_lit(1, t)} / {x})"


def _gelu(op, x, t):
    half, one = _lit(0.5, t), _lit(1, t)
    if str_of(op.approximate) == "tanh":
        inner = f"{_lit(0.7978845608028654, t)} * ({x} + {_lit(0.044715, t)} * {x} * {x} * {x})"
        return f"({half} * {x} * ({one} + {_fn('tanh', t)}({inner})))"
    return f"({half} * {x} * ({one} + {_fn('erf', t)}({x} * {_lit(0.7071067811865476, t)})))"


def _silu(op, x, t):
    return f"({x} * {_sigmoid(x, t)})"


def _hard_swish(op, x, t):
    return f"({x} * {_clamp(f'({x} / {_lit(6, t)} + {_lit(0.5, t)})', _lit(0, t), _lit(1, t))})"


def _hard_sigmoid(op, x, t):
    v = f"({_lit(float_of(op.alpha), t)} * {x} + {_lit(float_of(op.beta), t)})"
    return _clamp(v, _lit(0, t), _lit(1, t))


def _leaky_relu(op, x, t):
    return f"({x} >= 0 ? {x} : {_lit(float_of(op.alpha), t)} * {x})"


def _softplus(op, x, t):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, NaN stays NaN."""
    return f"({_fn('fmax', t)}({x}, {_lit(0, t)}) + {_fn('log1p', t)}({_fn('exp', t)}(-{_fn('fabs', t)}({x}))))"


def _elu(op, x, t):
    return f"({x} >= 0 ? {x} : {_lit(float_of(op.alpha), t)} * {_fn('expm1', t)}({x}))"


def _selu(op, x, t):
    alpha, gamma = _lit(float_of(op.alpha), t), _lit(float_of(op.gamma), t)
    return f"({gamma} * ({x} > 0 ? {x} : {alpha} * {_fn('exp', t)}({x}) - {alpha}))"


def _celu(op, x, t):
    """max(x, 0) + min(0, alpha * expm1(x / alpha)); NaN stays NaN."""
    alpha, zero = _lit(float_of(op.alpha), t), _lit(0, t)
    neg = f"{_fn('fmin', t)}({zero}, {alpha} * {_fn('expm1', t)}({x} / {alpha}))"
    return f"({x} != {x} ? {x} : {_fn('fmax', t)}({x}, {zero}) + {neg})"


def _thresholded_relu(op, x, t):
    return f"({x} > {_lit(float_of(op.alpha), t)} ? {x} : {_lit(0, t)})"


def _is_nan(op, a, t):
    _float(op, t[0])
    return f"({a[0]} != {a[0]})"


def _is_inf(op, a, t):
    _float(op, t[0])
    inf = _lit(float("inf"), t[0])
    tests = []
    if int_of(op.detect_positive):
        tests.append(f"{a[0]} == {inf}")
    if int_of(op.detect_negative):
        tests.append(f"{a[0]} == -{inf}")
    return f"({' || '.join(tests)})" if tests else "false"


def _clip(op, a, t):
    """Each bound is a literal (property) or the next operand (a one-element tensor)."""
    operands = iter(a[1:])
    lo = next(operands) if op.min_value is not None else _lit(op.min.value.data, t[0])
    hi = next(operands) if op.max_value is not None else _lit(op.max.value.data, t[0])
    return _clamp(a[0], lo, hi)


# --- binary -------------------------------------------------------------------------------


def _div(op, a, t):
    """Floats divide; integers truncate toward zero, and a zero divisor gives 0 (numpy)."""
    if t[0] in FLOATS:
        return f"({a[0]} / {a[1]})"
    return f"({a[1]} == 0 ? ({t[0]})0 : ({t[0]})({a[0]} / {a[1]}))"


def _min_max(pick: str) -> Emit:
    def emit(op, a, t):
        if t[0] in FLOATS:
            return (_min if pick == "<" else _max)(a[0], a[1])
        return f"({a[0]} {pick} {a[1]} ? {a[0]} : {a[1]})"

    return emit


def _mod(op, a, t):
    """fmod = 1: C's fmod / % (the dividend's sign). fmod = 0: numpy's mod (the divisor's
    sign; for floats a zero remainder takes the divisor's sign too, as npy_divmod does).
    Integer remainders by zero are 0, as in numpy."""
    x, y, ty = a[0], a[1], t[0]
    if ty in FLOATS:
        r = f"{_fn('fmod', ty)}({x}, {y})"
        if int_of(op.fmod):
            return r
        zero = _lit(0, ty)
        fixed = f"(({y} < {zero}) != ({r} < {zero}) ? {r} + {y} : {r})"
        return f"({r} != {zero} ? {fixed} : {_fn('copysign', ty)}({zero}, {y}))"
    r = f"({ty})({x} % {y})"
    if not int_of(op.fmod) and ty not in UNSIGNED:
        r = f"(({r} != 0 && (({r} < 0) != ({y} < 0))) ? ({ty})({r} + {y}) : {r})"
    return f"({y} == 0 ? ({ty})0 : {r})"


def _pow(op, a, t):
    """Floats: pow in the compute type. Integers: in double, then truncated (the
    reference's `astype`); with an integer exponent the exact result is an integer, so it
    is rounded instead of truncated, which absorbs libdevice's last-ulp error; with a float
    exponent, results within 4 ulp of an integer (below 2^53) are snapped to it, for the
    same reason: the reference's glibc pow is exact where the power is an integer, and
    libdevice's, up to 2 ulp off, would truncate a whole unit low 1 ulp below one. (An
    immediately called lambda keeps the expression self-contained for `scalar_code`.)"""
    base, exponent = t
    if base in FLOATS:
        return f"{_fn('pow', base)}({a[0]}, ({base}){a[1]})"
    if exponent in FLOATS:
        snap = (
            "[](double r) { const double n = rint(r); "
            "return (fabs(n) < 9007199254740992.0 && fabs(r - n) <= fabs(n) * 8.881784197001252e-16) ? n : r; }"
        )
        return f"(({base})({snap})(pow((double){a[0]}, (double){a[1]})))"
    return f"(({base})rint(pow((double){a[0]}, (double){a[1]})))"


def _prelu(op, a, t):
    if t[0] in UNSIGNED:  # x < 0 never holds (NVRTC: a pointless comparison); 0 * slope is 0
        return f"({a[0]} > 0 ? {a[0]} : ({t[0]})({a[0]} * {a[1]}))"
    return f"({a[0]} < 0 ? ({t[0]})({a[0]} * {a[1]}) : {a[0]})"


def _cast(op, a, t):
    """To the target's compute type; nonzero (NaN too) is true; to f16/bf16 rounds here,
    through float as the reference does, so later ops see the rounded value. A
    storage-only source is decoded first, a storage-only target encoded, by the
    conversions of `common/low_precision.py` (saturate and round_mode as the op says)."""
    x, source = a[0], t[0]
    source_type, target_type = op.input.type.element_type, op.result.type.element_type
    if is_storage_only(source_type):
        x, source = decode(source_type, x)
    if is_storage_only(target_type):
        return encode(target_type, x, source, int_of(op.saturate, 1) == 1, str_of(op.round_mode, "up"))
    target = ctype_of(target_type, f"'{op.name}'")
    if target.compute == "bool":
        return f"({x} != 0)"
    if target.narrow:
        return target.load(target.store(f"(float){x}"))
    return f"(({target.compute}){x})" if target.compute != source else x


UNCONTRACTED = {graph.AddOp: "__fadd_rn", graph.SubOp: "__fsub_rn", graph.MulOp: "__fmul_rn"}
"""f32 add, sub and mul as the intrinsics that round each result on its own (the compiler
never fuses them into an fma, as it may `a * b + c`): for epilogues that must round as the
reference's separate ops do, bit for bit (an integer contraction's requantization, where
one fused rounding can move a value across a rounding tie of the quantize)."""


TEMPLATES: dict[type[Operation], Emit] = {
    graph.IdentityOp: _expr("{0}"),
    graph.AddOp: _expr("({0} + {1})"),
    graph.SubOp: _expr("({0} - {1})"),
    graph.MulOp: _expr("({0} * {1})"),
    graph.DivOp: _div,
    graph.NegOp: _expr("(-{0})"),
    graph.AbsOp: _abs,
    graph.SignOp: _sign,
    graph.ReluOp: _relu,
    graph.SigmoidOp: _float_formula(lambda op, x, t: _sigmoid(x, t)),
    graph.TanhOp: _math("tanh"),
    graph.ExpOp: _math("exp"),
    graph.LogOp: _math("log"),
    graph.SqrtOp: _math("sqrt"),
    graph.SinOp: _math("sin"),
    graph.CosOp: _math("cos"),
    graph.FloorOp: _math("floor"),
    graph.CeilOp: _math("ceil"),
    graph.RoundOp: _math("rint"),
    graph.ErfOp: _math("erf"),
    graph.ReciprocalOp: _float_formula(_reciprocal),
    graph.GeluOp: _float_formula(_gelu),
    graph.SiluOp: _float_formula(_silu),
    graph.HardSigmoidOp: _float_formula(_hard_sigmoid),
    graph.HardSwishOp: _float_formula(_hard_swish),
    graph.LeakyReluOp: _float_formula(_leaky_relu),
    graph.SoftplusOp: _float_formula(_softplus),
    graph.EluOp: _float_formula(_elu),
    graph.SeluOp: _float_formula(_selu),
    graph.CeluOp: _float_formula(_celu),
    graph.ThresholdedReluOp: _float_formula(_thresholded_relu),
    graph.IsNaNOp: _is_nan,
    graph.IsInfOp: _is_inf,
    graph.ClipOp: _clip,
    graph.MinOp: _min_max("<"),
    graph.MaxOp: _min_max(">"),
    graph.ModOp: _mod,
    graph.PowOp: _pow,
    graph.PReluOp: _prelu,
    graph.WhereOp: _expr("({0} ? {1} : {2})"),
    graph.EqualOp: _expr("({0} == {1})"),
    graph.LessOp: _expr("({0} < {1})"),
    graph.LessOrEqualOp: _expr("({0} <= {1})"),
    graph.GreaterOp: _expr("({0} > {1})"),
    graph.GreaterOrEqualOp: _expr("({0} >= {1})"),
    graph.AndOp: _expr("({0} && {1})"),
    graph.OrOp: _expr("({0} || {1})"),
    graph.XorOp: _expr("({0} != {1})"),
    graph.NotOp: _expr("(!{0})"),
    graph.CastOp: _cast,
}


def helpers_for(source: str) -> str:
    """The guarded helper definitions CUDA C text calls (`common.low_precision.HELPERS`,
    for casts of the storage-only types), to put before it; empty when it calls none.
    A kernel whose code comes from these templates (pointwise, or an epilogue through
    `scalar_code`) prepends it; the guard keeps one copy per translation unit."""
    return HELPERS if uses_helpers(source) else ""
