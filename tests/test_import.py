"""The ONNX frontend: model files, shapes, opsets, folding, and the errors it promises."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.dialects import func

from compiler.onnx_import import import_onnx, parse_shape
from dialects.errors import OptcError
from dialects.graph import ConstantOp, ConvOp, ReluOp, WeightOp
from dialects.weights import store_of
from runtime.reference import run
from tests.support import assert_matches_onnxruntime, make_model

F = TensorProto.FLOAT


def conv_relu(opset: int = 17, batch: int | str = 1) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    return make_model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"), helper.make_node("Relu", ["c"], ["y"])],
        {"x": ([batch, 3, 8, 8], F)},
        ["y"],
        {"w": rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)},
        opset=opset,
    )


def ops_of(module) -> list[type]:
    return [type(op) for op in module.walk()]


def test_initializers_become_weights_and_small_ones_inline():
    module = import_onnx(conv_relu())
    weights = [op for op in module.walk() if isinstance(op, WeightOp)]
    assert [w.sym.data for w in weights] == ["w"]
    assert ConstantOp in ops_of(module)  # the 4-element bias is small enough to print inline
    assert store_of(module)["w"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize("opset", [11, 13, 17, onnx.defs.onnx_opset_version()])
def test_every_opset_in_range_imports(opset):
    assert_matches_onnxruntime(conv_relu(opset))


def test_symbolic_batch_needs_a_shape():
    with pytest.raises(OptcError, match=r"input 'x' has symbolic dimensions \[N, 3, 8, 8\]; fix them with --shape x=Nx3x8x8"):
        import_onnx(conv_relu(batch="N"))
    module = assert_matches_onnxruntime(conv_relu(batch="N"), shapes={"x": (2, 3, 8, 8)})
    conv = next(op for op in module.walk() if isinstance(op, ConvOp))
    assert conv.result.type.get_shape() == (2, 4, 8, 8)


def test_minus_one_is_a_symbolic_dimension():
    """Exporters that write a dynamic dimension as dim_value -1: --shape fixes it, and the
    example the error gives imports as given."""
    with pytest.raises(OptcError, match=r"input 'x' has symbolic dimensions \[\?, 3, 8, 8\]; .*\(e\.g\. --shape (x=\S+)\)") as e:
        import_onnx(conv_relu(batch=-1))
    hinted = parse_shape(re.search(r"e\.g\. --shape (\S+)\)", str(e.value)).group(1))
    assert hinted == ("x", (1, 3, 8, 8))
    assert_matches_onnxruntime(conv_relu(batch=-1), shapes=dict([hinted]))
    module = assert_matches_onnxruntime(conv_relu(batch=-1), shapes={"x": (2, 3, 8, 8)})
    assert next(op for op in module.walk() if isinstance(op, ConvOp)).result.type.get_shape() == (2, 4, 8, 8)
    with pytest.raises(OptcError, match=r"--shape x: dimension 2 is fixed to 8 by the model, got 9"):
        import_onnx(conv_relu(batch=-1), {"x": (2, 3, 9, 8)})


def test_minus_one_in_outputs_and_value_info_is_not_a_size():
    """Stale -1s (and wrong sizes) in outputs and value_info are claims the importer never
    reads: shapes come from the inputs through each op's inference."""
    model = conv_relu()
    model.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", F, [-1, 4, -1, 8]))
    model.graph.value_info.append(helper.make_tensor_value_info("c", F, [-1, -1, 3, -1]))
    module = assert_matches_onnxruntime(model)
    (result,) = next(op for op in module.walk() if isinstance(op, func.FuncOp)).function_type.outputs
    assert result.get_shape() == (1, 4, 8, 8)


@pytest.mark.parametrize(
    "shapes, message",
    [
        ({"x": (1, 4, 8, 8)}, r"--shape x: dimension 1 is fixed to 3 by the model, got 4"),
        ({"x": (1, 3, 8)}, r"--shape x: the model's input has rank 4, got 3 dims"),
        ({"y": (1,)}, r"--shape names unknown input\(s\) y; the model's inputs are x"),
    ],
)
def test_shape_mismatches_are_named(shapes, message):
    with pytest.raises(OptcError, match=message):
        import_onnx(conv_relu(batch="N"), shapes)


@pytest.mark.parametrize(
    "spec, expected",
    [("x=1x3x224x224", ("x", (1, 3, 224, 224))), ("a=b=2", ("a=b", (2,))), ("s=", ("s", ()))],
)
def test_parse_shape(spec, expected):
    assert parse_shape(spec) == expected


@pytest.mark.parametrize("spec", ["x", "=1x2", "x=1xa"])
def test_parse_shape_rejects_malformed(spec):
    with pytest.raises(OptcError, match="--shape"):
        parse_shape(spec)


def test_parse_shape_rejects_negative_sizes():
    with pytest.raises(OptcError, match=r"--shape 'x=-1x3': dimensions must be sizes \(0 or more\), not negative"):
        parse_shape("x=-1x3")


def test_external_data_is_read(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(conv_relu(), path, save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    assert (tmp_path / "weights.bin").exists()
    module = import_onnx(str(path))
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    expected = run(import_onnx(conv_relu()), {"x": x})["y"]
    np.testing.assert_array_equal(run(module, {"x": x})["y"], expected)


def test_missing_external_data_is_a_clear_error(tmp_path):
    path = tmp_path / "model.onnx"
    onnx.save(conv_relu(), path, save_as_external_data=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(OptcError, match="cannot read|not a valid ONNX model"):
        import_onnx(str(path))


def test_model_proto_without_its_external_data_is_a_clear_error(tmp_path):
    model = conv_relu()
    onnx.save(model, tmp_path / "model.onnx", save_as_external_data=True, location="w.bin", size_threshold=0)
    (tmp_path / "w.bin").unlink()  # `model` now refers to external data that is gone
    with pytest.raises(OptcError, match="initializer 'w' cannot be read"):
        import_onnx(model)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = tmp_path / "model.onnx"
    data = conv_relu().SerializeToString()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(OptcError, match="is not a valid ONNX model"):
        import_onnx(str(path))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(OptcError, match="does not exist"):
        import_onnx(str(tmp_path / "nope.onnx"))


def test_unsupported_op_names_type_node_and_docs():
    model = make_model([helper.make_node("NoSuchOp", ["x"], ["y"], name="weird")], {"x": ([2], F)}, ["y"])
    with pytest.raises(OptcError, match=r"unsupported ONNX op 'NoSuchOp' \(node 'weird'\); supported ops are listed in docs/supported-ops.md"):
        import_onnx(model)


def test_custom_domain_op_is_unsupported():
    node = helper.make_node("FusedGemm", ["x"], ["y"], name="ms", domain="com.microsoft")
    model = make_model([node], {"x": ([2], F)}, ["y"])
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(OptcError, match=r"unsupported ONNX op 'com.microsoft.FusedGemm' \(node 'ms'\)"):
        import_onnx(model)


@pytest.mark.parametrize("opset", [9, 10])
def test_old_opsets_are_refused_with_advice(opset):
    with pytest.raises(OptcError, match=rf"opset {opset}; optc supports opsets 11 to \d+ \(onnx.version_converter"):
        import_onnx(conv_relu(opset))


def test_unsupported_element_type_is_named():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ([2], TensorProto.COMPLEX64)}, ["y"])
    with pytest.raises(OptcError, match=r"input 'x': element type COMPLEX64 is not supported"):
        import_onnx(model)


def test_storage_only_element_type_is_refused_by_computing_ops():
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ([2], TensorProto.FLOAT8E4M3FN)}, ["y"])
    with pytest.raises(OptcError, match=r"Relu node 'y': 'graph.relu' op does not compute on f8E4M3FN"):
        import_onnx(model)


def test_constant_subgraph_folds_and_unused_constants_vanish():
    # Reshape's shape comes from a Constant node, cast at import: both fold away
    nodes = [
        helper.make_node("Constant", [], ["s"], value=helper.make_tensor("s", TensorProto.INT32, [2], [2, -1])),
        helper.make_node("Cast", ["s"], ["s64"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["x", "s64"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    module = assert_matches_onnxruntime(make_model(nodes, {"x": ([2, 3, 4], F)}, ["y"]))
    kinds = {op.name for op in module.walk()} - {"builtin.module", "func.func", "func.return"}
    assert kinds == {"graph.reshape", "graph.relu"}


def test_initializer_listed_as_input_is_a_constant():
    # IR version < 4 models list initializers among the inputs; they are weights, not inputs
    model = conv_relu()
    model.graph.input.append(helper.make_tensor_value_info("w", F, [4, 3, 3, 3]))
    module = import_onnx(model)
    fn = next(op for op in module.walk() if op.name == "func.func")
    assert len(fn.function_type.inputs) == 1


def test_node_without_name_is_named_by_its_output():
    model = make_model([helper.make_node("NoSuchOp", ["x"], ["out7"])], {"x": ([2], F)}, ["out7"])
    with pytest.raises(OptcError, match=r"node 'out7'"):
        import_onnx(model)


def test_relu_chain_stays_in_order():
    nodes = [helper.make_node("Relu", ["x"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    module = import_onnx(make_model(nodes, {"x": ([3], F)}, ["y"]))
    assert ops_of(module).count(ReluOp) == 2
