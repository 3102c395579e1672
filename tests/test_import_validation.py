"""Bad input to the importer ends in one line naming the cause (through `import_onnx` and
through `optc MODEL`), never a traceback or a wrong answer: attribute types against the ONNX
schemas, `--shape`s, the graph's structure, misleading causes; and empty tensors compute
what onnxruntime computes."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx, parse_shapes
from compiler.onnx_import.frontend import MAX_INPUT_BYTES
from compiler import optc_run
from compiler.optc import main as optc_main
from dialects.errors import OptcError
from tests.support import assert_matches_onnxruntime, make_model, run_onnxruntime

F = TensorProto.FLOAT


def unary(op_type: str, shape=(2, 4), opset: int = 17, **attrs) -> onnx.ModelProto:
    return make_model([helper.make_node(op_type, ["x"], ["y"], name="n", **attrs)], {"x": (list(shape), F)}, ["y"], opset=opset)


def conv(**attrs) -> onnx.ModelProto:
    w = np.ones((1, 1, 3, 3), np.float32)
    return make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="n", **attrs)], {"x": ([1, 1, 4, 4], F)}, ["y"], {"w": w})


def with_graph(model: onnx.ModelProto, edit) -> onnx.ModelProto:
    edit(model.graph)
    return model


def two_relus(first_out: str, second_out: str = "y") -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["x"], [first_out], name="a"), helper.make_node("Neg", ["x"], [second_out], name="b")]
    return make_model(nodes, {"x": ([2, 4], F)}, ["y"], {"w": np.ones(4, np.float32)})


def cycle() -> onnx.ModelProto:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="start"),
        helper.make_node("Add", ["a", "c"], ["b"], name="add"),
        helper.make_node("Neg", ["b"], ["c"], name="neg"),
        helper.make_node("Relu", ["c"], ["y"], name="out"),
    ]
    return make_model(nodes, {"x": ([2, 4], F)}, ["y"])


def negative_initializer() -> onnx.ModelProto:
    model = make_model([helper.make_node("Add", ["x", "w"], ["y"], name="n")], {"x": ([2, 4], F)}, ["y"])
    model.graph.initializer.append(onnx.TensorProto(name="w", data_type=F, dims=[-1, 4]))
    return model


def optc(capsys, *argv) -> tuple[int, str]:
    code = optc_main([str(a) for a in argv])
    return code, capsys.readouterr().err


# (model, the error's one line); onnxruntime refuses each model too
INVALID = {
    "perm as a string": (unary("Transpose", perm="3210"), "Transpose node 'n': attribute 'perm' must be of type INTS, got STRING"),
    "float strides": (conv(strides=[1.0, 1.0]), "Conv node 'n': attribute 'strides' must be of type INTS, got FLOATS"),
    "floats axis": (unary("Softmax", axis=[1.0]), "Softmax node 'n': attribute 'axis' must be of type INT, got FLOATS"),
    "string alpha": (unary("LeakyRelu", alpha="0.1"), "LeakyRelu node 'n': attribute 'alpha' must be of type FLOAT, got STRING"),
    "int alpha": (unary("LeakyRelu", alpha=1), "LeakyRelu node 'n': attribute 'alpha' must be of type FLOAT, got INT"),
    "unknown attribute": (unary("Relu", alpah=0.1), "Relu node 'n': ONNX defines no attribute 'alpah' for Relu (at opset 17 it has: none)"),
    "two producers": (two_relus("y"), "Neg node 'b' defines 'y', which is already defined by Relu node 'a'"),
    "overwritten input": (two_relus("x"), "Relu node 'a' defines 'x', which is already defined by graph input 'x'"),
    "overwritten initializer": (two_relus("w"), "Relu node 'a' defines 'w', which is already defined by initializer 'w'"),
    "input listed twice": (with_graph(unary("Relu"), lambda g: g.input.append(g.input[0])), "graph input 'x' is listed twice"),
    "negative initializer dims": (negative_initializer(), "initializer 'w' has negative dimensions [-1, 4]"),
    "cycle": (cycle(), "the graph has a cycle through Add node 'add': a node's inputs depend on its own outputs"),
    "impossible reshape": (
        make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="r")], {"x": ([2, 4], F)}, ["y"], {"s": np.array([3, 3])}),
        "Reshape node 'r': 'graph.reshape' op cannot reshape tensor<2x4xf32> to tensor<3x3xf32>",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_model_is_named(case, capsys, tmp_path):
    model, message = INVALID[case]
    with pytest.raises(OptcError) as e:
        import_onnx(model)
    assert str(e.value).startswith(message)
    with pytest.raises(Exception):  # noqa: B017  (onnxruntime's own error types)
        run_onnxruntime(model, {"x": np.zeros((2, 4), np.float32)})
    onnx.save(model, tmp_path / "m.onnx")
    code, err = optc(capsys, tmp_path / "m.onnx")
    assert code == 1 and err.startswith(f"optc: error: {message}") and len(err.splitlines()) == 1


def test_attribute_of_another_opset_is_read():
    """Squeeze's `axes` is an attribute until opset 13 and an input from then on; a model
    that keeps the attribute still imports (its type is checked against the older schema)."""
    module = import_onnx(unary("Squeeze", shape=(2, 1, 4), opset=13, axes=[1]))
    assert "tensor<2x4xf32>" in str(module)
    with pytest.raises(OptcError, match="Squeeze node 'n': attribute 'axes' must be of type INTS, got INT"):
        import_onnx(unary("Squeeze", shape=(2, 1, 4), opset=13, axes=1))


def test_nodes_out_of_order_are_sorted():
    """onnxruntime runs a graph whose nodes are not in topological order; so does optc,
    keeping the given order wherever the data allow."""
    nodes = [
        helper.make_node("Neg", ["b"], ["y"], name="last"),
        helper.make_node("Relu", ["x"], ["a"], name="first"),
        helper.make_node("Exp", ["a"], ["b"], name="second"),
    ]
    module = assert_matches_onnxruntime(make_model(nodes, {"x": ([2, 4], F)}, ["y"]))
    names = [op.name for op in module.walk() if op.name.startswith("graph.")]
    assert names == ["graph.relu", "graph.exp", "graph.neg"]


# --- --shape -------------------------------------------------------------------------


def test_repeated_shape_is_an_error(capsys, tmp_path):
    assert parse_shapes(["x=1x3x4", "z=2"]) == {"x": (1, 3, 4), "z": (2,)}
    message = "--shape names input 'x' twice (1x3x4 and 2x3x4); give it once"
    with pytest.raises(OptcError, match=f"^{re.escape(message)}$"):
        parse_shapes(["x=1x3x4", "x=2x3x4"])
    onnx.save(unary("Relu", shape=("N", 3, 4)), tmp_path / "m.onnx")
    assert optc(capsys, tmp_path / "m.onnx", "--shape", "x=1x3x4", "--shape", "x=2x3x4") == (1, f"optc: error: {message}\n")
    assert optc_run.main([str(tmp_path / "m.onnx"), "--device", "cpu", "--shape", "x=1x3x4", "--shape", "x=2x3x4"]) == 1
    assert f"optc-run: error: {message}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "spec, message",
    [
        ("x=-2x3x4", "--shape 'x=-2x3x4': dimensions must be sizes (0 or more), not negative"),
        ("x=100000000x3x4000", "input 'x' of shape 100000000x3x4000 would take 4.47e+03 GiB; optc accepts inputs up to 256 GiB"),
        ("x=100000000000000000000x3x4", "input 'x' of shape 100000000000000000000x3x4 would take 4.47e+12 GiB"),
    ],
)
def test_bad_shape_is_an_error(spec, message, capsys, tmp_path):
    onnx.save(unary("Relu", shape=("N", 3, "M")), tmp_path / "m.onnx")
    code, err = optc(capsys, tmp_path / "m.onnx", "--shape", spec)
    assert code == 1 and err.startswith(f"optc: error: {message}") and len(err.splitlines()) == 1


def test_size_limit_is_bytes_of_the_inputs_type():
    """The limit counts bytes: the largest float32 input fits, one more element does not;
    an input the model itself makes too large is refused the same way."""
    largest = MAX_INPUT_BYTES // 4
    import_onnx(unary("Relu", shape=("N",)), {"x": (largest,)})
    with pytest.raises(OptcError, match="input 'x' of shape 68719476737 would take 256 GiB"):
        import_onnx(unary("Relu", shape=("N",)), {"x": (largest + 1,)})
    with pytest.raises(OptcError, match="input 'x' of shape 1000000x1000000 would take"):
        import_onnx(unary("Relu", shape=(10**6, 10**6)))


# --- misleading causes -----------------------------------------------------------------


def test_empty_file_is_called_empty(capsys, tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    assert optc(capsys, tmp_path / "empty.onnx") == (1, f"optc: error: model file '{tmp_path / 'empty.onnx'}' is empty\n")
    with pytest.raises(OptcError, match=r"^the model has no graph \(an empty or non-ONNX file\?\)$"):
        import_onnx(onnx.ModelProto())


# --- empty tensors, as onnxruntime computes them ------------------------------------------


def transpose_conv() -> onnx.ModelProto:
    w = np.random.default_rng(0).standard_normal((2, 3, 3, 3)).astype(np.float32)
    return make_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], group=1)], {"x": ([0, 2, 4, 4], F)}, ["y"], {"w": w})


EMPTY = {
    "softmax over an empty axis": unary("Softmax", shape=(0, 4), axis=0),
    "softmax of empty rows": unary("Softmax", shape=(0, 4), axis=1),
    "log softmax over an empty axis": unary("LogSoftmax", shape=(0, 4), axis=0),
    "conv of batch 0": make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"])], {"x": ([0, 2, 4, 4], F)}, ["y"], {"w": np.ones((3, 2, 3, 3), np.float32)}
    ),
    "grouped conv of batch 0": make_model(
        [helper.make_node("Conv", ["x", "w"], ["y"], group=2)], {"x": ([0, 2, 4, 4], F)}, ["y"], {"w": np.ones((4, 1, 3, 3), np.float32)}
    ),
    "conv transpose of batch 0": transpose_conv(),
    "mean of nothing": unary("ReduceMean", shape=(3, 0), axes=[1]),
    "mean of nothing, axes dropped": unary("ReduceMean", shape=(3, 0, 2), axes=[1], keepdims=0),
}


@pytest.mark.parametrize("case", EMPTY)
def test_empty_tensors_compute_as_onnxruntime(case):
    assert_matches_onnxruntime(EMPTY[case])
