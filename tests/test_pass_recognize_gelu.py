"""graph-recognize-gelu: the differential tests, on the lit cases
(lit_tests/passes/graph-recognize-gelu.mlir) and on ONNX models in the exporters' shapes."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import ErfOp, GeluOp, MatMulOp, TanhOp
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-recognize-gelu.mlir"


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


def gelu_of(module) -> list[str]:
    return [op.approximate.data for op in module.walk() if isinstance(op, GeluOp)]


@pytest.mark.parametrize(
    "case, approximate",
    [("erf_torch", "none"), ("erf_half_first", "none"), ("erf_div_two", "none"), ("tanh_pow", "tanh")],
)
def test_lit_cases_collapse_to_one_gelu(case, approximate):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-recognize-gelu")
    assert gelu_of(after) == [approximate]
    assert len([op for op in after.walk() if op.name.startswith("graph.")]) == 1


def test_f16_tanh_form_keeps_its_type():
    after = assert_pass_preserves(lit_function(LIT, "tanh_torch"), "graph-recognize-gelu", rtol=2e-3, atol=2e-3)
    assert gelu_of(after) == ["tanh"]


@pytest.mark.parametrize("case", ["wrong_constant", "shared_erf", "broadcast"])
def test_near_misses_stay(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-recognize-gelu")
    assert GeluOp not in op_types(after) and ErfOp in op_types(after)


def test_options_turn_forms_off():
    after = assert_pass_preserves(lit_function(LIT, "tanh_pow"), "graph-recognize-gelu{tanh=false}")
    assert GeluOp not in op_types(after) and TanhOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "erf_torch"), "graph-recognize-gelu{erf=false}")
    assert GeluOp not in op_types(after)


def _mlp(gelu_nodes, initializers):
    """MatMul → GELU (as the exporter writes it) → MatMul, on (batch, sequence, hidden)."""
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.standard_normal((16, 32)).astype(np.float32) * 0.5,
        "w2": rng.standard_normal((32, 16)).astype(np.float32) * 0.5,
    }
    scalars = {k: np.array(v, dtype=np.float32) for k, v in initializers.items()}
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"]),
        *gelu_nodes,
        helper.make_node("MatMul", ["g", "w2"], ["y"]),
    ]
    model = make_model(nodes, {"x": ([2, 5, 16], TensorProto.FLOAT)}, ["y"], {**weights, **scalars})
    return import_onnx(model)


def test_torch_exporter_erf_gelu():
    """nn.GELU() through torch.onnx.export at opset 17."""
    nodes = [
        helper.make_node("Div", ["h", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["a"]),
        helper.make_node("Mul", ["h", "a"], ["m"]),
        helper.make_node("Mul", ["m", "half"], ["g"]),
    ]
    module = _mlp(nodes, {"sqrt2": 1.4142135, "one": 1.0, "half": 0.5})
    after = assert_pass_preserves(module, "graph-recognize-gelu")
    assert gelu_of(after) == ["none"]
    assert op_types(after).count(MatMulOp) == 2 and ErfOp not in op_types(after)


def test_gpt2_gelu_new():
    """transformers' gelu_new (GPT-2): 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))."""
    nodes = [
        helper.make_node("Pow", ["h", "three"], ["p"]),
        helper.make_node("Mul", ["kappa", "p"], ["k"]),
        helper.make_node("Add", ["h", "k"], ["i"]),
        helper.make_node("Mul", ["beta", "i"], ["s"]),
        helper.make_node("Tanh", ["s"], ["t"]),
        helper.make_node("Add", ["one", "t"], ["a"]),
        helper.make_node("Mul", ["half", "h"], ["hh"]),
        helper.make_node("Mul", ["hh", "a"], ["g"]),
    ]
    constants = {"three": 3.0, "kappa": 0.044715, "beta": 0.7978845608028654, "one": 1.0, "half": 0.5}
    after = assert_pass_preserves(_mlp(nodes, constants), "graph-recognize-gelu")
    assert gelu_of(after) == ["tanh"]
    assert TanhOp not in op_types(after)


def test_gelu_fast_factored_tanh_form():
    """transformers' gelu_fast: 0.5 * x * (1 + tanh(x * 0.7978845608 * (1 + 0.044715 * x * x)))."""
    nodes = [
        helper.make_node("Mul", ["h", "beta"], ["xb"]),
        helper.make_node("Mul", ["kappa", "h"], ["kx"]),
        helper.make_node("Mul", ["kx", "h"], ["kxx"]),
        helper.make_node("Add", ["one", "kxx"], ["q"]),
        helper.make_node("Mul", ["xb", "q"], ["s"]),
        helper.make_node("Tanh", ["s"], ["t"]),
        helper.make_node("Add", ["t", "one"], ["a"]),
        helper.make_node("Mul", ["half", "h"], ["hh"]),
        helper.make_node("Mul", ["hh", "a"], ["g"]),
    ]
    constants = {"kappa": 0.044715, "beta": 0.7978845608, "one": 1.0, "half": 0.5}
    after = assert_pass_preserves(_mlp(nodes, constants), "graph-recognize-gelu")
    assert gelu_of(after) == ["tanh"]
