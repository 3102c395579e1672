"""Casts to and from the storage-only types (float8 E4M3FN/E4M3FNUZ/E5M2/E5M2FNUZ/E8M0FNU,
float4 E2M1FN, int4/uint4/int2/uint2) in pointwise CUDA (`common/low_precision.py`).

The conversions are software, so they are checked here exhaustively on the host (g++
over the same shim as the pointwise host emulation): every bit pattern decoded against
ml_dtypes, and a quarter of a million doubles (every f16 and bf16 value, every value
of every format with the midpoints between neighbours and the doubles either side of
them, random f32 bit patterns, zeros, infinities, NaNs, f32 and double subnormals)
encoded for every saturate and round mode against `runtime.reference.low_precision`,
bit for bit. Kernels that cast (alone, inside a region, chained) compile with NVRTC,
run on the host against the reference interpreter, and (marker `gpu`) on the GPU; the
ONNX Cast/CastLike node tests of these types run through the kernel pipeline on the host
against their expected outputs.
"""

from __future__ import annotations

import ctypes
import hashlib
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

from dialects.dtypes import STORAGE_DTYPES, is_storage_only, mlir_elem_from_numpy, numpy_dtype, round_to_bf16
from passes.codegen.common.low_precision import HELPERS, decode, encode
from runtime.reference import low_precision
from runtime.reference.interpreter import run
from tests.cuda_support import compile_clean, compile_kernels
from tests.support import apply_pipeline, parse
from tests.test_codegen_elementwise import HOST_SHIM, host_compiler, needs_host_compiler, run_on_host

FLOAT_FORMATS = ["float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu", "float4_e2m1fn"]
INT_FORMATS = ["int4", "uint4", "int2", "uint2"]
SATURATES = [True, False]
ROUND_MODES = ["up", "down", "nearest"]


def _element(name: str):
    return mlir_elem_from_numpy(STORAGE_DTYPES[name])


def _codes(name: str) -> np.ndarray:
    """Every valid byte of the format (its value bits only)."""
    bits = {"float4_e2m1fn": 4, "int4": 4, "uint4": 4, "int2": 2, "uint2": 2}.get(name, 8)
    return np.arange(1 << bits, dtype=np.uint8)


# --- the conversions, compiled for the host ---------------------------------------------------


def _modes(name: str) -> list[tuple[bool, str]]:
    if name == "float8_e8m0fnu":
        return [(s, m) for s in SATURATES for m in ROUND_MODES]
    return [(s, "up") for s in SATURATES]


def _harness() -> str:
    """`dec_<format>` and `enc_<format>_<saturate>_<mode>` over arrays, printed through the
    generator's own `decode`/`encode`."""
    lines = [HOST_SHIM, HELPERS]
    for name in [*FLOAT_FORMATS, *INT_FORMATS]:
        element = _element(name)
        expr, ctype = decode(element, "b[i]")
        lines.append(f'extern "C" void dec_{name}(const unsigned char* b, {ctype}* out, int n) '
                     f"{{ for (int i = 0; i < n; ++i) out[i] = {expr}; }}")
        for saturate, mode in _modes(name):
            for source in ("double", "float", "long long"):
                tag = source.replace(" ", "")
                body = encode(element, "x[i]", source, saturate, mode)
                lines.append(f'extern "C" void enc_{name}_{int(saturate)}_{mode}_{tag}(const {source}* x, unsigned char* out, int n) '
                             f"{{ for (int i = 0; i < n; ++i) out[i] = {body}; }}")
    return "\n".join(lines)


_LIBRARY: list[ctypes.CDLL] = []


def _library() -> ctypes.CDLL:
    if not _LIBRARY:
        source = _harness()
        folder = Path(tempfile.mkdtemp(prefix=f"optc_lp_{hashlib.sha256(source.encode()).hexdigest()[:8]}_"))
        (folder / "lp.cpp").write_text(source)
        command = [host_compiler(), "-std=c++17", "-O1", "-w", "-shared", "-fPIC", "-o", str(folder / "lp.so"), str(folder / "lp.cpp")]
        result = subprocess.run(command, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[:4000]
        _LIBRARY.append(ctypes.CDLL(str(folder / "lp.so")))
    return _LIBRARY[0]


def _call(fn: str, x: np.ndarray, out_dtype) -> np.ndarray:
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, out_dtype)
    getattr(_library(), fn)(ctypes.c_void_p(x.ctypes.data), ctypes.c_void_p(out.ctypes.data), ctypes.c_int(x.size))
    return out


def _encode_inputs() -> np.ndarray:
    """Doubles that exercise every rounding decision of every format (see the docstring)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _encode_inputs_quietly()


def _encode_inputs_quietly() -> np.ndarray:
    rng = np.random.default_rng(0)
    parts = [
        np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64),
        (np.arange(1 << 16, dtype=np.uint32) << 16).view(np.float32).astype(np.float64),
        rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32).view(np.float32).astype(np.float64),
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 2.0**-1022, 1e300, -1e300,
                  2.0**-127, 2.0**-128, 2.0**127, 2.0**128, 1.5 * 2.0**127, 0.75 * 2.0**-126,
                  float(np.finfo(np.float32).max), float(np.finfo(np.float32).tiny) / 8]),  # fmt: skip
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in FLOAT_FORMATS:
            values = np.unique(_codes(name).view(STORAGE_DTYPES[name]).astype(np.float64))
            values = values[np.isfinite(values)]
            values = np.concatenate([values, -values])
            values.sort()
            mids = (values[1:] + values[:-1]) / 2
            parts += [values, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                      np.nextafter(mids.astype(np.float32), np.float32(np.inf)).astype(np.float64),
                      np.nextafter(mids.astype(np.float32), np.float32(-np.inf)).astype(np.float64),
                      values * 2, values * 1.0625, values[values != 0] / 2]  # fmt: skip
    return np.concatenate(parts)


def _same_float_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal bits, except that NaNs need only agree in being NaN and in sign."""
    got_bits, want_bits = got.view(np.uint32), want.view(np.uint32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got_bits[nan] >> 31, want_bits[nan] >> 31)
    np.testing.assert_array_equal(got_bits[~nan], want_bits[~nan])


@needs_host_compiler
@pytest.mark.parametrize("name", FLOAT_FORMATS)
def test_every_float_pattern_decodes_as_ml_dtypes(name):
    codes = _codes(name)
    want = codes.view(STORAGE_DTYPES[name]).astype(np.float32)
    _same_float_bits(_call(f"dec_{name}", codes, np.float32), want)
    _same_float_bits(_call(f"dec_{name}", codes, np.float32), low_precision.widen(codes.view(STORAGE_DTYPES[name])))


@needs_host_compiler
@pytest.mark.parametrize("name", INT_FORMATS)
def test_every_int_pattern_decodes_as_ml_dtypes(name):
    codes = _codes(name)
    want = low_precision.widen(codes.view(STORAGE_DTYPES[name])).astype(np.int32)
    np.testing.assert_array_equal(_call(f"dec_{name}", codes, np.int32), want)


def _reference_bytes(x: np.ndarray, name: str, saturate: bool, mode: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return low_precision.cast_to(x, STORAGE_DTYPES[name], saturate, mode).view(np.uint8)


@needs_host_compiler
@pytest.mark.parametrize("name", [*FLOAT_FORMATS, *INT_FORMATS])
def test_doubles_and_floats_encode_bit_exactly(name):
    """Every saturate/round_mode; from double, and from float where the input is a float."""
    x = _encode_inputs()
    if name in INT_FORMATS:  # floats within and beyond int64's range, NaN, inf
        x = np.concatenate([x, np.array([-8.5, -7.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 7.5, 15.5, 9.3e18, -9.3e18])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x32 = x[x.astype(np.float32).astype(np.float64) == x].astype(np.float32)
    for saturate, mode in _modes(name):
        fn = f"enc_{name}_{int(saturate)}_{mode}"
        want = _reference_bytes(x, name, saturate, mode)
        got = _call(f"{fn}_double", x, np.uint8)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, f"{fn}: {x[bad[:8]]!r} -> {got[bad[:8]]} (reference {want[bad[:8]]})"
        np.testing.assert_array_equal(_call(f"{fn}_float", x32, np.uint8), _reference_bytes(x32, name, saturate, mode))


@needs_host_compiler
@pytest.mark.parametrize("name", [*FLOAT_FORMATS, *INT_FORMATS])
def test_integers_encode_bit_exactly(name):
    """int64 through double (rounding beyond 2^53 as the reference's float64), or wrapping."""
    x = np.array([0, 1, -1, 2, -2, 3, 7, 8, -8, -9, 15, 16, 17, 100, -100, 239, 240, 241, 247, 248, 449, 464, 465,
                  57343, 57344, 61439, 61440, -61440, 2**53 + 1, 2**62 + 2**9 + 1, 2**63 - 1, -(2**63)], np.int64)  # fmt: skip
    for saturate, mode in _modes(name):
        got = _call(f"enc_{name}_{int(saturate)}_{mode}_longlong", x, np.uint8)
        np.testing.assert_array_equal(got, _reference_bytes(x, name, saturate, mode), err_msg=f"{name} {saturate} {mode}")


@needs_host_compiler
@pytest.mark.parametrize("name", INT_FORMATS)
def test_floats_encode_small_ints_as_the_spec_says(name):
    """Ties to even, clamping, NaN to 0: the table written out from onnx's int4.md/int2.md."""
    from tests.test_low_precision import SMALL_INT_SPEC

    x = np.array(SMALL_INT_SPEC["x"], np.float64)
    want = np.array(SMALL_INT_SPEC[name.upper()]).astype(np.uint8) & ((1 << int(name[-1])) - 1)
    for suffix, values in (("double", x), ("float", x.astype(np.float32))):
        np.testing.assert_array_equal(_call(f"enc_{name}_1_up_{suffix}", values, np.uint8), want, err_msg=suffix)


# --- kernels ------------------------------------------------------------------------------------


def _cast_attrs(target: str, saturate: int | None = None, mode: str | None = None) -> str:
    props = []
    if target.startswith("f8"):
        props.append(f"saturate = {1 if saturate is None else saturate} : i64")
    if target == "f8E8M0FNU":
        props.append(f'round_mode = "{mode or "up"}"')
    return f" {{{', '.join(props)}}}" if props else ""


def chain(source: str, target: str, back: str, n: int = 45, saturate: int | None = None, mode: str | None = None) -> str:
    """source → target (storage-only) → back, in one fused.elementwise with both casts'
    results as outputs: the storage type is stored and decoded in the same kernel."""
    s, t, b = (f"tensor<{n}x{e}>" for e in (source, target, back))
    return f"""
func.func @main(%x: {s}) -> ({t}, {b}) {{
  %y:2 = fused.elementwise (%x) : ({s}) -> ({t}, {b}) {{
  ^bb0(%a: {s}):
    %q = graph.cast %a{_cast_attrs(target, saturate, mode)} : {s} -> {t}
    %d = graph.cast %q : {t} -> {b}
    fused.yield %q, %d : {t}, {b}
  }}
  func.return %y#0, %y#1 : {t}, {b}
}}
"""


def lone(source: str, target: str, shape: str = "3x37", saturate: int | None = None, mode: str | None = None) -> str:
    s, t = f"tensor<{shape}x{source}>", f"tensor<{shape}x{target}>"
    return f"""
func.func @main(%x: {s}) -> {t} {{
  %y = graph.cast %x{_cast_attrs(target, saturate, mode)} : {s} -> {t}
  func.return %y : {t}
}}
"""


def storage_in_region() -> str:
    """Two storage-only inputs (one broadcast), decoded, added, and stored as float8 again."""
    return """
func.func @main(%x: tensor<4x33xf8E4M3FN>, %w: tensor<33xi4>) -> tensor<4x33xf8E5M2> {
  %y = fused.elementwise (%x, %w) : (tensor<4x33xf8E4M3FN>, tensor<33xi4>) -> tensor<4x33xf8E5M2> {
  ^bb0(%a: tensor<4x33xf8E4M3FN>, %b: tensor<33xi4>):
    %fa = graph.cast %a : tensor<4x33xf8E4M3FN> -> tensor<4x33xf32>
    %fb = graph.cast %b : tensor<33xi4> -> tensor<33xf32>
    %s = graph.add %fa, %fb : (tensor<4x33xf32>, tensor<33xf32>) -> tensor<4x33xf32>
    %q = graph.cast %s {saturate = 0 : i64} : tensor<4x33xf32> -> tensor<4x33xf8E5M2>
    fused.yield %q : tensor<4x33xf8E5M2>
  }
  func.return %y : tensor<4x33xf8E5M2>
}
"""


_MLIR = {"float8_e4m3fn": "f8E4M3FN", "float8_e4m3fnuz": "f8E4M3FNUZ", "float8_e5m2": "f8E5M2",
         "float8_e5m2fnuz": "f8E5M2FNUZ", "float8_e8m0fnu": "f8E8M0FNU", "float4_e2m1fn": "f4E2M1FN",
         "int4": "i4", "uint4": "ui4", "int2": "i2", "uint2": "ui2"}  # fmt: skip

CASES: dict[str, str] = {}
for _name, _t in _MLIR.items():
    CASES[f"f32-{_t}-f32"] = chain("f32", _t, "f32")
    CASES[f"f16-{_t}-f16"] = chain("f16", _t, "f16", n=37)
    CASES[f"{_t}-lone-bf16"] = lone(_t, "bf16")
    CASES[f"f64-lone-{_t}"] = lone("f64", _t)
for _t in ["f8E4M3FN", "f8E4M3FNUZ", "f8E5M2", "f8E5M2FNUZ"]:
    CASES[f"f32-{_t}-no-saturate"] = chain("f32", _t, "f32", saturate=0)
for _mode in ROUND_MODES:
    CASES[f"f32-e8m0-{_mode}-no-saturate"] = chain("f32", "f8E8M0FNU", "f32", saturate=0, mode=_mode)
    CASES[f"f32-e8m0-{_mode}"] = chain("f32", "f8E8M0FNU", "f32", mode=_mode)
CASES.update({
    "i64-i4-i32": chain("i64", "i4", "i32"),
    "i32-ui2-i1": chain("i32", "ui2", "i1"),
    "i1-f4E2M1FN-ui8": chain("i1", "f4E2M1FN", "ui8"),
    "f8E4M3FN-lone-f8E5M2": lone("f8E4M3FN", "f8E5M2", saturate=0),
    "f8E5M2-lone-f8E4M3FNUZ": lone("f8E5M2", "f8E4M3FNUZ"),
    "ui4-lone-i2": lone("ui4", "i2"),
    "f8E4M3FN-lone-i1": lone("f8E4M3FN", "i1"),
    "f8E5M2FNUZ-lone-i32": lone("f8E5M2FNUZ", "i32"),
    "f32-lone-f8E4M3FN-big": lone("f32", "f8E4M3FN", shape="1000x37"),
    "storage_in_region": storage_in_region(),
})  # fmt: skip


def _inputs(ir: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Values that exercise the conversions: float inputs mix normals at several scales
    (to overflow and underflow the formats) with ties, NaN, +-inf and +-0; storage-only
    inputs are every bit pattern in turn; integers and booleans small and large."""
    from runtime.reference.interpreter import entry, io_names

    module = parse(ir)
    fn = entry(module)
    rng = np.random.default_rng(seed)
    feeds = {}
    for arg, name in zip(fn.args, io_names(fn)):
        shape, element = arg.type.get_shape(), arg.type.element_type
        dtype = numpy_dtype(element)
        n = int(np.prod(shape))
        if is_storage_only(element):
            codes = _codes(dtype.name)
            feeds[name] = np.resize(codes, n).view(dtype).reshape(shape)
        elif dtype.kind == "f":
            specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 464.0, 465.0, 2.5, -3.5, 1e-3, 6e-8, 3.0e38])
            x = rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))
            x[: specials.size] = specials[:n]
            feeds[name] = x.astype(dtype).reshape(shape)
            if "bf16" in str(element):
                feeds[name] = round_to_bf16(feeds[name])
        elif dtype == np.bool_:
            feeds[name] = (rng.integers(0, 2, n) == 1).reshape(shape)
        else:
            info = np.iinfo(dtype)
            x = rng.integers(-300, 300, n) if info.min < 0 else rng.integers(0, 600, n)
            x[:2] = [info.min, info.max][:n]
            feeds[name] = x.astype(dtype).reshape(shape)
    return feeds


def assert_bit_exact(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Storage-only arrays by their bytes; floats equal with NaN where NaN; others equal."""
    got, want = np.asarray(got), np.asarray(want)
    if want.dtype.name in STORAGE_DTYPES:
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8), err_msg=what)
    elif want.dtype.kind == "f":
        np.testing.assert_array_equal(got.astype(np.float64), want.astype(np.float64), err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_compile(name):
    sources = compile_kernels(CASES[name])
    assert any("optc_lp_" in s for s in sources.values())


@needs_host_compiler
@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_run_on_host(name):
    module = parse(CASES[name])
    feeds = _inputs(CASES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run(module, feeds)
    got = run_on_host(apply_pipeline(module.clone(), "lower-to-kernels"), feeds)
    for out, want in expected.items():
        assert_bit_exact(got[out], want, out)


def test_helpers_are_guarded():
    """Several casting kernels in one .cu file (optc -t cuda) each carry the helpers; the
    guard keeps one definition."""
    from passes.codegen.cuda import emit_kernel, kernels_of
    from passes.codegen.common.types import PRELUDE

    module = apply_pipeline(parse(CASES["storage_in_region"]), "lower-to-kernels")
    kernel = emit_kernel(kernels_of(module)[0])
    both = "\n".join([PRELUDE, kernel, kernel.replace("k0_", "k1_")])
    assert both.count("#ifndef OPTC_LOW_PRECISION") == 2
    compile_clean(both, "both.cu", "sm_80")


# --- ONNX node tests on the host ----------------------------------------------------------------

_STORAGE_NAMES = ("FLOAT8", "FLOAT4E2M1", "INT4", "UINT4", "INT2", "UINT2", "e8m0")


def _node_cases() -> dict:
    try:
        from onnx.backend.test.loader import load_model_tests
    except ImportError:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = load_model_tests(kind="node")
    return {
        c.name: c for c in cases
        if c.name.startswith(("test_cast_", "test_castlike_")) and any(s in c.name for s in _STORAGE_NAMES)
    }  # fmt: skip


NODE_CASES = _node_cases()


@needs_host_compiler
@pytest.mark.parametrize("name", sorted(NODE_CASES))
def test_onnx_cast_node_runs_on_host(name):
    """The node test's model through the kernel pipeline, on the host, against its
    expected outputs (by bytes for storage-only types; NaN where NaN for floats)."""
    from onnx import numpy_helper

    from compiler.onnx_import import import_onnx
    from runtime.reference.interpreter import entry, io_names

    from tests.onnx_backend_exclusions import EXCLUDED, SMALL_INT_OUT_OF_RANGE, spec_small_ints

    if name in EXCLUDED:  # float4 NaN: the expected output (-0) contradicts the spec (+6)
        pytest.xfail(EXCLUDED[name])
    case = NODE_CASES[name]
    module = apply_pipeline(import_onnx(case.model), "kernel")
    fn = entry(module)
    inputs, outputs = ([numpy_helper.to_array(t) for t in tensors] for tensors in case.data_sets[0])
    feeds = dict(zip(io_names(fn), inputs))
    got = run_on_host(module, feeds)
    for (out, value), want in zip(got.items(), outputs):
        want = np.asarray(want)
        if name in SMALL_INT_OUT_OF_RANGE:  # expected data agree with the spec only in range
            want = spec_small_ints(inputs[0], want)
        if want.dtype.name in STORAGE_DTYPES or want.dtype == value.dtype and want.dtype.kind != "f":
            np.testing.assert_array_equal(np.asarray(value).view(np.uint8), want.view(np.uint8), err_msg=out)
        else:
            np.testing.assert_array_equal(np.asarray(value, np.float64), np.asarray(want, np.float64), err_msg=out)


# --- on a GPU -----------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_match_reference_bit_exactly(name):
    from compiler.engine_build import build_module
    from dialects.weights import clone_with_weights

    module = parse(CASES[name])
    feeds = _inputs(CASES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run(module, feeds)
    got = build_module(clone_with_weights(module), pipeline="lower-to-kernels").run(feeds)
    for out, want in expected.items():
        assert_bit_exact(got[out], want, out)


@pytest.mark.gpu
@pytest.mark.parametrize("name", [*FLOAT_FORMATS, *INT_FORMATS])
def test_every_pattern_and_input_converts_on_gpu(name):
    """The exhaustive host tables on the GPU: every bit pattern decoded to f32, and the
    encoding inputs (f32-representable ones, as an f32 tensor) encoded for every mode."""
    from compiler.engine_build import build_module
    from dialects.weights import clone_with_weights

    t = _MLIR[name]
    codes = _codes(name).view(STORAGE_DTYPES[name])
    x = _encode_inputs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = x[x.astype(np.float32).astype(np.float64) == x].astype(np.float32)
    for saturate, mode in _modes(name):
        ir = chain("f32", t, "f32", n=x.size, saturate=int(saturate), mode=mode)
        module = parse(ir)
        got = build_module(clone_with_weights(module), pipeline="lower-to-kernels").run({"input0": x})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = run(module, {"input0": x})
        for out, want in expected.items():
            assert_bit_exact(got[out], want, f"{name} {saturate} {mode} {out}")
    ir = lone(t, "f32", shape=str(codes.size))
    module = parse(ir)
    got = build_module(clone_with_weights(module), pipeline="lower-to-kernels").run({"input0": codes})
    _same_float_bits(np.asarray(got[next(iter(got))], np.float32), codes.astype(np.float32) if name in FLOAT_FORMATS else low_precision.widen(codes).astype(np.float32))
