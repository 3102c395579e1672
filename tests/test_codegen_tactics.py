"""The tactic in the IR (`#kernel.launch<tactic = ...>`, its syntax and verifier) and the
tactic contract every generator family keeps (passes/codegen/generator.py), on the
kernels of the lit tests and the bundled examples, for sm_80 and sm_90:

- `tactics(kernel, target)` is configure's tactic, then the candidates `check` accepts,
  none twice; every one of them emits (whatever check accepts, emit accepts);
- a tactic the family does not have, or one this kernel cannot take, is an emit error
  naming the kernel and the tactic, and check says the same;
- check refuses, with a reason, what the target cannot hold;
- (slow) every tactic of every kernel of two small CI models compiles with NVRTC, without
  a warning, for both architectures.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace
from io import StringIO
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

from compiler.engine_build import kernel_pipeline
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.cuda import kernel_source, kernels_of
from passes.codegen.registry import generator_for, tactics
from passes.codegen.target import SM_80, SM_90, Target
from tests.cuda_support import ARCHS, compile_clean, lower
from tests.support import make_model, parse
from tests.test_pipeline_default import EXAMPLES

LIT = Path(__file__).resolve().parents[1] / "lit_tests" / "codegen"
TARGETS = (SM_80, SM_90)


def _lit_kernels() -> list:
    """Every kernel.func of the codegen lit files, outlined where they start at @main."""
    kernels = []
    for path in sorted(LIT.glob("*.mlir")):
        module = lower(path.read_text(), "outline-kernels")
        kernels += [pytest.param(path.stem, kernel, id=f"{path.stem}/{kernel.sym_name.data}") for kernel in kernels_of(module)]
    return kernels


def _example_kernels() -> list:
    kernels = []
    for path in EXAMPLES:
        for precision in ("fp32", "fp16"):
            module = lower(import_onnx(onnx.load(path)), kernel_pipeline(precision).replace("lower-to-kernels", "outline-kernels"))
            name = f"{os.path.basename(path)}:{precision}"
            kernels += [pytest.param(name, kernel, id=f"{name}/{kernel.sym_name.data}") for kernel in kernels_of(module)]
    return kernels


KERNELS = _lit_kernels() + _example_kernels()


def test_launch_attr_names_its_tactic_and_round_trips():
    launch = LaunchAttr("mma", [4, 2], [128], 1024, {"block_m": 64, "stages": 3})
    assert (launch.tactic_name, launch.grid_dims, launch.block_dims) == ("mma", (4, 2, 1), (128, 1, 1))
    assert str(launch) == "#kernel.launch<tactic = mma, grid = [4, 2, 1], block = [128, 1, 1], shared = 1024, tile = {block_m = 64, stages = 3}>"
    text = f"kernel.func @k0(%x: tensor<4xf32>) -> tensor<4xf32> attributes {{launch = {launch}}} {{\n  %r = graph.relu %x : tensor<4xf32>\n  kernel.return %r : tensor<4xf32>\n}}"
    (again,) = kernels_of(parse(text))
    assert again.launch == launch and launch != LaunchAttr("simt", [4, 2], [128], 1024, {"block_m": 64, "stages": 3})


@pytest.mark.parametrize("name", ["Mma", "2d", "tiled-32", ""])
def test_a_tactic_name_that_is_not_a_lower_case_identifier_does_not_verify(name):
    with pytest.raises(VerifyException, match=rf"#kernel.launch tactic '{re.escape(name)}' is not a lower-case identifier"):
        LaunchAttr(name, [1], [32])


def test_the_corpus_covers_every_family():
    families = {generator_for(p.values[1]).configure.__module__.split(".")[2] for p in KERNELS}
    assert families == {"elementwise", "reduction", "pool", "matmul", "conv", "attention", "movement"}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.arch)
@pytest.mark.parametrize(("where", "kernel"), KERNELS)
def test_tactics_start_with_configures_and_each_passes_check_and_emits(where, kernel: FuncOp, target: Target):
    generator = generator_for(kernel)
    configured = generator.configure(kernel, target)
    assert generator.candidates(kernel, target), "no candidates"
    chosen = tactics(kernel, target)
    assert chosen[0] == configured and len(set(map(str, chosen))) == len(chosen)
    for launch in chosen:  # a library tactic (offered where its library is here) goes to its library
        owner = generator_for(kernel, launch)
        assert owner.check(kernel, launch, target) is None, launch
        code = owner.emit(kernel, launch)
        assert f" {kernel.sym_name.data}(" in code or (code == "" and owner is not generator), launch


@pytest.mark.parametrize(("where", "kernel"), KERNELS)
def test_an_unknown_tactic_is_an_error_naming_kernel_and_tactic(where, kernel: FuncOp):
    generator = generator_for(kernel)
    good = generator.configure(kernel, SM_90)
    bogus = LaunchAttr("warp_specialized", good.grid_dims, good.block_dims, good.shared_bytes, good.tile_params)
    with pytest.raises(OptcError, match=rf"@{kernel.sym_name.data}\b.*tactic 'warp_specialized' is not one of the .* tactics \("):
        generator.emit(kernel, bogus)
    assert "tactic 'warp_specialized' is not one of the" in generator.check(kernel, bogus, SM_90)


def _kernel(ir: str) -> FuncOp:
    (kernel,) = kernels_of(lower(ir, "outline-kernels"))
    return kernel


MATMUL_F32 = """
func.func @main(%a: tensor<64x32xf32>, %b: tensor<32x48xf32>) -> tensor<64x48xf32> {
  %y = graph.matmul %a, %b : (tensor<64x32xf32>, tensor<32x48xf32>) -> tensor<64x48xf32>
  func.return %y : tensor<64x48xf32>
}
"""
ROW_TRANSPOSE = """
func.func @main(%x: tensor<4x8x16xf32>) -> tensor<8x4x16xf32> {
  %y = graph.transpose %x {perm = array<i64: 1, 0, 2>} : tensor<4x8x16xf32> -> tensor<8x4x16xf32>
  func.return %y : tensor<8x4x16xf32>
}
"""
CUMSUM_AXIS0 = """
func.func @main(%x: tensor<100x3xf32>) -> tensor<100x3xf32> {
  %y = graph.cum_sum %x {axis = 0 : i64, exclusive = 0 : i64, reverse = 0 : i64} : tensor<100x3xf32> -> tensor<100x3xf32>
  func.return %y : tensor<100x3xf32>
}
"""


def _lit_kernel(where: str, name: str) -> FuncOp:
    return next(p.values[1] for p in KERNELS if p.values[0] == where and p.values[1].sym_name.data == name)


@pytest.mark.parametrize(
    ("kernel", "tactic", "why"),
    [
        (lambda: _kernel(MATMUL_F32), "mma", r"tensor cores take f16 and bf16 operands, these are f32"),
        (lambda: _kernel(MATMUL_F32.replace("f32", "f16")), "simt", r"f16 operands take the tensor-core kernel \(tactic 'mma'\)"),
        (lambda: _lit_kernel("conv", "k0_fused_conv"), "mma", r"the tensor-core conv does not apply: element type float"),
        (lambda: _lit_kernel("conv", "k1_graph_conv"), "gemm", r"a depthwise conv \(group 16 = input channels\) takes the depthwise kernel"),
        (lambda: _kernel(ROW_TRANSPOSE), "tiled", r"its innermost dimension stays innermost"),
        (lambda: _kernel(CUMSUM_AXIS0), "line_per_warp", r"a warp per line runs along the last axis only"),
    ],
    ids=["matmul_mma_on_f32", "matmul_simt_on_f16", "conv_mma_on_f32", "depthwise_as_gemm", "transpose_tiled_inner_stays", "scan_warp_on_axis_0"],
)
def test_a_tactic_the_kernel_cannot_take_is_an_error_saying_why(kernel, tactic, why):
    kernel = kernel()
    good = generator_for(kernel).configure(kernel, SM_90)
    launch = LaunchAttr(tactic, good.grid_dims, good.block_dims, good.shared_bytes, good.tile_params)
    with pytest.raises(OptcError, match=rf"@{kernel.sym_name.data}\b.*tactic '{tactic}' cannot run this kernel: {why}"):
        generator_for(kernel).emit(kernel, launch)
    assert re.search(why, generator_for(kernel).check(kernel, launch, SM_90))


def test_each_kernel_is_offered_the_tactics_it_can_take():
    """A depthwise conv is what it is; a scan along the first axis takes a thread per line;
    f16 attention may run either kernel; a transpose whose innermost axis moves may also run
    the plain map (one element at a time)."""
    assert {t.tactic_name for t in tactics(_lit_kernel("conv", "k1_graph_conv"), SM_90)} == {"depthwise"}
    assert {t.tactic_name for t in tactics(_lit_kernel("attention", "k0_fused_attention"), SM_90)} == {"mma", "simt"}
    scan = _kernel(CUMSUM_AXIS0)
    assert {t.tactic_name for t in tactics(scan, SM_90)} == {"line_per_thread"}
    moved = _kernel(ROW_TRANSPOSE.replace("perm = array<i64: 1, 0, 2>", "perm = array<i64: 0, 2, 1>").replace("8x4x16", "4x16x8"))
    assert {t.tactic_name for t in tactics(moved, SM_90)} == {"tiled", "grid_stride"}
    assert all(t.tile_params.get("vector", 1) == 1 for t in tactics(moved, SM_90) if t.tactic_name == "grid_stride")


SMALL_SHARED = replace(SM_90, name="made-up", shared_per_block_optin=48 * 1024)
"""A GPU whose blocks may not opt in past the default 48 KiB of shared memory."""


def test_check_refuses_what_the_targets_shared_memory_cannot_hold():
    kernel = next(p.values[1] for p in KERNELS if p.values[0] == "attention")
    generator = generator_for(kernel)
    big = [t for t in generator.candidates(kernel, SM_90) if t.shared_bytes > 48 * 1024]
    assert big, "no candidate past 48 KiB to refuse"
    for launch in big:
        assert generator.check(kernel, launch, SM_90) is None
        assert re.search(rf"need {launch.shared_bytes} bytes of shared memory, made-up \(sm_90\) allows 49152", generator.check(kernel, launch, SMALL_SHARED))
    assert all(t.shared_bytes <= 48 * 1024 for t in tactics(kernel, SMALL_SHARED))


# --- every tactic of two small CI models compiles -----------------------------------------------


def _matmul_bias_relu() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    return make_model(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["a"]),
            helper.make_node("Relu", ["a"], ["y"]),
        ],
        {"x": ([2, 96, 64], TensorProto.FLOAT)},
        ["y"],
        {"w": rng.standard_normal((64, 80)).astype(np.float32), "b": rng.standard_normal(80).astype(np.float32)},
    )


def _conv_relu() -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    return make_model(
        [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])],
        {"x": ([2, 16, 12, 12], TensorProto.FLOAT)},
        ["y"],
        {"w": rng.standard_normal((24, 16, 3, 3)).astype(np.float32)},
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", [_matmul_bias_relu, _conv_relu], ids=["f16_matmul_bias_relu", "f16_conv_relu"])
def test_every_tactic_of_small_ci_models_compiles_without_warnings(model):
    module = lower(import_onnx(model()), kernel_pipeline("fp16"))
    compiled = set()
    for kernel in kernels_of(module):
        for target in TARGETS:
            for launch in tactics(kernel, target):
                kernel.attributes["launch"] = launch
                source = kernel_source(kernel)
                if source in compiled:
                    continue
                compiled.add(source)
                for arch in ARCHS:
                    compile_clean(source, f"{kernel.sym_name.data}_{launch.tactic_name}.cu", arch)
    names = " ".join(compiled)
    assert "mma.sync" in names  # the tensor-core tactics are among them


@pytest.mark.gpu
@pytest.mark.parametrize("model", [_matmul_bias_relu, _conv_relu], ids=["f16_matmul_bias_relu", "f16_conv_relu"])
def test_every_tactic_of_small_ci_models_matches_the_reference_on_gpu(gpu, model):
    """What an autotuner may pick runs right: each tactic of each kernel (for the GPU here,
    as measured), the other kernels as configured, against the reference interpreter."""
    from dialects.weights import clone_with_weights
    from passes.codegen.target import measured
    from runtime.reference.inputs import random_inputs
    from tests.cuda_support import assert_gpu_matches_reference

    target = measured(gpu)
    configured = lower(import_onnx(model()), kernel_pipeline("fp16").replace("lower-to-kernels", "outline-kernels,configure-kernels"))
    feeds = random_inputs(configured, seed=0)
    for name in [kernel.sym_name.data for kernel in kernels_of(configured)]:
        kernel = next(k for k in kernels_of(configured) if k.sym_name.data == name)
        for launch in tactics(kernel, target):
            module = clone_with_weights(configured)
            next(k for k in kernels_of(module) if k.sym_name.data == name).attributes["launch"] = launch
            assert_gpu_matches_reference(module, pipeline="plan-memory", rtol=3e-2, atol=3e-2, inputs=feeds)


@pytest.mark.slow
@pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")
@pytest.mark.parametrize("model", [_matmul_bias_relu, _conv_relu], ids=["f16_matmul_bias_relu", "f16_conv_relu"])
def test_every_matrix_tactic_of_small_ci_models_matches_the_reference_on_cpu(model):
    """Without a GPU: each tactic of the matmul and the conv (every tile of the tables: mma,
    and the conv's gemm) run as C++ on the CPU, every CUDA thread a fiber
    (tests/host_emulation.py), against the reference interpreter on the kernel's inputs."""
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run
    from tests.host_emulation import build_and_launch, fiber_source
    from tests.test_codegen_matmul import VECTOR_TYPES

    module = lower(import_onnx(model()), kernel_pipeline("fp16").replace("lower-to-kernels", "outline-kernels,configure-kernels"))
    (kernel,) = [k for k in kernels_of(module) if k.computation.name in ("fused.matmul", "fused.conv")]
    alone = _alone(kernel)
    feeds = random_inputs(alone, seed=0)
    want = run(alone, feeds)
    chosen = tactics(kernel, SM_90)
    assert len(chosen) > 1
    for launch in chosen:
        kernel.attributes["launch"] = launch
        got = build_and_launch(kernel, VECTOR_TYPES + fiber_source(kernel, launch), feeds, ("-w",))
        for g, w in zip(got, want.values(), strict=True):
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=3e-2, atol=3e-2, err_msg=str(launch))


def _alone(kernel: FuncOp):
    """A module of `kernel` and an @main that launches it on its own inputs."""
    ins, outs = kernel.function_type.inputs.data, kernel.function_type.outputs.data
    args = ", ".join(f"%a{j}: {t}" for j, t in enumerate(ins))
    signature = f"({', '.join(map(str, ins))}) -> ({', '.join(map(str, outs))})"
    results = ", ".join(f"%r#{j}" for j in range(len(outs))) if len(outs) > 1 else "%r"
    main = (
        f"func.func @main({args}) -> ({', '.join(map(str, outs))}) {{\n"
        f"  %r{f':{len(outs)}' if len(outs) > 1 else ''} = kernel.launch @{kernel.sym_name.data}({', '.join(f'%a{j}' for j in range(len(ins)))}) : {signature}\n"
        f"  func.return {results} : {', '.join(map(str, outs))}\n}}"
    )
    text = StringIO()
    Printer(text).print_op(kernel)
    return parse(f"{text.getvalue()}\n{main}")
