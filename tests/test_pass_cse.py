"""graph-cse: the differential tests, on the lit cases (lit_tests/passes/graph-cse.mlir) and
on an ONNX model that computes the same thing twice, once from a duplicated initializer."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.weights import store_of
from tests.support import assert_pass_preserves, lit_function, make_model, parse

LIT = "passes/graph-cse.mlir"


def graph_ops(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("graph.")]


def test_duplicates_merge_and_look_alikes_stay():
    after = assert_pass_preserves(lit_function(LIT, "duplicates"), "graph-cse")
    assert graph_ops(after).count("graph.transpose") == 1
    assert graph_ops(after).count("graph.add") == 3  # x + 1, x + 0.0, x + (-0.0)
    assert graph_ops(after).count("graph.leaky_relu") == 2  # alpha 0.0 and -0.0 differ


def weights_module():
    module = parse(lit_function(LIT, "weights"))
    r = np.arange(20, dtype=np.float32)
    store_of(module).arrays.update(a=r, b=r.copy(), c=r + 1)
    return module


@pytest.mark.parametrize("options, weights, adds", [("", 2, 2), ("{weights-by-content=false}", 3, 3)])
def test_weights_merge_by_name_and_by_content(options, weights, adds):
    after = assert_pass_preserves(weights_module(), "graph-cse" + options)
    assert graph_ops(after).count("graph.weight") == weights
    assert graph_ops(after).count("graph.add") == adds


def duplicated_model():
    """Two identical MatMul + Relu branches, the second through a copy of the initializer
    (as exporters write tied weights), summed."""
    w = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m1"]),
        helper.make_node("Relu", ["m1"], ["r1"]),
        helper.make_node("MatMul", ["x", "w_copy"], ["m2"]),
        helper.make_node("Relu", ["m2"], ["r2"]),
        helper.make_node("Add", ["r1", "r2"], ["y"]),
    ]
    return make_model(nodes, {"x": ([3, 8], TensorProto.FLOAT)}, ["y"], {"w": w, "w_copy": w.copy()})


def test_duplicated_branch_of_imported_model_merges():
    module = import_onnx(duplicated_model())
    assert graph_ops(module).count("graph.matmul") == 2
    after = assert_pass_preserves(module, "graph-cse")
    assert graph_ops(after) == ["graph.weight", "graph.matmul", "graph.relu", "graph.add"]
