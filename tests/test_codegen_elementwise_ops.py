"""Every elementwise and activation op the reference implements, for every element type
it takes (f32, f16, bf16, f64, signed and unsigned integers, i1), as one-op pointwise
kernels on a [3, 5, 7] output: 105 elements, which no vector width divides, so every
kernel runs its vector loop and its tail. Binary ops broadcast a [7] operand (not a
multiple of any vector: read per element).

CPU: the kernels of each element type compile with NVRTC for sm_80 and sm_90 (one
translation unit per type, the kernels renamed after their cases). GPU: each case runs
through the engine against the reference interpreter.

Tolerances: f32 1e-5 (libdevice's float functions are within 2 ulp, about 2.4e-7); f64
1e-10; f16 2e-3 and bf16 1e-2, one unit in the last place of the result (the kernel
computes in float and rounds once, the reference may round an intermediate); integers
and booleans exact. Inputs are the seeded normals and small integers of
`runtime.reference.inputs` unless a case needs others (NaN/inf for the predicates and
min/max, non-negative values for casts to unsigned types, exponents for integer pow).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pytest
from xdsl.dialects.builtin import StringAttr, SymbolRefAttr

from dialects.dtypes import round_to_bf16
from passes.codegen.common.types import PRELUDE
from passes.codegen.elementwise.elementwise import configure, emit
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import run
from tests.cuda_support import ARCHS, assert_gpu_matches_reference, compile_clean
from tests.support import apply_pipeline, parse
from tests.test_codegen_elementwise import host_library, needs_host_compiler, run_on_host

SHAPE = (3, 5, 7)
FLOATS = ["f32", "f16", "bf16", "f64"]
SIGNED = ["i8", "i32", "i64"]
INTS = [*SIGNED, "ui8"]
TOLERANCE = {"f32": 1e-5, "f64": 1e-10, "f16": 2e-3, "bf16": 1e-2}
NUMPY = {"f32": np.float32, "f16": np.float16, "bf16": np.float32, "f64": np.float64, "i8": np.int8,
         "i32": np.int32, "i64": np.int64, "ui8": np.uint8, "i1": np.bool_}  # fmt: skip


def tensor(dtype: str, shape=SHAPE) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{dtype}>"


@dataclass
class Case:
    id: str
    operands: list[str]  # tensor types
    result: str
    line: str  # the op, with {0}, {1}, ... standing for its operands (replaced, not formatted)
    inputs: dict[str, np.ndarray] | None = None
    tolerance: float = field(default=0.0)

    @property
    def ir(self) -> str:
        params = ", ".join(f"%a{j}: {t}" for j, t in enumerate(self.operands))
        args = ", ".join(f"%a{j}" for j in range(len(self.operands)))
        inner = ", ".join(f"%b{j}: {t}" for j, t in enumerate(self.operands))
        types = ", ".join(self.operands)
        op = self.line
        for j in range(len(self.operands)):
            op = op.replace(f"{{{j}}}", f"%b{j}")
        return f"""
func.func @main({params}) -> {self.result} {{
  %y = fused.elementwise ({args}) : ({types}) -> {self.result} {{
  ^bb0({inner}):
    %r = {op}
    fused.yield %r : {self.result}
  }}
  func.return %y : {self.result}
}}
"""


def _tolerance(dtype: str) -> float:
    return TOLERANCE.get(dtype, 0.0)


def _array(values, dtype: str) -> np.ndarray:
    array = np.asarray(values, dtype=NUMPY[dtype])
    return round_to_bf16(array) if dtype == "bf16" else array


def _special(dtype: str, rng: np.random.Generator) -> np.ndarray:
    """Normals with NaN, +inf and -inf sprinkled in."""
    x = rng.standard_normal(SHAPE)
    x.flat[::5] = np.nan
    x.flat[1::7] = np.inf
    x.flat[2::9] = -np.inf
    return _array(x, dtype)


UNARY_FLOAT = ["tanh", "erf", "exp", "log", "sqrt", "reciprocal", "sigmoid", "hard_swish", "silu", "softplus",
               "sin", "cos", "floor", "ceil", "round"]  # fmt: skip
ATTRIBUTED = {
    "gelu_none": ('graph.gelu {0} {approximate = "none"}', ""),
    "gelu_tanh": ('graph.gelu {0} {approximate = "tanh"}', ""),
    "leaky_relu": ("graph.leaky_relu {0} {alpha = 0.1 : f32}", ""),
    "elu": ("graph.elu {0} {alpha = 0.7 : f32}", ""),
    "selu": ("graph.selu {0} {alpha = 1.67326 : f32, gamma = 1.0507 : f32}", ""),
    "celu": ("graph.celu {0} {alpha = 1.5 : f32}", ""),
    "thresholded_relu": ("graph.thresholded_relu {0} {alpha = 0.3 : f32}", ""),
    "hard_sigmoid": ("graph.hard_sigmoid {0} {alpha = 0.2 : f32, beta = 0.5 : f32}", ""),
}
BINARY = ["add", "sub", "mul", "div", "min", "max", "prelu"]
COMPARISONS = ["equal", "less", "less_or_equal", "greater", "greater_or_equal"]


def _unary(op: str, dtype: str, attrs: str = "") -> Case:
    t = tensor(dtype)
    return Case(f"{op}-{dtype}", [t], t, f"graph.{op} {{0}}{attrs} : {t}", tolerance=_tolerance(dtype))


def _binary(op: str, dtype: str, attrs: str = "", result: str | None = None, suffix: str = "") -> Case:
    a, b = tensor(dtype), tensor(dtype, (7,))
    r = tensor(result or dtype)
    return Case(f"{op}{suffix}-{dtype}", [a, b], r, f"graph.{op} {{0}}, {{1}}{attrs} : ({a}, {b}) -> {r}",
                tolerance=_tolerance(result or dtype))  # fmt: skip


def _cases() -> list[Case]:
    rng = np.random.default_rng(1)
    cases: list[Case] = []
    for dtype in FLOATS:
        t = tensor(dtype)
        cases += [_unary(op, dtype) for op in UNARY_FLOAT]
        for name, (line, _) in ATTRIBUTED.items():
            cases.append(Case(f"{name}-{dtype}", [t], t, line + f" : {t}", tolerance=_tolerance(dtype)))
        b = tensor("i1")
        cases.append(Case(f"is_nan-{dtype}", [t], b, f"graph.is_nan {{0}} : {t} -> {b}", {"input0": _special(dtype, rng)}))
        for pos, neg in [(1, 1), (1, 0), (0, 1)]:
            attrs = f"{{detect_negative = {neg} : i64, detect_positive = {pos} : i64}}"
            line = f"graph.is_inf {{0}} {attrs} : {t} -> {b}"
            cases.append(Case(f"is_inf{pos}{neg}-{dtype}", [t], b, line, {"input0": _special(dtype, rng)}))
        for op in ("min", "max"):  # NaN from either side propagates
            c = Case(f"{op}_nan-{dtype}", [t, t], t, f"graph.{op} {{0}}, {{1}} : ({t}, {t}) -> {t}", tolerance=_tolerance(dtype))
            c.inputs = {"input0": _special(dtype, rng), "input1": _special(dtype, rng)[::-1].copy()}
            cases.append(c)
        relu = _unary("relu", dtype)
        relu.id, relu.inputs = f"relu_nan-{dtype}", {"input0": _special(dtype, rng)}
        cases.append(relu)
        cases.append(_binary("pow", dtype))  # base ** exponent, both floats
    for dtype in [*FLOATS, *SIGNED]:
        cases += [_unary(op, dtype) for op in ("neg", "relu")]
    for dtype in [*FLOATS, *INTS]:
        cases += [_unary(op, dtype) for op in ("abs", "sign")]
        cases += [_binary(op, dtype) for op in BINARY]
        cases += [_binary("mod", dtype, f" {{fmod = {f} : i64}}", suffix=str(f)) for f in (0, 1)]
        cases += [_binary(op, dtype, result="i1") for op in COMPARISONS]
        cases += _clips(dtype)
        cases.append(_where(dtype))
    t = tensor("i1")
    cases.append(Case("not-i1", [t], t, f"graph.not {{0}} : {t}"))
    cases += [_binary(op, "i1", result="i1") for op in ("and", "or", "xor", "equal")]
    cases.append(_where("i1"))
    cases += _integer_pows(rng)
    cases += _casts(rng)
    return cases


def _clips(dtype: str) -> list[Case]:
    t = tensor(dtype)
    lo, hi = ("-0.5", "1.25") if dtype in FLOATS else ("-2", "3")
    if dtype == "ui8":
        lo = "1"
    cases = [
        Case(f"clip-{dtype}", [t], t, f"graph.clip {{0}} {{min = {lo} : {dtype}, max = {hi} : {dtype}}} : {t}", tolerance=_tolerance(dtype)),
        Case(f"clip_crossed-{dtype}", [t], t, f"graph.clip {{0}} {{min = {hi} : {dtype}, max = {lo} : {dtype}}} : {t}", tolerance=_tolerance(dtype)),
    ]
    if dtype in ("f32", "i32", "f16"):
        s = tensor(dtype, ())
        cases.append(Case(f"clip_operands-{dtype}", [t, s, s], t, f"graph.clip {{0}} min({{1}} : {s}) max({{2}} : {s}) : {t}", tolerance=_tolerance(dtype)))
    return cases


def _where(dtype: str) -> Case:
    # (1,), not (): random_inputs gives a 0-d bf16 input the shape [1] (round_to_bf16)
    c, a, b, r = tensor("i1"), tensor(dtype, (5, 1)), tensor(dtype, (1,)), tensor(dtype)
    return Case(f"where-{dtype}", [c, a, b], r, f"graph.where {{0}}, {{1}}, {{2}} : ({c}, {a}, {b}) -> {r}")


def _integer_pows(rng) -> list[Case]:
    cases = []
    for dtype in ["i32", "i64", "i8"]:
        for exponent in ["i32", "i64", "f32"]:
            a, b = tensor(dtype), tensor(exponent, (7,))
            line = f"graph.pow {{0}}, {{1}} : ({a}, {b}) -> {a}"
            if exponent == "f32":  # non-negative bases: a fractional power of a negative is NaN
                inputs = {"input0": _array(rng.integers(0, 6, SHAPE), dtype), "input1": _array(rng.integers(0, 4, 7) / 2, exponent)}
            else:
                inputs = {"input0": _array(rng.integers(-5, 6, SHAPE), dtype), "input1": _array(rng.integers(0, 4, 7), exponent)}
            cases.append(Case(f"pow-{dtype}-{exponent}", [a, b], a, line, inputs))
    # perfect squares and fourth powers to exact powers: where libdevice's pow may land 1 ulp
    # under the integer the reference's glibc pow gives exactly
    a, b = tensor("i64"), tensor("f32", (7,))
    bases = (np.arange(105) % 12) ** 4
    exponents = np.array([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75])
    line = f"graph.pow {{0}}, {{1}} : ({a}, {b}) -> {a}"
    inputs = {"input0": _array(bases.reshape(SHAPE), "i64"), "input1": _array(exponents, "f32")}
    cases.append(Case("pow-i64-f32-exact", [a, b], a, line, inputs))
    a, b = tensor("f32"), tensor("i32", (7,))
    cases.append(Case("pow-f32-i32", [a, b], a, f"graph.pow {{0}}, {{1}} : ({a}, {b}) -> {a}", tolerance=1e-5))
    return cases


CAST_TYPES = ["f32", "f16", "bf16", "f64", "i8", "i32", "i64", "ui8", "i1"]


def _casts(rng) -> list[Case]:
    """Every pair; floats scaled to reach several integers, non-negative toward ui8 (a
    negative float to an unsigned type is undefined in C and in numpy alike)."""
    cases = []
    for source in CAST_TYPES:
        for target in CAST_TYPES:
            if source == target:
                continue
            a, r = tensor(source), tensor(target)
            values = rng.standard_normal(SHAPE) * 20 if source in FLOATS else rng.integers(-100, 100, SHAPE)
            if source == "i1":
                values = rng.random(SHAPE) < 0.5
            elif target == "ui8" and source in FLOATS:
                values = np.abs(values)
            elif source == "ui8":
                values = np.abs(values)
            tol = max(_tolerance(target), _tolerance(source) if target in FLOATS else 0.0)
            cases.append(Case(f"cast-{source}-{target}", [a], r, f"graph.cast {{0}} : {a} -> {r}", {"input0": _array(values, source)}, tol))
    return cases


CASES = _cases()


def _dtype_group(case: Case) -> str:
    return case.id.split("-", 1)[1].split("-")[0]


def test_case_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


GROUPS: dict[str, list[Case]] = defaultdict(list)
for _case in CASES:
    GROUPS[_dtype_group(_case)].append(_case)


def _lowered(case: Case):
    """The case outlined, its one kernel (and the launch of it) renamed after the case, so
    that the kernels of many cases can share a translation unit."""
    module = apply_pipeline(parse(case.ir), "outline-kernels")
    name = "k_" + re.sub(r"\W", "_", case.id)
    for op in module.walk():
        if op.name == "kernel.func":
            op.sym_name = StringAttr(name)
        elif op.name == "kernel.launch":
            op.callee = SymbolRefAttr(name)
    return module


def _kernel(case: Case):
    return next(op for op in _lowered(case).ops if op.name == "kernel.func")


def _source(case: Case) -> str:
    kernel = _kernel(case)
    return emit(kernel, configure(kernel))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_op_compiles(group, arch):
    """One translation unit per element type: every case's kernel, for both archs."""
    source = "\n".join([PRELUDE, *(_source(c) for c in GROUPS[group])])
    assert compile_clean(source, f"elementwise_{group}.cu", arch)[:4] == b"\x7fELF"


@functools.cache
def _host_library(group: str):
    return host_library([_kernel(c) for c in GROUPS[group]])


@needs_host_compiler
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_runs_on_host(case):
    """The kernel compiled for the host (see test_codegen_elementwise) against the reference."""
    module = parse(case.ir)
    feeds = dict(case.inputs) if case.inputs is not None else random_inputs(module)
    expected = run(module, feeds)
    got = run_on_host(_lowered(case), feeds, _host_library(_dtype_group(case)))
    for name, want in expected.items():
        want = np.asarray(want)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got[name].astype(np.float64), want.astype(np.float64), rtol=case.tolerance, atol=case.tolerance)
        else:
            np.testing.assert_array_equal(got[name], want)


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_op_matches_reference(case):
    assert_gpu_matches_reference(case.ir, rtol=case.tolerance, atol=case.tolerance, inputs=case.inputs)


@needs_host_compiler
def test_integer_pow_snaps_libdevice_errors_to_the_exact_integer(tmp_path):
    """The integer-base, float-exponent pow template with a pow 1 ulp low (or high), as
    libdevice's may be: truncation still gives the reference's integer; powers that are not
    integers truncate as the reference does."""
    import ctypes
    import subprocess

    from dialects import graph
    from passes.codegen.common.pointwise_templates import TEMPLATES
    from tests.test_codegen_elementwise import host_compiler

    expr = TEMPLATES[graph.PowOp](None, ["x[i]", "y[i]"], ["long long", "float"]).replace("pow(", "off_pow(")
    source = (
        "#include <math.h>\n"
        "static int direction;\n"
        "static double off_pow(double a, double b) { return nextafter(pow(a, b), direction * INFINITY); }\n"
        'extern "C" void run(const long long* x, const float* y, long long* out, int n, int d) '
        f"{{ direction = d; for (int i = 0; i < n; ++i) out[i] = {expr}; }}\n"
    )
    (tmp_path / "p.cpp").write_text(source)
    subprocess.run([host_compiler(), "-std=c++17", "-shared", "-fPIC", "-o", str(tmp_path / "p.so"), str(tmp_path / "p.cpp")], check=True)
    library = ctypes.CDLL(str(tmp_path / "p.so"))
    bases, exponents = np.meshgrid(np.arange(0, 50), np.array([0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 0.3]))
    x, y = bases.ravel().astype(np.int64), exponents.ravel().astype(np.float32)
    want = np.power(x.astype(np.float64), y.astype(np.float64)).astype(np.int64)
    for direction in (-1, 1):
        out = np.empty_like(x)
        library.run(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(y.ctypes.data), ctypes.c_void_p(out.ctypes.data), ctypes.c_int(x.size), ctypes.c_int(direction))
        np.testing.assert_array_equal(out, want, err_msg=f"pow {direction:+d} ulp")

