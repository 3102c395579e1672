"""What CI promises without a GPU (issues 4 and 9): every kernel that the CI models and the
lit tests emit compiles with NVRTC for sm_80 and sm_90, with no errors and no warnings (a
failure names the kernel and quotes NVRTC's log).

The CI models are the bundled examples at every precision; the lit tests are every file
whose RUN lines print CUDA (`-t cuda`), run through the same `optc` command line, with the
printed `.cu` file (the prelude and all its kernels: one translation unit) compiled whole.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from compiler.engine_build import kernel_pipeline
from compiler.onnx_import import import_onnx
from tests.cuda_support import ARCHS, compile_clean, compile_kernels
from tests.test_pipeline_default import EXAMPLES

LIT = Path(__file__).resolve().parents[1] / "lit_tests"

pytestmark = pytest.mark.slow  # every case compiles whole models or lit files with NVRTC


@pytest.mark.parametrize("precision", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_example_models_compile_for_every_arch(path, precision):
    sources = compile_kernels(import_onnx(onnx.load(path)), pipeline=kernel_pipeline(precision))
    assert len(sources) >= 7  # every kernel of the model, each compiled for sm_80 and sm_90


def _cuda_runs() -> list:
    runs = []
    for path in sorted(LIT.rglob("*.mlir")):
        for line in path.read_text().splitlines():
            match = re.match(r"//\s*RUN:\s*(optc %s [^|]*-t cuda[^|]*)\|", line)
            if match:
                runs.append(pytest.param(path, match.group(1).strip(), id=f"{path.parent.name}/{path.name}"))
    return runs


@pytest.mark.parametrize(("path", "command"), _cuda_runs())
def test_lit_cuda_output_compiles(path, command):
    argv = [sys.executable, "-m", "compiler.optc", *shlex.split(command.replace("%s", str(path)))[1:]]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "__global__" in result.stdout
    for arch in ARCHS:
        compile_clean(result.stdout, f"{path.stem}.cu", arch)


def test_a_warning_fails_the_compile():
    unused = 'extern "C" __global__ void k(float* y)\n{\n    const int n = 4;\n    y[0] = 1.0f;\n}\n'
    with pytest.raises(AssertionError, match=r'(?s)NVRTC warns about k\.cu \(sm_80\), in k:.*k\.cu\(3\): warning.*"n" was declared but never referenced'):
        compile_clean(unused, "k.cu", "sm_80")
