"""graph-canonicalize: the differential tests, on the lit cases
(lit_tests/passes/graph-canonicalize.mlir) and on an ONNX model full of exporter no-ops."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import ReshapeOp, TransposeOp
from runtime.reference import run
from tests.support import assert_pass_preserves, lit_function, make_model, parse

LIT = "passes/graph-canonicalize.mlir"


def graph_ops(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("graph.")]


def test_identities_all_go():
    after = assert_pass_preserves(lit_function(LIT, "identities"), "graph-canonicalize")
    assert graph_ops(after) == []


def test_look_alikes_stay():
    ir = lit_function(LIT, "not_identities")
    after = assert_pass_preserves(ir, "graph-canonicalize")
    kept = ["graph.reshape", "graph.cast", "graph.expand", "graph.transpose", "graph.slice", "graph.pad"]
    assert graph_ops(after) == kept


def test_transpose_pairs_compose():
    after = assert_pass_preserves(lit_function(LIT, "transpose_pairs"), "graph-canonicalize")
    assert graph_ops(after) == ["graph.transpose", "graph.transpose"]


@pytest.mark.parametrize("options, expected", [("", 3), ("{keep-view-ops=true}", 2)])
def test_views_become_reshapes(options, expected):
    after = assert_pass_preserves(lit_function(LIT, "views"), "graph-canonicalize" + options)
    assert graph_ops(after).count("graph.reshape") == expected
    assert len(graph_ops(after)) == 3


@pytest.mark.parametrize("options, left", [("", 5), ("{signed-zeros=false}", 3), ("{arithmetic=false}", 11)])
def test_arithmetic_identities(options, left):
    after = assert_pass_preserves(lit_function(LIT, "arithmetic"), "graph-canonicalize" + options)
    arithmetic = [n for n in graph_ops(after) if n in ("graph.add", "graph.sub", "graph.mul", "graph.div")]
    assert len(arithmetic) == left


def test_groups_off_change_nothing():
    ir = lit_function(LIT, "identities")
    off = "graph-canonicalize{identities=false chains=false arithmetic=false keep-view-ops=true}"
    after = assert_pass_preserves(ir, off)
    assert len(graph_ops(after)) == 10


def test_signed_zero_stays_exact():
    """x + 0.0 is not removed by default because -0.0 + 0.0 is +0.0; x + (-0.0) is."""
    ir = lit_function(LIT, "arithmetic")
    module, after = parse(ir), assert_pass_preserves(ir, "graph-canonicalize")
    inputs = {"input0": np.array([-0.0, 0.0, 1.0, -2.0], np.float32), "input1": np.arange(4, dtype=np.int32)}
    for name, value in run(module, inputs).items():
        np.testing.assert_array_equal(np.signbit(run(after, inputs)[name]), np.signbit(value), err_msg=name)


def exporter_model():
    """What exporters leave: Identity, a Reshape to the same shape, a Transpose pair, a
    Flatten/Unsqueeze/Squeeze chain, Mul by 1, Cast to the same type."""
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    nodes = [
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Reshape", ["i", "same"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t1"], perm=[0, 2, 1]),
        helper.make_node("Transpose", ["t1"], ["t2"], perm=[0, 2, 1]),
        helper.make_node("Flatten", ["t2"], ["f"], axis=1),
        helper.make_node("Unsqueeze", ["f", "ax"], ["u"]),
        helper.make_node("Squeeze", ["u", "ax"], ["s"]),
        helper.make_node("Mul", ["s", "one"], ["m"]),
        helper.make_node("Cast", ["m"], ["y"], to=TensorProto.FLOAT),
    ]
    inits = {"same": i64(2, 3, 4), "ax": i64(1), "one": np.array(1.0, np.float32)}
    return make_model(nodes, {"x": ([2, 3, 4], TensorProto.FLOAT)}, ["y"], inits, opset=13)


def test_exporter_no_ops_collapse_to_one_reshape():
    module = import_onnx(exporter_model())
    assert len(graph_ops(module)) >= 9
    after = assert_pass_preserves(module, "graph-canonicalize")
    ops = [op for op in after.walk() if op.name.startswith("graph.")]
    assert [type(op) for op in ops] == [ReshapeOp]
    assert ops[0].result.type.get_shape() == (2, 12)
    assert not any(isinstance(op, TransposeOp) for op in ops)
