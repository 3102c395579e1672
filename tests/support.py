"""Helpers the tests share: ONNX model builders, random inputs, differential checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.utils.arg_spec import parse_pipeline

from compiler.onnx_import import import_onnx
from compiler.pipelines import build
from dialects.registry import context
from dialects.weights import WeightStore, attach, store_of
from passes.registry import PASSES
from runtime.reference import run
from runtime.reference.inputs import random_array, random_inputs  # noqa: F401  (re-exported)


def parse(text: str) -> ModuleOp:
    module = Parser(context(), text).parse_module()
    module.verify()
    return module


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, tuple[Sequence[int | str], int]],
    outputs: Sequence[str],
    initializers: Mapping[str, np.ndarray] | None = None,
    opset: int = 17,
) -> onnx.ModelProto:
    """A one-graph model: `inputs` maps name → (shape, TensorProto elem type)."""
    graph = helper.make_graph(
        list(nodes),
        "test",
        [helper.make_tensor_value_info(n, t, list(shape)) for n, (shape, t) in inputs.items()],
        [onnx.ValueInfoProto(name=n) for n in outputs],
        [numpy_helper.from_array(np.asarray(v), n) for n, v in (initializers or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def apply_pipeline(module: ModuleOp, pipeline: str) -> ModuleOp:
    """Run a pipeline string (named pipelines expand) in place, verifying after each pass."""
    ctx = context()
    for compiler_pass in build(pipeline):
        compiler_pass.apply(ctx, module)
        module.verify()
    return module


def assert_pass_preserves(
    module: ModuleOp | str,
    pipeline: str,
    seeds: Sequence[int] = (0, 1, 2),
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> ModuleOp:
    """The differential test: run the IR before and after `pipeline` on the same random
    inputs through the reference interpreter; outputs must agree. Returns the new IR."""
    before = parse(module) if isinstance(module, str) else module
    store = store_of(before)
    after = before.clone()
    attach(after, store)  # a clone shares the weights; passes may add to them
    after = apply_pipeline(after, pipeline)
    for seed in seeds:
        inputs = random_inputs(before, seed)
        expected = run(before, inputs, store)
        actual = run(after, inputs, store)
        assert expected.keys() == actual.keys()
        for name in expected:
            np.testing.assert_allclose(actual[name], expected[name], rtol=rtol, atol=atol, err_msg=f"output {name}")
    return after


def lit_function(lit_file: str, name: str) -> str:
    """Function `@name` of a lit test under lit_tests/, renamed `@main`, so a differential
    test runs exactly the IR its lit test shows."""
    text = (Path(__file__).parents[1] / "lit_tests" / lit_file).read_text()
    start = text.index(f"func.func @{name}(")
    end = text.index("\n}\n", start) + 3
    return text[start:end].replace(f"@{name}(", "@main(", 1)


def run_onnxruntime(model: onnx.ModelProto, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(inputs))))


def assert_matches_onnxruntime(
    model: onnx.ModelProto,
    shapes: Mapping[str, Sequence[int]] | None = None,
    seed: int = 0,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    inputs: Mapping[str, np.ndarray] | None = None,
) -> ModuleOp:
    """Import `model`, run it through the reference interpreter and onnxruntime, compare."""
    module = import_onnx(model, shapes)
    inputs = dict(inputs) if inputs is not None else random_inputs(module, seed)
    ours = run(module, inputs)
    theirs = run_onnxruntime(model, inputs)
    for name, expected in theirs.items():
        np.testing.assert_allclose(ours[name], expected, rtol=rtol, atol=atol, err_msg=f"output {name}")
        assert ours[name].dtype == expected.dtype, f"output {name}: dtype {ours[name].dtype} != {expected.dtype}"
    return module


__all__ = [
    "WeightStore",
    "apply_pipeline",
    "assert_matches_onnxruntime",
    "assert_pass_preserves",
    "context",
    "lit_function",
    "make_model",
    "parse",
    "random_inputs",
    "run_onnxruntime",
]
