"""Profiling data: what each kernel costs (bytes, flops) and the buffer lifetimes the engine
build records, the plan's JSON, the statistics of a profile and the ceilings' fallbacks
(CPU); profiling a real engine (marker `gpu`)."""

from __future__ import annotations

import json
import math
import sys

import pytest
from onnx import TensorProto, helper

from compiler.engine_build import build, build_module, kernel_cost
from compiler.onnx_import import import_onnx
from dialects.kernel import FuncOp
from passes.codegen.cuda import kernels_of
from runtime.cuda import compile_cuda
from runtime.engine.plan import EnginePlan, PlanError
from runtime.engine.profile import (
    SPIN_SOURCE,
    Ceilings,
    LaunchTime,
    Profile,
    launch_times,
    measure_matmul_tflops,
    median_times,
)
from tests.support import apply_pipeline, make_model, parse

COSTS = """
func.func @main(%a: tensor<3x4x5xf32>, %b: tensor<3x5x6xf32>, %g: tensor<7x4xf32>, %h: tensor<7x2xf32>,
                %x: tensor<1x4x8x8xf32>, %w: tensor<6x2x3x3xf32>, %t: tensor<3x2x3x3xf32>, %xt: tensor<1x3x4x4xf32>,
                %q: tensor<2x3x4x8xf16>, %k: tensor<2x3x6x8xf16>, %v: tensor<2x3x6x16xf16>, %n: tensor<5x7xf32>)
    -> (tensor<3x4x6xf32>, tensor<4x2xf32>, tensor<1x6x6x6xf32>, tensor<1x2x6x6xf32>, tensor<2x3x4x16xf16>, tensor<5x7xf32>) {
  %m = graph.matmul %a, %b : (tensor<3x4x5xf32>, tensor<3x5x6xf32>) -> tensor<3x4x6xf32>
  %e = graph.gemm %g, %h {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 1 : i64, trans_b = 0 : i64} : (tensor<7x4xf32>, tensor<7x2xf32>) -> tensor<4x2xf32>
  %c = graph.conv %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 2 : i64} : (tensor<1x4x8x8xf32>, tensor<6x2x3x3xf32>) -> tensor<1x6x6x6xf32>
  %d = graph.conv_transpose %xt, %t {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, output_padding = array<i64: 0, 0>} : (tensor<1x3x4x4xf32>, tensor<3x2x3x3xf32>) -> tensor<1x2x6x6xf32>
  %y = fused.attention %q, %k, %v {scale = 0.125 : f32, causal = 1 : i64} : (tensor<2x3x4x8xf16>, tensor<2x3x6x8xf16>, tensor<2x3x6x16xf16>) -> tensor<2x3x4x16xf16>
  %r = graph.relu %n : tensor<5x7xf32>
  func.return %m, %e, %c, %d, %y, %r : tensor<3x4x6xf32>, tensor<4x2xf32>, tensor<1x6x6x6xf32>, tensor<1x2x6x6xf32>, tensor<2x3x4x16xf16>, tensor<5x7xf32>
}
"""


def costs() -> dict[str, tuple[int, int, str]]:
    module = apply_pipeline(parse(COSTS), "outline-kernels")
    return {k.computation.name: kernel_cost(k) for k in module.ops if isinstance(k, FuncOp)}


@pytest.mark.parametrize(
    "op, flops",
    [
        ("graph.matmul", 2 * 3 * 4 * 6 * 5),  # 2·batch·M·N·K
        ("graph.gemm", 2 * 4 * 2 * 7),  # trans_a: a is [K, M]
        ("graph.conv", 2 * (6 * 6 * 6) * 2 * 3 * 3),  # 2·OH·OW·C_out·(C_in/group)·KH·KW
        ("graph.conv_transpose", 2 * (3 * 4 * 4) * 2 * 3 * 3),  # every input scattered to C_out·KH·KW
        ("fused.attention", 2 * 2 * 3 * 4 * 6 * (8 + 16) // 2),  # q·kᵀ + p·v, halved: causal
        ("graph.relu", 0),
    ],
)
def test_kernel_flops(op, flops):
    assert costs()[op][1] == flops


def test_kernel_bytes_are_every_argument_read_and_every_result_written_once():
    assert costs()["graph.relu"] == (2 * 5 * 7 * 4, 0, "float32")
    assert costs()["graph.matmul"][0] == (3 * 4 * 5 + 3 * 5 * 6 + 3 * 4 * 6) * 4
    nbytes, _, dtype = costs()["fused.attention"]
    assert (nbytes, dtype) == ((2 * 3 * 4 * 8 + 2 * 3 * 6 * 8 + 2 * 3 * 6 * 16 + 2 * 3 * 4 * 16) * 2, "float16")


def cnn_model():
    return make_model(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("Flatten", ["r"], ["f"]),
            helper.make_node("MatMul", ["f", "m"], ["y"]),
        ],
        {"x": ([2, 3, 8, 8], TensorProto.FLOAT)},
        ["y"],
        {"w": _ones(4, 3, 3, 3), "m": _ones(256, 10)},
    )


def cnn_plan() -> EnginePlan:
    return build(cnn_model(), arch="sm_90", load=False).plan


def _ones(*shape):
    import numpy as np

    return np.ones(shape, np.float32)


def test_plan_records_costs_and_dtypes_of_its_kernels():
    plan = cnn_plan()
    by_op = {k.ops[0]: k for k in plan.kernels}
    assert by_op["fused.conv"].flops == 2 * (2 * 4 * 8 * 8) * 3 * 3 * 3
    assert by_op["fused.matmul"].flops == 2 * 2 * 10 * 256
    assert all(k.bytes > 0 and k.dtype == "float32" for k in plan.kernels)


def test_plan_records_each_kernels_tactic_as_configured_for_its_arch():
    """The tactic and tile #kernel.launch names, configured for the arch the engine is for
    (a conv of 8 channels is an implicit GEMM on SIMT in f32)."""
    plan = cnn_plan()
    by_op = {k.ops[0]: k for k in plan.kernels}
    assert by_op["fused.conv"].tactic == "gemm" and set(by_op["fused.conv"].tile) == {"block_m", "block_n", "block_k", "thread_m", "thread_n"}
    assert by_op["fused.matmul"].tactic == "simt"
    module = import_onnx(cnn_model())
    expected = {}
    for kernel in kernels_of(apply_pipeline(module, "kernel")):
        launch = kernel.launch
        expected[kernel.computation.name] = (launch.tactic_name, launch.tile_params)
    assert {k.ops[0]: (k.tactic, k.tile) for k in plan.kernels} == expected


def test_plan_records_buffer_lifetimes_at_the_planned_offsets():
    plan = cnn_plan()
    assert len(plan.buffers) == len(plan.launches)  # one result per launch here
    arena_slots = {s.offset for launch in plan.launches for s in launch.args if s.region == "arena"}
    for step, (buffer, launch) in enumerate(zip(plan.buffers, plan.launches)):
        assert (buffer.label, buffer.first) == (launch.kernel, step)
        assert buffer.offset in arena_slots and buffer.first <= buffer.last <= len(plan.launches)
    assert plan.buffers[-1].last == len(plan.launches)  # the output lives to the end
    for a in plan.buffers:  # buffers live at a common step share no byte
        for b in plan.buffers:
            if a is not b and a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    peak = max(sum(b.size for b in plan.buffers if b.first <= s <= b.last) for s in range(len(plan.launches) + 1))
    assert peak <= plan.memory["lower_bound"] <= plan.memory["bytes"]


def test_plan_json_round_trips_with_costs_and_buffers():
    plan = cnn_plan()
    assert EnginePlan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_plan_json_without_costs_reads_as_unknown():
    """Engines written before costs and lifetimes were recorded still load (same format)."""
    data = cnn_plan().to_json()
    for kernel in data["kernels"]:
        del kernel["bytes"], kernel["flops"], kernel["dtype"]
    del data["buffers"]
    plan = EnginePlan.from_json(data)
    assert all((k.bytes, k.flops, k.dtype) == (0, 0, "") for k in plan.kernels) and plan.buffers == ()


def test_plan_json_stays_strict_about_required_fields():
    data = cnn_plan().to_json()
    del data["kernels"][0]["grid"]
    with pytest.raises(PlanError, match=r"plan.kernels\[0\] has no 'grid'"):
        EnginePlan.from_json(data)


# --- statistics ------------------------------------------------------------------------------


def test_median_times_of_event_series():
    runs = [[0.0, 1.0, 3.0], [0.0, 2.0, 3.5], [0.0, 1.5, 5.0]]  # ms from each run's first event
    durations, starts, total = median_times(runs)
    assert durations == [1.5, 2.0] and starts == [0.0, 1.5] and total == 3.5


@pytest.mark.parametrize("runs, message", [([], "no runs"), ([[0.0, 1.0], [0.0]], "same number of events")])
def test_median_times_refuses_ragged_samples(runs, message):
    with pytest.raises(ValueError, match=message):
        median_times(runs)


def test_launch_times_carry_each_kernels_costs():
    plan = cnn_plan()
    times = launch_times(plan, [0.01] * len(plan.launches), [0.01 * i for i in range(len(plan.launches))])
    conv = next(t for t in times if t.ops[0] == "fused.conv")
    assert conv.tactic == "gemm"
    assert conv.flops and conv.tflops == pytest.approx(conv.flops / 1e7)
    assert conv.gbps == pytest.approx(conv.bytes / 1e4)
    with pytest.raises(ValueError):
        launch_times(plan, [0.01], [0.0])


def test_rates_are_none_without_time_or_work():
    assert LaunchTime(0, "k", ("graph.relu",), 0.0, 0.0, 100).gbps is None
    assert LaunchTime(0, "k", ("graph.relu",), 1.0, 0.0, 100).tflops is None


def test_profile_json_has_rates_and_kernel_total():
    launches = (LaunchTime(0, "k0", ("fused.matmul",), 2.0, 0.0, 4_000_000, 2_000_000_000, "float16"),)
    profile = Profile("GPU", 5, launches, 2.5, 2.2, Ceilings(3000.0, {"float16": 700.0}, "torch.matmul"))
    data = json.loads(json.dumps(profile.to_json()))
    assert data["kernel_ms"] == 2.0 and data["launches"][0]["tflops"] == 1.0 and data["launches"][0]["gbps"] == 2.0
    assert data["ceilings"] == {"copy_gbps": 3000.0, "matmul_tflops": {"float16": 700.0}, "matmul_source": "torch.matmul"}


# --- ceilings without a GPU --------------------------------------------------------------------


def test_matmul_ceiling_without_torch_is_not_measured(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    assert measure_matmul_tflops(["float16"]) == ({}, "not measured: torch not installed")


def test_matmul_ceiling_without_kernels_with_flops_is_not_needed():
    assert measure_matmul_tflops([]) == ({}, "not measured: no kernel has flops")


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_spin_kernel_compiles(arch):
    assert compile_cuda(SPIN_SOURCE, "optc_spin.cu", arch=arch)


# --- on the GPU --------------------------------------------------------------------------------


@pytest.mark.gpu
def test_profile_engine_times_every_launch(gpu):
    import numpy as np

    from runtime.engine.profile import profile_engine

    engine = build_module(parse(COSTS), pipeline="lower-to-kernels")
    rng = np.random.default_rng(0)
    feeds = {s.name: rng.standard_normal(s.shape).astype(np.float32 if s.dtype == "float32" else np.float16) for s in engine.plan.inputs}
    profile = profile_engine(engine, feeds, runs=5, warmup=1)
    assert [t.kernel for t in profile.launches] == [launch.kernel for launch in engine.plan.launches]
    assert all(t.ms > 0 for t in profile.launches)
    starts = [t.start_ms for t in profile.launches]
    assert starts[0] == 0 and starts == sorted(starts)
    assert 0 < profile.kernel_ms <= profile.sequence_ms * 1.5 and profile.graph_ms > 0  # medians of tiny kernels jitter
    assert profile.ceilings.copy_gbps > 100  # any data-centre GPU copies faster than this
    source = profile.ceilings.matmul_source
    assert source.startswith(("torch.matmul", "not measured"))
    if source.startswith("torch.matmul"):
        assert set(profile.ceilings.matmul_tflops) == {"float32", "float16"}
        assert all(math.isfinite(r) and r > 1 for r in profile.ceilings.matmul_tflops.values())
