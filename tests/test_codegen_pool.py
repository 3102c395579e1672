"""CUDA codegen of pooling, lone batch/instance norms and cum_sum (`passes/codegen/pool/pool.py`,
`pool/plane.py`, `pool/scan.py`).

Three checks per case of the table: every kernel compiles with NVRTC for sm_80 and sm_90;
the emitted C++ itself, built for the CPU by g++ with a host prelude that stands in for
CUDA's builtins (blocks and threads run one after another, which is exact for the
grid-stride kernels and for plane reductions launched with one thread per row), matches
the reference interpreter; and, on a GPU (marker `gpu`), the engine matches it too.

Tolerances: f32 sums and means differ from numpy's pairwise sums in rounding only
(rtol/atol 1e-5); f64 1e-12; max pools and integer cum_sums are exact; f16/bf16 results
are rounded once from a float accumulation, as the reference does, so they differ by at
most an ulp of the result's type (bf16: 2^-8 relative, f16: 2^-11).
"""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest
from xdsl.utils.exceptions import VerifyException

from compiler.onnx_import import import_onnx
from dialects.dtypes import round_to_bf16
from dialects.errors import OptcError
from dialects.graph.nn import pool_output_size
from dialects.kernel import LaunchAttr
from dialects.graph.layout import is_channels_last
from passes.codegen.cuda import kernel_source, kernels_of
from passes.codegen.pool import pool as pool_generator
from passes.codegen.registry import generator_for
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import run
from tests.cuda_support import assert_gpu_matches_reference, compile_clean, compile_kernels, lower
from tests.host_emulation import run_on_cpu
from tests.support import apply_pipeline, make_model, parse

# --- the table ---------------------------------------------------------------------------


def _tensor(shape, dtype: str) -> str:
    return f"tensor<{'x'.join(map(str, shape))}x{dtype}>"


def _array(values) -> str:
    return f"array<i64: {', '.join(map(str, values))}>"


def pool(
    op: str,
    shape,
    dtype: str = "f32",
    kernel=(3, 3),
    strides=None,
    pads=None,
    dilations=None,
    ceil_mode: int = 0,
    layout: str = "NCHW",
    count_include_pad: int | None = None,
    storage_order: int | None = None,
) -> str:
    """One `graph.max_pool` / `graph.average_pool` in `@main`; `shape` is in `layout`."""
    spatial = len(kernel)
    strides, dilations = strides or [1] * spatial, dilations or [1] * spatial
    pads = pads or [0] * 2 * spatial
    size = shape[1:-1] if layout == "NHWC" else shape[2:]
    out = [
        pool_output_size(size[i], kernel[i], strides[i], pads[i], pads[spatial + i], dilations[i], bool(ceil_mode))
        for i in range(spatial)
    ]
    out_shape = [shape[0], *out, shape[-1]] if layout == "NHWC" else [*shape[:2], *out]
    props = [
        f"kernel_shape = {_array(kernel)}",
        f"strides = {_array(strides)}",
        f"pads = {_array(pads)}",
        f"dilations = {_array(dilations)}",
        f"ceil_mode = {ceil_mode} : i64",
    ]
    if count_include_pad is not None:
        props.append(f"count_include_pad = {count_include_pad} : i64")
    if storage_order is not None:
        props.append(f"storage_order = {storage_order} : i64")
    if layout == "NHWC":
        props.append('layout = "NHWC"')
    x, y = _tensor(shape, dtype), _tensor(out_shape, dtype)
    results, ret = y, "%y"
    extra = ""
    if storage_order is not None:
        results, ret, extra = f"{y}, {_tensor(out_shape, 'i64')}", "%y#0, %y#1", f", {_tensor(out_shape, 'i64')}"
    name = "%y:2" if storage_order is not None else "%y"
    return (
        f"func.func @main(%x: {x}) -> ({results}) {{\n"
        f"  {name} = graph.{op} %x {{{', '.join(props)}}} : {x} -> {y}{extra}\n"
        f"  func.return {ret} : {results}\n}}\n"
    )


def global_pool(op: str, shape, dtype: str = "f32", layout: str = "NCHW") -> str:
    out = [shape[0], *[1] * (len(shape) - 2), shape[-1]] if layout == "NHWC" else [*shape[:2], *[1] * (len(shape) - 2)]
    x, y = _tensor(shape, dtype), _tensor(out, dtype)
    attrs = ' {layout = "NHWC"}' if layout == "NHWC" else ""
    return f"func.func @main(%x: {x}) -> {y} {{\n  %y = graph.{op} %x{attrs} : {x} -> {y}\n  func.return %y : {y}\n}}\n"


def norm(op: str, shape, dtype: str = "f32", layout: str = "NCHW", epsilon: float = 1e-5) -> str:
    channels = shape[-1] if layout == "NHWC" else shape[1]
    x, v = _tensor(shape, dtype), _tensor([channels], dtype)
    vectors = 4 if op == "batch_norm" else 2
    names = ["%s", "%b", "%m", "%v"][:vectors]
    args = ", ".join([f"%x: {x}", *[f"{n}: {v}" for n in names]])
    layout_attr = ', layout = "NHWC"' if layout == "NHWC" else ""
    types = ", ".join([x, *[v] * vectors])
    return (
        f"func.func @main({args}) -> {x} {{\n"
        f"  %y = graph.{op} %x, {', '.join(names)} {{epsilon = {epsilon:e} : f32{layout_attr}}} : ({types}) -> {x}\n"
        f"  func.return %y : {x}\n}}\n"
    )


def cum_sum(shape, dtype: str = "f32", axis: int = 0, exclusive: int = 0, reverse: int = 0) -> str:
    x = _tensor(shape, dtype)
    return (
        f"func.func @main(%x: {x}) -> {x} {{\n"
        f"  %y = graph.cum_sum %x {{axis = {axis} : i64, exclusive = {exclusive} : i64, reverse = {reverse} : i64}} : {x} -> {x}\n"
        f"  func.return %y : {x}\n}}\n"
    )


CASES = {
    # max_pool
    "max_3x3s2_resnet_stem": pool("max_pool", [1, 8, 13, 13], kernel=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1]),
    "max_nhwc_f32_vec4": pool("max_pool", [2, 9, 9, 12], kernel=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], layout="NHWC"),
    "max_nhwc_odd_channels": pool("max_pool", [1, 7, 7, 5], kernel=(2, 2), strides=[2, 2], ceil_mode=1, layout="NHWC"),
    "max_nhwc_f16_vec8": pool("max_pool", [1, 8, 8, 16], "f16", kernel=(2, 2), strides=[2, 2], layout="NHWC"),
    "max_nhwc_bf16": pool("max_pool", [1, 6, 6, 6], "bf16", kernel=(3, 3), pads=[1, 1, 1, 1], layout="NHWC"),
    "max_ceil_dilated": pool("max_pool", [2, 3, 10, 9], kernel=(3, 2), strides=[2, 3], dilations=[2, 2], ceil_mode=1),
    "max_1x1_kernel": pool("max_pool", [1, 4, 7, 7], kernel=(1, 1), strides=[2, 2]),
    "max_1d": pool("max_pool", [2, 3, 11], kernel=(3,), strides=[2], pads=[1, 2]),
    "max_3d": pool("max_pool", [1, 2, 5, 6, 7], kernel=(2, 3, 2), strides=[2, 2, 2], pads=[0, 1, 0, 1, 1, 1]),
    "max_3d_nhwc": pool("max_pool", [1, 5, 6, 7, 4], kernel=(2, 2, 2), strides=[2, 2, 2], layout="NHWC"),
    "max_f64": pool("max_pool", [1, 2, 7, 7], "f64", kernel=(2, 2), strides=[2, 2], ceil_mode=1),
    "max_i8": pool("max_pool", [1, 2, 6, 6], "i8", kernel=(3, 3), pads=[1, 1, 1, 1]),
    "max_ui8_nhwc": pool("max_pool", [1, 5, 5, 32], "ui8", kernel=(2, 2), layout="NHWC"),
    "max_i32": pool("max_pool", [1, 2, 5, 5], "i32", kernel=(2, 2), strides=[2, 2], ceil_mode=1),
    "max_all_padding_window": pool("max_pool", [1, 1, 3, 3], kernel=(2, 2), strides=[2, 2], pads=[2, 2, 2, 2]),
    "max_indices": pool("max_pool", [2, 3, 7, 7], kernel=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], storage_order=0),
    "max_indices_column_major_ceil": pool(
        "max_pool", [1, 2, 6, 5], kernel=(2, 2), strides=[2, 2], ceil_mode=1, storage_order=1
    ),
    "max_indices_3d_f16": pool("max_pool", [1, 2, 4, 5, 3], "f16", kernel=(2, 2, 2), strides=[1, 2, 2], storage_order=1),
    # average_pool
    "avg_pads_exclude": pool("average_pool", [2, 3, 7, 7], kernel=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0),
    "avg_pads_include": pool("average_pool", [2, 3, 7, 7], kernel=(3, 3), strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1),
    "avg_ceil_include": pool(
        "average_pool", [1, 2, 8, 8], kernel=(3, 3), strides=[2, 2], pads=[1, 0, 1, 0], ceil_mode=1, count_include_pad=1
    ),
    "avg_ceil_exclude_dilated": pool(
        "average_pool", [1, 2, 9, 10], kernel=(2, 3), strides=[3, 2], dilations=[2, 1], ceil_mode=1, count_include_pad=0
    ),
    "avg_7x7_global_like": pool("average_pool", [1, 16, 7, 7], kernel=(7, 7), count_include_pad=0),
    "avg_nhwc_f32": pool("average_pool", [2, 7, 7, 8], kernel=(3, 3), pads=[1, 1, 1, 1], count_include_pad=0, layout="NHWC"),
    "avg_nhwc_f16_include": pool(
        "average_pool", [1, 6, 6, 24], "f16", kernel=(2, 2), strides=[2, 2], pads=[1, 1, 0, 0], count_include_pad=1, layout="NHWC"
    ),
    "avg_bf16": pool("average_pool", [1, 3, 5, 5], "bf16", kernel=(2, 2), count_include_pad=0),
    "avg_f64_1d": pool("average_pool", [2, 3, 9], "f64", kernel=(4,), strides=[3], pads=[1, 1], ceil_mode=1, count_include_pad=1),
    "avg_3d": pool("average_pool", [1, 2, 4, 5, 6], kernel=(2, 2, 3), strides=[2, 2, 2], pads=[1, 0, 1, 0, 1, 1], count_include_pad=0),
    # global pools
    "gap_resnet_7x7": global_pool("global_average_pool", [2, 40, 7, 7]),
    "gap_nhwc": global_pool("global_average_pool", [2, 7, 7, 40], layout="NHWC"),
    "gap_large_plane": global_pool("global_average_pool", [1, 3, 50, 61]),
    "gap_nhwc_large_plane_f16": global_pool("global_average_pool", [1, 33, 37, 3], "f16", layout="NHWC"),
    "gap_1x1_bf16": global_pool("global_average_pool", [3, 5, 1, 1], "bf16"),
    "gap_1d_f64": global_pool("global_average_pool", [2, 3, 17], "f64"),
    "gap_3d_nhwc": global_pool("global_average_pool", [1, 3, 4, 5, 6], layout="NHWC"),
    "gmp": global_pool("global_max_pool", [2, 5, 9, 9]),
    "gmp_nhwc_f16": global_pool("global_max_pool", [2, 6, 6, 70], "f16", layout="NHWC"),
    # batch norm
    "bn_nchw": norm("batch_norm", [2, 5, 7, 7]),
    "bn_nhwc_vec4": norm("batch_norm", [2, 3, 3, 8], layout="NHWC"),
    "bn_rank2_odd": norm("batch_norm", [3, 7]),
    "bn_f16_nhwc": norm("batch_norm", [1, 5, 5, 16], "f16", layout="NHWC"),
    "bn_bf16": norm("batch_norm", [1, 3, 4, 4], "bf16"),
    "bn_f64_3d": norm("batch_norm", [1, 2, 3, 3, 3], "f64"),
    # instance norm
    "in_nchw": norm("instance_norm", [2, 3, 9, 11]),
    "in_nchw_large_plane": norm("instance_norm", [1, 2, 40, 50]),
    "in_nhwc": norm("instance_norm", [2, 9, 11, 5], layout="NHWC"),
    "in_f16_1d": norm("instance_norm", [2, 4, 33], "f16"),
    "in_bf16_nhwc": norm("instance_norm", [1, 6, 6, 40], "bf16", layout="NHWC"),
    "in_f64": norm("instance_norm", [1, 2, 5, 5], "f64"),
    "in_1x1_plane": norm("instance_norm", [2, 3, 1, 1]),
    # cum_sum
    "cumsum_last_axis": cum_sum([3, 17], axis=1),
    "cumsum_first_axis_exclusive": cum_sum([5, 4, 3], axis=0, exclusive=1),
    "cumsum_middle_reverse": cum_sum([2, 6, 5], axis=1, reverse=1),
    "cumsum_last_axis_both": cum_sum([2, 3, 7], axis=2, exclusive=1, reverse=1),
    "cumsum_i32": cum_sum([4, 9], "i32", axis=1),
    "cumsum_i64_reverse": cum_sum([9, 2], "i64", axis=0, reverse=1),
    "cumsum_f16": cum_sum([2, 40], "f16", axis=1),
    "cumsum_bf16": cum_sum([8, 3], "bf16", axis=0, exclusive=1),
    "cumsum_f64": cum_sum([1, 13], "f64", axis=1),
    "cumsum_rank1": cum_sum([23], axis=0),
    # long lines along the last axis: a warp per line (GPU only: the CPU harness has no shuffles)
    "cumsum_warp_f32_exclusive": cum_sum([3, 100], axis=1, exclusive=1),
    "cumsum_warp_i64_reverse": cum_sum([2, 257], "i64", axis=1, reverse=1),
    "cumsum_warp_f16_both": cum_sum([4, 70], "f16", axis=1, exclusive=1, reverse=1),
    "cumsum_warp_i8_rank1": cum_sum([1000], "i8", axis=0),
    "cumsum_warp_f64": cum_sum([1, 2, 64], "f64", axis=2),
}


def _tolerance(ir: str) -> dict[str, float]:
    if "xf16>" in ir:
        return {"rtol": 2e-3, "atol": 2e-3}
    if "xbf16>" in ir:
        return {"rtol": 1.6e-2, "atol": 1.6e-2}
    if "xf64>" in ir:
        return {"rtol": 1e-12, "atol": 1e-12}
    return {"rtol": 1e-5, "atol": 1e-5}


def _inputs(ir: str, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs; a batch norm's variance is made positive (a negative one is NaN both
    sides, which would test nothing)."""
    feeds = random_inputs(parse(ir), seed=seed)
    if "graph.batch_norm" in ir:
        var = np.abs(feeds["input4"]) + np.asarray(0.1, feeds["input4"].dtype)
        feeds["input4"] = round_to_bf16(var) if "xbf16>" in ir else var
    return feeds


@pytest.mark.parametrize("case", CASES)
def test_compiles_with_nvrtc(case):
    sources = compile_kernels(CASES[case])
    assert len(sources) == 1


# --- the emitted C++ on the CPU ----------------------------------------------------------

@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")
@pytest.mark.parametrize("case", CASES)
def test_emitted_code_matches_reference_on_cpu(case):
    ir = CASES[case]
    if "_warp_" in case:
        pytest.skip("warp shuffles do not run in the serial CPU harness")
    feeds = _inputs(ir)
    expected = run(parse(ir), feeds)
    got = run_on_cpu(ir, feeds)
    for g, want in zip(got, expected.values()):
        want = np.asarray(want)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(g.astype(np.float64), want.astype(np.float64), **_tolerance(ir))
        else:
            np.testing.assert_array_equal(g, want)


# --- on the GPU ----------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("case", CASES)
def test_gpu_matches_reference(case):
    ir = CASES[case]
    assert_gpu_matches_reference(ir, inputs=_inputs(ir), **_tolerance(ir))


# --- errors --------------------------------------------------------------------------------


def test_nhwc_max_pool_with_indices_is_refused():
    """The verifier refuses it (lit_tests/graph/nn-invalid.mlir), before any kernel exists."""
    x, y, i = "tensor<1x4x4x8xf32>", "tensor<1x2x2x8xf32>", "tensor<1x2x2x8xi64>"
    ir = (
        f"func.func @main(%x: {x}) -> ({y}, {i}) {{\n"
        f"  %y:2 = graph.max_pool %x {{kernel_shape = {_array([2, 2])}, strides = {_array([2, 2])}, pads = {_array([0] * 4)}, "
        f'dilations = {_array([1, 1])}, ceil_mode = 0 : i64, storage_order = 0 : i64, layout = "NHWC"}} : {x} -> {y}, {i}\n'
        f"  func.return %y#0, %y#1 : {y}, {i}\n}}\n"
    )
    with pytest.raises(VerifyException, match=r"'graph.max_pool' op has no channels-last form with the indices result"):
        compile_kernels(ir)


def test_a_vector_width_that_does_not_divide_the_channels_is_refused():
    (kernel,) = kernels_of(lower(CASES["max_nhwc_odd_channels"], "outline-kernels"))
    launch = LaunchAttr("grid_stride", [1], [256], 0, {"vector": 4})
    with pytest.raises(OptcError, match=r"'graph.max_pool' cannot move 4 channels per thread \(5 channels\)"):
        generator_for(kernel).emit(kernel, launch)


def test_a_block_that_differs_from_the_tile_is_refused():
    (kernel,) = kernels_of(lower(CASES["gap_resnet_7x7"], "outline-kernels"))
    launch = LaunchAttr("plane_rows", [1], [64, 4], 0, {"reduce_threads": 32, "planes": 8})
    with pytest.raises(OptcError, match=r"the launch's block \[64, 4, 1\] is not the \[32, 8, 1\]"):
        generator_for(kernel).emit(kernel, launch)


# --- the pools of real CNNs ------------------------------------------------------------------


def _cnn() -> onnx.ModelProto:
    """ResNet's stem (conv 7x7/2, batch norm, relu, max pool 3x3/2 pad 1), an Inception-style
    average pool (3x3/1 pad 1, pads not counted), MobileNetV2's relu6 and global average
    pool, a classifier; plus a pool, an instance norm and a cum_sum that read the input
    directly (they stay channels first)."""
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.standard_normal((16, 3, 7, 7)).astype(np.float32) * 0.1,
        "s": np.ones(16, np.float32), "b": np.zeros(16, np.float32),
        "m": rng.standard_normal(16).astype(np.float32) * 0.1, "v": np.ones(16, np.float32),
        "w2": rng.standard_normal((24, 16, 3, 3)).astype(np.float32) * 0.1,
        "fc": rng.standard_normal((24, 10)).astype(np.float32),
        "lo": np.array(0.0, np.float32), "hi": np.array(6.0, np.float32),
        "is": np.ones(3, np.float32), "ib": np.zeros(3, np.float32), "axis": np.array(2, np.int64),
    }
    nodes = [
        onnx.helper.make_node("Conv", ["x", "w1"], ["c1"], kernel_shape=[7, 7], strides=[2, 2], pads=[3, 3, 3, 3]),
        onnx.helper.make_node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"]),
        onnx.helper.make_node("Relu", ["bn"], ["r1"]),
        onnx.helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        onnx.helper.make_node("AveragePool", ["p1"], ["p2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        onnx.helper.make_node("Conv", ["p2", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        onnx.helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"]),
        onnx.helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        onnx.helper.make_node("Flatten", ["g"], ["f"]),
        onnx.helper.make_node("MatMul", ["f", "fc"], ["logits"]),
        onnx.helper.make_node("MaxPool", ["x"], ["q"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
        onnx.helper.make_node("InstanceNormalization", ["x", "is", "ib"], ["inorm"]),
        onnx.helper.make_node("CumSum", ["x", "axis"], ["cs"], exclusive=1),
    ]
    return make_model(nodes, {"x": ([2, 3, 35, 35], onnx.TensorProto.FLOAT)}, ["logits", "q", "inorm", "cs"], weights)


def _family_kernels(module):
    return [k for k in kernels_of(module) if type(k.computation) in pool_generator.GENERATORS]


def test_cnn_pools_compile():
    """After `fused` the stem's max pool and the average pool run channels last, the pool on
    the input channels first; all of this family's kernels compile."""
    module = apply_pipeline(import_onnx(_cnn()), "fused,outline-kernels")
    kernels = _family_kernels(module)
    ops = sorted((k.computation.name, is_channels_last(k.computation)) for k in kernels)
    assert ("graph.max_pool", True) in ops and ("graph.average_pool", True) in ops
    assert ("graph.max_pool", False) in ops and ("graph.cum_sum", False) in ops
    for kernel in kernels:
        kernel.attributes["launch"] = generator_for(kernel).configure(kernel)
        for arch in ("sm_80", "sm_90"):
            compile_clean(kernel_source(kernel), f"{kernel.sym_name.data}.cu", arch)
