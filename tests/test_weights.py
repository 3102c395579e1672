"""Weights stay out of the IR text: the store, `optc -o` writing them beside the IR, reloading."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler.optc import main as optc
from dialects.errors import OptcError
from dialects.weights import WEIGHTS_ATTR, WeightStore, store_of
from runtime.reference import run
from tests.support import make_model, parse

F = TensorProto.FLOAT


@pytest.fixture
def model_path(tmp_path):
    rng = np.random.default_rng(0)
    # the Transpose of an initializer folds at import into a new, unsaved weight
    nodes = [
        helper.make_node("Transpose", ["w"], ["wt"], perm=[1, 0, 2, 3]),
        helper.make_node("Conv", ["x", "wt"], ["y"]),
    ]
    model = make_model(nodes, {"x": ([1, 3, 5, 5], F)}, ["y"], {"w": rng.standard_normal((3, 4, 3, 3)).astype(np.float32)})
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    return path


def test_ir_text_never_holds_big_weights(model_path, capsys):
    assert optc([str(model_path)]) == 0
    out = capsys.readouterr()
    assert "dense<" not in out.out and 'graph.weight "wt.' in out.out
    assert "weight(s) made by passes are not saved; use -o FILE" in out.err


def test_saved_ir_reloads_with_its_weights(model_path, tmp_path, capsys):
    ir = tmp_path / "out" / "model.mlir"
    ir.parent.mkdir()
    assert optc([str(model_path), "-o", str(ir)]) == 0
    assert (tmp_path / "out" / "model.weights.npz").exists()
    text = ir.read_text()
    assert f'{WEIGHTS_ATTR} = "model.weights.npz"' in text

    # Reload from another working directory: the path is relative to the IR file.
    module = parse(text)
    x = np.random.default_rng(2).standard_normal((1, 3, 5, 5)).astype(np.float32)
    store = store_of(module, base_dir=str(ir.parent))
    from compiler.onnx_import import import_onnx

    expected = run(import_onnx(str(model_path)), {"x": x})["y"]
    np.testing.assert_array_equal(run(module, {"x": x}, store)["y"], expected)

    # and through optc again, whose output lands beside a second weights file
    again = tmp_path / "again.mlir"
    assert optc([str(ir), "-p", "graph-dce", "-o", str(again)]) == 0
    assert (tmp_path / "again.weights.npz").exists()


def test_missing_weight_names_the_weight_and_file(tmp_path):
    path = tmp_path / "w.npz"
    WeightStore(None, {"a": np.zeros(3, np.float32)}).save(str(path))
    store = WeightStore.load(str(path))
    with pytest.raises(OptcError, match=rf"weight 'b' is not in '{path}'"):
        store["b"]


def test_weight_file_that_is_not_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "w.npz"
    path.write_text("not a zip")
    with pytest.raises(OptcError, match="is not an .npz archive") as caught:
        WeightStore.load(str(path))
    assert "pickled" not in str(caught.value)  # numpy's guess for any file that is not a zip


def test_store_names_are_stable_and_deduplicated():
    store = WeightStore()
    a = np.arange(100, dtype=np.float32)
    assert store.add(a, "x") == store.add(a.copy(), "x")
    assert len(store.arrays) == 1 and store.unsaved == {store.add(a, "x")}
