"""graph-convert-precision: differential tests (reference interpreter, f32 IR before against
f16/bf16 IR after, on the same random inputs) on the lit cases, on small ONNX models and on
the bundled examples through `graph-optimize,graph-convert-precision,fuse`; the interface,
integer paths, the weight store, fusion, memory planning and the option's errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.dialects import func
from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type, IntegerType, ModuleOp, TensorType
from xdsl.utils.exceptions import PassFailedException

from compiler.onnx_import import import_onnx
from compiler.optc import main as optc_main
from compiler.pipelines import build
from compiler.report import kernel_counts
from dialects.dtypes import round_to_bf16
from dialects.errors import OptcError
from dialects.graph import CastOp, CumSumOp, LayerNormOp, WeightOp
from dialects.weights import attach, store_of
from examples.models import HERE
from passes.graph.convert_precision import GraphConvertPrecision, narrow
from runtime.reference import run
from tests.support import apply_pipeline, lit_function, make_model, parse, random_inputs

LIT = "passes/graph-convert-precision.mlir"
LOW = {"fp16": Float16Type(), "bf16": BFloat16Type()}

TOLERANCE = {"fp16": (1e-2, 1e-2), "bf16": (4e-2, 3e-2)}
"""(rtol, atol as a fraction of the output's largest magnitude). Every converted op rounds
its result once: f16 keeps 11 significant bits (unit roundoff 2^-11 ~ 4.9e-4), bf16 8
(2^-8 ~ 3.9e-3). The models here chain a few to a dozen roundings (and f16 weights), so
errors of a few units of roundoff times the output's scale are expected: measured on the
examples, ~1e-3 (f16) and ~6e-3 (bf16) of max|y|. The tolerances leave a 3-10x margin;
atol scales with the output because elementwise rtol means nothing near zero crossings."""


def main_of(module: ModuleOp) -> func.FuncOp:
    return next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main")


def convert(module: ModuleOp | str, pipeline: str, reference_pipeline: str = "") -> tuple[ModuleOp, ModuleOp]:
    """(before, after): `module` through `reference_pipeline`, then a clone of it through
    `pipeline`; both share one weight store (the pass adds to it)."""
    before = parse(module) if isinstance(module, str) else module
    if reference_pipeline:
        apply_pipeline(before, reference_pipeline)
    after = before.clone()
    attach(after, store_of(before))
    return before, apply_pipeline(after, pipeline)


def assert_close_in_precision(before: ModuleOp, after: ModuleOp, precision: str, seeds=(0, 1, 2)) -> None:
    rtol, scale = TOLERANCE[precision]
    store = store_of(before)
    for seed in seeds:
        inputs = random_inputs(before, seed)
        expected, actual = run(before, inputs, store), run(after, inputs, store)
        assert expected.keys() == actual.keys()
        for name, want in expected.items():
            got = actual[name]
            assert got.dtype == want.dtype and got.shape == want.shape, f"output {name}: interface changed"
            if np.issubdtype(want.dtype, np.floating):
                atol = scale * float(np.max(np.abs(want), initial=0.0))
                np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"output {name} (seed {seed})")
            else:
                np.testing.assert_array_equal(got, want, err_msg=f"output {name} (seed {seed})")


def element_types(module: ModuleOp) -> set[str]:
    """Element types of every value computed in @main's body (results, not arguments)."""
    return {str(r.type.element_type) for op in main_of(module).body.block.ops for r in op.results if isinstance(r.type, TensorType)}


# --- the lit cases ---------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("case", ["mlp", "running_sum", "casts_and_statistics", "qdq"])
def test_lit_cases_keep_their_meaning(case, precision):
    before, after = convert(lit_function(LIT, case), f"graph-convert-precision{{precision={precision}}}")
    assert_close_in_precision(before, after, precision)
    assert main_of(after).function_type == main_of(before).function_type


def test_fp32_changes_nothing():
    before, after = convert(lit_function(LIT, "casts_and_statistics"), "graph-convert-precision{precision=fp32}")
    assert str(after) == str(before)


def test_integer_path_and_kept_ops_are_untouched():
    _, after = convert(lit_function(LIT, "mlp"), "graph-convert-precision")
    int_ops = [op for op in main_of(after).body.block.ops if op.results and isinstance(op.results[0].type.element_type, IntegerType)]
    assert len(int_ops) == 1 and int_ops[0].operands[0] is main_of(after).args[1]
    _, after = convert(lit_function(LIT, "running_sum"), "graph-convert-precision")
    (cum_sum,) = [op for op in after.walk() if isinstance(op, CumSumOp)]
    assert isinstance(cum_sum.result.type.element_type, Float32Type)


def test_layer_norm_statistics_stay_f32():
    _, after = convert(lit_function(LIT, "casts_and_statistics"), "graph-convert-precision{precision=bf16}")
    (norm,) = [op for op in after.walk() if isinstance(op, LayerNormOp)]
    assert isinstance(norm.result.type.element_type, BFloat16Type)
    assert all(isinstance(r.type.element_type, Float32Type) for r in norm.results[1:])


def test_narrow_saturates_finite_values_and_keeps_non_finite_ones():
    x = np.array([1e5, -3.4e38, np.inf, -np.inf, 0.1, 1e-9], dtype=np.float32)
    f16 = narrow(x, Float16Type())
    assert f16.dtype == np.float16
    assert f16[0] == 65504 and f16[1] == -65504 and f16[2] == np.inf and f16[3] == -np.inf
    assert np.isnan(narrow(np.array([np.nan], np.float32), Float16Type()))[0]
    bf16 = narrow(x, BFloat16Type())
    assert bf16.dtype == np.float32 and np.array_equal(bf16, round_to_bf16(bf16))  # on the bf16 grid
    assert np.isfinite(bf16[1]) and bf16[1] < -3.3e38 and bf16[2] == np.inf


# --- small ONNX models -----------------------------------------------------------------


def conv_net():
    """Conv → BatchNorm → Relu → MaxPool → Conv → Add (residual) → GlobalAveragePool →
    Flatten → Gemm: a CNN block as torchvision exports it."""
    rng = np.random.default_rng(3)
    w = {
        "c1.w": (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32),
        "c1.b": rng.standard_normal(8).astype(np.float32),
        "bn.gamma": rng.uniform(0.5, 2.0, 8).astype(np.float32),
        "bn.beta": rng.standard_normal(8).astype(np.float32),
        "bn.mean": rng.standard_normal(8).astype(np.float32),
        "bn.var": rng.uniform(0.5, 2.0, 8).astype(np.float32),
        "c2.w": (rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32),
        "fc.w": (rng.standard_normal((5, 8)) * 0.5).astype(np.float32),
        "fc.b": rng.standard_normal(5).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn.gamma", "bn.beta", "bn.mean", "bn.var"], ["b1"]),
        helper.make_node("Relu", ["b1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["s"]),
        helper.make_node("GlobalAveragePool", ["s"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], transB=1),
    ]
    return make_model(nodes, {"x": ([2, 3, 8, 8], TensorProto.FLOAT)}, ["y"], w)


def token_net():
    """Embedding lookup by int64 ids, a masked softmax with a large negative mask constant
    (-3.4e38, beyond f16), a matmul, and an integer output computed from the ids."""
    rng = np.random.default_rng(5)
    mask = np.triu(np.full((6, 6), -3.4e38, dtype=np.float32), 1)
    w = {
        "emb": rng.standard_normal((20, 16)).astype(np.float32),
        "wq": (rng.standard_normal((16, 16)) * 0.25).astype(np.float32),
        "mask": mask,
        "two": np.array(2, dtype=np.int64),
    }
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["e"]),
        helper.make_node("MatMul", ["e", "wq"], ["q"]),
        helper.make_node("Transpose", ["e"], ["et"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "et"], ["scores"]),
        helper.make_node("Add", ["scores", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "e"], ["y"]),
        helper.make_node("Mul", ["ids", "two"], ["ids2"]),
    ]
    return make_model(nodes, {"ids": ([2, 6], TensorProto.INT64)}, ["y", "ids2"], w)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("model", [conv_net, token_net])
def test_onnx_models_through_the_graph_pipeline(model, precision):
    before, after = convert(import_onnx(model()), f"graph-convert-precision{{precision={precision}}}", "graph-optimize")
    assert_close_in_precision(before, after, precision)
    assert main_of(after).function_type == main_of(before).function_type
    low = str(LOW[precision])
    computed = element_types(after)
    assert low in computed and computed <= {low, "f32", "i64", "i1"}
    # f32 only at the interface: the entry casts' inputs and the exit casts' results
    f32_results = [op for op in main_of(after).body.block.ops if op.results and str(op.results[0].type.element_type) == "f32"]
    assert all(isinstance(op, CastOp) for op in f32_results)


def test_token_net_integer_output_and_saturated_mask():
    before, after = convert(import_onnx(token_net()), "graph-convert-precision", "graph-optimize")
    (fn,) = [main_of(after)]
    assert [str(t) for t in fn.function_type.outputs.data] == [str(t) for t in main_of(before).function_type.outputs.data]
    store = store_of(after)
    masks = [store[op.sym.data] for op in after.walk() if isinstance(op, WeightOp) and op.sym.data.startswith("mask")]
    assert masks and all(m.dtype == np.float16 and np.all(np.isfinite(m)) and m.min() == -65504 for m in masks)


def test_weights_are_new_entries_and_the_originals_stay():
    module = import_onnx(conv_net())
    apply_pipeline(module, "graph-optimize")
    store = store_of(module)
    originals = {n: a.copy() for n, a in store.arrays.items()}
    f32_names = {op.sym.data for op in module.walk() if isinstance(op, WeightOp)}
    for precision, dtype in (("fp16", np.float16), ("bf16", np.float32)):
        _, after = convert(module, f"graph-convert-precision{{precision={precision}}}")
        names = {op.sym.data for op in after.walk() if isinstance(op, WeightOp)}
        assert names and not names & f32_names and all(f".{LOW[precision]}." in n for n in names)
        for n in names:
            assert store[n].dtype == dtype
            if precision == "bf16":
                assert np.array_equal(store[n], round_to_bf16(store[n]))
        assert all(np.array_equal(store.arrays[n], a) and store.arrays[n].dtype == a.dtype for n, a in originals.items())


# --- errors ----------------------------------------------------------------------------


def test_bad_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="precision must be one of fp32, fp16, bf16, got 'fp8'"):
        GraphConvertPrecision(precision="fp8")
    with pytest.raises(OptcError, match="pass 'graph-convert-precision': precision must be one of"):
        build("graph-convert-precision{precision=int8}")


def test_fused_ir_is_refused():
    module = import_onnx(conv_net())
    apply_pipeline(module, "fused")
    with pytest.raises(PassFailedException, match="runs on graph-level IR .* 'fused\\."):
        apply_pipeline(module, "graph-convert-precision")


# --- the examples, through fusion and memory planning ----------------------------------

PIPELINE = "graph-optimize,graph-convert-precision{{precision={}}},fuse"


def interface_casts(module: ModuleOp) -> int:
    """f32 inputs and outputs of @main: each costs at most one cast kernel that may not fuse."""
    fn = main_of(module)
    f32 = [t for t in (*fn.function_type.inputs.data, *fn.function_type.outputs.data) if str(t.element_type) == "f32"]
    return len(f32)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_examples_still_fuse_and_keep_their_meaning(name, precision):
    path = os.path.join(HERE, f"{name}.onnx")
    reference = import_onnx(path)
    apply_pipeline(reference, "fused")
    before, after = convert(import_onnx(path), PIPELINE.format(precision))
    assert_close_in_precision(before, after, precision)
    want, got = kernel_counts(reference), kernel_counts(after)
    # every kernel kind the f32 model fused into, in the same numbers; at most one more
    # elementwise kernel per interface cast that found nothing to fuse with
    extra = got - want
    assert set(extra) <= {"fused.elementwise"} and not (want - got)
    assert extra["fused.elementwise"] <= interface_casts(after)
    assert main_of(after).function_type == main_of(reference).function_type


def test_transformer_fuses_its_casts_away():
    path = os.path.join(HERE, "transformer.onnx")
    reference = apply_pipeline(import_onnx(path), "fused")
    after = apply_pipeline(import_onnx(path), PIPELINE.format("fp16"))
    assert kernel_counts(after) == kernel_counts(reference)


@pytest.mark.parametrize("name", ["cnn", "transformer"])
def test_memory_plan_counts_two_bytes_per_f16_element(name):
    path = os.path.join(HERE, f"{name}.onnx")
    plans = {}
    for precision in ("fp32", "fp16"):
        module = apply_pipeline(import_onnx(path), PIPELINE.format(precision) + ",outline-kernels,plan-memory")
        fn = main_of(module)
        plans[precision] = fn.attributes["kernel.arena"].data["naive"].value.data
        launches = [op for op in fn.body.block.ops if op.name == "kernel.launch"]
        assert launches
    # the naive sum of every launch result: all f16 except the f32 output (and, in the
    # CNN, the input's cast in f16 — the cast reads the f32 input, which is not in the arena)
    assert plans["fp16"] < 0.6 * plans["fp32"]


def test_optc_precision_flag_inserts_the_pass_after_the_graph_level(tmp_path, capsys):
    out = tmp_path / "t.mlir"
    path = os.path.join(HERE, "transformer.onnx")
    assert optc_main([path, "-p", "fused", "--precision", "bf16", "--print-ir-after-all", "-o", str(out)]) == 0
    dumps = [line for line in capsys.readouterr().err.splitlines() if "IR Dump After" in line]
    names = [line.split("IR Dump After ")[1].split(" ")[0] for line in dumps]
    at = names.index("graph-convert-precision")
    assert all(n.startswith("graph-") for n in names[:at]) and names[at + 1].startswith("fuse-")
    text = out.read_text()
    assert "xbf16>" in text and 'func.func @main(%0: tensor<1x16x64xf32>' in text


def test_optc_precision_flag_errors(capsys):
    path = os.path.join(HERE, "cnn.onnx")
    assert optc_main([path, "-p", "graph-convert-precision", "--precision", "fp16"]) == 1
    assert "either --precision or graph-convert-precision" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        optc_main([path, "--precision", "fp8"])


# --- quant ops (QDQ models, --precision int8) ------------------------------------------------


def test_quant_ops_convert_their_float_side_and_keep_f32_scales():
    _, after = convert(lit_function(LIT, "qdq"), "graph-convert-precision")
    for op in main_of(after).body.block.ops:
        if op.name == "quant.quantize":
            assert str(op.input.type.element_type) == "f16" and str(op.result.type.element_type) == "i8"
        if op.name == "quant.dequantize":
            assert str(op.result.type.element_type) == "f16" and str(op.input.type.element_type) == "i8"
        if op.name.startswith("quant."):
            assert str(op.scale.type.element_type) == "f32"


def test_optc_compiles_a_qdq_onnx_model_at_fp16(tmp_path, capsys):
    from tests.calibration_models import qdq_relu

    path = tmp_path / "model.qdq.onnx"
    import onnx

    onnx.save(qdq_relu(), path)
    assert optc_main([str(path), "--precision", "fp16", "--compile-to", "graph"]) == 0
    text = capsys.readouterr().out
    assert "tensor<1x3x8x8xf16> -> tensor<1x3x8x8xi8>" in text and "tensor<1x3x8x8xi8> -> tensor<1x3x8x8xf16>" in text
    # an input rounded to f16 first may land on the other side of a rounding boundary: at
    # most one quantization step (the scale, 0.05) apart, plus f16's rounding of the result
    before, after = convert(import_onnx(str(path)), "graph-optimize,graph-convert-precision")
    for seed in range(3):
        inputs = random_inputs(before, seed)
        want, got = run(before, inputs)["y"], run(after, inputs)["y"]
        assert np.all(np.abs(got - want) <= 0.05 + np.abs(want) * 2.0**-10 + 1e-6)
