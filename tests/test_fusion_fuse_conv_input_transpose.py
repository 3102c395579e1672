"""fuse-conv-input-transpose: the differential tests on the lit cases
(lit_tests/fusion/fuse-conv-input-transpose.mlir) in f32 and f16 and on its option; then a
ResNet-like stem built with onnx.helper and examples/cnn.onnx through the whole pipeline:
the pass is exact on the IR `fuse-epilogue` leaves (fp32 and fp16), the input's transpose
kernel is gone, every other kernel's CUDA is byte for byte what it was without the pass,
and the kernels compile with NVRTC (on a GPU, `gpu` marker: match the reference)."""

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import PassFailedException

from compiler.engine_build import kernel_pipeline
from compiler.onnx_import import import_onnx
from compiler.pipelines import expand
from dialects import fused
from dialects.graph import TransposeOp
from passes.codegen.cuda import emit_kernel, kernels_of
from tests.cuda_support import assert_gpu_matches_reference, compile_kernels
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model, parse
from tests.test_pipeline_default import EXAMPLES, compile_with

LIT = "fusion/fuse-conv-input-transpose.mlir"
PASS = "fuse-conv-input-transpose"


def input_layouts(module) -> list[str | None]:
    return [op.input_layout and op.input_layout.data for op in module.walk() if isinstance(op, fused.ConvOp)]


def transposes(module) -> int:
    return sum(isinstance(op, TransposeOp) for op in module.walk())


@pytest.mark.parametrize("dtype", ["f32", "f16"])
@pytest.mark.parametrize(
    "case, folded",
    [("stem", 1), ("fork_1d", 2), ("wide", 0), ("shared", 0), ("depthwise", 0), ("as_extra", 0)],
)
def test_lit_cases(case, folded, dtype):
    ir = lit_function(LIT, case).replace("xf32>", f"x{dtype}>")
    after = assert_pass_preserves(ir, PASS)  # exact: the same numbers, read in another order
    assert input_layouts(after).count("NCHW") == folded
    assert transposes(after) == (0 if folded else 1)


def test_max_channels():
    wide = lit_function(LIT, "wide")
    assert input_layouts(assert_pass_preserves(wide, f"{PASS}{{max-channels=16}}")) == ["NCHW"]
    assert input_layouts(assert_pass_preserves(wide, f"{PASS}{{max-channels=15}}")) == [None]
    assert input_layouts(assert_pass_preserves(lit_function(LIT, "stem"), f"{PASS}{{max-channels=2}}")) == [None]
    with pytest.raises(PassFailedException, match="max-channels must be at least 1, got 0"):
        apply_pipeline(parse(wide), f"{PASS}{{max-channels=0}}")


# --- models ---------------------------------------------------------------------------


def resnet_stem() -> onnx.ModelProto:
    """A ResNet's first stage at 32x32: 7x7/2 conv 3→16 with batch norm and ReLU, 3x3/2 max
    pool, one basic block (two 3x3 convs, residual add), global pool, classifier."""
    rng = np.random.default_rng(0)

    def weight(*shape):
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    init = {
        "w0": weight(16, 3, 7, 7), "b0": weight(16),
        "gamma": weight(16) + 1, "beta": weight(16), "mean": weight(16), "var": np.abs(weight(16)) + 0.5,
        "w1": weight(16, 16, 3, 3), "b1": weight(16), "w2": weight(16, 16, 3, 3), "b2": weight(16),
        "wf": weight(10, 16), "bf": weight(10),
    }  # fmt: skip
    nodes = [
        helper.make_node("Conv", ["x", "w0", "b0"], ["c0"], kernel_shape=[7, 7], strides=[2, 2], pads=[3, 3, 3, 3]),
        helper.make_node("BatchNormalization", ["c0", "gamma", "beta", "mean", "var"], ["n0"]),
        helper.make_node("Relu", ["n0"], ["r0"]),
        helper.make_node("MaxPool", ["r0"], ["p0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p0"], ["s2"]),
        helper.make_node("Relu", ["s2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1),
    ]
    return make_model(nodes, {"x": ([1, 3, 32, 32], TensorProto.FLOAT)}, ["y"], init)


CNN = next(path for path in EXAMPLES if path.endswith("cnn.onnx"))
MODELS = {"resnet_stem": resnet_stem, "cnn.onnx": lambda: onnx.load(CNN)}


def without_pass(spec: str) -> str:
    """`spec` with every named pipeline opened and this pass left out: the pipeline before it."""
    return ",".join(str(item) for item in expand(spec) if item.name != PASS)


def up_to_pass(spec: str) -> str:
    items = [str(item) for item in expand(spec)]
    return ",".join(items[: [item.split("{")[0] for item in items].index(PASS)])


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_exact_on_the_pipeline_ir(model, precision):
    """On the IR the pipeline hands it, the pass folds the input's transpose into the stem and
    the reference gives the same outputs before and after."""
    before = compile_with(import_onnx(MODELS[model]()), up_to_pass(kernel_pipeline(precision)))
    assert transposes(before) == 1
    after = assert_pass_preserves(before, PASS, rtol=0, atol=0)
    assert transposes(after) == 0
    layouts = input_layouts(after)
    assert layouts[0] == "NCHW" and set(layouts[1:]) == {None}


def kernel_sources(module) -> list[str]:
    """Each kernel's CUDA with its number dropped from its name (k3_fused_conv → k_fused_conv)."""
    return [re.sub(r"\bk\d+_", "k_", emit_kernel(k)) for k in kernels_of(module)]


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_one_kernel_fewer_and_the_others_unchanged(model, precision):
    module = import_onnx(MODELS[model]())
    old = kernel_sources(compile_with(module, without_pass(kernel_pipeline(precision))))
    new = kernel_sources(compile_with(module, kernel_pipeline(precision)))
    assert len(new) == len(old) - 1
    gone = [s for s in old if s not in new]
    added = [s for s in new if s not in old]
    assert [re.search(r"\bk_\w+", s).group(0) for s in gone] == ["k_graph_transpose", "k_fused_conv"]
    assert len(added) == 1 and "kc * 1024 + " in added[0]  # channel kc of the 32x32 NCHW input


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resnet_stem_kernels_compile(precision):
    sources = compile_kernels(import_onnx(resnet_stem()), pipeline=kernel_pipeline(precision))
    assert not any("transpose" in name for name in sources)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resnet_stem_on_gpu(precision):
    """The engine against the reference on the imported (fp32) model."""
    tol = 1e-4 if precision == "fp32" else 5e-2
    assert_gpu_matches_reference(import_onnx(resnet_stem()), pipeline=kernel_pipeline(precision), rtol=tol, atol=tol)
