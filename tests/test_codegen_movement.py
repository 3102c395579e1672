"""CUDA codegen of the movement family (transpose, concat, split, slice, pad, tile, expand,
gathers, scatter_nd, one_hot, trilu, range, constant_of_shape, resize).

One table of one-op modules covers the ops x dtypes x attribute cases x odd shapes
(sizes that are no multiple of any vector width, size-1 dimensions, zero-size inputs,
negative steps and pads, duplicate scatter indices). On the CPU every kernel compiles
with NVRTC for sm_80 and sm_90; on a GPU every case must match the reference interpreter
exactly (data movement copies bytes), except linear/cubic resize, which blends in float32
in a different rounding order (FMA contraction): rtol = atol = 1e-5 in f32/f64, one ulp
of the storage type in f16/bf16. Refusals are OptcErrors that name the kernel and the op.
"""

from __future__ import annotations

import pytest

from dialects.errors import OptcError
from dialects.kernel import LAUNCH_ATTR, FuncOp, LaunchAttr
from passes.codegen.cuda import kernel_source, kernels_of
from tests.cuda_support import assert_gpu_matches_reference, compile_kernels, lower


def one_op(args: dict[str, str], op: str, result: str, consts: str = "") -> str:
    """A module whose @main computes one op: `args` maps %name -> type."""
    params = ", ".join(f"%{n}: {t}" for n, t in args.items())
    results = result.split(", ") if result.startswith("tensor") and "), " not in result else [result]
    count = len(results)
    names = ", ".join(f"%r#{k}" for k in range(count)) if count > 1 else "%r"
    lhs = f"%r:{count}" if count > 1 else "%r"
    return (
        f"func.func @main({params}) -> ({result}) {{\n{consts}"
        f"  {lhs} = {op}\n  func.return {names} : {result}\n}}\n"
    )


def unary(op: str, props: str, src: str, dst: str) -> str:
    return one_op({"x": src}, f"graph.{op} %x {{{props}}} : {src} -> {dst}", dst)


def _t(shape: str, elem: str) -> str:
    return f"tensor<{shape}x{elem}>" if shape else f"tensor<{elem}>"


def transpose(shape: str, elem: str, perm: list[int]) -> str:
    dims = [int(d) for d in shape.split("x")]
    out = "x".join(str(dims[p]) for p in perm)
    return unary("transpose", f"perm = array<i64: {', '.join(map(str, perm))}>", _t(shape, elem), _t(out, elem))


def concat(shapes: list[str], elem: str, axis: int) -> str:
    dims = [[int(d) for d in s.split("x")] for s in shapes]
    out = list(dims[0])
    out[axis] = sum(d[axis] for d in dims)
    args = {f"x{k}": _t(s, elem) for k, s in enumerate(shapes)}
    types = ", ".join(args.values())
    operands = ", ".join(f"%{n}" for n in args)
    dst = _t("x".join(map(str, out)), elem)
    return one_op(args, f"graph.concat {operands} {{axis = {axis} : i64}} : ({types}) -> {dst}", dst)


def split(shape: str, elem: str, axis: int, sizes: list[int]) -> str:
    dims = [int(d) for d in shape.split("x")]
    outs = []
    for s in sizes:
        d = list(dims)
        d[axis] = s
        outs.append(_t("x".join(map(str, d)), elem))
    props = f"axis = {axis} : i64, split = array<i64: {', '.join(map(str, sizes))}>"
    return one_op({"x": _t(shape, elem)}, f"graph.split %x {{{props}}} : {_t(shape, elem)} -> {', '.join(outs)}", ", ".join(outs))


def slice_(shape: str, elem: str, starts: list[int], steps: list[int], out: str) -> str:
    props = f"starts = array<i64: {', '.join(map(str, starts))}>, steps = array<i64: {', '.join(map(str, steps))}>"
    return unary("slice", props, _t(shape, elem), _t(out, elem))


def pad(shape: str, elem: str, pads: list[int], mode: str, value: float = 0.0) -> str:
    dims = [int(d) for d in shape.split("x")]
    rank = len(dims)
    out = "x".join(str(d + pads[k] + pads[rank + k]) for k, d in enumerate(dims))
    props = f'pads = array<i64: {", ".join(map(str, pads))}>, mode = "{mode}", value = {float(value)} : f32'
    return unary("pad", props, _t(shape, elem), _t(out, elem))


def tile(shape: str, elem: str, repeats: list[int]) -> str:
    dims = [int(d) for d in shape.split("x")]
    out = "x".join(str(d * r) for d, r in zip(dims, repeats))
    return unary("tile", f"repeats = array<i64: {', '.join(map(str, repeats))}>", _t(shape, elem), _t(out, elem))


def expand(shape: str, elem: str, out: str) -> str:
    src, dst = _t(shape, elem), _t(out, elem)
    return one_op({"x": src}, f"graph.expand %x : {src} -> {dst}", dst)


def indexed(op: str, data: str, index: str, out: str, props: str, const: str | None = None) -> str:
    """data/indices op; the indices are an argument, or a graph.constant `const`."""
    if const is None:
        args, consts = {"x": data, "i": index}, ""
    else:
        args, consts = {"x": data}, f"  %i = graph.constant {const} : {index}\n"
    return one_op(args, f"graph.{op} %x, %i {{{props}}} : ({data}, {index}) -> {out}", out, consts)


def scatter(data: str, index: str, const: str, updates: str, reduction: str) -> str:
    consts = f"  %i = graph.constant {const} : {index}\n"
    op = f'graph.scatter_nd %x, %i, %u {{reduction = "{reduction}"}} : ({data}, {index}, {updates}) -> {data}'
    return one_op({"x": data, "u": updates}, op, data, consts)


def one_hot(index: str, values: str, out: str, axis: int, depth: int) -> str:
    op = f"graph.one_hot %i, %v {{axis = {axis} : i64, depth = {depth} : i64}} : ({index}, {values}) -> {out}"
    return one_op({"i": index, "v": values}, op, out)


def trilu(shape: str, elem: str, upper: int, k: int) -> str:
    return unary("trilu", f"upper = {upper} : i64, k = {k} : i64", _t(shape, elem), _t(shape, elem))


def range_(elem: str, start, delta, count: int) -> str:
    scalar = f"tensor<{elem}>"
    consts = "".join(
        f"  %{n} = graph.constant dense<{v}> : {scalar}\n" for n, v in (("s", start), ("l", 0), ("d", delta))
    )
    out = f"tensor<{count}x{elem}>"
    op = f"graph.range %s, %l, %d : ({scalar}, {scalar}, {scalar}) -> {out}"
    return one_op({}, op, out, consts)


def constant_of_shape(shape: str, elem: str, value: str) -> str:
    out = _t(shape, elem)
    return one_op({}, f"graph.constant_of_shape {{value = {value} : {elem}}} : {out}", out)


def resize(src: str, dst: str, scales: list[float], mode: str, coordinates: str = "half_pixel",
           nearest: str = "round_prefer_floor", a: float = -0.75, exclude: int = 0, antialias: int = 0,
           extrapolation: float = 0.0, roi: list[float] | None = None) -> str:
    props = (
        f'scales = array<f32: {", ".join(map(str, scales))}>, mode = "{mode}", '
        f'coordinate_transformation_mode = "{coordinates}", nearest_mode = "{nearest}", '
        f"cubic_coeff_a = {a} : f32, exclude_outside = {exclude} : i64, antialias = {antialias} : i64, "
        f"extrapolation_value = {extrapolation} : f32"
    )
    if roi is not None:
        props += f', roi = array<f32: {", ".join(map(str, roi))}>'
    return unary("resize", props, src, dst)


# (id, IR, tolerance: None for exact)
FILTERED = 1e-5
CASES: list[tuple[str, str, float | None]] = [
    # transpose: tiled when the innermost dimension moves, vectorised when it stays
    ("transpose-f32-tiled", transpose("2x3x8", "f32", [2, 0, 1]), None),
    ("transpose-f16-inner-kept", transpose("4x5x6x7", "f16", [0, 2, 1, 3]), None),
    ("transpose-bf16-vector", transpose("2x3x16x8", "bf16", [0, 2, 1, 3]), None),
    ("transpose-i8-odd-tiled", transpose("33x65", "i8", [1, 0]), None),
    ("transpose-f64-unit-dim", transpose("3x1x5", "f64", [2, 1, 0]), None),
    ("transpose-i1", transpose("7x9", "i1", [1, 0]), None),
    ("transpose-i64-nchw-nhwc", transpose("2x3x4x5", "i64", [0, 2, 3, 1]), None),
    ("transpose-ui16-identity", transpose("5x6", "ui16", [0, 1]), None),
    ("transpose-f32-batched-tiles", transpose("3x40x70", "f32", [0, 2, 1]), None),
    # concat: any axis, N inputs, empty inputs
    ("concat-f32-axis1-vector", concat(["2x3x8", "2x5x8"], "f32", 1), None),
    ("concat-f16-last-odd", concat(["2x3", "2x5", "2x1"], "f16", 1), None),
    ("concat-i64-axis0", concat(["3x4", "1x4"], "i64", 0), None),
    ("concat-i1-empty-input", concat(["2x3", "2x0", "2x2"], "i1", 1), None),
    ("concat-bf16-last-vector", concat(["4x8", "4x16"], "bf16", 1), None),
    # split: multi-result
    ("split-f32-axis0", split("5x6", "f32", 0, [2, 3]), None),
    ("split-f16-last", split("2x10", "f16", 1, [3, 7]), None),
    ("split-i32-vector", split("4x8", "i32", 1, [4, 4]), None),
    # slice: steps, negative steps, vector rows
    ("slice-f32-step2", slice_("10x12", "f32", [1, 2], [2, 1], "5x10"), None),
    ("slice-f16-negative", slice_("7x9", "f16", [6, 8], [-1, -3], "7x3"), None),
    ("slice-i64-vector", slice_("4x16", "i64", [0, 4], [1, 1], "4x8"), None),
    ("slice-i1-backwards", slice_("5", "i1", [4], [-2], "3"), None),
    # pad: every mode, negative pads, vector constant pads, integer fill
    ("pad-f32-constant", pad("3x5", "f32", [1, 2, 0, 3], "constant", 1.5), None),
    ("pad-f16-reflect", pad("4x6", "f16", [2, 1, 1, 2], "reflect"), None),
    ("pad-i32-edge", pad("3x4", "i32", [0, 2, 1, 0], "edge"), None),
    ("pad-f32-wrap-wide", pad("3x4", "f32", [4, 1, 0, 5], "wrap"), None),
    ("pad-f32-negative", pad("5x6", "f32", [-1, 1, 2, -2], "constant", -3.0), None),
    ("pad-bf16-vector", pad("2x16", "bf16", [0, 8, 0, 8], "constant", -2.0), None),
    ("pad-i8-truncated-value", pad("3x3", "i8", [1, 1, 1, 1], "constant", 3.7), None),
    ("pad-f64-edge-crop", pad("5x6", "f64", [-2, 0, 1, -1], "edge"), None),
    ("pad-f32-reflect-crop", pad("6x7", "f32", [-1, 2, 0, -2], "reflect"), None),
    # tile, expand
    ("tile-f32", tile("2x3", "f32", [2, 3]), None),
    ("tile-i64-vector", tile("3x4", "i64", [1, 2]), None),
    ("tile-f16-unit-dims", tile("1x5x1", "f16", [3, 1, 4]), None),
    ("expand-f32", expand("3x1", "f32", "2x3x4"), None),
    ("expand-i32-vector", expand("4", "i32", "3x4"), None),
    ("expand-i1-scalar", expand("1", "i1", "5"), None),
    ("expand-bf16-vector", expand("2x1x8", "bf16", "2x3x8"), None),
    # gathers (random integer inputs are in [-5, 5]: every indexed dimension is >= 6)
    ("gather-f32-rows-vector", indexed("gather", "tensor<10x8xf32>", "tensor<3xi64>", "tensor<3x8xf32>", "axis = 0 : i64"), None),
    ("gather-f16-last-axis", indexed("gather", "tensor<4x7x6xf16>", "tensor<2x3xi32>", "tensor<4x7x2x3xf16>", "axis = 2 : i64"), None),
    ("gather-i64-scalar-index", indexed("gather", "tensor<9xi64>", "tensor<i64>", "tensor<i64>", "axis = 0 : i64"), None),
    ("gather-f32-constant-indices", indexed("gather", "tensor<6x5xf32>", "tensor<3xi64>", "tensor<6x3xf32>", "axis = 1 : i64", "dense<[-1, 0, 3]>"), None),
    ("gather-elements-f32-axis0", indexed("gather_elements", "tensor<6x7xf32>", "tensor<3x7xi64>", "tensor<3x7xf32>", "axis = 0 : i64"), None),
    ("gather-elements-f16-axis1", indexed("gather_elements", "tensor<4x6xf16>", "tensor<4x2xi32>", "tensor<4x2xf16>", "axis = 1 : i64"), None),
    ("gather-nd-f32-vector", indexed("gather_nd", "tensor<6x7x8xf32>", "tensor<2x3x2xi64>", "tensor<2x3x8xf32>", "batch_dims = 0 : i64"), None),
    ("gather-nd-i32-batch", indexed("gather_nd", "tensor<2x6x6xi32>", "tensor<2x4x1xi64>", "tensor<2x4x6xi32>", "batch_dims = 1 : i64"), None),
    ("gather-nd-f16-full-depth", indexed("gather_nd", "tensor<6x6xf16>", "tensor<3x2xi32>", "tensor<3xf16>", "batch_dims = 0 : i64"), None),
    # scatter_nd: duplicates in index order, every reduction
    ("scatter-f32-none-duplicates", scatter("tensor<8x4xf32>", "tensor<3x1xi64>", "dense<[[1], [3], [1]]>", "tensor<3x4xf32>", "none"), None),
    ("scatter-f32-add-duplicates", scatter("tensor<8x4xf32>", "tensor<3x1xi64>", "dense<[[1], [-5], [1]]>", "tensor<3x4xf32>", "add"), None),
    ("scatter-f16-mul", scatter("tensor<6x6xf16>", "tensor<2x2xi64>", "dense<[[1, 2], [1, 2]]>", "tensor<2xf16>", "mul"), None),
    ("scatter-bf16-add-register", scatter("tensor<6xbf16>", "tensor<3x1xi64>", "dense<[[2], [2], [-1]]>", "tensor<3xbf16>", "add"), None),
    ("scatter-i64-max", scatter("tensor<6x3xi64>", "tensor<2x1xi32>", "dense<[[0], [0]]>", "tensor<2x3xi64>", "max"), None),
    ("scatter-f32-min", scatter("tensor<5x3xf32>", "tensor<2x1xi64>", "dense<[[4], [4]]>", "tensor<2x3xf32>", "min"), None),
    ("scatter-i32-none-vector", scatter("tensor<3x8xi32>", "tensor<1x1xi64>", "dense<[[2]]>", "tensor<1x8xi32>", "none"), None),
    # one_hot, trilu
    ("one-hot-i64-f32", one_hot("tensor<2x3xi64>", "tensor<2xf32>", "tensor<2x6x3xf32>", 1, 6), None),
    ("one-hot-f32-i64", one_hot("tensor<4xf32>", "tensor<2xi64>", "tensor<3x4xi64>", 0, 3), None),
    ("one-hot-i32-f16-last", one_hot("tensor<5xi32>", "tensor<2xf16>", "tensor<5x4xf16>", 1, 4), None),
    ("trilu-f32-upper", trilu("2x4x5", "f32", 1, 1), None),
    ("trilu-i64-lower", trilu("5x3", "i64", 0, -1), None),
    ("trilu-i1-upper", trilu("4x4", "i1", 1, 0), None),
    ("trilu-f16-lower", trilu("3x6", "f16", 0, 2), None),
    # generated tensors
    ("range-i64", range_("i64", 2, 3, 6), None),
    ("range-i32-negative", range_("i32", 5, -2, 7), None),
    ("range-f32-sequential", range_("f32", 0.1, 0.3, 50), None),
    ("range-f16", range_("f16", 0.5, 0.1, 33), None),
    ("range-bf16", range_("bf16", 1.0, 0.7, 20), None),
    ("range-f64", range_("f64", -1.0, 0.01, 77), None),
    ("constant-of-shape-f32", constant_of_shape("2x3", "f32", "1.5"), None),
    ("constant-of-shape-i64", constant_of_shape("5", "i64", "7"), None),
    ("constant-of-shape-i1", constant_of_shape("3x3", "i1", "1"), None),
    ("constant-of-shape-f16-odd", constant_of_shape("17", "f16", "-0.5"), None),
    ("constant-of-shape-bf16-vector", constant_of_shape("4x8", "bf16", "0.1"), None),
    # resize: nearest (exact, any dtype), linear and cubic (float, blended in float32)
    ("resize-nearest-f32-asymmetric", resize("tensor<1x1x3x4xf32>", "tensor<1x1x6x8xf32>", [1.0, 1.0, 2.0, 2.0], "nearest", "asymmetric", "floor"), None),
    ("resize-nearest-i64-down", resize("tensor<1x2x5x5xi64>", "tensor<1x2x3x3xi64>", [1.0, 1.0, 0.6, 0.6], "nearest", "half_pixel", "round_prefer_floor"), None),
    ("resize-nearest-f16-nhwc-vector", resize("tensor<1x4x4x8xf16>", "tensor<1x8x8x8xf16>", [1.0, 2.0, 2.0, 1.0], "nearest", "half_pixel", "round_prefer_ceil"), None),
    ("resize-nearest-align-corners-ceil", resize("tensor<2x5x7xf32>", "tensor<2x9x4xf32>", [1.0, 1.8, 0.5714286], "nearest", "align_corners", "ceil"), None),
    ("resize-nearest-tf-half-pixel", resize("tensor<3x7xi8>", "tensor<5x10xi8>", [1.6666666, 1.4285714], "nearest", "tf_half_pixel_for_nn", "floor"), None),
    ("resize-nearest-symmetric", resize("tensor<1x6x5xbf16>", "tensor<1x9x12xbf16>", [1.0, 1.5, 2.4], "nearest", "half_pixel_symmetric", "round_prefer_floor"), None),
    ("resize-nearest-pytorch-unit", resize("tensor<4x6xf32>", "tensor<1x12xf32>", [0.25, 2.0], "nearest", "pytorch_half_pixel", "round_prefer_ceil"), None),
    ("resize-nearest-crop", resize("tensor<1x5x6xf32>", "tensor<1x4x7xf32>", [1.0, 0.8, 1.1666666], "nearest", "tf_crop_and_resize", "round_prefer_floor", extrapolation=10.0, roi=[0.0, -0.2, 0.1, 1.0, 1.1, 0.9]), None),
    ("resize-linear-f32-half-pixel", resize("tensor<1x1x4x4xf32>", "tensor<1x1x8x8xf32>", [1.0, 1.0, 2.0, 2.0], "linear"), FILTERED),
    ("resize-linear-f16-align-corners", resize("tensor<2x3x5xf16>", "tensor<2x6x9xf16>", [1.0, 2.0, 1.8], "linear", "align_corners"), 1e-3),
    ("resize-cubic-f32-asymmetric", resize("tensor<1x2x5x6xf32>", "tensor<1x2x9x13xf32>", [1.0, 1.0, 1.8, 2.1666667], "cubic", "asymmetric", a=-0.5), FILTERED),
    ("resize-cubic-exclude-outside", resize("tensor<1x1x6x6xf32>", "tensor<1x1x10x10xf32>", [1.0, 1.0, 1.6666666, 1.6666666], "cubic", exclude=1), FILTERED),
    ("resize-linear-antialias-down", resize("tensor<1x1x8x8xf32>", "tensor<1x1x3x3xf32>", [1.0, 1.0, 0.375, 0.375], "linear", antialias=1), FILTERED),
    ("resize-cubic-antialias-down", resize("tensor<1x2x9x7xf32>", "tensor<1x2x4x3xf32>", [1.0, 1.0, 0.44444445, 0.42857143], "cubic", "pytorch_half_pixel", antialias=1), FILTERED),
    ("resize-linear-crop", resize("tensor<1x5x6xf32>", "tensor<1x4x7xf32>", [1.0, 0.8, 1.1666666], "linear", "tf_crop_and_resize", extrapolation=-1.0, roi=[0.0, -0.2, 0.1, 1.0, 1.1, 0.9]), FILTERED),
    ("resize-linear-bf16", resize("tensor<1x3x4x4xbf16>", "tensor<1x3x7x6xbf16>", [1.0, 1.0, 1.75, 1.5], "linear", "pytorch_half_pixel"), 1e-2),
    ("resize-cubic-f64", resize("tensor<5x4xf64>", "tensor<8x7xf64>", [1.6, 1.75], "cubic", "half_pixel_symmetric"), FILTERED),
]

STORAGE_ONLY_CASES = [
    ("transpose-f8", transpose("6x10", "f8E4M3FN", [1, 0])),
    ("concat-i4", concat(["3x5", "3x3"], "i4", 1)),
    ("slice-f8-negative", slice_("8", "f8E5M2", [7], [-3], "3")),
]


@pytest.mark.parametrize("ir", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_kernels_compile(ir):
    """Every movement kernel of the table compiles with NVRTC for sm_80 and sm_90."""
    sources = compile_kernels(ir)
    assert sources, "no kernel was generated"


@pytest.mark.parametrize("ir", [c[1] for c in STORAGE_ONLY_CASES], ids=[c[0] for c in STORAGE_ONLY_CASES])
def test_storage_only_types_move_as_bytes(ir):
    """float8 and int4 (one byte per element, as ml_dtypes stores them) move as bytes.
    (plan-memory does not size them yet, so this stops at configure-kernels.)"""
    sources = compile_kernels(ir, pipeline="outline-kernels,configure-kernels")
    assert all("unsigned char" in source for source in sources.values())


@pytest.mark.gpu
@pytest.mark.parametrize("ir,tol", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_gpu_matches_reference(ir, tol):
    for seed in (0, 1):
        assert_gpu_matches_reference(ir, rtol=tol or 0, atol=tol or 0, seed=seed)


# --- what the generator chooses -------------------------------------------------------


def _kernel(ir: str) -> FuncOp:
    return kernels_of(lower(ir))[0]


@pytest.mark.parametrize(
    "ir,vector",
    [
        (concat(["2x3x8", "2x5x8"], "f32", 1), 4),
        (concat(["2x3", "2x5", "2x1"], "f16", 1), 1),
        (transpose("2x3x16x8", "bf16", [0, 2, 1, 3]), 8),
        (slice_("4x16", "i64", [0, 4], [1, 1], "4x8"), 2),
        (pad("2x16", "bf16", [0, 8, 0, 8], "constant", -2.0), 8),
        (pad("2x16", "bf16", [0, 8, 0, 8], "edge"), 1),
        (indexed("gather", "tensor<10x8xf32>", "tensor<3xi64>", "tensor<3x8xf32>", "axis = 0 : i64"), 4),
        (resize("tensor<1x4x4x8xf16>", "tensor<1x8x8x8xf16>", [1.0, 2.0, 2.0, 1.0], "nearest"), 8),
        (resize("tensor<1x1x3x4xf32>", "tensor<1x1x6x8xf32>", [1.0, 1.0, 2.0, 2.0], "nearest"), 1),
    ],
)
def test_vector_width(ir, vector):
    """Innermost contiguous runs move as 16-byte words where their length and offsets allow."""
    kernel = _kernel(ir)
    assert kernel.launch.tile_params["vector"] == vector


def test_transpose_moving_the_innermost_dimension_is_tiled():
    kernel = _kernel(transpose("2x3x4x5", "i64", [0, 2, 3, 1]))
    assert kernel.launch.block_dims == (32, 8, 1)
    source = kernel_source(kernel)
    assert "__shared__ unsigned long long tile[32][33];" in source
    kept = _kernel(transpose("4x5x6x7", "f16", [0, 2, 1, 3]))
    assert "__shared__" not in kernel_source(kept)


def test_scatter_nd_copies_and_scatters_in_one_owner_thread():
    source = kernel_source(_kernel(CASES[[c[0] for c in CASES].index("scatter-f32-none-duplicates")][1]))
    assert "out0[p * 4U + s] = in0[p * 4U + s]" in source or "out0[p * 1U + s] = in0[p * 1U + s]" in source
    assert "for (unsigned int r = 0; r < 3U; ++r)" in source


def test_large_tensors_use_64_bit_indices():
    source = kernel_source(_kernel(transpose("2x1100000000", "i8", [0, 1])))
    assert "unsigned long long i" in source


# --- refusals ---------------------------------------------------------------------------


def test_integer_linear_resize_is_refused():
    ir = resize("tensor<1x1x4x4xi32>", "tensor<1x1x8x8xi32>", [1.0, 1.0, 2.0, 2.0], "linear")
    with pytest.raises(OptcError, match=r"@k0_graph_resize: 'graph.resize' in linear mode on i32 has no CUDA generator"):
        lower(ir)


def _with_launch(ir: str, launch: LaunchAttr) -> FuncOp:
    module = lower(ir, "outline-kernels")
    kernel = kernels_of(module)[0]
    kernel.attributes[LAUNCH_ATTR] = launch
    return kernel


def test_a_vector_width_the_shapes_do_not_allow_is_refused():
    kernel = _with_launch(concat(["2x3", "2x5"], "f32", 1), LaunchAttr("grid_stride", [1], [256], 0, {"vector": 4}))
    with pytest.raises(OptcError, match=r"@k0_graph_concat: 'graph.concat' cannot move 4 elements per access"):
        kernel_source(kernel)


def test_tiled_transpose_refuses_a_block_that_is_not_its_tile():
    kernel = _with_launch(transpose("33x65", "i8", [1, 0]), LaunchAttr("tiled", [1], [256], 0, {"tile": 32, "rows": 8}))
    with pytest.raises(OptcError, match=r"@k0_graph_transpose: 'graph.transpose' tiled transpose needs block \[32, 8, 1\]"):
        kernel_source(kernel)


def test_scatter_refuses_more_chunks_than_slices():
    ir = scatter("tensor<8x4xf32>", "tensor<3x1xi64>", "dense<[[1], [3], [1]]>", "tensor<3x4xf32>", "add")
    kernel = _with_launch(ir, LaunchAttr("grid_stride", [1], [256], 0, {"chunks": 9, "vector": 1}))
    with pytest.raises(OptcError, match=r"@k0_graph_scatter_nd: 'graph.scatter_nd' cannot deal 8 slices to 9 chunks"):
        kernel_source(kernel)


def test_every_movement_op_has_a_generator():
    """The op classes the brief names for this family are all registered."""
    from dialects import graph

    for cls in (
        graph.TransposeOp, graph.ConcatOp, graph.SliceOp, graph.PadOp, graph.GatherOp, graph.GatherElementsOp,
        graph.GatherNDOp, graph.ScatterNDOp, graph.TileOp, graph.ExpandOp, graph.SplitOp, graph.ResizeOp,
        graph.OneHotOp, graph.TriluOp, graph.RangeOp, graph.ConstantOfShapeOp,
    ):
        from passes.codegen.registry import GENERATORS

        assert cls in GENERATORS, cls.name
