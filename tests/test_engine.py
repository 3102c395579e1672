"""Engines: the plan a kernel-level module becomes and its file (CPU; the file's checks
are tests/test_engine_file.py), and running engines on the GPU (marker `gpu`): against
the reference, replayed through a CUDA graph, with device tensors, saved and loaded."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from compiler.engine_build import build_module, compile_engine
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from runtime.engine import Slot, read_engine, write_engine
from runtime.reference import run
from runtime.reference.inputs import random_inputs
from tests.support import apply_pipeline, parse
from tests.test_pipeline_default import EXAMPLES

BIAS_RELU = """
func.func @main(%x: tensor<3x5xf32>) -> tensor<15xf32> {
  %c = graph.constant dense<[1.0, -2.0, 3.0, -4.0, 5.0]> : tensor<5xf32>
  %e = fused.elementwise (%x, %c) : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32> {
  ^bb0(%a: tensor<3x5xf32>, %b: tensor<5xf32>):
    %s = graph.add %a, %b : (tensor<3x5xf32>, tensor<5xf32>) -> tensor<3x5xf32>
    %r = graph.relu %s : tensor<3x5xf32>
    fused.yield %r : tensor<3x5xf32>
  }
  %v = graph.reshape %e : tensor<3x5xf32> -> tensor<15xf32>
  func.return %v : tensor<15xf32>
}
"""


def image_of(ir: str = BIAS_RELU, arch: str = "sm_90"):
    return build_module(parse(ir), pipeline="lower-to-kernels", arch=arch, load=False)


# --- the plan (no GPU) ---------------------------------------------------------------------


def test_plan_places_inputs_weights_and_intermediates():
    plan = image_of().plan
    (x,), (y,) = plan.inputs, plan.outputs
    assert (x.name, x.dtype, x.shape, x.slot) == ("input0", "float32", (3, 5), Slot("inputs", 0))
    assert (y.shape, y.slot.region) == ((15,), "arena")  # the reshape is the kernel's bytes
    (launch,) = plan.launches
    assert launch.args == (Slot("inputs", 0), Slot("weights", 0), y.slot)
    assert plan.region_bytes == {"inputs": 60, "weights": 20, "arena": 256}
    assert plan.kernels[0].ops == ("fused.elementwise", "graph.add", "graph.relu")


def test_weights_region_holds_the_constants_bytes():
    image = image_of()
    assert np.frombuffer(image.weights, np.float32).tolist() == [1.0, -2.0, 3.0, -4.0, 5.0]


def test_half_and_bf16_tensors_are_two_bytes_on_the_device():
    ir = BIAS_RELU.replace("f32", "f16")
    plan = image_of(ir).plan
    assert plan.region_bytes["inputs"] == 30 and plan.inputs[0].dtype == "float16"
    plan = image_of(BIAS_RELU.replace("f32", "bf16")).plan
    assert plan.region_bytes["weights"] == 10 and plan.outputs[0].dtype == "bfloat16"


TWO_RELUS = """
func.func @main(%x: tensor<64xf32>) -> tensor<64xf32> {
  %a = graph.relu %x : tensor<64xf32>
  %b = graph.neg %a : tensor<64xf32>
  %c = graph.relu %b : tensor<64xf32>
  func.return %c : tensor<64xf32>
}
"""


def test_kernels_with_the_same_code_share_one_image():
    """The two relus are one compiled image under one code-derived entry; the neg is another."""
    plan, images = (lambda i: (i.plan, i.images))(image_of(TWO_RELUS))
    relu0, neg, relu1 = plan.kernels
    assert (relu0.name, neg.name, relu1.name) == ("k0_graph_relu", "k1_graph_neg", "k2_graph_relu")
    assert relu0.image == relu1.image != neg.image and len(images) == 2
    assert relu0.function == relu1.function != neg.function and relu0.function.startswith("optc_")
    for kernel in plan.kernels:
        assert kernel.function.encode() in images[kernel.image]  # the cubin defines the entry


def test_module_must_be_at_the_kernel_level():
    with pytest.raises(OptcError, match="'fused.elementwise' in @main is not lowered to a kernel launch: lower the module"):
        compile_engine(parse(BIAS_RELU), "sm_90")


def test_unlowered_op_in_main_is_an_error():
    module = apply_pipeline(parse(BIAS_RELU), "lower-to-kernels")
    text = str(module).replace("func.return %v", "%w = graph.neg %v : tensor<15xf32>\n    func.return %w")
    with pytest.raises(OptcError, match="'graph.neg' in @main is not lowered to a kernel launch"):
        compile_engine(parse(text), "sm_90")


# --- the file (no GPU) ---------------------------------------------------------------------


def test_engine_file_round_trips(tmp_path):
    image = image_of()
    write_engine(image, tmp_path / "m.engine")
    again = read_engine(tmp_path / "m.engine")
    assert again.plan == image.plan and again.images == image.images and again.weights == image.weights
    assert "kernel.launch @k0_fused_elementwise" in again.ir


# --- on the GPU ----------------------------------------------------------------------------


@pytest.mark.gpu
def test_engine_matches_the_reference_and_replays(gpu):
    from compiler.engine_build import build_module as build

    module = parse(BIAS_RELU)
    engine = build(module.clone(), pipeline="lower-to-kernels")
    for seed in range(3):  # each run replays the same CUDA graph on new inputs
        feeds = random_inputs(module, seed)
        np.testing.assert_allclose(engine.run(feeds)["output0"], run(module, feeds)["output0"], rtol=1e-6)
    assert engine.graph is not None


@pytest.mark.gpu
def test_engine_errors_name_the_input(gpu):
    engine = build_module(parse(BIAS_RELU), pipeline="lower-to-kernels")
    from runtime.engine.engine import EngineError

    with pytest.raises(EngineError, match=r"input 'input0' has shape \[5, 3\], the engine expects \[3, 5\]"):
        engine.run({"input0": np.zeros((5, 3), np.float32)})
    with pytest.raises(EngineError, match="input 'input0' has dtype float64"):
        engine.run({"input0": np.zeros((3, 5))})
    with pytest.raises(EngineError, match="missing input"):
        engine.run({})


@pytest.mark.gpu
def test_engine_built_for_another_gpu_is_refused(gpu):
    from runtime.engine.engine import Engine, EngineError

    other = "sm_80" if gpu.arch != "sm_80" else "sm_90"
    with pytest.raises(EngineError, match=f"built for {other}; this GPU .* is {gpu.arch}: rebuild it here"):
        Engine(image_of(arch=other))


@pytest.mark.gpu
def test_device_tensors_in_and_out(gpu):
    torch = pytest.importorskip("torch")
    module = parse(BIAS_RELU)
    engine = build_module(module.clone(), pipeline="lower-to-kernels")
    x = torch.randn(3, 5, device="cuda")
    out = engine.run({"input0": x}, device_outputs=True)["output0"]
    got = torch.as_tensor(out, device="cuda").cpu().numpy()
    np.testing.assert_allclose(got, run(module, {"input0": x.cpu().numpy()})["output0"], rtol=1e-6)


def _example_engine(path, precision, tmp_path):
    import compiler

    engine = compiler.build(path, precision=precision)
    engine.save(tmp_path / "model.engine")
    return compiler.load(tmp_path / "model.engine")  # the saved engine runs without compiling


@pytest.mark.gpu
@pytest.mark.parametrize("path", EXAMPLES, ids=os.path.basename)
@pytest.mark.parametrize(("precision", "tolerance"), [("fp32", 1e-3), ("fp16", 2e-2)])
def test_examples_run_end_to_end(gpu, path, precision, tolerance, tmp_path):
    module = import_onnx(onnx.load(path))
    feeds = random_inputs(module, 0)
    want = run(module, feeds)
    got = _example_engine(path, precision, tmp_path).run(feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=tolerance, atol=tolerance, err_msg=name)


# --- the GPU an engine is configured for -----------------------------------------------------

BIG_RELU = """
func.func @main(%x: tensor<4194304xf32>) -> tensor<4194304xf32> {
  %r = graph.relu %x : tensor<4194304xf32>
  func.return %r : tensor<4194304xf32>
}
"""


@pytest.mark.parametrize(("arch", "blocks"), [("sm_80", 108 * 8), ("sm_90", 132 * 8)])
def test_kernels_are_configured_for_the_arch_the_engine_is_built_for(arch, blocks):
    """A pointwise kernel's grid is the blocks resident on every SM of the named arch's table."""
    (kernel,) = image_of(BIG_RELU, arch).plan.kernels
    assert (kernel.tactic, kernel.grid, kernel.tile) == ("grid_stride", (blocks, 1, 1), {"vector": 4})


def test_a_pipeline_naming_another_arch_than_the_engine_is_an_error():
    with pytest.raises(OptcError, match="the pipeline configures kernels for sm_80, but they are built for sm_90"):
        build_module(parse(BIG_RELU), pipeline="outline-kernels,configure-kernels{arch=sm_80},plan-memory", arch="sm_90", load=False)


def test_an_unknown_arch_is_an_error_naming_the_known_ones():
    with pytest.raises(OptcError, match=r"unknown GPU architecture 'sm_75' \(known: sm_80, sm_90\)"):
        image_of(BIG_RELU, "sm_75")


def test_a_measured_gpu_without_a_table_is_configured_as_measured():
    """The GPU in the process need not be one of the tables (an L4 is sm_89, 58 SMs):
    configure-kernels takes its Target as the driver describes it."""
    from dataclasses import replace

    from compiler.pipelines import build as build_pipeline
    from passes.codegen.target import SM_90
    from tests.support import context

    l4 = replace(SM_90, name="L4", arch="sm_89", sm_count=58, shared_per_block_optin=99 * 1024, shared_per_sm=100 * 1024)
    module = parse(BIG_RELU)
    for compiler_pass in build_pipeline("lower-to-kernels", l4):
        compiler_pass.apply(context(), module)
    (kernel,) = [op for op in module.ops if op.name == "kernel.func"]
    assert kernel.launch.grid_dims == (58 * 8, 1, 1)


@pytest.mark.gpu
def test_the_measured_target_agrees_with_the_sm_90_table_on_an_h100(gpu):
    """What the driver says of an H100 is what the sm_90 table states (the SXM part's SM count
    and L2; the PCIe part has fewer SMs)."""
    from passes.codegen.target import SM_90, measured

    if "H100" not in gpu.name:
        pytest.skip(f"not an H100: {gpu.name}")
    target = measured(gpu)
    assert target.name == gpu.name and target.arch == SM_90.arch
    same = ("shared_per_block", "shared_per_block_optin", "shared_per_sm", "registers_per_sm", "threads_per_sm")
    assert {f: getattr(target, f) for f in same} == {f: getattr(SM_90, f) for f in same}
    if "HBM3" in gpu.name or "SXM" in gpu.name:
        assert (target.sm_count, target.l2_bytes) == (SM_90.sm_count, SM_90.l2_bytes)


@pytest.mark.gpu
def test_an_engine_for_this_gpu_is_configured_for_it_as_measured(gpu):
    from compiler.engine_build import build_target
    from passes.codegen.target import measured

    here = measured(gpu)
    assert build_target(None, load=True) == here == build_target(gpu.arch, load=True)
    engine = build_module(parse(BIG_RELU), pipeline="lower-to-kernels")
    (kernel,) = engine.plan.kernels
    assert kernel.grid == (here.sm_count * here.threads_per_sm // 256, 1, 1)
    x = np.random.default_rng(0).standard_normal(4194304).astype(np.float32)
    np.testing.assert_array_equal(engine.run({"input0": x})["output0"], np.maximum(x, 0))
