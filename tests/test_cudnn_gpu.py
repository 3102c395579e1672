"""cuDNN through cudnn-frontend (runtime/library/cudnn.py) on the GPU (marker `gpu`, with
nvidia-cudnn-frontend installed: `optc[cuda-libs]`, and torch's cuDNN 9): every conv and
SDPA case against numpy for each plan cuDNN offers, a plan replayed in a CUDA graph, a
plan found again by its name (and a name it does not have refused); then the `cudnn`
tactic end to end: engines whose convs and attention run cuDNN (forced by setting their
launch) against the reference, replayed in the engine's CUDA graph, saved and loaded, an
engine naming a plan this cuDNN lacks refused in words, and a small conv model tuned with
cuDNN's candidates timed beside optc's own."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import ml_dtypes
import numpy as np
import pytest

from runtime.library.cudnn import ConvFprop, Sdpa

NP = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32}
TOLERANCE = {"float32": 1e-3, "float16": 2e-2, "bfloat16": 6e-2}
WORKSPACE = 16 << 20


@pytest.fixture
def cudnn_gpu(gpu):
    """cuDNN through cudnn-frontend; skips where it cannot load (fails under
    OPTC_REQUIRE_GPU=1: tests/run_gpu.sh installs it, a GPU run without it is broken)."""
    from passes.codegen.library.cudnn import unavailable

    why = unavailable()
    if why is not None:
        if os.environ.get("OPTC_REQUIRE_GPU"):
            pytest.fail(f"OPTC_REQUIRE_GPU is set but cuDNN cannot be used: {why}", pytrace=False)
        pytest.skip(why)
    return gpu


# --- numpy references ---------------------------------------------------------------------------


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


ACTIVATIONS = {
    "relu": lambda y: np.maximum(y, 0),
    "sigmoid": lambda y: 1 / (1 + np.exp(-y)),
    "tanh": np.tanh,
    "gelu": lambda y: 0.5 * y * (1 + _erf(y / math.sqrt(2))),
    "gelu_tanh": lambda y: 0.5 * y * (1 + np.tanh(math.sqrt(2 / math.pi) * (y + 0.044715 * y**3))),
    "swish": lambda y: y / (1 + np.exp(-y)),
}


def conv_reference(call: ConvFprop, x, w, operands) -> np.ndarray:
    """The NHWC conv of x [N, H, W, C] and w [K, R, S, C] in fp32, then the epilogue."""
    (ph, pw), (sh, sw) = call.pads, call.strides
    xp = np.pad(x.astype(np.float32), ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, call.kernel, axis=(1, 2))[:, ::sh, ::sw]
    y = np.einsum("nhwcrs,krsc->nhwk", windows, w.astype(np.float32))
    operands = iter(operands)
    for node in call.epilogue:
        if node in ("bias", "add"):
            y = y + next(operands).astype(np.float32).reshape((-1,) if node == "bias" else y.shape)
        else:
            y = ACTIVATIONS[node](y)
    return y


def sdpa_reference(call: Sdpa, q, k, v, bias) -> np.ndarray:
    """softmax(q·kᵀ·scale + bias, bottom-right causal)·v in fp32, in the call's layout."""
    s = np.einsum("bhqd,bhkd->bhqk", q.astype(np.float32), k.astype(np.float32)) * call.scale
    if bias is not None:
        s = s + bias.astype(np.float32)
    if call.causal:
        rows, cols = np.arange(call.s_q)[:, None], np.arange(call.s_k)[None, :]
        s = np.where(cols > rows + call.s_k - call.s_q, -np.inf, s)
    p = np.exp(s - s.max(-1, keepdims=True))
    o = np.einsum("bhqk,bhkd->bhqd", p / p.sum(-1, keepdims=True), v.astype(np.float32))
    return o if call.layout == "bhsd" else o.transpose(0, 2, 1, 3)


CONVS = [
    ConvFprop("float16", 2, 64, 64, (14, 14), (3, 3), (14, 14), (1, 1), (1, 1), ("bias", "relu")),
    ConvFprop("float16", 1, 32, 64, (17, 15), (1, 1), (9, 8), (2, 2), (0, 0), ("bias", "add", "relu")),
    ConvFprop("bfloat16", 2, 16, 32, (9, 7), (3, 3), (5, 4), (2, 2), (1, 1), ("bias", "swish")),
    ConvFprop("float16", 1, 24, 40, (9, 9), (5, 5), (9, 9), (1, 1), (2, 2), ("gelu",)),
    ConvFprop("float32", 1, 8, 16, (12, 12), (3, 3), (12, 12), (1, 1), (1, 1)),  # exact fp32: no TF32 engine
    ConvFprop("float16", 4, 64, 128, (28, 28), (3, 3), (28, 28), (1, 1), (1, 1)),
]

SDPAS = [
    Sdpa("float16", 2, 12, 128, 128, 64, 64, 0.125),
    Sdpa("bfloat16", 1, 4, 197, 197, 64, 64, 0.125, layout="bshd"),
    Sdpa("float16", 2, 4, 64, 64, 128, 128, 1 / math.sqrt(128), causal=True),
    Sdpa("float16", 2, 4, 64, 64, 64, 64, 0.125, bias=(2, 1, 64, 64)),
    Sdpa("bfloat16", 1, 2, 128, 256, 64, 64, 0.125, causal=True),
]


def _random(rng, shape, dtype, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(NP[dtype])


def _run_each_choice(call, host_reads, expected, out_shape):
    from runtime.cuda import DeviceBuffer, Stream
    from runtime.library.cudnn import CudnnPlan

    plan = CudnnPlan(call)
    choices = plan.choices(4, WORKSPACE)
    assert choices, f"cuDNN offers no plan for {call}"
    stream = Stream()
    reads = [DeviceBuffer.from_numpy(np.ascontiguousarray(x)) for x in host_reads]
    out = DeviceBuffer.empty(out_shape, NP[call.dtype])
    workspace = DeviceBuffer(max(1, max(c.workspace for c in choices)))
    tol = TOLERANCE[call.dtype]
    scale = max(1.0, float(np.abs(expected).max()))
    for choice in choices:
        assert plan.check(choice) == choice.workspace <= workspace.nbytes
        out.fill_bytes(0xFF, stream)
        plan.run(choice, *(r.ptr for r in reads), out.ptr, workspace=workspace.ptr, workspace_bytes=workspace.nbytes, stream=stream)
        got = out.to_numpy(stream).astype(np.float32)
        stream.synchronize()
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale, err_msg=f"plan {choice.name}")
    plan.close()


@pytest.mark.gpu
@pytest.mark.parametrize("call", CONVS, ids=lambda c: f"{c.dtype}-{c.batch}x{c.in_size}x{c.cin}-k{c.kernel}-s{c.strides}-{'_'.join(c.epilogue) or 'plain'}")
def test_cudnn_convs_match_numpy(cudnn_gpu, call):
    rng = np.random.default_rng(0)
    x = _random(rng, (call.batch, *call.in_size, call.cin), call.dtype)
    w = _random(rng, (call.cout, *call.kernel, call.cin), call.dtype, 1 / math.sqrt(call.cin * math.prod(call.kernel)))
    operands = [_random(rng, (call.cout,) if role == "bias" else (call.batch, *call.out_size, call.cout), call.dtype) for role, _, _ in call.reads()[2:]]
    expected = conv_reference(call, x, w, operands)
    _run_each_choice(call, [x, w, *operands], expected, (call.batch, *call.out_size, call.cout))


@pytest.mark.gpu
@pytest.mark.parametrize("call", SDPAS, ids=lambda c: f"{c.dtype}-b{c.batch}h{c.heads}-{c.s_q}x{c.s_k}-d{c.d}-{c.layout}{'-causal' if c.causal else ''}{'-bias' if c.bias else ''}")
def test_cudnn_sdpa_matches_numpy(cudnn_gpu, call):
    rng = np.random.default_rng(1)
    q = _random(rng, (call.batch, call.heads, call.s_q, call.d), call.dtype)
    k = _random(rng, (call.batch, call.heads, call.s_k, call.d), call.dtype)
    v = _random(rng, (call.batch, call.heads, call.s_k, call.d_v), call.dtype)
    bias = _random(rng, call.bias, call.dtype) if call.bias else None
    expected = sdpa_reference(call, q, k, v, bias)
    out_shape = (call.batch, call.heads, call.s_q, call.d_v) if call.layout == "bhsd" else (call.batch, call.s_q, call.heads, call.d_v)
    _run_each_choice(call, [q, k, v] + ([bias] if bias is not None else []), expected, out_shape)


@pytest.mark.gpu
@pytest.mark.parametrize("call", [CONVS[0], SDPAS[2]], ids=["conv", "sdpa"])
def test_a_cudnn_plan_replays_in_a_cuda_graph(cudnn_gpu, call):
    from runtime.cuda import DeviceBuffer, Stream
    from runtime.library.cudnn import CudnnPlan

    rng = np.random.default_rng(2)
    reads = [_random(rng, (n,), dtype, 0.1) for _, dtype, n in call.reads()]
    dtype, elements = call.writes()
    plan, stream = CudnnPlan(call), Stream()
    choice = plan.choices(1, WORKSPACE)[0]
    buffers = [DeviceBuffer.from_numpy(x) for x in reads]
    out = DeviceBuffer.empty((elements,), NP[dtype])
    workspace = DeviceBuffer(max(1, choice.workspace))

    def run():
        plan.run(choice, *(b.ptr for b in buffers), out.ptr, workspace=workspace.ptr, workspace_bytes=workspace.nbytes, stream=stream)

    run()  # a plan's first execution may set its kernels up: outside the capture, as engines do
    want = out.to_numpy(stream).astype(np.float32)
    stream.synchronize()
    with stream.capture() as graph:
        run()
    out.fill_bytes(0, stream)
    graph.launch(stream)
    got = out.to_numpy(stream).astype(np.float32)
    stream.synchronize()
    np.testing.assert_array_equal(got, want)
    plan.close()


@pytest.mark.gpu
def test_a_heuristic_plan_is_found_again_by_name_and_a_foreign_one_is_refused(cudnn_gpu):
    from dialects.errors import OptcError
    from runtime.library.cudnn import Choice, CudnnPlan, heuristic, library_version

    call = CONVS[0]
    choices = heuristic(call, 4, WORKSPACE)
    assert choices and [c.index for c in choices] == list(range(len(choices))) and all(c.workspace <= WORKSPACE for c in choices)
    plan = CudnnPlan(call)  # a fresh graph, as an engine builds at load
    assert plan.check(Choice(choices[-1].name, choices[-1].workspace)) == choices[-1].workspace
    with pytest.raises(OptcError, match=rf"cuDNN {library_version()} offers no plan 'eng999_bogus'"):
        plan.check(Choice("eng999_bogus", 0))
    plan.close()


# --- the cudnn tactic, end to end ------------------------------------------------------------


def _forced_engine_image(ir: str, arch: str, plan: int = 0):
    """The engine image of `ir` (fused level) with every kernel cuDNN can run set to `plan`."""
    from compiler.engine_build import compile_engine
    from dialects.kernel import LaunchAttr
    from passes.codegen.cuda import kernels_of
    from passes.codegen.library import base
    from passes.codegen.library import cudnn as tactic
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "lower-to-kernels")
    forced = 0
    for kernel in kernels_of(module):
        if tactic.why_not(kernel) is None:
            kernel.attributes["launch"] = LaunchAttr("cudnn", [8], [base.BLOCK], 0, {"plan": plan})
            forced += 1
    assert forced, "no kernel cuDNN can run"
    return compile_engine(module, arch)


def _engine_cases():
    from tests.test_codegen_attention import Case
    from tests.test_cudnn import conv_ir

    return {
        "f16_conv_bias_relu_fused": (conv_ir(x=(2, 16, 16, 32), cout=64, strides=(1, 1)), "f16"),
        "f16_conv_bias_residual_relu_fused": (conv_ir(x=(1, 14, 14, 64), cout=64, strides=(1, 1), epilogue="bias_residual_relu"), "f16"),
        "bf16_conv_leaky_relu_epilogue_kernel": (conv_ir(dtype="bf16", x=(2, 9, 7, 24), cout=40, epilogue="leaky_relu"), "bf16"),
        "f16_conv_hard_swish_epilogue_kernel": (conv_ir(x=(1, 12, 12, 16), cout=32, epilogue="bias_then_hard_swish"), "f16"),
        "f16_attention_bert": (Case("f16", 2, 4, 128, 128, 64, mask="2x4x128x128xf16").ir(), "f16"),
        "bf16_attention_causal_bshd": (Case("bf16", 1, 4, 64, 64, 64, causal=True, layout="bshd").ir(), "bf16"),
    }


@pytest.mark.gpu
@pytest.mark.parametrize("case", sorted(_engine_cases()))
def test_an_engine_running_cudnn_matches_the_reference_and_replays(cudnn_gpu, case, tmp_path):
    import compiler
    from runtime.engine.engine import Engine
    from runtime.engine.steps import LibraryStep
    from runtime.reference import run
    from runtime.reference.inputs import random_inputs
    from tests.support import parse

    ir, dtype = _engine_cases()[case]
    image = _forced_engine_image(ir, cudnn_gpu.arch)
    assert all(k.library is not None and k.library.library == "cudnn" for k in image.plan.kernels if k.tactic == "cudnn")
    engine = Engine(image)
    assert any(isinstance(step, LibraryStep) for step in engine.steps)
    tol = {"f16": 2e-2, "bf16": 6e-2}[dtype]
    module = parse(ir)
    first = None
    for seed in range(3):  # every run after the first replays the engine's CUDA graph on new inputs
        feeds = random_inputs(module, seed)
        got, want = engine.run(feeds), run(module, feeds)
        for name in want:
            np.testing.assert_allclose(np.asarray(got[name], np.float64), np.asarray(want[name], np.float64), rtol=tol, atol=tol, err_msg=f"{name}, seed {seed}")
        first = first or (feeds, got)
    assert engine.graph is not None
    engine.save(tmp_path / "dnn.engine")
    again = compiler.load(tmp_path / "dnn.engine")  # the plans' names, found again in this cuDNN
    feeds, got = first
    for name, value in again.run(feeds).items():
        np.testing.assert_allclose(value, got[name], rtol=tol, atol=tol, err_msg=f"{name} after save and load")


@pytest.mark.gpu
def test_an_engine_naming_a_plan_this_cudnn_lacks_is_refused_in_words(cudnn_gpu):
    from runtime.engine.engine import Engine, EngineError

    image = _forced_engine_image(_engine_cases()["f16_conv_bias_relu_fused"][0], cudnn_gpu.arch)
    kernels = tuple(
        dataclasses.replace(k, library=dataclasses.replace(k.library, algorithm="eng999_bogus", version="9.0.0")) if k.library else k
        for k in image.plan.kernels
    )
    with pytest.raises(EngineError, match=r"built with cuDNN 9.0.0 \(frontend \d+\.\d+\.\d+\), this GPU has \d+\.\d+\.\d+ \(frontend .*\): rebuild the engine here"):
        Engine(dataclasses.replace(image, plan=dataclasses.replace(image.plan, kernels=kernels)))


@pytest.mark.gpu
def test_tuning_a_conv_block_times_cudnn_beside_optcs_kernels(cudnn_gpu, tmp_path):
    """Two f16 NHWC convs (bias + relu, then bias + residual + relu), mode fast (which tries
    cuDNN's first plan for every conv): cuDNN candidates are timed and checked against the
    heuristic's outputs, none gives another answer, and the engine built from the choice
    is right."""
    from compiler.autotune import format_tune_report, tune
    from compiler.engine_build import compile_engine, device_target
    from runtime.engine.engine import Engine
    from runtime.reference import run
    from runtime.reference.inputs import random_inputs
    from runtime.tuning.cache import DeviceKey, TimingCache
    from tests.support import apply_pipeline, parse
    from tests.test_cudnn import conv_ir

    ir = conv_ir(x=(8, 28, 28, 64), cout=64, strides=(1, 1), epilogue="bias_residual_relu")
    source = parse(ir)
    feeds = random_inputs(source, 0)
    want = run(source, feeds)
    module = apply_pipeline(parse(ir), "lower-to-kernels")
    key = DeviceKey.of(cudnn_gpu)
    assert dict(key.libraries).get("cudnn") and dict(key.libraries).get("cudnn-frontend")
    report = tune(module, target=device_target(), mode="fast", cache=TimingCache(tmp_path / "cache.json"), device=key)
    table = "\n".join(format_tune_report(report))
    wrong = [d for d in report.dropped if "tactic = cudnn" in d.tactic and not d.why.startswith("library: ")]
    assert not wrong, table
    entries = json.loads((tmp_path / "cache.json").read_text())["devices"][0]["kernels"]
    timed = [ms for tactics in entries.values() for tactic, ms in tactics.items() if "tactic = cudnn" in tactic and isinstance(ms, float)]
    assert timed, table
    engine = Engine(compile_engine(module, cudnn_gpu.arch, device_target()))
    got = engine.run(feeds)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=2e-2, atol=2e-2, err_msg=f"{name}\n{table}")
