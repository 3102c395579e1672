"""ONNX export (compiler/onnx_export): import -> (graph-optimize) -> export gives a model
onnxruntime runs to the original's outputs, and export -> import gives the same IR again.

Models: the bundled examples, the zoo-like models other tests build, QDQ models (a
hand-built chain and one from onnxruntime's quantize_static), one model per op family,
and IR the importer never writes (channels-last ops, generated tensors, requantize).
Every refusal has its message checked.
"""

from __future__ import annotations

import io
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.printer import Printer

from compiler.onnx_export import export
from compiler.onnx_export.__main__ import main as export_main
from compiler.onnx_export.exporter import main_function
from compiler.onnx_export.registry import WRITERS
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import OPS, ConstantOp, WeightOp
from dialects.quant import Quant
from dialects.weights import WeightStore, attach, clone_with_weights
from runtime.reference import run
from tests.support import apply_pipeline, make_model, parse, random_inputs, run_onnxruntime

F, I8, U8, I64, B = TensorProto.FLOAT, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT64, TensorProto.BOOL
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")
RNG = np.random.default_rng(0)


def weights(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# --- what the tests check --------------------------------------------------------


def assert_exports_to_same_outputs(source, pipeline: str | None = None, rtol=1e-5, atol=1e-6, inputs=None):
    """onnxruntime on the exported model gives what it gives on the original model (or,
    for a source that is already IR, what the reference interpreter gives on it)."""
    module = import_onnx(source) if isinstance(source, onnx.ModelProto) else source
    inputs = inputs if inputs is not None else random_inputs(module, 0)
    expected = run_onnxruntime(source, inputs) if isinstance(source, onnx.ModelProto) else run(module, inputs)
    if pipeline:
        module = apply_pipeline(clone_with_weights(module), pipeline)
    exported = export(module)
    actual = run_onnxruntime(exported, inputs)
    assert expected.keys() == actual.keys()
    for name, value in expected.items():
        assert actual[name].dtype == value.dtype, name
        np.testing.assert_allclose(actual[name].astype(np.float64), value.astype(np.float64), rtol=rtol, atol=atol, err_msg=name)
    return module, exported


def canonical(module) -> str:
    """The function's text with its constants and weights moved to the top in order of
    first use: import places initializers first and folded constants where they fold, so
    only their place may differ between an import and the import of its export."""
    fn = main_function(module).clone()
    block = fn.body.block
    position = {op: i for i, op in enumerate(block.ops)}

    def first_use(op):
        return min((position[use.operation], use.index) for use in op.result.uses)

    constants = sorted((op for op in block.ops if isinstance(op, ConstantOp | WeightOp)), key=first_use)
    for op in reversed(constants):
        op.detach()
        block.insert_op_before(op, block.first_op)
    text = io.StringIO()
    Printer(stream=text).print_op(fn)
    return text.getvalue()


def assert_round_trips(module) -> None:
    again = import_onnx(export(module))
    assert canonical(again) == canonical(module)


# --- the bundled examples and the zoo-like models the tests build ----------------------


def _example(name: str) -> onnx.ModelProto:
    return onnx.load(os.path.join(EXAMPLES, name))


def _zoo_like() -> dict:
    from tests.test_fusion_fuse_attention import bert
    from tests.test_fusion_fuse_conv_input_transpose import resnet_stem
    from tests.test_fusion_fuse_elementwise import _transformer_block_model
    from tests.test_fusion_fuse_epilogue import _resnet_block
    from tests.test_fusion_fuse_horizontal_matmul import _bert_block

    return {
        "cnn.onnx": lambda: _example("cnn.onnx"),
        "transformer.onnx": lambda: _example("transformer.onnx"),
        "bert_attention": lambda: bert(17),
        "bert_block": _bert_block,
        "resnet_stem": resnet_stem,
        "resnet_block": _resnet_block,
        "transformer_block": _transformer_block_model,
    }


ZOO_LIKE = _zoo_like()


@pytest.mark.parametrize("pipeline", [None, "graph-optimize"])
@pytest.mark.parametrize("name", ZOO_LIKE)
def test_model_exports_to_what_onnxruntime_computes(name, pipeline):
    assert_exports_to_same_outputs(ZOO_LIKE[name](), pipeline, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ZOO_LIKE)
def test_imported_model_round_trips(name):
    source = ZOO_LIKE[name]()
    assert_round_trips(import_onnx(source) if isinstance(source, onnx.ModelProto) else source)


def test_graph_optimize_names_export_as_onnx_ops():
    """What graph-optimize recognises is written as ONNX's op for it: Gelu (opset 20,
    which raises the model's opset), LayerNormalization; channels-last convolutions as
    Conv between Transposes; a folded bias as MatMul + Add."""
    module = apply_pipeline(import_onnx(_example("transformer.onnx")), "graph-optimize")
    exported = export(module)
    kinds = {n.op_type for n in exported.graph.node}
    assert {"Gelu", "LayerNormalization"} <= kinds and "Erf" not in kinds
    assert exported.opset_import[0].version == 20
    cnn = export(apply_pipeline(import_onnx(_example("cnn.onnx")), "graph-optimize"))
    assert cnn.opset_import[0].version == 17
    assert "BatchNormalization" not in {n.op_type for n in cnn.graph.node}
    first_conv = next(n for n in cnn.graph.node if n.op_type == "Conv")
    producer = {o: n for n in cnn.graph.node for o in n.output}
    assert producer[first_conv.input[0]].op_type == "Transpose"


def test_names_are_the_models_and_deterministic():
    model = _example("cnn.onnx")
    exported = export(import_onnx(model))
    assert [i.name for i in exported.graph.input] == [i.name for i in model.graph.input]
    assert [o.name for o in exported.graph.output] == [o.name for o in model.graph.output]
    assert export(import_onnx(model)).SerializeToString() == exported.SerializeToString()
    assert all(n.name == n.output[0] for n in exported.graph.node)


def test_weights_keep_their_names_and_bytes():
    model = _example("cnn.onnx")
    original = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    exported = {i.name: onnx.numpy_helper.to_array(i) for i in export(import_onnx(model)).graph.initializer}
    big = [n for n, a in original.items() if a.size > 16]
    assert big and all(np.array_equal(exported[n], original[n]) for n in big)


# --- QDQ models --------------------------------------------------------------------


def _quantized_outputs_agree(model, exported, inputs, step):
    from tests.test_quant_import import assert_quantized_close

    expected, actual = run_onnxruntime(model, inputs), run_onnxruntime(exported, inputs)
    for name, value in expected.items():
        assert_quantized_close(actual[name], value, step, name)


def test_qdq_conv_chain_exports_and_round_trips():
    from tests.test_quant_import import qdq_conv_model

    model = qdq_conv_model()
    module = import_onnx(model)
    exported = export(module)
    kinds = [n.op_type for n in exported.graph.node]
    assert kinds.count("QuantizeLinear") == 2 and kinds.count("DequantizeLinear") == 4
    assert exported.opset_import[0].version == 17  # per-axis DQ needs 13
    x = RNG.standard_normal((2, 4, 9, 9)).astype(np.float32)
    _quantized_outputs_agree(model, exported, {"x": x}, 0.05)
    assert_round_trips(module)


def test_model_quantized_by_onnxruntime_exports_as_standard_qdq(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from tests.test_quant_import import _float_model

    rng = np.random.default_rng(2)

    class RandomImages(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.samples, None)

    source, quantized = str(tmp_path / "model.onnx"), str(tmp_path / "model.qdq.onnx")
    onnx.save(_float_model(), source)
    quantize_static(source, quantized, RandomImages(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    model = onnx.load(quantized)
    module = import_onnx(quantized)
    exported = export(module, str(tmp_path / "again.qdq.onnx"))
    assert os.path.exists(tmp_path / "again.qdq.onnx")
    step = max(float(onnx.numpy_helper.to_array(i).max()) for i in model.graph.initializer if i.name.endswith("scale"))
    for seed in range(3):
        x = np.random.default_rng(10 + seed).standard_normal((1, 3, 16, 16)).astype(np.float32)
        _quantized_outputs_agree(model, exported, {"x": x}, step)
    assert_round_trips(module)
    optimized = apply_pipeline(import_onnx(quantized), "graph-optimize")
    x = np.random.default_rng(20).standard_normal((1, 3, 16, 16)).astype(np.float32)
    _quantized_outputs_agree(model, export(optimized), {"x": x}, step)
