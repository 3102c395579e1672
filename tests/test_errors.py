"""Every way `optc` and `optc-run` fail ends in one line, `<command>: error: ...`, exit 1
(compiler/errors.py): an exception escaping a pass names the pass, one escaping the
reference interpreter names the op, an OS error names the file, garbage on optc's stdin is
"not an ONNX model"; a traceback only with --debug or OPTC_DEBUG=1; Ctrl-C exits 130."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnrealizedConversionCastOp
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from compiler.optc import main as optc_main
from compiler.optc_run import main as optc_run_main
from dialects.errors import InternalError
from dialects.graph import MulOp
from passes.registry import PASSES
from runtime.reference import run
from tests.support import parse

EXAMPLES = Path(__file__).parents[1] / "examples"
CNN = str(EXAMPLES / "cnn.onnx")

SMALL = """
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = graph.mul %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  func.return %y : tensor<4xf32>
}
"""


@dataclass(frozen=True)
class RaisingPass(ModulePass):
    """A pass with a bug: it raises what `error` makes."""

    name = "test-raise"
    error: ClassVar[type[BaseException]] = KeyError

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        raise self.error("boom")


@dataclass(frozen=True)
class UninterpretablePass(ModulePass):
    """A pass that leaves an op the reference interpreter has no implementation for."""

    name = "test-uninterpretable"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        mul = next(o for o in op.walk() if isinstance(o, MulOp))
        cast = UnrealizedConversionCastOp.get([mul.lhs], [mul.result.type])
        Rewriter.replace_op(mul, cast)


@dataclass(frozen=True)
class InterruptedPass(RaisingPass):
    """A pass the user stops with Ctrl-C."""

    error: ClassVar[type[BaseException]] = KeyboardInterrupt


@pytest.fixture
def small(tmp_path) -> str:
    path = tmp_path / "small.mlir"
    path.write_text(SMALL)
    return str(path)


def one_error(stderr: str, command: str) -> str:
    """The error line, after checking it is the only line and no traceback came."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{command}: error: "), stderr
    return lines[0]


@pytest.mark.parametrize("main, command", [(optc_main, "optc"), (optc_run_main, "optc-run")])
def test_an_exception_escaping_a_pass_names_the_pass(main, command, small, monkeypatch, capsys):
    monkeypatch.setitem(PASSES, "test-raise", RaisingPass)
    assert main([small, "-p", "test-raise"]) == 1
    line = one_error(capsys.readouterr().err, command)
    assert "pass 'test-raise' failed on valid IR: KeyError: 'boom'" in line
    assert "this is a bug in optc; rerun with --debug" in line


@pytest.mark.parametrize("debug", ["flag", "env"])
def test_debug_prints_the_traceback_after_the_line(debug, small, monkeypatch, capsys):
    monkeypatch.setitem(PASSES, "test-raise", RaisingPass)
    if debug == "env":
        monkeypatch.setenv("OPTC_DEBUG", "1")
    assert optc_main([small, "-p", "test-raise", *(["--debug"] if debug == "flag" else [])]) == 1
    err = capsys.readouterr().err
    assert err.startswith("optc: error: pass 'test-raise' failed on valid IR")
    assert "Traceback" in err and "raise self.error" in err


def test_ctrl_c_exits_130_quietly(small, monkeypatch, capsys):
    monkeypatch.setitem(PASSES, "test-raise", InterruptedPass)
    assert optc_run_main([small, "-p", "test-raise"]) == 130
    assert capsys.readouterr().err == ""


def test_the_interpreter_names_the_op_it_failed_on():
    module = parse(SMALL)
    UninterpretablePass().apply(Context(), module)
    with pytest.raises(InternalError, match=r"the reference interpreter failed on 'builtin.unrealized_conversion_cast'"):
        run(module, {"input0": np.ones(4, "float32")})


def test_check_each_pass_reports_interpreter_failures_through_the_handler(small, monkeypatch, capsys):
    monkeypatch.setitem(PASSES, "test-uninterpretable", UninterpretablePass)
    assert optc_main([small, "-p", "test-uninterpretable", "--check-each-pass"]) == 1
    line = one_error(capsys.readouterr().err, "optc")
    assert "cannot run the IR after pass 'test-uninterpretable'" in line
    assert "failed on 'builtin.unrealized_conversion_cast': InterpretationError" in line


def test_garbage_on_stdin_is_not_an_onnx_model(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x08\x96\x01garbage\xff\xff")))
    assert optc_main(["-f", "onnx"]) == 1
    assert "optc: error: standard input is not an ONNX model" in one_error(capsys.readouterr().err, "optc")


def test_inputs_that_are_a_directory_name_it(tmp_path, capsys):
    assert optc_run_main([CNN, "--inputs", str(tmp_path)]) == 1
    assert one_error(capsys.readouterr().err, "optc-run") == f"optc-run: error: cannot open '{tmp_path}': Is a directory"


def test_an_unexpected_error_outside_passes_is_still_one_line(monkeypatch, capsys):
    import compiler.optc_run as optc_run

    monkeypatch.setattr(optc_run, "run_main", lambda args: {}["missing"])
    assert optc_run_main([CNN]) == 1
    line = one_error(capsys.readouterr().err, "optc-run")
    assert line.startswith("optc-run: error: internal error: KeyError: 'missing' (this is a bug in optc")
