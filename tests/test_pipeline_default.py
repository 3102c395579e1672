"""The named pipelines on the bundled examples: every level keeps each output of
examples/*.onnx what the imported IR computes (rtol 1e-5) and onnxruntime's, and the
fused level reaches its kernel counts."""

import glob
import os

import numpy as np
import onnx
import pytest

from compiler.onnx_import import import_onnx
from compiler.pipelines import LEVELS, build
from compiler.report import kernel_counts
from dialects.weights import attach, store_of
from runtime.reference import run
from tests.support import context, random_inputs, run_onnxruntime

EXAMPLES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*.onnx")))


def compile_with(module, spec: str):
    """A clone of `module` (sharing its weights) after the pipeline `spec`, verified after each pass."""
    after = module.clone()
    attach(after, store_of(module))
    ctx = context()
    for compiler_pass in build(spec):
        compiler_pass.apply(ctx, after)
        after.verify()
    return after


@pytest.mark.parametrize("spec", ["default", *LEVELS.values()])
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_pipeline_keeps_example_outputs(path, spec):
    model = onnx.load(path)
    module = import_onnx(model)
    after = compile_with(module, spec)
    store = store_of(module)
    for seed in (0, 1):
        inputs = random_inputs(module, seed)
        expected = run(module, inputs, store)
        actual = run(after, inputs, store)
        theirs = run_onnxruntime(model, inputs)
        for name, value in expected.items():
            np.testing.assert_allclose(actual[name], value, rtol=1e-5, atol=1e-6, err_msg=f"{name}: imported IR")
            np.testing.assert_allclose(actual[name], theirs[name], rtol=1e-3, atol=1e-4, err_msg=f"{name}: onnxruntime")


# conv+BN+ReLU(+residual) x4 as fused.conv (the stem reading the NCHW input itself), max
# pool, global pool, classifier;
# QKV as one matmul, attention (writing the merged heads), out-proj+residual, two LayerNorms, FFN x2
FUSED_KERNELS = {
    "cnn.onnx": {"fused.conv": 4, "graph.max_pool": 1, "fused.reduction": 1, "fused.matmul": 1},
    "transformer.onnx": {"fused.matmul": 4, "fused.reduction": 2, "fused.attention": 1},
}


@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
def test_fused_level_kernel_counts(path):
    fused = compile_with(import_onnx(onnx.load(path)), LEVELS["fused"])
    assert dict(kernel_counts(fused)) == FUSED_KERNELS[os.path.basename(path)]


def test_examples_are_bundled():
    assert EXAMPLES, "examples/*.onnx are missing: run python examples/models.py"
