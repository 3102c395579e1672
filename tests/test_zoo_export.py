"""ONNX export on the model zoo (where `benchmarks/build_zoo.py` built it): each model
imported, optionally graph-optimized, exported, and run by onnxruntime gives the original
file's outputs (test_zoo.py's tolerances); the imported IR round-trips through export."""

from __future__ import annotations

import numpy as np
import pytest

from compiler.onnx_export import export
from compiler.onnx_import import import_onnx
from dialects.weights import clone_with_weights
from tests.support import apply_pipeline
from tests.support import run_onnxruntime as run_model
from tests.test_onnx_export import assert_round_trips
from tests.test_zoo import ATOL, RTOL, ZOO, run_onnxruntime, zoo_inputs
from tests.test_zoo_fusion import _entries

pytestmark = [pytest.mark.zoo, pytest.mark.slow]


def _imported(entry):
    shapes = {i["name"]: i["shape"] for i in entry["inputs"]}
    try:
        return import_onnx(str(ZOO / entry["file"]), shapes)
    except Exception as e:  # a model optc cannot import yet is reported by test_zoo.py
        pytest.skip(f"does not import: {e}")


@pytest.mark.parametrize("pipeline", [None, "graph-optimize"])
@pytest.mark.parametrize("entry", _entries())
def test_zoo_model_exports_to_the_originals_outputs(entry, pipeline):
    module = _imported(entry)
    if pipeline:
        module = apply_pipeline(clone_with_weights(module), pipeline)
    inputs = zoo_inputs(entry["inputs"])
    expected, actual = run_onnxruntime(ZOO / entry["file"], inputs), run_model(export(module), inputs)
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("entry", _entries())
def test_zoo_model_round_trips(entry):
    assert_round_trips(_imported(entry))
