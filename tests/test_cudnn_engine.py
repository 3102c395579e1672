"""cuDNN kernels in engines and in the tuner, on the CPU, with cuDNN stood in for (its plans,
its versions, its graphs): the plan records each `cudnn` kernel's call (image -1 where cuDNN
writes the result; the conv in the workspace where the epilogue kernel finishes it) with
cuDNN's and the frontend's versions, the file round-trips it and refuses crafted ones by
name; the engine's steps run the call on the right pointers then the epilogue kernel, and
an engine whose plan this cuDNN does not offer is refused in words naming both versions;
the tuner times cuDNN candidates beside optc's kernels. On a GPU: tests/test_cudnn_gpu.py."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from compiler.autotune import tune
from compiler.engine_build import compile_engine
from dialects.errors import OptcError
from dialects.kernel import LaunchAttr
from passes.codegen import registry
from passes.codegen.cuda import kernels_of
from passes.codegen.library import cudnn as tactic
from passes.codegen.target import SM_90
from runtime.engine import read_engine, write_engine
from runtime.engine.engine import EngineError, library_plans
from runtime.engine.file import EngineImage, check_image
from runtime.engine.plan import KernelSpec, LaunchSpec, PlanError, Slot, device_dtype
from runtime.engine.steps import LibraryStep, build_steps
from runtime.library import LibraryError, LibraryUnavailable
from runtime.library import cudnn as lib
from runtime.tuning.cache import DeviceKey, TimingCache, library_versions
from runtime.tuning.timer import Measurement
from tests.support import apply_pipeline, parse
from tests.test_engine_file import crafted, split

VERSION, FRONTEND = "9.10.2", "1.14.1"
CHOICES = (lib.Choice("eng0_k2=1_k3=0", 4096, 0), lib.Choice("eng34_k2=3", 0, 1))
"""What the stand-in cuDNN offers for every graph: two plans."""
MIB16 = 16 << 20

# a ResNet-ish pair of convs (bias + relu: cuDNN fuses it; leaky relu: the epilogue kernel),
# then self-attention with a bias mask written [b, s, h, d]
MODEL = """
func.func @main(%x: tensor<1x8x8x16xf16>, %w1: tensor<16x3x3x16xf16>, %b1: tensor<1x1x1x16xf16>, %w2: tensor<16x3x3x16xf16>,
                %q: tensor<1x2x64x64xf16>, %k: tensor<1x2x64x64xf16>, %v: tensor<1x2x64x64xf16>, %m: tensor<1x1x64x64xf16>)
    -> (tensor<1x8x8x16xf16>, tensor<1x64x2x64xf16>) {
  %y = fused.conv %x, %w1 extras(%b1 : tensor<1x1x1x16xf16>) {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x16xf16>, tensor<16x3x3x16xf16>) -> tensor<1x8x8x16xf16> {
  ^bb0(%acc: tensor<1x8x8x16xf16>, %bias: tensor<1x1x1x16xf16>):
    %t = graph.add %acc, %bias : (tensor<1x8x8x16xf16>, tensor<1x1x1x16xf16>) -> tensor<1x8x8x16xf16>
    %r = graph.relu %t : tensor<1x8x8x16xf16>
    fused.yield %r : tensor<1x8x8x16xf16>
  }
  %z = fused.conv %y, %w2 {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"} : (tensor<1x8x8x16xf16>, tensor<16x3x3x16xf16>) -> tensor<1x8x8x16xf16> {
  ^bb0(%acc: tensor<1x8x8x16xf16>):
    %l = graph.leaky_relu %acc {alpha = 0.1 : f32} : tensor<1x8x8x16xf16>
    fused.yield %l : tensor<1x8x8x16xf16>
  }
  %o = fused.attention %q, %k, %v mask(%m : tensor<1x1x64x64xf16>) {scale = 0.125 : f32, causal = 1 : i64, output_layout = "bshd"} : (tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>, tensor<1x2x64x64xf16>) -> tensor<1x64x2x64xf16>
  func.return %z, %o : tensor<1x8x8x16xf16>, tensor<1x64x2x64xf16>
}
"""
DIRECT, EPILOGUE, ATTENTION = "k0_fused_conv", "k1_fused_conv", "k2_fused_attention"


@pytest.fixture
def cudnn(monkeypatch):
    """cuDNN as if it were here: VERSION with the frontend FRONTEND, offering CHOICES for every graph."""
    monkeypatch.setattr(lib, "heuristic", lambda call, count, cap: CHOICES[:count])
    monkeypatch.setattr(lib, "library_version", lambda: VERSION)
    monkeypatch.setattr(lib, "frontend_version", lambda: FRONTEND)
    monkeypatch.setattr(tactic, "unavailable", lambda: None)


def kernel_module():
    return apply_pipeline(parse(MODEL), "lower-to-kernels")


def forced(module, plans: dict[str, int]):
    """`module` with the named kernels set to run cuDNN's plan `plans[name]`."""
    for kernel in kernels_of(module):
        if kernel.sym_name.data in plans:
            kernel.attributes["launch"] = LaunchAttr("cudnn", [8], [256], 0, {"plan": plans[kernel.sym_name.data]})
    return module


def model_image() -> EngineImage:
    return compile_engine(forced(kernel_module(), {DIRECT: 0, EPILOGUE: 1, ATTENTION: 1}), "sm_90")


def kernel(image: EngineImage, name: str) -> KernelSpec:
    return next(k for k in image.plan.kernels if k.name == name)


def launch(image: EngineImage, name: str) -> LaunchSpec:
    return next(launch for launch in image.plan.launches if launch.kernel == name)


# --- the plan ------------------------------------------------------------------------------------


def test_the_plan_records_each_cudnn_kernels_call_with_both_versions(cudnn):
    image = model_image()
    check_image(image)
    assert [k.name for k in image.plan.kernels] == [DIRECT, EPILOGUE, ATTENTION]
    direct, epilogue, attention = (kernel(image, n) for n in (DIRECT, EPILOGUE, ATTENTION))
    call = direct.library
    assert (call.library, call.version, call.frontend, call.algorithm, call.workspace) == ("cudnn", VERSION, FRONTEND, CHOICES[0].name, 4096)
    assert call.call.epilogue == ("bias", "relu") and (call.a, call.b, call.extra, call.d) == (0, 1, (2,), 3)
    assert direct.image == -1 and direct.entry == ""  # cuDNN writes conv + bias + relu itself
    assert epilogue.library.call.epilogue == () and epilogue.library.d is None and epilogue.image >= 0
    assert epilogue.params[-1].nbytes == 8 * 8 * 16 * 2 + MIB16 and epilogue.library.workspace_offset == 2048
    assert attention.image == -1 and attention.library.call.layout == "bshd" and attention.library.call.bias == (1, 1, 64, 64)
    assert (attention.library.a, attention.library.b, attention.library.extra, attention.library.d) == (0, 1, (2, 3), 4)
    assert len(image.images) == 1  # the leaky-relu epilogue kernel alone


def test_a_plan_past_cudnns_list_is_an_error_naming_the_kernel(cudnn):
    with pytest.raises(OptcError, match=rf"@{EPILOGUE}: cuDNN offers 2 plan\(s\) for this conv_fprop on this GPU, the tactic names plan 3"):
        compile_engine(forced(kernel_module(), {EPILOGUE: 3}), "sm_90")


def test_without_the_library_the_engine_cannot_be_built_with_a_cudnn_kernel(monkeypatch):
    def missing(*args):
        raise LibraryUnavailable("cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9: No module named 'cudnn'")

    monkeypatch.setattr(lib, "heuristic", missing)
    with pytest.raises(OptcError, match=rf"@{ATTENTION} runs tactic cudnn, whose plan cuDNN chooses on the GPU the engine is for: .*No module named 'cudnn'"):
        compile_engine(forced(kernel_module(), {ATTENTION: 0}), "sm_90")


def test_the_library_call_round_trips_through_an_engine_file(cudnn, tmp_path):
    image = model_image()
    write_engine(image, tmp_path / "m.engine")
    again = read_engine(tmp_path / "m.engine")
    assert again.plan == image.plan and again.images == image.images
    assert kernel(again, ATTENTION).library.call == kernel(image, ATTENTION).library.call
    assert kernel(again, DIRECT).library.frontend == FRONTEND


def with_library(engine: EngineImage, name: str, **changes) -> EngineImage:
    kernels = tuple(
        dataclasses.replace(k, library=dataclasses.replace(k.library, **changes)) if k.name == name else k for k in engine.plan.kernels
    )
    return dataclasses.replace(engine, plan=dataclasses.replace(engine.plan, kernels=kernels))


def _call(name: str, **changes):
    return lambda image: with_library(image, name, call=dataclasses.replace(kernel(image, name).library.call, **changes))


REFUSED = {
    "bad_plan_name": (lambda i: with_library(i, DIRECT, algorithm="eng0 k2"), r"library.algorithm is not a cuDNN execution plan's name such as eng0_k2=1"),
    "bad_frontend": (lambda i: with_library(i, DIRECT, frontend="dev"), r"library.frontend 'dev' is not a version such as 1.14.1"),
    "bias_missing": (lambda i: with_library(i, DIRECT, extra=()), r"library names 2 operand\(s\), the call reads 3 \(x, w, bias\)"),
    "v_is_the_mask": (lambda i: with_library(i, ATTENTION, extra=(3, 3)), r"library.extra\[0\] is parameter 3 of 4096 elements, the call's V spans 8192"),
    "d_is_read": (lambda i: with_library(i, ATTENTION, d=3), r"library.d is parameter 3, which the call also reads"),
    "bigger_conv": (_call(DIRECT, cin=32), r"library.a is parameter 0 of 1024 elements, the call's X spans 2048"),
    "bf16_attention": (_call(ATTENTION, dtype="bfloat16"), r"library.a is parameter 0 of float16, the call's Q is bfloat16"),
    "a_matmul_call": (lambda i: with_library(i, DIRECT, library="cublasLt"), r"library.algorithm is not 64 bytes in lower-case hex"),
}


@pytest.mark.parametrize(("edit", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_cudnn_kernel_that_does_not_match_its_call_is_refused(cudnn, edit, message):
    with pytest.raises(PlanError) as error:
        check_image(edit(model_image()))
    assert re.search(message, str(error.value)), str(error.value)


@pytest.fixture
def path(cudnn, tmp_path):
    write_engine(model_image(), tmp_path / "m.engine")
    return tmp_path / "m.engine"


def _at(index: int, *keys_and_value):
    *keys, value = keys_and_value

    def edit(header):
        node = header["plan"]["kernels"][index]["library"]
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


FILE_REFUSED = {
    "op_unknown": (_at(0, "call", "op", "conv_bprop"), r"plan.kernels\[0\].library.call: op 'conv_bprop' is not a cuDNN call \(conv_fprop, sdpa\)"),
    "pads_string": (_at(0, "call", "pads", "same"), r"plan.kernels\[0\].library.call.pads must be a list, got a string"),
    "epilogue_number": (_at(0, "call", "epilogue", [1]), r"plan.kernels\[0\].library.call.epilogue\[0\] must be a string, got the number 1"),
    "unknown_node": (_at(0, "call", "epilogue", ["bias", "prelu"]), r"plan.kernels\[0\].library.call: cuDNN conv: epilogue node\(s\) prelu not among"),
    "scale_string": (_at(2, "call", "scale", "1/8"), r"plan.kernels\[2\].library.call.scale must be a finite number, got a string"),
    "causal_int": (_at(2, "call", "causal", 1), r"plan.kernels\[2\].library.call.causal must be a boolean, got the number 1"),
    "extra_negative": (_at(2, "extra", [2, -1]), r"plan.kernels\[2\].library.extra\[1\] is -1, outside 0.."),
    "library_unknown": (_at(0, "library", "miopen"), r"plan.kernels\[0\].library.library 'miopen' is not one of cublasLt, cudnn"),
    "frontend_int": (_at(0, "frontend", 1), r"plan.kernels\[0\].library.frontend must be a string, got the number 1"),
}


@pytest.mark.parametrize(("edit", "message"), FILE_REFUSED.values(), ids=FILE_REFUSED.keys())
def test_a_crafted_cudnn_kernel_in_a_file_is_refused_by_name(path, edit, message):
    header, _ = split(path)
    assert [k["name"] for k in header["plan"]["kernels"]] == [DIRECT, EPILOGUE, ATTENTION]
    error = crafted(path, edit)
    assert re.search(message, error), error


# --- the engine's steps; the check at load ---------------------------------------------------------

BASE = {"inputs": 0x10000, "weights": 0x200000, "arena": 0x3000000}


def address(slot: Slot) -> int:
    return BASE[slot.region] + slot.offset


class FakeCudnnPlan:
    """A CudnnPlan that records what it is asked; `offers` the plan names this cuDNN has."""

    made: list[FakeCudnnPlan] = []

    def __init__(self, call, offers=tuple(c.name for c in CHOICES), needs: int | None = None):
        self.call, self.offers, self.needs = call, offers, needs
        self.checked, self.closed = [], False
        FakeCudnnPlan.made.append(self)

    def check(self, choice) -> int:
        self.checked.append(choice)
        if choice.name not in self.offers:
            raise LibraryError(f"cuDNN offers no plan '{choice.name}' for {self.call.op} (it offers {', '.join(self.offers)})")
        return choice.workspace if self.needs is None else self.needs

    def run(self, choice, *pointers, workspace, workspace_bytes, stream) -> None:
        stream.append(("cudnn", choice.name, pointers, workspace, workspace_bytes))

    def close(self) -> None:
        self.closed = True


class FakeKernel:
    def __init__(self, name: str):
        self.name = name

    def pack(self, pointers):
        return [int(p) for p in pointers]

    def launch_packed(self, grid, block, parameters, shared, stream) -> None:
        stream.append((self.name, tuple(parameters)))


def test_the_steps_run_each_graph_on_the_launchs_slots_then_the_epilogue_kernel(cudnn):
    image = model_image()
    libraries = library_plans(image.plan, make_plan=FakeCudnnPlan, version=lambda: VERSION)
    kernels = {k.name: FakeKernel(k.name) for k in image.plan.kernels if k.image >= 0}
    steps = build_steps(image.plan, address, kernels, libraries)
    assert [type(s) for s in steps] == [LibraryStep] * 3 and [s.epilogue is not None for s in steps] == [False, True, False]
    assert [p.checked[0].name for p in FakeCudnnPlan.made[-3:]] == [CHOICES[0].name, CHOICES[1].name, CHOICES[1].name]
    stream: list = []
    for step in steps:
        step.launch(stream)
    first, second, third = (launch(image, n) for n in (DIRECT, EPILOGUE, ATTENTION))
    x, w1, b1, y = (address(s) for s in first.args[:4])
    assert stream[0] == ("cudnn", CHOICES[0].name, (x, w1, b1, y), address(first.args[-1]), MIB16)  # conv+bias+relu -> the result
    scratch = address(second.args[-1])
    assert stream[1] == ("cudnn", CHOICES[1].name, (address(second.args[0]), address(second.args[1]), scratch), scratch + 2048, MIB16)
    assert stream[2] == (EPILOGUE, tuple(address(s) for s in second.args))  # reads the conv at the workspace
    assert stream[3] == ("cudnn", CHOICES[1].name, tuple(address(s) for s in third.args[:5]), address(third.args[-1]), MIB16)
    assert len(stream) == 4


def _refusal(engine_plan, **fake) -> str:
    FakeCudnnPlan.made = []
    with pytest.raises(EngineError) as error:
        library_plans(engine_plan, make_plan=lambda call: FakeCudnnPlan(call, **fake.get("plan", {})), version=fake.get("version", lambda: VERSION))
    assert all(p.closed for p in FakeCudnnPlan.made), "a refused engine leaves no library plan open"
    return str(error.value)


def test_a_plan_this_cudnn_does_not_offer_is_a_clear_error_naming_both_versions(cudnn, monkeypatch):
    plan = model_image().plan
    monkeypatch.setattr(lib, "frontend_version", lambda: "1.15.0")
    why = _refusal(plan, plan={"offers": ("eng1_k2=0",)}, version=lambda: "9.8.0")
    assert why.startswith(
        f"kernel '{DIRECT}' (tactic cudnn): built with cuDNN {VERSION} (frontend {FRONTEND}), this GPU has 9.8.0 (frontend 1.15.0): rebuild the engine here"
    ), why
    assert f"offers no plan '{CHOICES[0].name}'" in why
    why = _refusal(plan, plan={"offers": ("eng1_k2=0",)})
    assert why.startswith(f"kernel '{DIRECT}' (tactic cudnn): cuDNN {VERSION} cannot run the engine's algorithm: rebuild the engine here")
    why = _refusal(plan, plan={"needs": MIB16 + 1})
    assert f"cuDNN {VERSION} needs {MIB16 + 1} bytes of workspace for the engine's algorithm, which was given {MIB16}" in why


def test_an_engine_with_a_cudnn_kernel_needs_the_library(cudnn):
    def missing():
        raise LibraryUnavailable("cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9: No module named 'cudnn'")

    why = _refusal(model_image().plan, version=missing)
    assert why == f"kernel '{DIRECT}' (tactic cudnn) runs cuDNN, which is not available here: cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9: No module named 'cudnn'"


# --- the tuner and the timing cache ---------------------------------------------------------------

H100 = DeviceKey("NVIDIA H100 80GB HBM3", "9.0", "13.0", "13.0", (("cudnn", VERSION), ("cudnn-frontend", FRONTEND)))


class FakeGPU:
    """Times candidates without a GPU: `times[(tactic, plan)]` ms (1.0 ms otherwise); zeros
    for every candidate's outputs (the same answer)."""

    def __init__(self, times: dict[tuple[str, int | None], float]):
        self.times, self.runs = times, []

    def __call__(self, candidate) -> Measurement:
        self.runs.append(candidate)
        launch = candidate.launch
        ms = self.times.get((launch.tactic_name, launch.tile_params.get("plan")), 1.0)
        return Measurement(ms, tuple(np.zeros(s.shape, device_dtype(s.dtype)) for s in candidate.run.params[-candidate.run.outputs :]))


@pytest.fixture
def few_tactics(monkeypatch):
    """The heuristic's tactic then every library candidate (fewer NVRTC compiles)."""
    import compiler.autotune as autotune

    def registry_tactics(target):
        return lambda kernel: [t for i, t in enumerate(registry.tactics(kernel, target)) if i == 0 or t.tactic_name == "cudnn"]

    monkeypatch.setattr(autotune, "registry_tactics", registry_tactics)


def test_a_faster_cudnn_plan_wins_and_plans_past_its_list_are_dropped(cudnn, few_tactics, tmp_path):
    gpu = FakeGPU({("cudnn", 0): 0.5, ("cudnn", 1): 0.4})
    module = kernel_module()
    report = tune(module, target=SM_90, mode="full", cache=TimingCache(tmp_path / "cache.json"), measure=gpu, device=H100)
    chosen = {k.sym_name.data: k.launch for k in kernels_of(module)}
    assert all(chosen[n].tactic_name == "cudnn" and chosen[n].tile_params == {"plan": 1} for n in (DIRECT, EPILOGUE, ATTENTION))
    dropped = {(d.kernel, d.tactic.split("plan = ")[1][0]) for d in report.dropped}
    assert dropped == {(n, p) for n in (DIRECT, EPILOGUE, ATTENTION) for p in "23"}
    runs = {(c.kernel, c.launch.tile_params.get("plan")): c.run for c in gpu.runs if c.launch.tactic_name == "cudnn"}
    assert runs[(EPILOGUE, 1)].library.algorithm == CHOICES[1].name and runs[(EPILOGUE, 1)].cubin  # the graph + the epilogue kernel
    assert runs[(DIRECT, 0)].cubin == b"" and runs[(DIRECT, 0)].library.d == 3  # the graph alone
    assert not report.notes


def test_the_timing_cache_key_names_cudnn_and_its_frontend(monkeypatch):
    monkeypatch.setattr(lib, "library_version", lambda: VERSION)
    monkeypatch.setattr(lib, "frontend_version", lambda: FRONTEND)
    assert dict(library_versions())["cudnn"] == VERSION and dict(library_versions())["cudnn-frontend"] == FRONTEND
    assert H100.to_json()["libraries"] == {"cudnn": VERSION, "cudnn-frontend": FRONTEND}

    def missing():
        raise LibraryUnavailable("no cudnn")

    monkeypatch.setattr(lib, "library_version", missing)
    assert "cudnn" not in dict(library_versions())


def test_the_timer_runs_a_cudnn_call_on_one_sets_pointers(cudnn, monkeypatch):
    """The tuner's timer (`_LibraryRun`) builds the plan before timing (its check) and passes
    the set's operands in the call's order, D, and the library's part of the workspace."""
    from runtime.tuning.timer import _LibraryRun

    monkeypatch.setattr(lib, "Plan", FakeCudnnPlan)
    image = model_image()
    for name in (DIRECT, EPILOGUE, ATTENTION):
        spec = kernel(image, name)
        run = _LibraryRun(spec.library)
        assert run.plan.checked == [lib.Choice(spec.library.algorithm, spec.library.workspace)]
        pointers = [0x1000 * (i + 1) for i in range(len(spec.params))]  # one set: the parameters, the workspace last
        stream: list = []
        run.launch(pointers, spec.params[-1].nbytes, stream)
        call = spec.library
        d = pointers[call.d] if call.d is not None else pointers[-1]
        offset = call.workspace_offset
        assert stream == [("cudnn", call.algorithm, (*(pointers[i] for i in call.reads()), d), pointers[-1] + offset, spec.params[-1].nbytes - offset)]
        run.close()
        assert run.plan.closed
