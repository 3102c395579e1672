"""Indexing ops: GatherND, ScatterND, OneHot, Trilu, CumSum, Einsum and NonZero, each
with its attribute variants and opset forms, imported and run by the reference
interpreter against onnxruntime; then the importer's errors."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import ConstantOp, MatMulOp, TransposeOp
from tests.support import assert_matches_onnxruntime, make_model

F32, F16, F64, I32, I64, BOOL = (
    TensorProto.FLOAT,
    TensorProto.FLOAT16,
    TensorProto.DOUBLE,
    TensorProto.INT32,
    TensorProto.INT64,
    TensorProto.BOOL,
)


def i64(*values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def model(op, inputs, consts=None, opset=17, **attrs):
    """One node: graph inputs `inputs` (name -> (shape, type)), then the initializers
    `consts` (None stands for an omitted optional input), output y."""
    consts = consts or {}
    names = [*inputs, *(n if v is not None else "" for n, v in consts.items())]
    inits = {n: v for n, v in consts.items() if v is not None}
    return make_model([helper.make_node(op, names, ["y"], **attrs)], inputs, ["y"], inits, opset)


def data(shape, dtype=F32):
    return {"x": (shape, dtype)}


def scatter_nd(shape, indices, updates_shape, dtype=F32, opset=17, **attrs):
    """ScatterND's inputs are data, indices, updates: the indices sit between two graph inputs."""
    node = helper.make_node("ScatterND", ["x", "i", "u"], ["y"], **attrs)
    inputs = {"x": (shape, dtype), "u": (updates_shape, dtype)}
    return make_model([node], inputs, ["y"], {"i": indices}, opset)


# id -> model (random inputs)
CASES = {
    # GatherND: batch_dims from opset 12; negative indices count from the end
    "gather-nd-elements-11": model("GatherND", data([3, 4]), {"i": i64(1, 2, -1, 0).reshape(2, 2)}, opset=11),
    "gather-nd-slices": model("GatherND", data([3, 4, 5]), {"i": i64(2, 0, -2).reshape(3, 1)}, opset=13),
    "gather-nd-nested-indices": model("GatherND", data([3, 4, 5]), {"i": i64(0, 1, 2, 3, 1, 1).reshape(3, 1, 2)}),
    "gather-nd-batch1-12": model(
        "GatherND", data([2, 3, 4]), {"i": i64(1, 2, 0, -1).reshape(2, 2, 1)}, opset=12, batch_dims=1
    ),
    "gather-nd-batch2": model(
        "GatherND", data([2, 3, 4, 5]), {"i": i64(*range(-6, 6)).reshape(2, 3, 1, 2) % 4}, opset=13, batch_dims=2
    ),
    "gather-nd-int64": model("GatherND", data([4, 2], I64), {"i": i64(3, 1, 0, 0).reshape(2, 2)}),
    "gather-nd-bool": model("GatherND", data([2, 5], BOOL), {"i": i64(1, 0, 0, 3).reshape(2, 2)}),
    # ScatterND: reduction add/mul from opset 16, max/min from 18
    "scatter-nd-rows-11": scatter_nd([4, 3], i64(2, -4).reshape(2, 1), [2, 3], opset=11),
    "scatter-nd-elements": scatter_nd([2, 3], i64(0, 1, 1, -1).reshape(2, 2), [2]),
    "scatter-nd-int64": scatter_nd([5], i64(4, 0).reshape(2, 1), [2], I64, opset=13),
    "scatter-nd-none-18": scatter_nd([4, 3], i64(3, 0).reshape(2, 1), [2, 3], opset=18, reduction="none"),
    **{
        # a repeated index: the reduction combines both updates into one row
        f"scatter-nd-{reduction}-{opset}": scatter_nd(
            [4, 3], i64(1, 3, 1).reshape(3, 1), [3, 3], opset=opset, reduction=reduction
        )
        for reduction, opset in (("add", 16), ("mul", 16), ("max", 18), ("min", 18))
    },
    # Trilu (opset 14): upper by default, k an optional input
    "trilu-upper": model("Trilu", data([4, 5]), opset=14),
    "trilu-lower": model("Trilu", data([5, 4]), opset=14, upper=0),
    "trilu-upper-k1": model("Trilu", data([2, 4, 4]), {"k": i64(1)[0]}, opset=14),
    "trilu-lower-k-neg": model("Trilu", data([2, 3, 4]), {"k": i64(-1)[0]}, opset=14, upper=0),
    "trilu-k-beyond": model("Trilu", data([3, 3]), {"k": i64(-5)[0]}, opset=14),
    "trilu-bool": model("Trilu", data([4, 4], BOOL), {"k": i64(0)[0]}, opset=14, upper=0),
    "trilu-int32": model("Trilu", data([3, 4], I32), opset=14),
    # CumSum: axis a 0-d or one-element input
    "cum-sum-11": model("CumSum", data([3, 5]), {"a": i64(1)[0]}, opset=11),
    "cum-sum-axis-1d": model("CumSum", data([3, 5]), {"a": i64(0)}, opset=14),
    "cum-sum-axis-neg": model("CumSum", data([2, 3, 4]), {"a": i64(-2)[0]}, opset=14),
    "cum-sum-exclusive": model("CumSum", data([3, 5]), {"a": i64(1)[0]}, opset=14, exclusive=1),
    "cum-sum-reverse": model("CumSum", data([3, 5]), {"a": i64(1)[0]}, opset=14, reverse=1),
    "cum-sum-exclusive-reverse": model("CumSum", data([4, 3]), {"a": i64(0)[0]}, opset=14, exclusive=1, reverse=1),
    "cum-sum-int64": model("CumSum", data([2, 6], I64), {"a": i64(1)[0]}, opset=14),
    "cum-sum-int32-axis-int32": model("CumSum", data([6], I32), {"a": np.asarray(0, np.int32)}, opset=14, exclusive=1),
    "cum-sum-f16": model("CumSum", data([2, 64], F16), {"a": i64(1)[0]}, opset=14),
    "cum-sum-f64": model("CumSum", data([40], F64), {"a": i64(0)[0]}, opset=14),
}

# Tolerances other than 1e-4: float16 sums are rounded once, at float16's precision.
TOLERANCE = {"cum-sum-f16": 1e-3}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_onnxruntime(name):
    tolerance = TOLERANCE.get(name, 1e-4)
    assert_matches_onnxruntime(CASES[name], rtol=tolerance, atol=tolerance)


def test_gather_nd_of_a_runtime_mask_like_the_dynamo_exporter():
    """`mask[:, None, None, :]`-style indexing of a bool attention mask (what PyTorch's
    dynamo exporter emits for aten.index.Tensor), with the index tuples known at import."""
    nodes = [
        helper.make_node("Cast", ["mask"], ["b"], to=BOOL),
        helper.make_node("GatherND", ["b", "i"], ["y"], batch_dims=0),
    ]
    index = np.stack(np.meshgrid(np.arange(2), np.arange(6), indexing="ij"), -1).reshape(2, 1, 6, 2)
    onnx_model = make_model(nodes, {"mask": ([2, 6], I64)}, ["y"], {"i": index.astype(np.int64)}, 18)
    mask = np.asarray([[1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], np.int64)
    assert_matches_onnxruntime(onnx_model, inputs={"mask": mask})


# --- OneHot (index values chosen to cover negative and out-of-range ones) ----------------

ONE_HOT_INDICES = np.asarray([[0, 3, -1], [-4, 5, -6]])


def one_hot(index_type, values, depth, **attrs):
    return model("OneHot", {"x": ([2, 3], index_type)}, {"d": depth, "v": values}, opset=11, **attrs)


ONE_HOT = {
    "default-axis": (I64, np.asarray([0, 1], np.float32), i64(4)[0], {}),
    "axis0": (I64, np.asarray([-1, 5], np.int64), i64(4)[0], {"axis": 0}),
    "axis-neg": (I64, np.asarray([2, 3], np.float32), i64(4), {"axis": -2}),
    "int32-indices": (I32, np.asarray([0, 1], np.float32), np.asarray(4, np.int32), {}),
    "float-indices-depth": (F32, np.asarray([0, 1], np.float32), np.asarray(4.0, np.float32), {"axis": 1}),
    "int32-values-float-depth": (I64, np.asarray([7, 9], np.int32), np.asarray(4.0, np.float32), {}),
    "f16-values": (I64, np.asarray([0, 1], np.float16), i64(4)[0], {}),
}


@pytest.mark.parametrize("name", list(ONE_HOT))
def test_one_hot(name):
    index_type, values, depth, attrs = ONE_HOT[name]
    indices = ONE_HOT_INDICES.astype(helper.tensor_dtype_to_np_dtype(index_type))
    assert_matches_onnxruntime(one_hot(index_type, values, depth, **attrs), inputs={"x": indices})


# --- Einsum: two-operand contractions become one matmul, one operand a sum/transpose -----

EINSUM = [
    ("ij,jk->ik", [3, 4], [4, 5]),
    ("ij,kj->ik", [3, 4], [5, 4]),
    ("ji,jk", [4, 3], [4, 5]),
    ("bij,bjk->bik", [2, 3, 4], [2, 4, 5]),
    ("bij,bjk->bik", [1, 3, 4], [3, 4, 5]),
    ("bij,jk->bik", [2, 3, 4], [4, 5]),
    ("bhqd,bhkd->bhqk", [2, 3, 4, 8], [2, 3, 5, 8]),
    ("bhqk,bkhd->bqhd", [2, 3, 4, 5], [2, 5, 3, 8]),
    ("ij,ij->i", [3, 4], [3, 4]),
    ("i,i->", [5], [5]),
    ("i,j->ij", [3], [4]),
    ("ik,jk->kij", [3, 2], [4, 2]),
    ("...ij,...jk->...ik", [2, 1, 3, 4], [1, 5, 4, 6]),
    ("... i j , j k", [2, 3, 4], [4, 5]),
    ("ab,cd->abcd", [2, 3], [4, 5]),
    ("ij,jk->k", [3, 4], [4, 5]),
    ("bij,bkl->bjl", [2, 3, 4], [2, 5, 6]),
]


@pytest.mark.parametrize("equation, a, b", EINSUM, ids=[f"{e}-{'x'.join(map(str, a))}" for e, a, _ in EINSUM])
def test_einsum(equation, a, b):
    onnx_model = model("Einsum", {"a": (a, F32), "b": (b, F32)}, opset=12, equation=equation)
    module = assert_matches_onnxruntime(onnx_model, rtol=1e-5, atol=1e-5)
    assert sum(isinstance(op, MatMulOp) for op in module.walk()) == 1


EINSUM_ONE_OPERAND = [
    ("ij->ji", [3, 4]),
    ("ij->i", [3, 4]),
    ("ij->", [3, 4]),
    ("...ij->...ji", [2, 3, 4]),
    ("->", []),
    ("ijk", [2, 3, 4]),
]


@pytest.mark.parametrize("equation, shape", EINSUM_ONE_OPERAND, ids=[e for e, _ in EINSUM_ONE_OPERAND])
def test_einsum_of_one_operand_sums_and_transposes(equation, shape):
    onnx_model = model("Einsum", {"a": (shape, F32)}, opset=12, equation=equation)
    module = assert_matches_onnxruntime(onnx_model, rtol=1e-5, atol=1e-5)
    assert not any(isinstance(op, MatMulOp) for op in module.walk())


def test_einsum_of_integers_without_needless_transposes():
    onnx_model = model("Einsum", {"a": ([3, 4], I64), "b": ([4, 5], I64)}, opset=12, equation="ij,jk->ik")
    inputs = {"a": i64(*range(12)).reshape(3, 4), "b": i64(*range(20)).reshape(4, 5)}
    module = assert_matches_onnxruntime(onnx_model, inputs=inputs)
    assert not any(isinstance(op, TransposeOp) for op in module.walk())


# --- NonZero: folds when its input is known ------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [np.asarray([[0, 1.5, 0], [2, 0, -3]], np.float32), np.asarray([True, False, True]), np.asarray(4, np.int64)],
    ids=["matrix", "bool", "scalar"],
)
def test_non_zero_of_a_known_input_folds(value):
    nodes = [helper.make_node("NonZero", ["c"], ["n"]), helper.make_node("Add", ["x", "n"], ["y"])]
    count = max(int(np.count_nonzero(value)), 1)
    onnx_model = make_model(nodes, {"x": ([max(value.ndim, 1), count], I64)}, ["y"], {"c": value}, 13)
    module = assert_matches_onnxruntime(onnx_model)
    assert any(isinstance(op, ConstantOp) for op in module.walk())


# --- importer errors ---------------------------------------------------------------------

ERRORS = {
    "ScatterND node 'y': reduction 'max' is not supported at opset 16": scatter_nd(
        [4], i64(1).reshape(1, 1), [1], opset=16, reduction="max"
    ),
    "reduction 'sub' is not supported at opset 18": scatter_nd(
        [4], i64(1).reshape(1, 1), [1], opset=18, reduction="sub"
    ),
    "'graph.scatter_nd' op expects updates of shape tensor<2xf32>": scatter_nd([4], i64(1, 2).reshape(2, 1), [3]),
    "'graph.gather_nd' op expects index tuples of length 1 to 1": model(
        "GatherND", data([2, 3]), {"i": i64(0, 0, 1, 1).reshape(2, 2)}, opset=13, batch_dims=1
    ),
    "OneHot node 'y': input 1 \\('depth'\\) must be a compile-time constant": model(
        "OneHot", {"x": ([3], I64), "d": ([], I64)}, {"v": np.asarray([0, 1], np.float32)}, opset=11
    ),
    "expects 'depth' to hold one value, got 2": one_hot(I64, np.asarray([0, 1], np.float32), i64(2, 3)),
    "'graph.one_hot' op expects a positive depth, got 0": one_hot(I64, np.asarray([0, 1], np.float32), i64(0)),
    "OneHot node 'y': axis 3 is out of range for rank 3": one_hot(I64, np.asarray([0, 1], np.float32), i64(4), axis=3),
    "'graph.trilu' op expects an input of rank at least 2, got tensor<4xf32>": model("Trilu", data([4]), opset=14),
    "CumSum node 'y': axis 2 is out of range for rank 2": model("CumSum", data([2, 3]), {"a": i64(2)[0]}, opset=14),
    "CumSum node 'y': input 1 \\('axis'\\) must be a compile-time constant": model(
        "CumSum", {**data([2, 3]), "a": ([], I64)}, opset=14
    ),
    "Einsum node 'y': supports equations of one or two operands only; 'i,i,i->i' has 3": model(
        "Einsum", {"a": ([3], F32), "b": ([3], F32), "c": ([3], F32)}, opset=12, equation="i,i,i->i"
    ),
    "equation 'ii,ij->j' repeats index 'i' in one term \\(diagonals are not supported\\)": model(
        "Einsum", {"a": ([3, 3], F32), "b": ([3, 4], F32)}, opset=12, equation="ii,ij->j"
    ),
    "equation 'ij,jk->ikl': result index 'l' is not an index of any operand": model(
        "Einsum", {"a": ([3, 4], F32), "b": ([4, 5], F32)}, opset=12, equation="ij,jk->ikl"
    ),
    "index 'j' has sizes 4 and 1 in the two operands": model(
        "Einsum", {"a": ([3, 4], F32), "b": ([1, 5], F32)}, opset=12, equation="ij,jk->ik"
    ),
    "equation 'i1,jk->ik' does not name the indices": model(
        "Einsum", {"a": ([3, 4], F32), "b": ([4, 5], F32)}, opset=12, equation="i1,jk->ik"
    ),
    "equation 'ijk,kl->il': 'ijk' does not fit an operand of rank 2": model(
        "Einsum", {"a": ([3, 4], F32), "b": ([4, 5], F32)}, opset=12, equation="ijk,kl->il"
    ),
    "NonZero node 'y': its result's shape \\(the number of non-zero elements\\) depends on the input's values": model(
        "NonZero", data([3]), opset=13
    ),
}


@pytest.mark.parametrize("message", list(ERRORS))
def test_importer_errors(message):
    with pytest.raises(OptcError, match=message):
        import_onnx(ERRORS[message])
