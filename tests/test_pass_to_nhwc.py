"""graph-to-nhwc: the differential test (lit_tests/passes/graph-to-nhwc.mlir shows the
rewrite) on the lit cases and on small CNNs imported from ONNX, counting the transposes
left; then the pipelines that follow it (weight folding, canonicalisation, fusion)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.ir import BlockArgument

from compiler.onnx_import import import_onnx
from dialects import fused
from dialects.graph import ConvOp, TransposeOp, WeightOp
from dialects.graph.base import ints
from dialects.graph.layout import is_channels_last
from tests.support import assert_pass_preserves, lit_function, make_model

F32, F16 = TensorProto.FLOAT, TensorProto.FLOAT16
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def ops(module) -> Counter:
    """How many ops of each name the functions hold (not counting fused regions)."""
    return Counter(op.name for op in module.walk() if op.parent_op() is not None and op.parent_op().name == "func.func")


def perms(module) -> list[tuple[int, ...]]:
    return [ints(op.perm) for op in module.walk() if isinstance(op, TransposeOp)]


# --- the lit cases ------------------------------------------------------------------------

LIT = "passes/graph-to-nhwc.mlir"


@pytest.mark.parametrize("options", ["", "{pools=false}", "{elementwise=false}", "{norms=false axes=false views=false}"])
@pytest.mark.parametrize("name", ["chain", "residual_concat_pool", "outside_operand", "normalised_input", "unchanged"])
def test_lit_cases_preserve_results(name, options):
    assert_pass_preserves(lit_function(LIT, name), "graph-to-nhwc" + options)


def test_chain_keeps_one_transpose_in_and_one_out():
    after = assert_pass_preserves(lit_function(LIT, "chain"), "graph-to-nhwc")
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]
    assert all(is_channels_last(op) for op in after.walk() if isinstance(op, ConvOp))


def test_unchanged_case_is_unchanged():
    before = lit_function(LIT, "unchanged")
    after = assert_pass_preserves(before, "graph-to-nhwc")
    assert not perms(after) and not any(is_channels_last(op) for op in after.walk() if isinstance(op, ConvOp))


# --- small CNNs from ONNX -------------------------------------------------------------------


class Net:
    """A tiny ONNX graph builder: each method adds a node and returns its output name."""

    def __init__(self, dtype=np.float32, seed: int = 0):
        self.nodes, self.inits, self.dtype = [], {}, dtype
        self.rng = np.random.default_rng(seed)

    def param(self, name: str, *shape: int, positive: bool = False) -> str:
        v = self.rng.random(shape) + 0.5 if positive else self.rng.standard_normal(shape) * 0.3
        self.inits[name] = v.astype(self.dtype)
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], **attrs))
        return name

    def conv(self, x: str, cin: int, cout: int, k: int, name: str, stride: int = 1, group: int = 1, rank: int = 2, pad=None) -> str:
        w = self.param(name + ".w", cout, cin // group, *[k] * rank)
        b = self.param(name + ".b", cout)
        pads = [k // 2 if pad is None else pad] * 2 * rank
        return self.node("Conv", [x, w, b], name, strides=[stride] * rank, pads=pads, group=group)

    def bn(self, x: str, c: int, name: str) -> str:
        stats = [self.param(f"{name}.{p}", c, positive=p in "sv") for p in "sbmv"]
        return self.node("BatchNormalization", [x, *stats], name)

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name)

    def model(self, shape: list[int], output: str, elem=F32):
        return make_model(self.nodes, {"x": (shape, elem)}, [output], self.inits)


def resnet(c: int = 8, classes: int = 5, size: int = 16, dtype=np.float32):
    """Stem (conv, BN, relu, max pool), an identity block and a downsampling block, global
    pool, flatten, gemm: what ResNet-18 is, at toy size."""
    n = Net(dtype)

    def block(x, cin, cout, stride, name):
        y = n.relu(n.bn(n.conv(x, cin, cout, 3, name + ".c1", stride), cout, name + ".bn1"), name + ".r1")
        y = n.bn(n.conv(y, cout, cout, 3, name + ".c2"), cout, name + ".bn2")
        short = x if stride == 1 and cin == cout else n.bn(n.conv(x, cin, cout, 1, name + ".ds", stride), cout, name + ".dsbn")
        return n.relu(n.node("Add", [y, short], name + ".add"), name + ".out")

    x = n.relu(n.bn(n.conv("x", 3, c, 3, "stem"), c, "stem.bn"), "stem.relu")
    x = n.node("MaxPool", [x], "pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = block(block(x, c, c, 1, "b1"), c, 2 * c, 2, "b2")
    x = n.node("Flatten", [n.node("GlobalAveragePool", [x], "gap")], "flat", axis=1)
    y = n.node("Gemm", [x, n.param("fc.w", classes, 2 * c), n.param("fc.b", classes)], "y", transB=1)
    return n.model([1, 3, size, size], y, F16 if dtype == np.float16 else F32)


def test_resnet_keeps_a_transpose_at_the_input_and_one_before_the_flatten():
    after = assert_pass_preserves(import_onnx(resnet()), "graph-to-nhwc{views=false}", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]
    counts = ops(after)
    assert counts["graph.transpose"] == 2 and counts["graph.conv"] == 6
    assert all(is_channels_last(op) for op in after.walk() if op.name in ("graph.conv", "graph.batch_norm", "graph.max_pool"))
    flatten = next(op for op in after.walk() if op.name == "graph.flatten")
    assert isinstance(flatten.input.owner, TransposeOp)


def test_resnet_flattens_the_channels_last_pool_with_no_transpose():
    """The flatten regroups only the pool's size-1 spatial axes: a reshape of the NHWC
    result, so the input's transpose is the only one."""
    after = assert_pass_preserves(import_onnx(resnet()), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1)]
    gemm = next(op for op in after.walk() if op.name == "graph.gemm")
    assert gemm.a.owner.name == "graph.reshape" and gemm.a.owner.input.owner.name == "graph.global_average_pool"


def test_resnet_f16_keeps_its_element_type():
    after = assert_pass_preserves(import_onnx(resnet(dtype=np.float16)), "graph-to-nhwc", rtol=1e-2, atol=1e-2)
    assert ops(after)["graph.transpose"] == 1
    weights = [op for op in after.walk() if isinstance(op, WeightOp)]
    assert weights and all(str(op.result.type.element_type) == "f16" for op in weights)


@pytest.mark.parametrize(
    "pipeline",
    [
        "graph-to-nhwc{views=false},graph-canonicalize",
        "graph-to-nhwc,graph-fold-batch-norm,graph-fold-conv-affine,graph-canonicalize",
        "graph-fold-batch-norm,graph-to-nhwc,graph-canonicalize",
    ],
)
def test_resnet_after_canonicalize_keeps_only_the_input_transpose(pipeline):
    after = assert_pass_preserves(import_onnx(resnet()), pipeline, **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1)]
    if "fold-batch-norm" in pipeline:
        assert "graph.batch_norm" not in ops(after) and ops(after)["graph.conv"] == 6


def test_resnet_fuses_with_its_convolutions_channels_last():
    pipeline = "graph-fold-batch-norm,graph-to-nhwc,graph-canonicalize,fuse-epilogue,fuse-reductions,fuse-elementwise"
    after = assert_pass_preserves(import_onnx(resnet()), pipeline, **TOLERANCE)
    convs = [op for op in after.walk() if isinstance(op, fused.ConvOp)]
    assert len(convs) == 6 and all(is_channels_last(op) for op in convs)
    assert ops(after)["graph.transpose"] == 1
    assert not {"graph.relu", "graph.add"} & set(ops(after))


@pytest.mark.parametrize(
    "options, transposes",
    [
        ("{pools=false}", 4),  # in, out and in around the max pool, out before the global pool
        ("{norms=false}", 11),  # in, out before each batch norm, in after four of them
        ("{elementwise=false}", 11),  # in, out before each relu or add, in after four of them
        ("{views=false}", 2),  # in, out before the flatten
    ],
)
def test_resnet_options_keep_those_ops_channels_first(options, transposes):
    after = assert_pass_preserves(import_onnx(resnet()), "graph-to-nhwc" + options, **TOLERANCE)
    assert ops(after)["graph.transpose"] == transposes


def inception(dtype=np.float32):
    """Two branches (1x1 conv; max pool then 1x1 conv) concatenated on channels, a depthwise
    conv, a squeeze-and-excitation gate (reduce mean, 1x1 convs, sigmoid, mul), a
    per-channel Mul by a constant, a pad, a nearest upsample and a softmax over channels."""
    n = Net(dtype)
    a = n.relu(n.conv("x", 4, 6, 1, "a"), "ar")
    p = n.node("MaxPool", ["x"], "p", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])
    b = n.relu(n.conv(p, 4, 2, 1, "b"), "br")
    j = n.node("Concat", [a, b], "j", axis=1)
    d = n.conv(j, 8, 8, 3, "dw", group=8)
    s = n.node("ReduceMean", [d], "s", axes=[2, 3], keepdims=1)
    s = n.node("Sigmoid", [n.conv(n.relu(n.conv(s, 8, 4, 1, "se1"), "ser"), 4, 8, 1, "se2")], "gate")
    g = n.node("Mul", [d, s], "g")
    g = n.node("Mul", [g, n.param("scale", 8, 1, 1)], "scaled")
    padded = n.node("Pad", [g, n.param("pads", 8)], "padded", mode="reflect")
    n.inits["pads"] = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    n.inits["scales"] = np.array([1, 1, 2, 2], np.float32)
    up = n.node("Resize", [padded, "", "scales"], "up", mode="nearest")
    y = n.node("Softmax", [n.conv(up, 8, 3, 3, "head")], "y", axis=1)
    return n.model([1, 4, 6, 6], y)


def test_inception_se_block_stays_channels_last_throughout():
    after = assert_pass_preserves(import_onnx(inception()), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]
    counts = ops(after)
    assert counts["graph.conv"] == 6 and counts["graph.concat"] == 1
    concat = next(op for op in after.walk() if op.name == "graph.concat")
    assert concat.axis.value.data == 3
    softmax = next(op for op in after.walk() if op.name == "graph.softmax")
    assert softmax.axis.value.data == 3 and isinstance(next(iter(softmax.result.uses)).operation, TransposeOp)


@pytest.mark.parametrize("rank", [1, 3])
def test_1d_and_3d_convolutions(rank):
    n = Net()
    x = n.relu(n.conv("x", 3, 4, 3, "c1", rank=rank), "r")
    x = n.node("AveragePool", [x], "p", kernel_shape=[2] * rank, strides=[2] * rank)
    y = n.conv(n.bn(x, 4, "bn"), 4, 2, 1, "c2", rank=rank)
    after = assert_pass_preserves(import_onnx(n.model([1, 3, *[6] * rank], y)), "graph-to-nhwc", **TOLERANCE)
    last, first = (0, *range(2, rank + 2), 1), (0, rank + 1, *range(1, rank + 1))
    assert perms(after) == [last, first]


def test_a_weight_read_by_two_convolutions_is_permuted_once():
    n = Net()
    n.param("w", 4, 4, 3, 3)
    y = n.node("Conv", [n.node("Conv", ["x", "w"], "c1", pads=[1] * 4), "w"], "c2", pads=[1] * 4)
    after = assert_pass_preserves(import_onnx(n.model([1, 4, 5, 5], y)), "graph-to-nhwc", **TOLERANCE)
    weights = [op for op in after.walk() if isinstance(op, WeightOp)]
    assert len(weights) == 1 and weights[0].result.type.get_shape() == (4, 3, 3, 4)


def test_a_value_read_by_convolutions_and_other_ops_is_transposed_once():
    """x feeds two convs (one transpose in) and a flatten (x itself, channels first)."""
    n = Net()
    a, b = n.conv("x", 3, 2, 1, "a"), n.conv("x", 3, 2, 3, "b")
    n.node("Flatten", ["x"], "flat")
    y = n.node("Add", [a, b], "y")
    model = make_model(n.nodes, {"x": ([1, 3, 4, 4], F32)}, ["y", "flat"], n.inits)
    after = assert_pass_preserves(import_onnx(model), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]


def test_the_models_own_transposes_stay():
    """A channels-last input the model transposes itself cancels with the conv's entry;
    a transpose of the result to another order stays (only its channels-first half goes)."""
    n = Net()
    t = n.node("Transpose", ["x"], "t", perm=[0, 3, 1, 2])
    c = n.conv(t, 3, 4, 3, "c")
    y = n.node("Transpose", [c], "y", perm=[0, 2, 1, 3])
    after = assert_pass_preserves(import_onnx(n.model([1, 5, 5, 3], y)), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 3, 1, 2), (0, 2, 1, 3)]
    conv = next(op for op in after.walk() if isinstance(op, ConvOp))
    assert not isinstance(conv.input.owner, TransposeOp)


def test_convolution_with_a_runtime_weight_stays_channels_first():
    model = make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": ([1, 2, 4, 4], F32), "w": ([3, 2, 3, 3], F32)}, ["y"]
    )
    after = assert_pass_preserves(import_onnx(model), "graph-to-nhwc")
    assert not perms(after)


def test_input_normalisation_joins_the_region():
    """`(x - mean) / std` per channel before the stem: the entry transpose moves above it,
    the constants are permuted, and it is still the only one in."""
    n = Net()
    n.inits["mean"] = np.array([0.5, 0.4, 0.3], np.float32).reshape(1, 3, 1, 1)
    n.inits["std"] = np.array([0.2, 0.25, 0.3], np.float32).reshape(3, 1, 1)
    x = n.node("Div", [n.node("Sub", ["x", "mean"], "centred"), "std"], "normalised")
    y = n.node("GlobalMaxPool", [n.relu(n.conv(x, 3, 4, 3, "stem"), "r")], "y")
    after = assert_pass_preserves(import_onnx(n.model([1, 3, 5, 5], y)), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]
    first = next(op for op in after.walk() if isinstance(op, TransposeOp))
    assert isinstance(first.input, BlockArgument)


def test_decoder_with_a_transposed_convolution():
    """graph.conv_transpose has no channels-last form: the region leaves before it and comes
    back after it; the skip connection, upsampled by a linear resize, stays inside."""
    n = Net()
    skip = n.relu(n.conv("x", 2, 4, 3, "enc", stride=2), "skip")
    n.param("up.w", 4, 3, 2, 2)
    up = n.node("ConvTranspose", [skip, "up.w"], "up", strides=[2, 2])
    n.inits["scales"] = np.array([1, 1, 2, 2], np.float32)
    wide = n.node("Resize", [skip, "", "scales"], "wide", mode="linear")
    y = n.conv(n.node("Concat", [wide, up], "cat", axis=1), 7, 2, 3, "dec")
    after = assert_pass_preserves(import_onnx(n.model([1, 2, 8, 8], y)), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2), (0, 2, 3, 1), (0, 3, 1, 2)]
    resize = next(op for op in after.walk() if op.name == "graph.resize")
    assert list(resize.scales.get_values()) == [1, 2, 2, 1]


def test_vit_patch_embedding_cancels_with_the_models_transpose():
    """conv → reshape [N, C, H*W] → transpose(0, 2, 1) → layer norm: the reshape moves into
    the region and its channels-first transpose cancels the model's, so only the input's
    transpose is left; a token sequence reshaped back to an image before a conv needs none."""
    n = Net()
    n.inits["tokens"], n.inits["image"] = np.array([1, 8, 16], np.int64), np.array([1, 8, 4, 4], np.int64)
    t = n.node("Transpose", [n.node("Reshape", [n.conv("x", 3, 8, 4, "patch", stride=4, pad=0), "tokens"], "flat")], "t", perm=[0, 2, 1])
    t = n.node("Mul", [t, n.param("gamma", 8)], "scaled")
    back = n.node("Reshape", [n.node("Transpose", [t], "tt", perm=[0, 2, 1]), "image"], "img")
    y = n.conv(back, 8, 2, 1, "head")
    after = assert_pass_preserves(import_onnx(n.model([1, 3, 16, 16], y)), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2)]


def test_a_slice_joins_and_a_reduction_that_drops_the_channels_ends_the_region():
    n = Net()
    c = n.conv("x", 3, 4, 3, "c")
    n.inits.update(starts=np.array([1], np.int64), ends=np.array([3], np.int64), axes=np.array([1], np.int64))
    s = n.conv(n.node("Slice", [c, "starts", "ends", "axes"], "s"), 2, 2, 1, "after_slice")
    r = n.node("ReduceMean", [c], "r", axes=[1], keepdims=0)
    model = make_model(n.nodes, {"x": ([1, 3, 5, 5], F32)}, [s, r], n.inits)
    after = assert_pass_preserves(import_onnx(model), "graph-to-nhwc", **TOLERANCE)
    assert perms(after) == [(0, 2, 3, 1), (0, 3, 1, 2), (0, 3, 1, 2)]
    reduce = next(op for op in after.walk() if op.name == "graph.reduce_mean")
    assert ints(reduce.axes) == (1,) and isinstance(reduce.input.owner, TransposeOp)


def test_no_dead_ops_are_left():
    for model in (resnet(), inception()):
        after = assert_pass_preserves(import_onnx(model), "graph-to-nhwc", **TOLERANCE)
        assert not [op.name for op in after.walk() if op.results and not any(r.uses for r in op.results)]
