"""`optc --check-each-pass` (compiler/check_each_pass.py): the reference interpreter runs
the IR before the pipeline and after every pass; a pass that changes an output beyond the
tolerance is named, with the output and the error, and optc exits 1."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.rewriter import Rewriter

from compiler.check_each_pass import PassChecker, precision_of
from compiler.optc import main as optc_main
from compiler.pipelines import build, with_precision
from dialects.graph import ConstantOp
from passes.registry import PASSES, TEST_PASSES
from tests.support import apply_pipeline, make_model, parse

EXAMPLES = Path(__file__).parents[1] / "examples"
LINE = re.compile(r"check: (\S+): max abs err (\S+), max rel err (\S+) \(ok\)")

SMALL = """
func.func @main(%x: tensor<4xf32>, %n: tensor<2xi64>) -> (tensor<4xf32>, tensor<2xi64>) {
  %c = graph.constant dense<[15.0, -20.0, 2.5, 30.0]> : tensor<4xf32>
  %y = graph.mul %x, %c : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %k = graph.constant dense<[1, 2]> : tensor<2xi64>
  %m = graph.add %n, %k : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
  func.return %y, %m : tensor<4xf32>, tensor<2xi64>
}
"""


@pytest.fixture
def wrong_pass(monkeypatch):
    """Register the deliberately wrong test pass, as OPTC_TEST_PASSES=1 does for a new optc."""
    monkeypatch.setitem(PASSES, "test-perturb-constants", TEST_PASSES["test-perturb-constants"])


def optc(capsys, *argv) -> tuple[int, str, str]:
    code = optc_main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def checked_passes(err: str) -> list[str]:
    return [m.group(1) for m in map(LINE.match, err.splitlines()) if m and m.group(1) != "all"]


@pytest.mark.parametrize("model", ["cnn.onnx", "transformer.onnx"])
@pytest.mark.parametrize("pipeline", ["default", "kernel"])
def test_every_pass_of_the_examples_keeps_the_answer(capsys, model, pipeline):
    code, out, err = optc(capsys, EXAMPLES / model, "-p", pipeline, "--check-each-pass")
    assert code == 0, err
    assert checked_passes(err) == [p.name for p in build(pipeline)]
    assert re.search(rf"check: all {len(build(pipeline))} passes: max abs err \S+, max rel err \S+ against", err)
    assert "func.func @main" in out


def test_the_wrong_pass_is_named_with_its_output_and_error(capsys, wrong_pass):
    code, out, err = optc(
        capsys, EXAMPLES / "cnn.onnx", "-p", "graph-simplify,test-perturb-constants,graph-dce", "--check-each-pass"
    )
    assert code == 1
    assert checked_passes(err) == [p.name for p in build("graph-simplify")]
    assert re.search(
        r"optc: error: pass 'test-perturb-constants' changed output 'logits' by max abs err \S+, max rel err \S+ "
        r"in \d+ of 10 elements \(tolerance rtol 0.001, atol 0.0001 at fp32; seed 0\)",
        err,
    )
    assert out == ""


def test_a_looser_tolerance_lets_the_change_through(capsys, wrong_pass, tmp_path):
    model = tmp_path / "small.mlir"
    model.write_text(SMALL)
    code, _, err = optc(
        capsys, model, "-p", "test-perturb-constants", "--check-each-pass", "--check-tolerance", "0.005"
    )
    assert code == 1 and "(tolerance rtol = atol = 0.005; seed 0)" in err  # every constant is 1% off
    code, _, err = optc(capsys, model, "-p", "test-perturb-constants", "--check-each-pass", "--check-tolerance", "0.05")
    assert code == 0, err
    assert re.search(r"check: test-perturb-constants: max abs err \S+, max rel err 0.01 \(ok\)", err)


def test_changes_that_add_up_are_caught_where_they_cross_the_tolerance(capsys, wrong_pass, tmp_path):
    model = tmp_path / "small.mlir"
    model.write_text(SMALL)
    step = "test-perturb-constants{delta=0.0007}"
    code, _, err = optc(capsys, model, "-p", f"{step},{step},{step}", "--check-each-pass")
    assert code == 1
    assert checked_passes(err) == ["test-perturb-constants"]
    assert "optc: error: after pass 'test-perturb-constants', output 'output0' differs from the input IR's" in err
    assert "the changes add up" in err


def test_the_seed_picks_the_inputs(capsys, wrong_pass, tmp_path):
    model = tmp_path / "small.mlir"
    model.write_text(SMALL)
    errors = []
    for seed in ("0", "1"):
        code, _, err = optc(capsys, model, "-p", "test-perturb-constants", "--check-each-pass", "--check-seed", seed)
        assert code == 1 and f"; seed {seed})" in err
        errors.append(re.search(r"max abs err (\S+),", err).group(1))
    assert errors[0] != errors[1]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_the_tolerance_follows_the_precision(capsys, precision):
    spec = with_precision("default", precision)
    code, _, err = optc(capsys, EXAMPLES / "cnn.onnx", "-p", "default", "--precision", precision, "--check-each-pass")
    assert code == 0, err
    assert checked_passes(err) == [p.name for p in build(spec)]
    conversion = re.search(r"check: graph-convert-precision: max abs err (\S+),", err)
    assert float(conversion.group(1)) > 1e-3  # the conversion does change the answer ...
    # ... which fp32's tolerance would not let through
    code, _, err = optc(
        capsys, EXAMPLES / "cnn.onnx", "-p", "default", "--precision", precision, "--check-each-pass",
        "--check-tolerance", "1e-4",
    )  # fmt: skip
    assert code == 1 and "optc: error: pass 'graph-convert-precision' changed output 'logits'" in err


def test_precision_of_is_the_loosest_float_type():
    module = parse(SMALL)
    assert precision_of(module) == "fp32"
    apply_pipeline(module, "graph-convert-precision{precision=bf16}")
    assert precision_of(module) == "bf16"


def argmax_model() -> onnx.ModelProto:
    return make_model(
        [
            helper.make_node("Mul", ["x", "two"], ["y"]),
            helper.make_node("ArgMax", ["y"], ["index"], axis=1, keepdims=0),
        ],
        {"x": ([2, 5], TensorProto.FLOAT)},
        ["y", "index"],
        {"two": np.array(2.0, np.float32)},
    )


def test_integer_outputs_pass_when_unchanged(capsys, tmp_path):
    path = tmp_path / "argmax.onnx"
    onnx.save(argmax_model(), path)
    code, _, err = optc(capsys, path, "-p", "kernel", "--check-each-pass")
    assert code == 0, err
    assert checked_passes(err) == [p.name for p in build("kernel")]


def test_integer_outputs_must_match_exactly():
    module = parse(SMALL)
    checker = PassChecker(tolerance=1e6)
    checker.start(module)
    assert checker.exact == {"output1"}
    k = next(op for op in module.walk() if isinstance(op, ConstantOp) and op.result.type.get_shape() == (2,))
    Rewriter.replace_op(k, ConstantOp.from_array(np.array([1, 3], np.int64)))
    with pytest.raises(Exception, match=r"changed output 'output1' .* in 1 of 2 elements \(tolerance exact; seed 0\)"):
        checker.after(PASSES["graph-dce"]()(), module)


def test_nan_where_the_input_ir_has_nan_is_no_change(capsys, tmp_path):
    model = tmp_path / "nan.mlir"
    model.write_text(
        """
func.func @main(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = graph.sqrt %x : tensor<8xf32>
  %i = graph.identity %s : tensor<8xf32>
  func.return %i : tensor<8xf32>
}
"""
    )
    code, _, err = optc(capsys, model, "-p", "graph-canonicalize", "--check-each-pass")
    assert code == 0, err
    assert "check: graph-canonicalize: max abs err 0, max rel err 0 (ok)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--check-tolerance", "0.1"], "--check-tolerance and --check-seed go with --check-each-pass"),
        (["--check-seed", "1"], "--check-tolerance and --check-seed go with --check-each-pass"),
        (["--check-each-pass", "--check-tolerance", "-1"], "--check-tolerance must be a number >= 0, got -1"),
    ],
)
def test_bad_options_are_one_line(capsys, tmp_path, argv, message):
    model = tmp_path / "small.mlir"
    model.write_text(SMALL)
    code, _, err = optc(capsys, model, "-p", "graph-dce", *argv)
    assert code == 1 and err.strip() == f"optc: error: {message}"


def test_a_module_without_main_is_named(capsys, tmp_path):
    model = tmp_path / "other.mlir"
    model.write_text(SMALL.replace("@main", "@other"))
    code, _, err = optc(capsys, model, "-p", "graph-dce", "--check-each-pass")
    assert code == 1 and err.strip() == "optc: error: --check-each-pass runs @main: the module has no function @main"


def test_dynamic_input_shapes_are_refused(capsys, tmp_path):
    model = tmp_path / "dynamic.mlir"
    model.write_text(
        """
func.func @main(%x: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %i = graph.identity %x : tensor<?x4xf32>
  func.return %i : tensor<?x4xf32>
}
"""
    )
    code, _, err = optc(capsys, model, "-p", "graph-canonicalize", "--check-each-pass")
    assert code == 1
    assert err.strip() == (
        "optc: error: --check-each-pass needs static input shapes; 'input0' is tensor<?x4xf32> "
        "(--shape fixes an ONNX input's)"
    )
