"""The bundled example models: the committed files are what examples/models.py builds, and
each imports, runs in the reference interpreter and matches onnxruntime."""

import os

import onnx
import pytest

from examples.models import HERE, MODELS
from tests.support import assert_matches_onnxruntime


@pytest.mark.parametrize("name", sorted(MODELS))
def test_committed_model_is_what_the_builder_writes(name):
    path = os.path.join(HERE, f"{name}.onnx")
    with open(path, "rb") as f:
        committed = f.read()
    assert committed == MODELS[name]().SerializeToString(), f"regenerate with: python examples/models.py ({path})"
    assert len(committed) < 1 << 20, "keep bundled examples under 1 MiB"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_example_matches_onnxruntime(name):
    model = onnx.load(os.path.join(HERE, f"{name}.onnx"))
    for seed in (0, 1):
        assert_matches_onnxruntime(model, seed=seed, rtol=1e-3, atol=1e-4)
