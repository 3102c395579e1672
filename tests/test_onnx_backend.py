"""The ONNX backend node tests, run through optc's reference backend.

`onnx.backend.test.BackendTest` turns each of onnx's node tests (one small model per op
variant, with inputs and expected outputs) into a unittest method named
`test_<case>_<device>`; pytest collects them from `OnnxBackendNodeModelTest` below. Only
the node category is used: the real, simple and pytorch categories download models or
test whole networks, which the model-zoo tests cover.

Each node test falls in one of three groups, decided at collection time from its model:
- unsupported: some op in the model (subgraphs and functions included) has no optc
  importer; skipped, and not counted;
- excluded: listed in `tests/onnx_backend_exclusions.py` with a reason; run, expected to
  fail (a listed test that passes fails, so the table stays honest);
- everything else must pass.
`test_pass_rate` then checks that at least 98% of the supported node tests pass, counting
exclusions as not passing.
"""

from __future__ import annotations

import collections
import functools
import unittest
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import onnx
import onnx.backend.test
import pytest
from onnx import GraphProto, ModelProto, TensorProto, helper
from onnx.backend.test.loader import load_model_tests

from compiler.backend import OptcReferenceBackend
from compiler.onnx_import.frontend import DEFAULT_DOMAINS
from compiler.onnx_import.registry import IMPORTERS
from dialects.errors import OptcError
from tests.onnx_backend_exclusions import EXCLUDED, GPU_EXCLUDED, SMALL_INT_OUT_OF_RANGE, spec_small_ints

MIN_PASS_RATE = 0.98
CATEGORY = "OnnxBackendNodeModelTest"


def _graph_ops(graph: GraphProto) -> Iterator[tuple[str, str]]:
    """(domain, op type) of every node in `graph` and in the subgraphs of its attributes."""
    for node in graph.node:
        yield node.domain, node.op_type
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from _graph_ops(sub)


def _model_ops(model: ModelProto) -> set[tuple[str, str]]:
    ops = set(_graph_ops(model.graph))
    for function in model.functions:
        for node in function.node:
            ops.add((node.domain, node.op_type))
    local = {(f.domain, f.name) for f in model.functions}
    return ops - local


def _missing_ops(model: ModelProto) -> list[str]:
    """The model's op types optc cannot import (qualified by domain outside ai.onnx)."""
    return sorted(
        op if domain in DEFAULT_DOMAINS else f"{domain}.{op}"
        for domain, op in _model_ops(model)
        if domain not in DEFAULT_DOMAINS or op not in IMPORTERS
    )


# onnx generates the node tests (model and data) in memory; recent releases ship no
# data/node folder, so "supported" is decided from these models, not from model.onnx files
with warnings.catch_warnings():  # generating the node tests' data overflows casts on purpose
    warnings.simplefilter("ignore")
    NODE_TESTS = {case.name: case for case in load_model_tests(kind="node")}
UNSUPPORTED: dict[str, list[str]] = {
    name: missing for name, case in NODE_TESTS.items() if (missing := _missing_ops(case.model))
}

# outcome of each supported test method that ran: "passed", "failed" or "excluded"
OUTCOMES: dict[str, str] = {}


def _split(method: str) -> tuple[str, str]:
    """`test_abs_cpu` → (`test_abs`, `CPU`)."""
    name, device = method.rsplit("_", 1)
    return name, device.upper()


def _tracked(
    method: str,
    run: Callable[[unittest.TestCase], None],
    outcomes: dict[str, str],
    excluded: dict[str, str],
) -> Callable[[unittest.TestCase], None]:
    """Wrap one BackendTest method: skip unsupported ops, expect excluded tests to fail,
    and record the outcome in `outcomes` for the pass rate."""
    name, _ = _split(method)

    @functools.wraps(run)
    def test(self: unittest.TestCase) -> None:
        if name in UNSUPPORTED:
            raise unittest.SkipTest(f"no optc importer for {', '.join(UNSUPPORTED[name])}")
        try:
            run(self)
        except unittest.SkipTest:
            raise
        except Exception:
            if name not in excluded:
                outcomes[method] = "failed"
                raise
            outcomes[method] = "excluded"
            raise unittest.SkipTest(f"excluded: {excluded[name]}") from None
        outcomes[method] = "passed"
        if name in excluded:
            self.fail(f"{name} passes now: remove it from its exclusion table in tests/onnx_backend_exclusions.py")

    return test


def _with_spec_small_ints(backend: type, name: str, device: str) -> Callable[[unittest.TestCase], None]:
    """Run node test `name` with its expected small ints corrected beyond the type's range
    (see `SMALL_INT_OUT_OF_RANGE`), bit for bit."""

    def run(self: unittest.TestCase) -> None:
        case = _node_cases()[name]
        for inputs, expected in case.data_sets:
            inputs = [_array(t) for t in inputs]
            outputs = backend.prepare(case.model, device).run(inputs)
            for got, want in zip(outputs, expected):
                want = spec_small_ints(inputs[0], _array(want))
                assert got.dtype == want.dtype, (got.dtype, want.dtype)
                np.testing.assert_array_equal(np.asarray(got).view(np.uint8), want.view(np.uint8))

    return run


@functools.cache
def _node_cases() -> dict[str, object]:
    return {case.name: case for case in load_model_tests(kind="node")}


def _array(value) -> np.ndarray:
    return onnx.numpy_helper.to_array(value) if isinstance(value, TensorProto) else np.asarray(value)


def node_test_case(
    backend: type, module: str, device: str, outcomes: dict[str, str], excluded: dict[str, str]
) -> type[unittest.TestCase]:
    """onnx's node tests for `backend` on `device` as one TestCase, each method tracked."""
    backend_test = onnx.backend.test.BackendTest(backend, module)
    backend_test.include(r"^test_")
    case = backend_test.test_cases[CATEGORY]
    for method in [m for m in vars(case) if m.startswith("test_")]:
        name, on = _split(method)
        if on != device:
            delattr(case, method)
            continue
        run = getattr(case, method)
        if name in SMALL_INT_OUT_OF_RANGE:
            run = _with_spec_small_ints(backend, name, device)
        setattr(case, method, _tracked(method, run, outcomes, excluded))
    return case


OnnxBackendNodeModelTest = node_test_case(OptcReferenceBackend, __name__, "CPU", OUTCOMES, EXCLUDED)


def _counted_methods() -> list[str]:
    """The methods the pass rate is over: supported node tests on the devices the backend runs."""
    return [
        m
        for m in vars(OnnxBackendNodeModelTest)
        if m.startswith("test_")
        and _split(m)[0] not in UNSUPPORTED
        and OptcReferenceBackend.supports_device(_split(m)[1])
    ]


# --- the backend API itself ---------------------------------------------------------


def _reshape_model(opset: int = 17) -> ModelProto:
    """y = Reshape(x, shape) + 1, with the shape a graph input (known only at run time)."""
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Add", ["r", "one"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "reshape",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
            helper.make_tensor_value_info("shape", TensorProto.INT64, [2]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(np.ones((), np.float32), "one")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def test_backend_runs_inputs_by_position_or_name():
    rep = OptcReferenceBackend.prepare(_reshape_model())
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = rep.run([x, np.array([3, 2])])
    np.testing.assert_array_equal(y, x.reshape(3, 2) + 1)
    named = rep.run({"x": x, "shape": np.array([1, 6])})
    np.testing.assert_array_equal(named["y"], x.reshape(1, 6) + 1)
    assert rep.constant_inputs == ["shape"], "only the input the importer needs is bound"


def test_backend_binds_the_inputs_a_computed_constant_comes_from():
    """Range's limit is computed from the graph input `n` and from x's shape: `n` is bound
    (the value needed is behind it), `x` is not (only its shape is read)."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("ReduceSum", ["shape"], ["total"], keepdims=0),
        helper.make_node("Add", ["n", "total"], ["limit"]),
        helper.make_node("Range", ["zero", "limit", "one"], ["r"]),
        helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "range",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]), helper.make_tensor_value_info("n", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [onnx.numpy_helper.from_array(np.asarray(v, np.int64), name) for name, v in (("zero", 0), ("one", 1))],
    )
    rep = OptcReferenceBackend.prepare(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
    (y,) = rep.run([np.zeros((2, 3), np.float32), np.asarray(2, np.int64)])
    np.testing.assert_array_equal(y, np.arange(7, dtype=np.float32))
    assert rep.constant_inputs == ["n"]


def test_backend_run_node():
    node = helper.make_node("Add", ["a", "b"], ["c"])
    a, b = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)
    (c,) = OptcReferenceBackend.run_node(node, [a, b])
    np.testing.assert_array_equal(c, a + b)


def test_backend_converts_old_opsets():
    """Opsets before 11 go through onnx.version_converter, as optc's error message advises."""
    node = helper.make_node("Relu", ["x"], ["y"])
    x = np.array([-1.0, 2.0], np.float32)
    (y,) = OptcReferenceBackend.run_node(node, [x], opset_version=6)
    np.testing.assert_array_equal(y, [0.0, 2.0])


def test_backend_devices():
    assert OptcReferenceBackend.supports_device("CPU")
    assert not OptcReferenceBackend.supports_device("CUDA")
    assert not OptcReferenceBackend.supports_device("TPU")
    with pytest.raises(OptcError, match="runs on CPU only"):
        OptcReferenceBackend.prepare(_reshape_model(), "CUDA")


def test_backend_reports_wrong_input_count():
    rep = OptcReferenceBackend.prepare(_reshape_model())
    with pytest.raises(OptcError, match=r"takes 2 input\(s\) \(x, shape\), got 1"):
        rep.run([np.zeros((2, 3), np.float32)])
    with pytest.raises(OptcError, match="missing: shape, unknown: z"):
        rep.run({"x": np.zeros((2, 3), np.float32), "z": np.zeros(2)})


# --- the node tests -------------------------------------------------------------------


@pytest.mark.parametrize("table, excluded", [("EXCLUDED", EXCLUDED), ("GPU_EXCLUDED", GPU_EXCLUDED)])
def test_exclusions_name_supported_node_tests(table, excluded):
    unknown = sorted(n for n in excluded if n not in NODE_TESTS)
    assert not unknown, f"{table} names tests onnx does not have: {', '.join(unknown)}"
    unsupported = sorted(n for n in excluded if n in UNSUPPORTED)
    assert not unsupported, f"{table} names tests of ops optc does not import (they are skipped): {', '.join(unsupported)}"
    vague = sorted(n for n, reason in excluded.items() if len(reason.split()) < 3)
    assert not vague, f"{table} reasons must say what is unsupported: {', '.join(vague)}"


def test_gpu_exclusions_do_not_repeat_the_reference_ones():
    """The GPU run excludes EXCLUDED too; GPU_EXCLUDED holds only what fails on the GPU alone."""
    repeated = sorted(set(GPU_EXCLUDED) & set(EXCLUDED))
    assert not repeated, f"GPU_EXCLUDED repeats EXCLUDED: {', '.join(repeated)}"


def test_pass_rate():
    """At least 98% of the supported node tests pass. Runs here whatever did not run
    before it (so it also works alone, `pytest tests/test_onnx_backend.py::test_pass_rate`)."""
    methods = _counted_methods()
    for method in methods:
        if method not in OUTCOMES:
            _run_quietly(method)
    counts = collections.Counter(OUTCOMES[m] for m in methods)
    passed, excluded, failed = counts["passed"], counts["excluded"], counts["failed"]
    total = passed + excluded + failed
    rate = passed / total if total else 1.0
    failures = sorted(m for m in methods if OUTCOMES[m] == "failed")
    summary = (
        f"ONNX backend node tests: {passed} passed, {excluded} excluded, {failed} failed "
        f"of {total} supported ({rate:.1%}); {len(UNSUPPORTED)} of {len(NODE_TESTS)} node tests skipped as unsupported"
    )
    print(summary)
    assert rate >= MIN_PASS_RATE, f"{summary}; below {MIN_PASS_RATE:.0%}. Failing: {', '.join(failures)}"


def _run_quietly(method: str) -> None:
    """Run one tracked test method for its recorded outcome."""
    try:
        getattr(OnnxBackendNodeModelTest(method), method)()
    except Exception:  # unittest.SkipTest included: the outcome is what matters here
        pass
