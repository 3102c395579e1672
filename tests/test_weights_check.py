"""A weights file is checked against the IR when it is bound: every `graph.weight` op's
declared shape and element type against the array of its name, and a file that is not a
readable `.npz` is one sentence naming it. Each case through the Python API, `optc FILE`
and `optc-run FILE` (exit 1, one `error:` line, no traceback)."""

from __future__ import annotations

import io
import re
import zipfile

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler import optc, optc_run
from compiler.engine_build import compile_engine
from dialects.errors import OptcError
from dialects.weights import DTYPES_ENTRY, WeightStore, attach, store_of
from runtime.reference import run
from tests.support import make_model, parse

RNG = np.random.default_rng(0)
W = RNG.standard_normal((10, 32)).astype(np.float32)
B = np.arange(32, dtype=np.float32)


@pytest.fixture
def saved(tmp_path):
    """`optc model.onnx -o m.mlir` of x[2, 10] @ w[10, 32] + b[32]: the IR and `m.weights.npz`."""
    model = make_model(
        [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])],
        {"x": ([2, 10], TensorProto.FLOAT)},
        ["y"],
        {"w": W, "b": B},
    )
    onnx.save(model, tmp_path / "model.onnx")
    assert optc.main([str(tmp_path / "model.onnx"), "-o", str(tmp_path / "m.mlir")]) == 0
    return tmp_path / "m.mlir", tmp_path / "m.weights.npz"


def _zip_member(data: bytes):
    def write(path):
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("w.npy", data)

    return write


def _pickled_member(path):
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    _zip_member(buf.getvalue())(path)


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _directory(path):
    path.unlink()
    path.mkdir()


# (what the file becomes, the error after "weights file '<path>'")
BAD_FILES = {
    "shape": (lambda p: np.savez(p, w=np.zeros((7, 7), np.float32), b=B),
              ": weight 'w' is declared tensor<10x32xf32> by the IR but holds float32[7, 7]"),
    "dtype": (lambda p: np.savez(p, w=W, b=B.astype(np.float64)),
              ": weight 'b' is declared tensor<32xf32> by the IR but holds float64[32]"),
    "rank": (lambda p: np.savez(p, w=W, b=B[:1]),
             ": weight 'b' is declared tensor<32xf32> by the IR but holds float32[1]"),
    "missing": (lambda p: np.savez(p, w=W),
                ": weight 'b' is declared tensor<32xf32> by the IR but the file does not hold it"),
    "truncated": (_truncated, " is truncated or damaged (not a complete .npz archive"),
    "text": (lambda p: p.write_text("w = 1.0\n"), " is not an .npz archive: write one with `optc -o FILE` or numpy.savez"),
    "npy": (lambda p: np.save(open(p, "wb"), W), " holds a single array (.npy), not an .npz archive"),
    "garbage member": (_zip_member(b"not an array at all"), ": member 'w' is not a numpy array (.npy)"),
    "pickled member": (_pickled_member, ": member 'w' is not a valid array (Object arrays cannot be loaded"),
    "bad dtypes entry": (lambda p: np.savez(p, w=W, b=B, **{DTYPES_ENTRY: np.array(["w=float7"])}),
                         f": entry '{DTYPES_ENTRY}' line 'w=float7' names no storage-only dtype"),
    "dtypes entry on floats": (lambda p: np.savez(p, w=W, b=B, **{DTYPES_ENTRY: np.array(["w=float8_e4m3fn"])}),
                               f": entry '{DTYPES_ENTRY}' line 'w=float8_e4m3fn' names no member of bytes (uint8)"),
    "directory": (_directory, " is a directory, not a file"),
    "absent": (lambda p: p.unlink(), " does not exist"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_weights_file_is_one_sentence_everywhere(case, saved, capsys):
    ir, npz = saved
    make_bad, expected = BAD_FILES[case]
    make_bad(npz)
    message = f"weights file '{npz}'{expected}"

    with pytest.raises(OptcError, match=re.escape(message)) as caught:
        store_of(parse(ir.read_text()), base_dir=str(ir.parent))
    assert "pickled data" not in str(caught.value)

    for name, main in (("optc", optc.main), ("optc-run", optc_run.main)):
        argv = [str(ir)] if name == "optc" else [str(ir), "--device", "cpu"]
        assert main(argv) == 1
        out, err = capsys.readouterr()
        assert err.startswith(f"{name}: error: {message}"), err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_correct_weights_round_trip(saved, capsys):
    ir, _ = saved
    x = RNG.standard_normal((2, 10)).astype(np.float32)
    module = parse(ir.read_text())
    np.testing.assert_allclose(run(module, {"x": x}, store_of(module, str(ir.parent)))["y"], x @ W + B, rtol=1e-5)
    assert optc.main([str(ir), "-p", "graph-dce"]) == 0
    assert optc_run.main([str(ir), "--device", "cpu"]) == 0
    assert "error" not in capsys.readouterr().err


STORAGE_IR = """
builtin.module {
  func.func @main() -> (tensor<16x4xf8E4M3FN>, tensor<4xbf16>) {
    %t = graph.weight "t" : tensor<16x4xf8E4M3FN>
    %h = graph.weight "h" : tensor<4xbf16>
    func.return %t, %h : tensor<16x4xf8E4M3FN>, tensor<4xbf16>
  }
}
"""
F8 = np.zeros((16, 4), ml_dtypes.float8_e4m3fn)
BF16 = np.zeros(4, np.float32)  # bf16 values are held as float32


def test_storage_types_are_checked_by_their_ml_dtypes():
    attach(parse(STORAGE_IR), WeightStore(arrays={"t": F8, "h": BF16}))
    with pytest.raises(OptcError, match=re.escape(
        "the weight store: weight 't' is declared tensor<16x4xf8E4M3FN> by the IR but holds uint8[16, 4]"
    )):
        attach(parse(STORAGE_IR), WeightStore(arrays={"t": F8.view(np.uint8), "h": BF16}))
    with pytest.raises(OptcError, match=re.escape("weight 'h' is declared tensor<4xbf16> by the IR but holds float16[4]")):
        attach(parse(STORAGE_IR), WeightStore(arrays={"t": F8, "h": BF16.astype(np.float16)}))


def test_storage_types_round_trip_through_a_file(tmp_path):
    path = tmp_path / "s.npz"
    WeightStore(arrays={"t": F8, "h": BF16}).save(str(path))
    module = parse(STORAGE_IR)
    attach(module, WeightStore.load(str(path)))
    assert store_of(module)["t"].dtype == F8.dtype and store_of(module)["h"].dtype == np.float32


def test_store_without_a_file_may_lack_names_until_read():
    # IR printed to stdout names weights it does not carry: binding is fine, reading is not
    store = store_of(parse(STORAGE_IR))
    with pytest.raises(OptcError, match="carries no weights"):
        store["t"]


def test_engine_build_checks_the_bytes_it_copies():
    module = parse(STORAGE_IR)
    store = WeightStore(arrays={"t": F8, "h": BF16})
    attach(module, store)
    store.arrays["h"] = np.zeros(2, np.float32)  # changed after binding: caught before any kernel reads it
    with pytest.raises(OptcError, match=re.escape("weight 'h' is declared tensor<4xbf16> by the IR but holds float32[2]")):
        compile_engine(module, "sm_90")


@pytest.fixture
def bf16_model(tmp_path):
    """x[2, 4] @ w[4, 8], both bf16: onnx reads the initializer as ml_dtypes.bfloat16."""
    values = np.arange(32, dtype=np.float32).astype(ml_dtypes.bfloat16).tobytes()
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": ([2, 4], TensorProto.BFLOAT16)}, ["y"])
    model.graph.initializer.append(helper.make_tensor("w", TensorProto.BFLOAT16, [4, 8], values, raw=True))
    path = tmp_path / "bf.onnx"
    onnx.save(model, path)
    return path


def test_ir_naming_an_onnx_file_binds_its_initializers_as_the_importer_does(bf16_model, tmp_path, capsys):
    # IR printed to stdout after import names the .onnx file as its weights
    assert optc.main([str(bf16_model)]) == 0
    text = capsys.readouterr().out
    assert f'optc.weights = "{bf16_model}"' in text and 'graph.weight "w" : tensor<4x8xbf16>' in text
    assert store_of(parse(text))["w"].dtype == np.float32  # bf16 is held as float32
    (tmp_path / "bf.mlir").write_text(text)
    assert optc_run.main([str(tmp_path / "bf.mlir"), "--device", "cpu"]) == 0

    bf16_model.write_bytes(bf16_model.read_bytes()[:40])
    with pytest.raises(OptcError, match=re.escape(f"weights file '{bf16_model}' is not a valid ONNX model")):
        store_of(parse(text))
