"""quant-fold-qdq: the differential tests on the lit cases (lit_tests/passes/quant-fold-qdq.mlir),
and QDQ models through the whole quant level (`--compile-to quant`): what folds, that no quant
op is left, and that the reference still matches onnxruntime.

Where the results must be equal and where within one quantization step: the expansions are
the reference's own arithmetic, so kernels that only quantize, dequantize or requantize give
the same bits. An integer contraction computes `sum(x·w) · (s_x·s_w)` where the float one
computed `sum((x·s_x)·(w·s_w))`: the same real number, rounded differently, so a float
result agrees to float rounding and a quantized one may land on the other side of a rounding
tie, one step away (the scales of the lit case are chosen so that this can be seen to hold)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects import fused, quant
from dialects.fused import is_integer_contraction
from dialects.graph import MaxPoolOp, ReshapeOp, WeightOp
from runtime.reference import run
from tests.cuda_support import compile_kernels
from tests.onnx_backend_exclusions import QUANT_NODE_TESTS
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model, parse, run_onnxruntime
from tests.test_quant_import import _float_model, assert_quantized_close, qdq_conv_model

LIT = "passes/quant-fold-qdq.mlir"
QUANT_OPS = (quant.QuantizeOp, quant.DequantizeOp, quant.RequantizeOp, quant.MatmulOp, quant.ConvOp)


def ops_of(module, kind):
    return [op for op in module.walk() if isinstance(op, kind)]


def integer_contractions(module) -> list:
    return [op for op in ops_of(module, (fused.MatmulOp, fused.ConvOp)) if is_integer_contraction(op)]


EXACT = {"rtol": 0, "atol": 0}
ONE_STEP = {"rtol": 0, "atol": 1}  # quantized integers: one step is 1
FLOAT = {"rtol": 1e-5, "atol": 1e-5}


@pytest.mark.parametrize(
    "case, tolerance, folded",
    [
        ("conv_per_channel", ONE_STEP, 1),
        ("matmul_transpose_b", EXACT, 1),  # power-of-two scales: both ways exact
        ("activations_per_tensor", FLOAT, 1),
        ("conv_nhwc_residual", EXACT, 1),  # power-of-two scales again
        ("matmul_head_split", EXACT, 1),
        ("matmul_f16", {"rtol": 2e-3, "atol": 1e-3}, 1),  # f16 operands rounded first on the float path
        ("weight_scale_on_the_reduced_axis", EXACT, 0),
        ("asymmetric_stays_float", EXACT, 0),
        ("residual_add", EXACT, 0),
        ("leftovers", EXACT, 0),
        ("integer_ops", EXACT, 1),
        ("blocked", EXACT, 0),
        ("asymmetric_integer_ops", EXACT, 0),  # centered in f64: exact, and not an integer contraction
        ("norm_with_a_quantized_scale", EXACT, 0),
    ],
)
def test_lit_cases(case, tolerance, folded):
    after = assert_pass_preserves(lit_function(LIT, case), "quant-fold-qdq", **tolerance)
    assert not ops_of(after, QUANT_OPS)
    assert len(integer_contractions(after)) == folded


@pytest.mark.parametrize(
    "case, why",
    [
        ("asymmetric_stays_float", "(tensor<2x4xf32>, tensor<4x3xf32>) stays float: the activation operand has a zero point that is not zero"),
        ("weight_scale_on_the_reduced_axis", "(tensor<2x3xf32>, tensor<3x2xf32>) stays float: the weight operand has a scale per axis 0"),
    ],
)
def test_why_a_contraction_stays_float_is_logged(caplog, case, why):
    with caplog.at_level(logging.DEBUG, logger="passes.quant"):
        apply_pipeline(parse(lit_function(LIT, case)), "quant-fold-qdq")
    assert f"quant-fold-qdq: fused.matmul {why}" in caplog.text


def test_a_dequantize_with_other_readers_stays_for_them():
    """The dequantize feeds the integer matmul and is also a result: the matmul reads the
    integers, the result keeps its (now elementwise) dequantize."""
    ir = lit_function(LIT, "matmul_transpose_b").replace(
        "-> tensor<2x3xf32> {\n  %sx", "-> (tensor<2x3xf32>, tensor<2x4xf32>) {\n  %sx", 1
    ).replace("func.return %y : tensor<2x3xf32>", "func.return %y, %xf : tensor<2x3xf32>, tensor<2x4xf32>")
    after = assert_pass_preserves(ir, "quant-fold-qdq", **EXACT)
    assert len(integer_contractions(after)) == 1 and len(ops_of(after, fused.ElementwiseOp)) == 1


def test_float_models_are_untouched():
    ir = """
    func.func @main(%x: tensor<2x4xf32>, %w: tensor<4x3xf32>) -> tensor<2x3xf32> {
      %y = fused.matmul %x, %w {transpose_b = 0 : i64} : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32> {
      ^bb0(%acc: tensor<2x3xf32>):
        fused.yield %acc : tensor<2x3xf32>
      }
      func.return %y : tensor<2x3xf32>
    }
    """
    before = parse(ir)
    assert str(apply_pipeline(parse(ir), "quant-fold-qdq")) == str(before)


# --- QDQ models through the quant level ------------------------------------------------------


def symmetric_quantize_static_model(tmp_path) -> onnx.ModelProto:
    """tests/test_quant_import.py's CNN, quantized by onnxruntime's quantize_static with
    symmetric activations and weights (per output channel), as TensorRT wants them."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(2)

    class RandomImages(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.samples, None)

    source, quantized = os.path.join(tmp_path, "model.onnx"), os.path.join(tmp_path, "model.qdq.onnx")
    onnx.save(_float_model(), source)
    quantize_static(source, quantized, RandomImages(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
    return onnx.load(quantized)


def _output_step(model: onnx.ModelProto) -> float:
    """The scale of the model output's last QuantizeLinear: one step of the output."""
    (last,) = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == model.graph.output[0].name]
    (scale,) = [i for i in model.graph.initializer if i.name == last.input[1]]
    return float(onnx.numpy_helper.to_array(scale))


def test_symmetric_model_folds_into_integer_contractions(tmp_path):
    model = symmetric_quantize_static_model(tmp_path)
    compiled = apply_pipeline(import_onnx(model), "quant")
    assert not ops_of(compiled, QUANT_OPS)
    contractions = integer_contractions(compiled)
    assert [op.name for op in contractions] == ["fused.conv", "fused.conv", "fused.matmul"]
    assert all(op.outputs[0].type.element_type == quant.CONTRACTED[0] for op in contractions), "each requantizes to i8"
    (pool,) = ops_of(compiled, MaxPoolOp)
    assert str(pool.result.type) == "tensor<1x8x8x8xi8>", "the pool runs on int8 (quant-propagate-scales)"
    flatten = contractions[2].lhs.owner
    assert isinstance(flatten, ReshapeOp) and flatten.input is pool.result, "the Q/DQ pairs between cancelled"
    step = _output_step(model)
    for seed in range(3):
        x = np.random.default_rng(10 + seed).standard_normal((1, 3, 16, 16)).astype(np.float32)
        assert_quantized_close(run(compiled, {"x": x})["y"], run_onnxruntime(model, {"x": x})["y"], step)


def test_asymmetric_activations_keep_the_conv_float():
    """qdq_conv_model's activation zero point is -3: the conv stays float, its dequantizes and
    quantizes become elementwise kernels, the i32 bias a float constant."""
    model = qdq_conv_model()
    compiled = apply_pipeline(import_onnx(model), "quant")
    assert not ops_of(compiled, QUANT_OPS) and not integer_contractions(compiled)
    (conv,) = ops_of(compiled, fused.ConvOp)
    assert str(conv.input.type) == "tensor<2x4x9x9xf32>"
    assert str(conv.outputs[0].type) == "tensor<2x8x5x5xi8>", "the output quantize joined the conv's epilogue"
    x = np.random.default_rng(3).standard_normal((2, 4, 9, 9)).astype(np.float32)
    assert_quantized_close(run(compiled, {"x": x})["y"], run_onnxruntime(model, {"x": x})["y"], 0.05)


def test_asymmetric_model_kernels_compile_with_nvrtc():
    """Every kernel of a model whose contraction stays float: the quantize and dequantize
    kernels emit and compile."""
    sources = compile_kernels(import_onnx(qdq_conv_model()), pipeline="kernel")
    assert len(sources) >= 3


@pytest.mark.slow
def test_symmetric_model_kernels_compile_with_nvrtc(tmp_path):
    """Every kernel of the symmetric model's kernel level, the integer convolutions and matmul
    (the int8 kernels of the matmul and conv families) among them, emits and compiles."""
    sources = compile_kernels(import_onnx(symmetric_quantize_static_model(tmp_path)), pipeline="kernel")
    assert sum("signed char" in source and "fused_conv" in name for name, source in sources.items()) == 2


@pytest.mark.gpu
def test_symmetric_model_engine_matches_the_reference(tmp_path):
    """The engine of the quant level's IR against the reference interpreter on it: the integer
    products are exact on both, and the epilogues' f32 arithmetic rounds as the reference's
    (the integer kernels' epilogues do not contract into fma), so a requantized value is at
    most one step away where the two still land on opposite sides of a tie."""
    from tests.cuda_support import assert_gpu_matches_reference

    model = symmetric_quantize_static_model(tmp_path)
    compiled = apply_pipeline(import_onnx(model), "quant")
    assert_gpu_matches_reference(compiled, pipeline="lower-to-kernels", rtol=0, atol=_output_step(model) * 1.001)


@pytest.mark.slow
@pytest.mark.parametrize("name", QUANT_NODE_TESTS)
def test_quant_node_test_kernels_compile_with_nvrtc(name):
    """The ONNX node tests of the quantization ops, which the GPU node tests run: every kernel
    of their kernel level emits and compiles."""
    from compiler.backend import _upgraded
    from tests.test_onnx_backend import NODE_TESTS

    assert compile_kernels(import_onnx(_upgraded(NODE_TESTS[name].model)), pipeline="kernel")


def test_the_docs_example_is_what_optc_prints(tmp_path):
    """docs/quantization.md shows `optc --compile-to quant` on lit_tests/import/inputs/models.py's
    qdq_conv_symmetric: its lines are the function body optc prints."""
    root = Path(__file__).resolve().parents[1]
    (shown,) = re.findall(r"```mlir\n(.*?)```", (root / "docs/quantization.md").read_text(), re.S)
    model = tmp_path / "qdq-conv.onnx"
    subprocess.run([sys.executable, str(root / "lit_tests/import/inputs/models.py"), "qdq_conv_symmetric", str(model)], check=True)
    printed = subprocess.run([sys.executable, "-m", "compiler.optc", str(model), "--compile-to", "quant"],
                             capture_output=True, text=True, check=True).stdout
    body = [line.strip() for line in printed.splitlines()[2:-4]]  # inside func.func @main, before its return
    assert [line.strip() for line in shown.strip().splitlines()] == body


def test_many_per_channel_scales_are_a_weight_not_a_literal():
    """A combined scale of 20 output channels is too long to print inline: it is a weight
    beside the int8 one, and the module still runs as before."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale"], ["x_q"], output_dtype=TensorProto.INT8),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], axis=0),
        helper.make_node("Conv", ["x_dq", "w"], ["y"]),
    ]
    inits = {"x_scale": np.float32(0.03), "w_q": rng.integers(-127, 128, (20, 4, 1, 1)).astype(np.int8),
             "w_scale": rng.uniform(0.001, 0.01, 20).astype(np.float32)}
    module = import_onnx(make_model(nodes, {"x": ([1, 4, 3, 3], TensorProto.FLOAT)}, ["y"], inits, opset=21))
    after = assert_pass_preserves(module, "quant", rtol=1e-5, atol=1e-6)
    (conv,) = integer_contractions(after)
    assert isinstance(conv.extras[0].owner, WeightOp) and str(conv.extras[0].type) == "tensor<1x20x1x1xf32>"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["norm_with_a_quantized_scale", "residual_add", "leftovers", "blocked", "asymmetric_integer_ops"])
def test_lit_case_kernels_compile_with_nvrtc(case):
    """The kernels the pass makes (no integer contraction among them) emit and compile."""
    assert compile_kernels(lit_function(LIT, case), pipeline="quant-fold-qdq,lower-to-kernels")


def _quantized_example(name: str, symmetric: bool, tmp_path) -> onnx.ModelProto:
    """examples/NAME.onnx quantized by onnxruntime's quantize_static (QDQ, per channel): int8
    symmetric activations, or uint8 ones with zero points (its default)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from runtime.reference.inputs import random_inputs

    source = Path(__file__).resolve().parents[1] / "examples" / f"{name}.onnx"
    module = import_onnx(onnx.load(source))

    class RandomInputs(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([random_inputs(module, seed) for seed in range(4)])

        def get_next(self):
            return next(self.samples, None)

    quantized = os.path.join(tmp_path, f"{name}.qdq.onnx")
    activations = QuantType.QInt8 if symmetric else QuantType.QUInt8
    quantize_static(str(source), quantized, RandomInputs(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=activations, weight_type=QuantType.QInt8,
                    extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True})
    return onnx.load(quantized)


@pytest.mark.slow
@pytest.mark.parametrize("symmetric", [True, False], ids=["int8-symmetric", "uint8"])
@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_quantized_examples_through_the_quant_level(name, symmetric, tmp_path):
    """The bundled examples quantized by onnxruntime: at the quant level no quant op is left,
    symmetric int8 folds into integer contractions, the reference gives what it gave on the
    imported QDQ graph, and every kernel, the integer contractions' too, emits and compiles."""
    from runtime.reference.inputs import random_inputs

    model = _quantized_example(name, symmetric, tmp_path)
    imported = import_onnx(model)
    compiled = apply_pipeline(import_onnx(model), "quant")
    assert not ops_of(compiled, QUANT_OPS)
    if symmetric:  # (uint8 activations fold where their zero point is 0: after a ReLU)
        assert len(integer_contractions(compiled)) >= 4
    feeds = random_inputs(imported, seed=7)
    for output, want in run(imported, feeds).items():
        np.testing.assert_allclose(run(compiled, feeds)[output], want, rtol=1e-5, atol=1e-5)
    assert compile_kernels(compiled, pipeline="lower-to-kernels", archs=("sm_80",))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_precision_int8_reaches_integer_kernels(name, tmp_path):
    """`optc --precision int8` (calibration, quant-insert-qdq, fp16 elsewhere) then the quant
    level: no quant op is left, integer contractions are, and the CUDA compiles with NVRTC."""
    from runtime.reference.inputs import random_inputs
    from tests.cuda_support import ARCHS, compile_clean

    model = Path(__file__).resolve().parents[1] / "examples" / f"{name}.onnx"
    samples = [random_inputs(import_onnx(onnx.load(model)), seed) for seed in range(4)]
    data = tmp_path / "calibration.npz"
    np.savez(data, **{k: np.stack([s[k] for s in samples]) for k in samples[0]})

    def optc(*args: str) -> str:
        argv = [sys.executable, "-m", "compiler.optc", str(model), "--precision", "int8", "--calibration-data", str(data), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    quant_level = optc("--compile-to", "quant")
    assert "quant." not in quant_level and re.search(r"\^bb0\(%acc\w*: tensor<[0-9x]+xi32>", quant_level)
    source = optc("-p", "kernel", "-t", "cuda")
    for arch in ARCHS:
        compile_clean(source, f"{name}-int8.cu", arch)
