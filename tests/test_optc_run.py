"""`optc-run`, driven in-process through `main(argv)`: files in, files out, and every error
as one `optc-run: error:` line with exit status 1."""

from __future__ import annotations

import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler import optc, optc_run
from tests.support import make_model, run_onnxruntime

RNG = np.random.default_rng(0)
WEIGHT = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
BIAS = RNG.standard_normal((4, 1, 1)).astype(np.float32)


def conv_add_relu(batch: int | str):
    return make_model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Add", ["c", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["y"]),
        ],
        {"x": ([batch, 3, 8, 8], TensorProto.FLOAT)},
        ["y"],
        {"w": WEIGHT, "b": BIAS},
    )


@pytest.fixture
def model_path(tmp_path) -> str:
    """Conv → Add → Relu with a symbolic batch dimension; input 'x', output 'y'."""
    path = tmp_path / "model.onnx"
    onnx.save(conv_add_relu("N"), path)
    return str(path)


def save_inputs(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = optc_run.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_random_inputs_run_and_write_outputs(capsys, model_path, tmp_path):
    out_file = tmp_path / "out.npz"
    code, out, err = run(capsys, model_path, "--device", "cpu", "--shape", "x=2x3x8x8", "--output", out_file)
    assert code == 0, err
    assert "x  float32[2, 3, 8, 8]  (random, seed 0)" in out
    assert "y  float32[2, 4, 8, 8]" in out and "run:" in out
    with np.load(out_file) as outputs:
        assert outputs.files == ["y"]
        assert outputs["y"].shape == (2, 4, 8, 8) and (outputs["y"] >= 0).all()


def test_outputs_match_onnxruntime_on_given_inputs(capsys, model_path, tmp_path):
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    in_file = save_inputs(tmp_path / "in.npz", x=x)
    out_file = tmp_path / "out.npz"
    # the symbolic batch dimension is taken from the array, no --shape needed
    code, _, err = run(capsys, model_path, "--inputs", in_file, "--output", out_file)
    assert code == 0, err
    expected = run_onnxruntime(onnx.load(model_path), {"x": x})["y"]
    with np.load(out_file) as outputs:
        np.testing.assert_allclose(outputs["y"], expected, rtol=1e-5, atol=1e-5)


def test_minus_one_dimension_is_symbolic(capsys, tmp_path):
    """A batch written as dim_value -1 is dynamic: --shape fixes it, --inputs gives it, and
    the error without either suggests a --shape that then runs."""
    path = tmp_path / "minus_one.onnx"
    onnx.save(conv_add_relu(-1), path)
    code, _, err = run(capsys, path)
    assert code == 1 and "input 'x' has symbolic dimensions [?, 3, 8, 8]; fix them with --shape x=Nx3x8x8" in err, err
    hinted = err.split("(e.g. --shape ")[1].split(")")[0]
    assert hinted == "x=1x3x8x8"
    code, out, err = run(capsys, path, "--shape", hinted, "--compare", "onnxruntime")
    assert code == 0 and "y  float32[1, 4, 8, 8]" in out, err
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    code, out, err = run(capsys, path, "--inputs", save_inputs(tmp_path / "in.npz", x=x), "--compare", "onnxruntime")
    assert code == 0 and "y  float32[2, 4, 8, 8]" in out, err


def test_seed_decides_the_random_inputs(capsys, model_path, tmp_path):
    def outputs(seed):
        path = tmp_path / f"out{seed}.npz"
        assert run(capsys, model_path, "--shape", "x=1x3x8x8", "--seed", seed, "--output", path)[0] == 0
        with np.load(path) as data:
            return data["y"]

    np.testing.assert_array_equal(outputs(3), outputs(3))
    assert not np.array_equal(outputs(3), outputs(4))


def test_compare_with_onnxruntime_passes(capsys, model_path):
    code, out, err = run(capsys, model_path, "--shape", "x=1x3x8x8", "--compare", "onnxruntime", "--repeat", 2)
    assert code == 0, err
    assert "compare with onnxruntime (rtol 0.001, atol 0.0001):" in out
    assert "PASS" in out and "fastest of 2" in out


def test_compare_failure_reports_and_exits_1(capsys, model_path, monkeypatch):
    def perturbed(path, inputs):
        return {"y": run_onnxruntime(onnx.load(path), inputs)["y"] + 1.0}

    monkeypatch.setattr(optc_run, "_run_onnxruntime", perturbed)
    code, out, err = run(capsys, model_path, "--shape", "x=1x3x8x8", "--compare", "onnxruntime")
    assert code == 1
    assert "FAIL: 256 of 256 elements out of tolerance" in out
    assert err.strip() == "optc-run: error: output(s) y differ from onnxruntime beyond rtol 0.001, atol 0.0001"


def test_saved_ir_runs_with_its_weights_file(capsys, model_path, tmp_path):
    mlir = tmp_path / "model.mlir"
    assert optc.main([model_path, "--shape", "x=1x3x8x8", "-p", "default", "-o", str(mlir)]) == 0
    assert (tmp_path / "model.weights.npz").exists()
    capsys.readouterr()
    code, out, err = run(capsys, mlir, "--onnx", model_path, "--compare", "onnxruntime")
    assert code == 0, err
    assert "PASS" in out


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [
        (np.array([1.0, np.nan, np.inf]), np.array([1.0, np.nan, np.inf]), True),
        (np.array([1.0, 2.0]), np.array([1.0, 2.001]), True),
        (np.array([1.0, 2.0]), np.array([1.0, 2.01]), False),
        (np.array([0.0]), np.array([1e-5]), True),
        (np.array([1.0]), np.array([np.inf]), False),
        (np.array([np.nan]), np.array([1.0]), False),
        (np.array([1, 2], np.int64), np.array([1, 2], np.int32), False),
    ],
)
def test_compare_follows_allclose(a, b, ok):
    diff = optc_run.compare(a, b, "y", rtol=1e-3, atol=1e-4)
    assert diff.ok == ok


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "--compare" in out and "--device" in out


IDENTITY_IR = """
func.func @main(%x: tensor<1xf32>) -> tensor<1xf32> {
  func.return %x : tensor<1xf32>
}
"""

# (argv, part of the error); {model} and {tmp} stand for the test's model and folder
ERRORS = [
    (["{tmp}/missing.onnx"], "model file '{tmp}/missing.onnx' does not exist"),
    (["{tmp}/model.txt"], "'{tmp}/model.txt' is neither an .onnx model, .mlir IR nor an .engine"),
    (["{tmp}/m.engine"], "'{tmp}/m.engine' is an engine: run it with --device cuda"),
    (["{tmp}/m.engine", "--device", "cuda", "--compare", "reference"], "--compare reference needs the model"),
    (["{model}", "--save-engine", "{tmp}/e.engine"], "--save-engine needs --device cuda"),
    (["{model}", "--precision", "fp16", "-p", "fused"], "give either --precision or -p, not both"),
    (["{model}", "--precision", "fp8"], "argument --precision: invalid choice: 'fp8'"),
    (["{model}"], "input 'x' has symbolic dimensions [N, 3, 8, 8]; fix them with --shape x=Nx3x8x8"),
    (["{model}", "--inputs", "{tmp}/none.npz"], "inputs file '{tmp}/none.npz' does not exist"),
    (["{model}", "--inputs", "{model}"], "is not an .npz archive (write one with numpy.savez)"),
    (["{model}", "--inputs", "{tmp}/single.npy"], "holds a single array; save one array per input with numpy.savez"),
    (["{model}", "--inputs", "{tmp}/truncated.npz"], "inputs file '{tmp}/truncated.npz' cannot be read"),
    (["{model}", "--inputs", "{tmp}/wrong_name.npz"], "lacks x and has unknown z; the model's inputs are x"),
    (["{model}", "--shape", "x=1x3x8x8", "--inputs", "{tmp}/big.npz"], "input 'x' has shape [2, 3, 8, 8], the model"),
    (["{model}", "--inputs", "{tmp}/f64.npz"], "input 'x' has dtype float64, the model expects float32"),
    (["{model}", "--shape", "x=1x3x9x9"], "--shape x: dimension 2 is fixed to 8 by the model, got 9"),
    (["{model}", "--shape", "x=1x3x8x8", "-p", "nope"], "unknown pass or pipeline 'nope'"),
    (["{model}", "--shape", "x=1x3x8x8", "-p", "graph-dce{bogus=1}"], "pass 'graph-dce': Provided arguments"),
    (["{model}", "--repeat", "0"], "--repeat must be at least 1, got 0"),
    (["{model}", "--bogus"], "unrecognized arguments: --bogus"),
    (["{tmp}/ir.mlir", "--compare", "onnxruntime"], "needs the ONNX model: give --onnx MODEL.onnx"),
    (["{tmp}/ir.mlir", "--shape", "x=1"], "--shape applies to .onnx models"),
    (["{tmp}/bad.mlir"], "{tmp}/bad.mlir:2:1"),
]


@pytest.mark.parametrize(("argv", "message"), ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_errors_are_one_line_and_exit_1(capsys, model_path, tmp_path, argv, message):
    x = np.zeros((1, 3, 8, 8), np.float32)
    save_inputs(tmp_path / "wrong_name.npz", z=x)
    save_inputs(tmp_path / "big.npz", x=np.zeros((2, 3, 8, 8), np.float32))
    save_inputs(tmp_path / "f64.npz", x=x.astype(np.float64))
    np.save(tmp_path / "single.npy", x)
    (tmp_path / "truncated.npz").write_bytes((tmp_path / "big.npz").read_bytes()[:200])
    (tmp_path / "model.txt").write_text("")
    (tmp_path / "ir.mlir").write_text(IDENTITY_IR)
    (tmp_path / "bad.mlir").write_text("func.func @main(\n")

    def fill(text: str) -> str:
        return text.replace("{model}", model_path).replace("{tmp}", str(tmp_path))

    code, _, err = run(capsys, *map(fill, argv))
    assert code == 1
    assert err.startswith("optc-run: error: ") and "Traceback" not in err, err
    assert fill(message) in err


def test_compare_without_onnxruntime_is_an_error(capsys, model_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    code, _, err = run(capsys, model_path, "--shape", "x=1x3x8x8", "--compare", "onnxruntime")
    assert code == 1 and "needs onnxruntime (pip install onnxruntime)" in err


# --- on the GPU ------------------------------------------------------------------------------


@pytest.mark.gpu
def test_cuda_run_compares_saves_and_reruns_the_engine(gpu, capsys, model_path, tmp_path):
    engine = tmp_path / "model.engine"
    argv = [model_path, "--device", "cuda", "--shape", "x=2x3x8x8", "--compare", "reference", "--repeat", 3]
    code, out, err = run(capsys, *argv, "--save-engine", engine, "--output", tmp_path / "a.npz")
    assert code == 0, err
    assert "engine: 2 kernels compiled with NVRTC" in out or "kernels compiled with NVRTC" in out
    assert f"saved to {engine}" in out and "arena " in out and "lower bound" in out
    assert "CUDA graph of" in out and "PASS: every output matches the reference interpreter" in out
    code, out, err = run(capsys, engine, "--device", "cuda", "--compare", "onnxruntime", "--onnx", model_path, "--output", tmp_path / "b.npz")
    assert code == 0, err
    assert "engine: loaded" in out and "PASS: every output matches onnxruntime" in out
    with np.load(tmp_path / "a.npz") as a, np.load(tmp_path / "b.npz") as b:
        np.testing.assert_array_equal(a["y"], b["y"])  # same engine, same seeded inputs


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cuda_run_at_half_precision_uses_its_tolerance(gpu, capsys, model_path, precision):
    code, out, err = run(capsys, model_path, "--device", "cuda", "--shape", "x=1x3x8x8", "--precision", precision, "--compare", "reference")
    assert code == 0, err
    assert "rtol 0.02" in out if precision == "fp16" else "rtol 0.06" in out


# --- reports: --json, --profile, --memory-report ------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--profile"], "--profile needs --device cuda (it reports on the GPU engine)"),
        (["--profile-png", "{tmp}/p.png"], "--profile needs --device cuda"),
        (["--memory-report", "{tmp}/m.png"], "--memory-report needs --device cuda"),
        (["--device", "cuda", "--profile", "--profile-runs", "0"], "--profile-runs must be at least 1, got 0"),
    ],
)
def test_report_flags_errors(capsys, model_path, tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run(capsys, model_path, "--shape", "x=1x3x8x8", *argv)
    assert code == 1 and err.startswith("optc-run: error: ") and "Traceback" not in err
    assert message in err


def test_charts_without_matplotlib_fail_before_building(capsys, model_path, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, _, err = run(capsys, model_path, "--device", "cuda", "--shape", "x=1x3x8x8", "--memory-report", tmp_path / "m.png")
    assert code == 1 and "--memory-report draws with matplotlib, which is not installed" in err


def test_json_report_on_cpu(capsys, model_path, tmp_path):
    import json

    path = tmp_path / "r.json"
    code, out, err = run(capsys, model_path, "--shape", "x=2x3x8x8", "--repeat", 2, "--compare", "onnxruntime", "--json", path)
    assert code == 0, err
    data = json.loads(path.read_text())
    assert data["device"] == "cpu" and data["ok"] is True and data["pipeline"] == "default"
    assert data["inputs"] == {"x": {"dtype": "float32", "shape": [2, 3, 8, 8]}}
    assert data["outputs"] == {"y": {"dtype": "float32", "shape": [2, 4, 8, 8]}}
    assert len(data["times_ms"]["runs"]) == 2 and data["times_ms"]["fastest"] <= data["times_ms"]["median"]
    assert data["compare"]["with"] == "onnxruntime" and data["compare"]["outputs"][0]["ok"] is True


def test_json_report_records_a_failure(capsys, model_path, tmp_path):
    import json

    path = tmp_path / "r.json"
    code, _, err = run(capsys, model_path, "--shape", "x=1x3x8x8", "-p", "no-such-pass", "--json", path)
    assert code == 1
    data = json.loads(path.read_text())
    assert data["ok"] is False and "unknown pass or pipeline 'no-such-pass'" in data["error"]


@pytest.mark.gpu
def test_cuda_profile_memory_report_and_json(gpu, capsys, model_path, tmp_path):
    import json

    paths = {name: tmp_path / name for name in ("p.png", "m.png", "r.json")}
    argv = [model_path, "--device", "cuda", "--shape", "x=2x3x8x8", "--profile", "--profile-runs", 5]
    code, out, err = run(capsys, *argv, "--profile-png", paths["p.png"], "--memory-report", paths["m.png"], "--json", paths["r.json"])
    assert code == 0, err
    assert "profile: " in out and "launches on" in out and "total" in out and "ceilings: copy" in out
    assert "memory: " in out and "lower bound" in out and "peak at launch" in out
    for name in ("p.png", "m.png"):
        assert paths[name].read_bytes().startswith(b"\x89PNG")
    data = json.loads(paths["r.json"].read_text())
    assert data["profile"]["launches"] and data["profile"]["graph_ms"] > 0
    assert data["memory"]["buffers"] and data["engine"]["kernels"] >= 1
