"""Library kernels in engines and in the tuner, on the CPU, with cuBLASLt stood in for (its
heuristic list, its version, its plans): the plan records each `cublaslt` kernel's call
(image -1 where the call writes the result), its workspace lives apart from the zeroed
one, the file round-trips it and refuses crafted ones by name; the engine's step list
runs the call then the epilogue kernel on the right pointers, and refuses an algorithm
this cuBLASLt cannot run; the tuner times library candidates, drops ranks past cuBLASLt's
list, lets a faster cublaslt win, and says once when the library is not here. On a GPU:
tests/test_cublaslt_gpu.py."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from compiler.autotune import Candidate, format_tune_report, summary_line, tune
from compiler.engine_build import compile_engine
from dialects.errors import OptcError
from dialects.kernel import LaunchAttr
from passes.codegen import registry
from passes.codegen.cuda import kernels_of
from passes.codegen.library import cublaslt as tactic
from passes.codegen.target import SM_90
from runtime.engine import read_engine, write_engine
from runtime.engine.engine import EngineError, library_plans
from runtime.engine.file import EngineImage, check_image
from runtime.engine.plan import KernelSpec, LaunchSpec, PlanError, Slot, device_dtype
from runtime.engine.steps import KernelStep, LibraryStep, build_steps
from runtime.library import cublaslt as lib
from runtime.tuning.cache import DeviceKey, TimingCache, library_versions
from runtime.tuning.timer import Measurement
from tests.support import apply_pipeline, parse
from tests.test_engine_file import crafted, split

VERSION = "12.9.1"
ALGOS = (lib.Algorithm(bytes(range(64)), 1024, 0), lib.Algorithm(bytes(range(64, 128)), 0, 1))
"""What the stand-in cuBLASLt offers for every matmul: two algorithms."""
MIB4 = 4 << 20

# a transformer's MLP: x·w1 + b1 then GELU (an epilogue kernel), x·w2 alone (cuBLASLt writes
# it), then a softmax (one of optc's kernels)
MLP = """
func.func @main(%x: tensor<16x64xf16>, %w1: tensor<64x128xf16>, %b1: tensor<128xf16>, %w2: tensor<128x64xf16>) -> tensor<16x64xf16> {
  %m = graph.matmul %x, %w1 : (tensor<16x64xf16>, tensor<64x128xf16>) -> tensor<16x128xf16>
  %a = graph.add %m, %b1 : (tensor<16x128xf16>, tensor<128xf16>) -> tensor<16x128xf16>
  %g = graph.gelu %a {approximate = "none"} : tensor<16x128xf16>
  %y = graph.matmul %g, %w2 : (tensor<16x128xf16>, tensor<128x64xf16>) -> tensor<16x64xf16>
  %s = graph.softmax %y {axis = -1 : i64} : tensor<16x64xf16>
  func.return %s : tensor<16x64xf16>
}
"""
EPILOGUE, DIRECT, SOFTMAX = "k0_fused_matmul", "k1_fused_matmul", "k2_fused_reduction"


@pytest.fixture
def cublas(monkeypatch):
    """cuBLASLt as if it were here: VERSION, offering ALGOS for every matmul."""
    monkeypatch.setattr(lib, "heuristic", lambda call, count, cap: ALGOS[:count])
    monkeypatch.setattr(lib, "library_version", lambda: VERSION)
    monkeypatch.setattr(tactic, "unavailable", lambda: None)


def kernel_module():
    return apply_pipeline(parse(MLP), "kernel")


def forced(module, algos: dict[str, int]):
    """`module` with the named kernels set to run cuBLASLt's algorithm `algos[name]`."""
    for kernel in kernels_of(module):
        if kernel.sym_name.data in algos:
            kernel.attributes["launch"] = LaunchAttr("cublaslt", [8], [256], 0, {"algo": algos[kernel.sym_name.data]})
    return module


def mlp_image() -> EngineImage:
    return compile_engine(forced(kernel_module(), {EPILOGUE: 1, DIRECT: 0}), "sm_90")


def kernel(image: EngineImage, name: str) -> KernelSpec:
    return next(k for k in image.plan.kernels if k.name == name)


def launch(image: EngineImage, name: str) -> LaunchSpec:
    return next(launch for launch in image.plan.launches if launch.kernel == name)


# --- the plan ------------------------------------------------------------------------------------


def test_the_plan_records_each_cublaslt_kernels_call(cublas):
    image = mlp_image()
    check_image(image)
    epilogue, direct, softmax = kernel(image, EPILOGUE), kernel(image, DIRECT), kernel(image, SOFTMAX)
    assert epilogue.tactic == direct.tactic == "cublaslt" and softmax.library is None
    call = epilogue.library
    assert (call.library, call.version, call.algorithm, call.workspace) == ("cublasLt", VERSION, ALGOS[1].data.hex(), 0)
    assert (call.call.m, call.call.n, call.call.k, call.call.dtype, call.call.d_dtype) == (16, 128, 64, "float16", "float16")
    assert (call.a, call.b, call.d) == (0, 1, None) and epilogue.image >= 0  # the product goes to the workspace
    assert epilogue.params[-1].workspace and epilogue.params[-1].nbytes == 16 * 128 * 2 + MIB4
    assert call.workspace_offset == 4096 == tactic.library_offset(kernels_of(kernel_module())[0])
    assert direct.library.d == 2 and direct.image == -1 and direct.entry == ""  # cuBLASLt writes the result
    assert direct.library.algorithm == ALGOS[0].data.hex() and direct.params[-1].nbytes == MIB4
    assert len(image.images) == 2  # the epilogue kernel and the softmax


def test_an_algorithm_past_cublaslts_list_is_an_error_naming_the_kernel(cublas):
    with pytest.raises(OptcError, match=rf"@{EPILOGUE}: cuBLASLt offers 2 algorithm\(s\) for this matmul on this GPU, the tactic names algo 3"):
        compile_engine(forced(kernel_module(), {EPILOGUE: 3}), "sm_90")


def test_without_the_library_the_engine_cannot_be_built_with_a_cublaslt_kernel(monkeypatch):
    def missing(*args):
        raise lib.LibraryUnavailable("cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'")

    monkeypatch.setattr(lib, "heuristic", missing)
    with pytest.raises(OptcError, match=rf"@{DIRECT} runs tactic cublaslt, whose algorithm cuBLASLt chooses on the GPU the engine is for: .*nvmath"):
        compile_engine(forced(kernel_module(), {DIRECT: 0}), "sm_90")


def test_library_workspaces_live_apart_from_the_zeroed_one(cublas, monkeypatch):
    """Split-K's counters must find zeros; a cuBLASLt call leaves its product and workspace dirty."""
    from dialects.fused import ReductionOp

    softmax = registry.GENERATORS[ReductionOp]
    monkeypatch.setitem(registry.GENERATORS, ReductionOp, dataclasses.replace(softmax, workspace=lambda k, l: 1000))
    image = mlp_image()
    plan = image.plan
    start = -(-plan.memory["bytes"] // 256) * 256
    assert launch(image, SOFTMAX).args[-1] == Slot("arena", start)
    library_start = start + 1024  # past the zeroed 1000 bytes, aligned
    assert launch(image, EPILOGUE).args[-1] == launch(image, DIRECT).args[-1] == Slot("arena", library_start)
    assert plan.region_bytes["arena"] == library_start + 4096 + MIB4 and plan.memory["workspace"] == 1024 + 4096 + MIB4
    check_image(image)


def test_the_library_call_round_trips_through_an_engine_file(cublas, tmp_path):
    image = mlp_image()
    write_engine(image, tmp_path / "m.engine")
    again = read_engine(tmp_path / "m.engine")
    assert again.plan == image.plan and again.images == image.images
    assert kernel(again, DIRECT).library.call == kernel(image, DIRECT).library.call


def with_library(engine: EngineImage, name: str, **changes) -> EngineImage:
    kernels = tuple(
        dataclasses.replace(k, library=dataclasses.replace(k.library, **changes)) if k.name == name else k for k in engine.plan.kernels
    )
    return dataclasses.replace(engine, plan=dataclasses.replace(engine.plan, kernels=kernels))


def with_kernel(engine: EngineImage, name: str, **changes) -> EngineImage:
    kernels = tuple(dataclasses.replace(k, **changes) if k.name == name else k for k in engine.plan.kernels)
    return dataclasses.replace(engine, plan=dataclasses.replace(engine.plan, kernels=kernels))


def _call(**changes):
    return lambda image: with_library(image, EPILOGUE, call=dataclasses.replace(kernel(image, EPILOGUE).library.call, **changes))


REFUSED = {
    "bad_hex": (lambda i: with_library(i, EPILOGUE, algorithm="zz" * 64), r"library.algorithm is not 64 bytes in lower-case hex \(128 digits\): 'zzzz"),
    "short_hex": (lambda i: with_library(i, EPILOGUE, algorithm="00" * 63), r"library.algorithm is not 64 bytes in lower-case hex"),
    "upper_hex": (lambda i: with_library(i, EPILOGUE, algorithm="AB" * 64), r"library.algorithm is not 64 bytes in lower-case hex"),
    "other_library": (lambda i: with_library(i, EPILOGUE, library="cuDNN"), r"library.library 'cuDNN' is not one of cublasLt"),
    "bad_version": (lambda i: with_library(i, EPILOGUE, version="latest"), r"library.version 'latest' is not a version such as 12.9.1"),
    "a_is_the_bias": (lambda i: with_library(i, EPILOGUE, a=2), r"library.a is parameter 2 of 128 elements, the call's A spans 1024"),
    "b_past_the_tensors": (lambda i: with_library(i, EPILOGUE, b=4), r"library.b is 4, not one of the kernel's 4 tensor parameters"),
    "b_the_workspace": (lambda i: with_library(i, DIRECT, b=3), r"library.b is 3, not one of the kernel's 3 tensor parameters"),
    "d_is_a": (lambda i: with_library(i, DIRECT, d=0), r"library.d is parameter 0, which the call also reads"),
    "other_dtype": (_call(dtype="bfloat16"), r"library.a is parameter 0 of float16, the call's A is bfloat16"),
    "bigger_call": (_call(k=65), r"library.a is parameter 0 of 1024 elements, the call's A spans 1040"),
    "batched_past_b": (_call(batch=2, b_batch_stride=8192), r"library.b is parameter 1 of 8192 elements, the call's B spans 16384"),
    "library_epilogue": (_call(epilogue="relu"), r"library.call has epilogue 'relu'; a library kernel's epilogue is its epilogue kernel's"),
    "workspace_too_big": (lambda i: with_library(i, EPILOGUE, workspace=MIB4 + 1), r"needs 4198401 bytes of workspace \(product 4096, library 4194305\), the kernel's has 4198400"),
    "no_image_not_direct": (lambda i: with_kernel(i, SOFTMAX, image=-1), rf"'{SOFTMAX}' has no image \(-1\); only a library kernel whose call writes its result"),
    "epilogue_without_product": (lambda i: with_library(i, EPILOGUE, d=3), rf"'{EPILOGUE}' has image \d, but its library call writes its result \(library.d = 3\)"),
    "direct_with_an_image": (lambda i: with_kernel(i, DIRECT, image=0), rf"'{DIRECT}' has image 0, but its library call writes its result"),
}


@pytest.mark.parametrize(("edit", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_a_library_kernel_that_does_not_match_its_call_is_refused(cublas, edit, message):
    image = edit(mlp_image())
    with pytest.raises(PlanError) as error:
        check_image(image)
    assert re.search(message, str(error.value)), str(error.value)


def test_a_library_kernel_without_a_workspace_is_refused(cublas):
    image = mlp_image()
    spec = kernel(image, DIRECT)
    image = with_kernel(image, DIRECT, params=spec.params[:-1])
    launches = tuple(dataclasses.replace(l, args=l.args[:-1]) if l.kernel == DIRECT else l for l in image.plan.launches)
    image = dataclasses.replace(image, plan=dataclasses.replace(image.plan, launches=launches))
    with pytest.raises(PlanError, match=rf"'{DIRECT}'.library: a library kernel's last parameter is its workspace, '{DIRECT}' has none"):
        check_image(image)


@pytest.fixture
def path(cublas, tmp_path):
    write_engine(mlp_image(), tmp_path / "m.engine")
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
    "algorithm_int": (_at(0, "algorithm", 5), r"plan.kernels\[0\].library.algorithm must be a string, got the number 5"),
    "d_string": (_at(1, "d", "out0"), r"plan.kernels\[1\].library.d must be an integer, got a string"),
    "a_negative": (_at(0, "a", -1), r"plan.kernels\[0\].library.a is -1, outside 0.."),
    "m_bool": (_at(0, "call", "m", True), r"plan.kernels\[0\].library.call.m must be an integer, got a boolean"),
    "k_fast_int": (_at(0, "call", "a_k_fast", 1), r"plan.kernels\[0\].library.call.a_k_fast must be a boolean, got the number 1"),
    "int8_call": (_at(0, "call", "dtype", "int8"), r"plan.kernels\[0\].library.call: cuBLASLt matmul: element type int8 is not one of"),
    "out_dtype": (_at(0, "call", "out_dtype", "int32"), r"plan.kernels\[0\].library.call.out_dtype 'int32' is not one of float16"),
    "zero_m": (_at(0, "call", "m", 0), r"plan.kernels\[0\].library.call: cuBLASLt matmul: sizes must be positive"),
    "no_version": (lambda h: h["plan"]["kernels"][0]["library"].pop("version"), r"plan.kernels\[0\].library has no 'version'"),
    "library_list": (lambda h: h["plan"]["kernels"][0].update(library=[]), r"plan.kernels\[0\].library must be an object, got a list"),
    "image_minus_2": (lambda h: h["plan"]["kernels"][2].update(image=-2), r"plan.kernels\[2\].image is -2, outside -1.."),
}


@pytest.mark.parametrize(("edit", "message"), FILE_REFUSED.values(), ids=FILE_REFUSED.keys())
def test_a_crafted_library_kernel_in_a_file_is_refused_by_name(path, edit, message):
    header, _ = split(path)
    assert [k["name"] for k in header["plan"]["kernels"]] == [EPILOGUE, DIRECT, SOFTMAX]
    error = crafted(path, edit)
    assert re.search(message, error), error


# --- the engine's steps ---------------------------------------------------------------------------

BASE = {"inputs": 0x10000, "weights": 0x200000, "arena": 0x3000000}


def address(slot: Slot) -> int:
    return BASE[slot.region] + slot.offset


class FakeLtPlan:
    """An LtPlan that records what it is asked."""

    made: list[FakeLtPlan] = []

    def __init__(self, call, needs: int | None = None, fails: bool = False):
        self.call, self.needs, self.fails = call, needs, fails
        self.checked, self.runs, self.closed = [], [], False
        FakeLtPlan.made.append(self)

    def check(self, algorithm) -> int:
        self.checked.append(algorithm)
        if self.fails:
            raise lib.LibraryError("cublasLtMatmulAlgoCheck: CUBLAS_STATUS_INVALID_VALUE")
        return algorithm.workspace if self.needs is None else self.needs

    def run(self, algorithm, a, b, d, *, workspace, workspace_bytes, stream, bias=0) -> None:
        stream.append(("cublasLt", algorithm.data, a, b, d, workspace, workspace_bytes))

    def close(self) -> None:
        self.closed = True


class FakeKernel:
    def __init__(self, name: str):
        self.name = name

    def pack(self, pointers):
        return [int(p) for p in pointers]

    def launch_packed(self, grid, block, parameters, shared, stream) -> None:
        stream.append((self.name, tuple(parameters)))


def test_the_steps_run_the_call_then_the_epilogue_kernel_on_the_launchs_slots(cublas):
    plan = mlp_image().plan
    libraries = library_plans(plan, make_plan=FakeLtPlan, version=lambda: VERSION)
    kernels = {k.name: FakeKernel(k.name) for k in plan.kernels if k.image >= 0}
    steps = build_steps(plan, address, kernels, libraries)
    assert [type(s) for s in steps] == [LibraryStep, LibraryStep, KernelStep]
    assert steps[1].epilogue is None and steps[0].epilogue is not None
    for name, algo in ((EPILOGUE, ALGOS[1]), (DIRECT, ALGOS[0])):
        lt_plan, algorithm = libraries[name]
        assert lt_plan.call == kernel(mlp_image(), name).library.call and lt_plan.checked == [algorithm]
        assert (algorithm.data, algorithm.workspace) == (algo.data, algo.workspace)
    stream: list = []
    for step in steps:
        step.launch(stream)
    first, second, third = (launch(mlp_image(), n) for n in (EPILOGUE, DIRECT, SOFTMAX))
    scratch = address(first.args[-1])
    x, w1 = address(first.args[0]), address(first.args[1])
    assert stream[0] == ("cublasLt", ALGOS[1].data, x, w1, scratch, scratch + 4096, MIB4)  # D: the product
    assert stream[1] == (EPILOGUE, tuple(address(s) for s in first.args))  # reads the product at the workspace
    g, w2, y = (address(s) for s in second.args[:3])
    assert stream[2] == ("cublasLt", ALGOS[0].data, g, w2, y, address(second.args[-1]), MIB4)  # D: the result
    assert stream[3] == (SOFTMAX, tuple(address(s) for s in third.args))
    assert len(stream) == 4


def _refusal(engine_plan, **fake) -> str:
    FakeLtPlan.made = []
    with pytest.raises(EngineError) as error:
        library_plans(engine_plan, make_plan=lambda call: FakeLtPlan(call, **fake.get("plan", {})), version=fake.get("version", lambda: VERSION))
    assert all(p.closed for p in FakeLtPlan.made), "a refused engine leaves no library plan open"
    return str(error.value)


def test_an_algorithm_this_cublaslt_cannot_run_is_a_clear_error(cublas):
    plan = mlp_image().plan
    why = _refusal(plan, plan={"fails": True}, version=lambda: "13.0.2")
    assert why.startswith(f"kernel '{EPILOGUE}' (tactic cublaslt): built with cuBLASLt {VERSION}, this GPU has 13.0.2: rebuild the engine here")
    why = _refusal(plan, plan={"fails": True})
    assert f"cuBLASLt {VERSION} cannot run the engine's algorithm: rebuild the engine here (cublasLtMatmulAlgoCheck" in why
    why = _refusal(plan, plan={"needs": MIB4 + 1}, version=lambda: "13.0.2")
    assert f"cuBLASLt 13.0.2 needs {MIB4 + 1} bytes of workspace for the engine's algorithm, which was given {MIB4}" in why


def test_an_engine_with_a_cublaslt_kernel_needs_the_library(cublas):
    def missing():
        raise lib.LibraryUnavailable("cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'")

    why = _refusal(mlp_image().plan, version=missing)
    assert why == f"kernel '{EPILOGUE}' (tactic cublaslt) runs cuBLASLt, which is not available here: cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'"


# --- the profile ------------------------------------------------------------------------------------


def test_the_profile_shows_the_tactic_and_the_share_of_library_time(cublas):
    from compiler.reports import format_profile
    from runtime.engine.profile import Profile, launch_times

    plan = mlp_image().plan
    times = launch_times(plan, [0.3, 0.1, 0.1], [0.0, 0.3, 0.4])
    assert [(t.tactic, t.library) for t in times] == [("cublaslt", "cublasLt"), ("cublaslt", "cublasLt"), (kernel(mlp_image(), SOFTMAX).tactic, "")]
    profile = Profile("Test GPU", 20, times, 0.5, 0.45)
    assert profile.library_ms == pytest.approx(0.4) and profile.to_json()["library_ms"] == pytest.approx(0.4)
    lines = format_profile(profile)
    assert "  GPU time: 20.0% in optc's own kernels, 80.0% in library tactics (cublasLt)" in lines
    assert any(" cublaslt " in line and EPILOGUE in line for line in lines)


# --- the tuner --------------------------------------------------------------------------------------

H100 = DeviceKey("NVIDIA H100 80GB HBM3", "9.0", "13.0", "13.0", (("cublasLt", VERSION),))


class FakeGPU:
    """Times candidates without a GPU: `times[tactic]` ms by tactic name and algo (1.0 ms
    otherwise); the right answer (zeros) for every candidate."""

    def __init__(self, times: dict[tuple[str, int | None], float]):
        self.times, self.runs = times, []

    def __call__(self, candidate: Candidate) -> Measurement:
        self.runs.append(candidate)
        launch = candidate.launch
        ms = self.times.get((launch.tactic_name, launch.tile_params.get("algo")), 1.0)
        outputs = tuple(np.zeros(spec.shape, device_dtype(spec.dtype)) for spec in candidate.run.params[-candidate.run.outputs :])
        return Measurement(ms, outputs)


@pytest.fixture
def few_tactics(monkeypatch):
    """The registry's tactics without the family's other tiles (fewer NVRTC compiles): the
    heuristic's, then every library candidate."""
    import compiler.autotune as autotune

    def registry_tactics(target):
        return lambda kernel: [t for i, t in enumerate(registry.tactics(kernel, target)) if i == 0 or t.tactic_name == "cublaslt"]

    monkeypatch.setattr(autotune, "registry_tactics", registry_tactics)


def tuned(tmp_path, gpu: FakeGPU, mode: str = "full"):
    module = kernel_module()
    report = tune(module, target=SM_90, mode=mode, cache=TimingCache(tmp_path / "cache.json"), measure=gpu, device=H100)
    return module, report


def test_a_faster_cublaslt_candidate_wins_and_ranks_past_its_list_are_dropped(cublas, few_tactics, tmp_path):
    gpu = FakeGPU({("cublaslt", 0): 0.5, ("cublaslt", 1): 0.4})
    module, report = tuned(tmp_path, gpu)
    chosen = {k.sym_name.data: k.launch for k in kernels_of(module)}
    assert chosen[EPILOGUE].tactic_name == chosen[DIRECT].tactic_name == "cublaslt"
    assert chosen[EPILOGUE].tile_params == {"algo": 1} and chosen[SOFTMAX].tactic_name != "cublaslt"
    dropped = {(d.kernel, d.tactic.split("algo = ")[1][0]): d.why for d in report.dropped}
    assert set(dropped) == {(EPILOGUE, "2"), (EPILOGUE, "3"), (DIRECT, "2"), (DIRECT, "3")}
    assert dropped[(EPILOGUE, "3")] == f"library: @{EPILOGUE}: cuBLASLt offers 2 algorithm(s) for this matmul on this GPU, the tactic names algo 3"
    runs = {(c.kernel, c.launch.tile_params.get("algo")): c.run for c in gpu.runs if c.launch.tactic_name == "cublaslt"}
    assert runs[(EPILOGUE, 1)].library.algorithm == ALGOS[1].data.hex() and runs[(EPILOGUE, 1)].cubin  # call + epilogue kernel
    assert runs[(DIRECT, 0)].library.d == 2 and runs[(DIRECT, 0)].cubin == b"" and runs[(DIRECT, 0)].workspace == MIB4  # call alone
    assert "cublaslt" in "\n".join(format_tune_report(report))


def test_a_cublaslt_candidate_no_faster_than_the_heuristic_does_not_win(cublas, few_tactics, tmp_path):
    module, report = tuned(tmp_path, FakeGPU({("cublaslt", 0): 0.99, ("cublaslt", 1): 1.5}))
    assert all(k.launch.tactic_name != "cublaslt" for k in kernels_of(module))  # within the tie margin: optc's own kernel
    assert not report.notes


def test_fast_mode_times_the_librarys_first_algorithm_too(cublas):
    from compiler.autotune import FAST_CANDIDATES, _limit

    kernel = kernels_of(kernel_module())[0]
    offered = registry.tactics(kernel, SM_90)
    first = len(offered) - tactic.ALGORITHMS
    assert first > FAST_CANDIDATES and [t.tactic_name for t in offered[first:]] == ["cublaslt"] * tactic.ALGORITHMS
    assert _limit(offered, "fast", kernel) == [*offered[:FAST_CANDIDATES], offered[first]]
    assert _limit(offered, "full", kernel) == offered


def test_where_the_library_is_not_the_report_says_so_once(monkeypatch, few_tactics, tmp_path):
    monkeypatch.setattr(tactic, "unavailable", lambda: "cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'")
    gpu = FakeGPU({})
    module, report = tuned(tmp_path, gpu)
    assert not any(c.launch.tactic_name == "cublaslt" for c in gpu.runs)
    note = "vendor tactics unavailable: cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'"
    assert report.notes == (note,) and summary_line(report).endswith(f"; {note}") and summary_line(report).count("vendor") == 1


def test_the_timing_cache_key_names_cublaslts_version(monkeypatch):
    monkeypatch.setattr(lib, "library_version", lambda: VERSION)
    assert library_versions() == (("cublasLt", VERSION),)
    assert H100.to_json()["libraries"] == {"cublasLt": VERSION}

    def missing():
        raise lib.LibraryUnavailable("no nvmath")

    monkeypatch.setattr(lib, "library_version", missing)
    assert library_versions() == ()
