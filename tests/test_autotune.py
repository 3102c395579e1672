"""The autotuner (compiler/autotune.py) on the CPU, with a fake GPU: kernels grouped by
signature, the choice (tie margin, earlier wins ties, never a slower tactic), candidates
that fail or answer wrongly dropped with a note, the time limit, the modes, the same
choice from the same cache; its wiring into `compiler.build` and `optc-run`. On a GPU
(marker `gpu`): a small f16 matmul model tuned for real, then rebuilt from the cache."""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from compiler import optc_run
from compiler.autotune import (
    FAST_CANDIDATES,
    TIE_MARGIN,
    Candidate,
    TuneReport,
    choose,
    format_tune_report,
    group_by_signature,
    kernel_signature,
    output_mismatch,
    summary_line,
    tune,
)
from compiler.engine_build import build_module
from dialects.errors import OptcError
from dialects.kernel import LAUNCH_ATTR, FuncOp, LaunchAttr
from passes.codegen.cuda import kernels_of
from passes.codegen.registry import generator_for
from passes.codegen.target import DEFAULT, TARGETS
from runtime.cuda import CudaError
from runtime.tuning.cache import DeviceKey, Failed, TimingCache
from runtime.tuning.timer import Measurement
from tests.support import apply_pipeline, make_model, parse

SM_90 = TARGETS["sm_90"]
H100 = DeviceKey("NVIDIA H100 80GB HBM3", "9.0", "13.0", "13.0")

# k0 and k2 are the same relu (one signature), k1 a neg (another)
RELU_NEG_RELU = """
func.func @main(%x: tensor<4096xf32>) -> tensor<4096xf32> {
  %a = graph.relu %x : tensor<4096xf32>
  %b = graph.neg %a : tensor<4096xf32>
  %c = graph.relu %b : tensor<4096xf32>
  func.return %c : tensor<4096xf32>
}
"""


def kernel_module(ir: str = RELU_NEG_RELU):
    return apply_pipeline(parse(ir), "lower-to-kernels")


def launches(module) -> dict[str, str]:
    return {k.sym_name.data: str(k.launch) for k in kernels_of(module)}


# --- candidates: the one place that makes launches ------------------------------------------


def variant(launch: LaunchAttr, *, block: int | None = None, vector: int | None = None) -> LaunchAttr:
    """A variant of `launch` (same tactic) with another block size or vector width: the only
    LaunchAttr built in these tests."""
    tile = {**launch.tile_params, **({"vector": vector} if vector is not None else {})}
    return LaunchAttr(launch.tactic_name, list(launch.grid_dims), [block or launch.block_dims[0], 1, 1], launch.shared_bytes, tile)


def candidates(kernel: FuncOp) -> list[LaunchAttr]:
    """configure's launch, then five variants of it (all valid for the pointwise generator)."""
    heuristic = generator_for(kernel).configure(kernel, DEFAULT)
    return [
        heuristic,
        variant(heuristic, vector=2),
        variant(heuristic, vector=1),
        variant(heuristic, block=128),
        variant(heuristic, block=128, vector=2),
        variant(heuristic, block=512),
    ]


# --- a fake GPU -----------------------------------------------------------------------------


@dataclass
class FakeGPU:
    """Measures candidates without a GPU: the time of a candidate is `times[(kernel kind,
    candidate index)]` (1.0 ms unless given), its output zeros (ones for the `wrong`
    ones); the `failing` ones raise the driver's error. Each measurement advances `now`
    by `cost` seconds (the fake clock)."""

    times: dict[tuple[str, int], float] = field(default_factory=dict)
    wrong: set[tuple[str, int]] = field(default_factory=set)
    failing: set[tuple[str, int]] = field(default_factory=set)
    cost: float = 0.0
    now: float = 0.0
    calls: list[tuple[str, int]] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def __call__(self, candidate: Candidate) -> Measurement:
        which = (_kind(candidate.kernel), _index(candidate))
        self.calls.append(which)
        self.now += self.cost
        if which in self.failing:
            raise CudaError("cuLaunchKernel", "CUDA_ERROR_INVALID_VALUE", kernel=candidate.run.entry)
        spec = candidate.run.params[-1]
        value = 1.0 if which in self.wrong else 0.0
        return Measurement(self.times.get(which, 1.0), (np.full(spec.shape, value, np.float32),))


def _kind(kernel: str) -> str:
    return "neg" if "neg" in kernel else "relu"


def _index(candidate: Candidate) -> int:
    """The candidate's position in `candidates` (recomputed from its launch)."""
    keys = [str(launch) for launch in candidates(_any_kernel(candidate.kernel))]
    return keys.index(candidate.tactic)


_KERNELS: dict[str, FuncOp] = {}


def _any_kernel(name: str) -> FuncOp:
    if not _KERNELS:
        for kernel in kernels_of(kernel_module()):
            _KERNELS[kernel.sym_name.data] = kernel
    return _KERNELS[name]


def run_tune(module, gpu: FakeGPU, cache_path, mode: str = "full", **options) -> TuneReport:
    return tune(
        module, target=SM_90, mode=mode, cache=TimingCache(cache_path), tactics=candidates,
        measure=gpu, device=H100, clock=gpu.clock, **options,
    )


def launch_index(module, name: str) -> int:
    kernel = next(k for k in kernels_of(module) if k.sym_name.data == name)
    return [str(c) for c in candidates(kernel)].index(str(kernel.launch))


# --- signatures -------------------------------------------------------------------------------


def test_identical_kernels_share_a_signature_and_another_shape_does_not():
    k0, k1, k2 = kernels_of(kernel_module())
    assert kernel_signature(k0, "sm_90") == kernel_signature(k2, "sm_90") != kernel_signature(k1, "sm_90")
    (bigger, *_) = kernels_of(kernel_module(RELU_NEG_RELU.replace("4096", "8192")))
    assert kernel_signature(bigger, "sm_90") != kernel_signature(k0, "sm_90")
    assert kernel_signature(k0, "sm_80") != kernel_signature(k0, "sm_90")
    groups = group_by_signature([k0, k1, k2], "sm_90")
    assert [[k.sym_name.data for k in group] for group in groups.values()] == [["k0_graph_relu", "k2_graph_relu"], ["k1_graph_neg"]]


def test_the_signature_ignores_the_launch():
    k0, *_ = kernels_of(kernel_module())
    before = kernel_signature(k0, "sm_90")
    k0.attributes[LAUNCH_ATTR] = candidates(k0)[3]
    assert kernel_signature(k0, "sm_90") == before


# --- the choice -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timings, winner",
    [
        ([1.0, 0.99], 0),  # 1% faster: a tie, the heuristic's stays
        ([1.0, 0.98], 0),  # exactly the margin: still a tie
        ([1.0, 0.97], 1),  # 3% faster: replaces it
        ([1.0, 1.5, 2.0], 0),  # slower candidates never win
        ([1.0, 0.9, 0.89], 1),  # a tie between later ones keeps the earlier
        ([1.0, 0.9, 0.8], 2),
        ([None, 2.0, 1.0], 2),  # an untimed heuristic
        ([1.0, Failed("launch: no"), 0.5], 2),
        ([Failed("emit: no"), None], None),
        ([], None),
    ],
)
def test_choice_has_a_tie_margin_and_prefers_the_earlier(timings, winner):
    assert choose(timings) == winner


def test_the_winner_is_never_slower_than_the_heuristic_and_always_near_the_fastest():
    for timings in itertools.product([0.9, 0.97, 1.0, 1.01, 1.5], repeat=3):
        w = choose(list(timings))
        assert timings[w] <= timings[0] and timings[w] * (1 - TIE_MARGIN) <= min(timings), timings


# --- checking outputs ---------------------------------------------------------------------------


def test_outputs_are_checked_with_a_tolerance_by_dtype():
    want = np.array([1.0, -2.0, 100.0, np.nan], np.float16)
    assert output_mismatch(want + np.float16(0.25), want, "float16") is None  # within 5e-3 of |100|
    assert "1 of 4 elements differ beyond rtol 0.005" in output_mismatch(np.array([1.0, -3.0, 100.0, np.nan], np.float16), want, "float16")
    assert "1 of 4 elements differ" in output_mismatch(np.array([1.0, -2.0, 100.0, 0.0], np.float16), want, "float16")  # NaN where the heuristic has NaN
    assert output_mismatch(np.float32([1.00001, 2]), np.float32([1, 2]), "float32") is None
    assert output_mismatch(np.float32([1.001, 2]), np.float32([1, 2]), "float32") is not None
    assert output_mismatch(np.int64([1, 2]), np.int64([1, 2]), "int64") is None
    assert output_mismatch(np.int64([1, 3]), np.int64([1, 2]), "int64") == "1 of 2 elements differ (integers must be equal)"
    assert output_mismatch(np.zeros(3, np.float32), np.zeros(4, np.float32), "float32").startswith("it gives float32[3]")


# --- tuning with a fake GPU ------------------------------------------------------------------


def test_the_fastest_correct_candidate_wins_for_every_kernel_of_its_signature(tmp_path):
    module = kernel_module()
    gpu = FakeGPU(times={("relu", 0): 1.0, ("relu", 2): 0.5, ("relu", 4): 0.4, ("neg", 0): 1.0, ("neg", 1): 0.99})
    report = run_tune(module, gpu, tmp_path / "cache.json")
    assert launch_index(module, "k0_graph_relu") == launch_index(module, "k2_graph_relu") == 4
    assert launch_index(module, "k1_graph_neg") == 0  # 1% faster is a tie
    assert sorted(gpu.calls) == sorted((kind, i) for kind in ("relu", "neg") for i in range(6))  # each signature once
    assert (report.timed, report.cache_hits, report.cut, report.dropped) == (12, 0, 0, ())
    relu, neg = report.signatures
    assert relu.kernels == ("k0_graph_relu", "k2_graph_relu") and neg.kernels == ("k1_graph_neg",)
    assert (relu.default.ms, relu.winner.ms, relu.runner_up.ms) == (1.0, 0.4, 0.5)
    assert relu.winner.tactic == str(candidates(kernels_of(module)[0])[4])
    assert (neg.winner.ms, neg.runner_up.ms) == (1.0, 0.99)
    cached = TimingCache(tmp_path / "cache.json").timings(H100, relu.signature)
    assert len(cached) == 6 and cached[relu.winner.tactic] == 0.4


def test_a_second_build_from_the_cache_times_nothing_and_chooses_the_same(tmp_path):
    gpu = FakeGPU(times={("relu", 3): 0.7, ("relu", 5): 0.6, ("neg", 2): 0.8})
    first = kernel_module()
    run_tune(first, gpu, tmp_path / "cache.json")
    again = kernel_module()
    unused = FakeGPU(failing={(kind, i) for kind in ("relu", "neg") for i in range(6)})
    report = run_tune(again, unused, tmp_path / "cache.json")
    assert unused.calls == [] and report.timed == 0 and report.cache_hits == 12
    assert launches(again) == launches(first) != launches(kernel_module())
    assert str(again) == str(first)  # the same engine IR


def test_fast_mode_times_a_bounded_number_of_candidates(tmp_path):
    gpu = FakeGPU()
    report = run_tune(kernel_module(), gpu, tmp_path / "cache.json", mode="fast")
    assert sorted(gpu.calls) == sorted((kind, i) for kind in ("relu", "neg") for i in range(FAST_CANDIDATES))
    assert report.timed == 2 * FAST_CANDIDATES and all(s.candidates == FAST_CANDIDATES for s in report.signatures)


def test_a_wider_mode_later_reruns_the_heuristic_only_as_the_reference(tmp_path):
    run_tune(kernel_module(), FakeGPU(), tmp_path / "cache.json", mode="fast")
    gpu = FakeGPU(times={("relu", 0): 5.0})  # a new time for a tactic the cache knows is not used
    report = run_tune(kernel_module(), gpu, tmp_path / "cache.json", mode="full")
    assert sorted(gpu.calls) == sorted([(kind, i) for kind in ("relu", "neg") for i in (0, 4, 5)])
    assert report.cache_hits == 2 * FAST_CANDIDATES and report.signatures[0].default.ms == 1.0


def test_mode_none_leaves_every_launch_as_it_was(tmp_path):
    module = kernel_module()
    before = str(module)
    gpu = FakeGPU()
    report = run_tune(module, gpu, tmp_path / "cache.json", mode="none")
    assert str(module) == before and gpu.calls == [] and not (tmp_path / "cache.json").exists()
    assert report.skipped == "off (mode none)" and summary_line(report).startswith("tuning: off (mode none); the heuristic chose")


def test_wrong_and_failing_candidates_are_dropped_with_a_note_and_remembered(tmp_path):
    module = kernel_module()
    gpu = FakeGPU(times={("relu", 1): 0.1, ("relu", 2): 0.2, ("relu", 3): 0.3}, wrong={("relu", 1)}, failing={("relu", 2)})
    report = run_tune(module, gpu, tmp_path / "cache.json")
    assert launch_index(module, "k0_graph_relu") == 3  # the fastest that ran and answered right
    notes = {(d.kernel, d.tactic): d.why for d in report.dropped}
    relu = candidates(kernels_of(module)[0])
    assert notes[("k0_graph_relu", str(relu[1]))].startswith("wrong output: result 0: 4096 of 4096 elements differ beyond rtol 0.0001")
    assert notes[("k0_graph_relu", str(relu[2]))].startswith("launch: cuLaunchKernel failed for kernel 'optc_")
    lines = format_tune_report(report)
    assert any(line.startswith("  dropped k0_graph_relu <tactic = grid_stride, grid = ") and "wrong output" in line for line in lines)
    again = run_tune(kernel_module(), FakeGPU(), tmp_path / "cache.json")
    assert again.timed == 0 and {d.why for d in again.dropped if d.cached} == set(notes.values())
    assert "1 dropped" not in summary_line(again) and "2 dropped" in summary_line(again)


def test_a_candidate_that_cannot_be_emitted_or_compiled_is_dropped(tmp_path, monkeypatch):
    import runtime.cuda
    from compiler.engine_build import shared_entry
    from passes.codegen.cuda import kernel_source

    def tactics(kernel):
        heuristic = candidates(kernel)[0]
        return [heuristic, variant(heuristic, vector=3), variant(heuristic, vector=1)]

    module = kernel_module()
    k0 = kernels_of(module)[0]
    broken = k0.clone()
    broken.attributes[LAUNCH_ATTR] = tactics(k0)[2]
    entry, _ = shared_entry("k0_graph_relu", kernel_source(broken))
    real = runtime.cuda.compile_cuda

    def compile_cuda(source, name, arch, **options):
        if name == f"{entry}.cu":
            raise runtime.cuda.NvrtcCompileError(name, arch, (), f"{name}(1): error: made up", 6)
        return real(source, name, arch=arch, **options)

    monkeypatch.setattr(runtime.cuda, "compile_cuda", compile_cuda)
    report = tune(module, target=SM_90, mode="full", cache=TimingCache(tmp_path / "c.json"), tactics=tactics, measure=FakeGPU(), device=H100)
    whys = [d.why for d in report.dropped if d.kernel == "k0_graph_relu"]
    assert whys[0] == "emit: cuda codegen of @k0_graph_relu: tile parameter vector = 3 is not one of 1, 2, 4, 8, 16"
    assert whys[1].startswith(f"compile: NVRTC could not compile '{entry}.cu' for sm_90") and "made up" in whys[1]
    assert launch_index(module, "k0_graph_relu") == 0 and report.timed == 3  # the heuristics and the neg with vector 1


def test_without_the_heuristic_nothing_can_be_checked(tmp_path):
    module = kernel_module()
    gpu = FakeGPU(times={("neg", 1): 0.1}, failing={("neg", 0)})
    report = run_tune(module, gpu, tmp_path / "cache.json")
    assert launch_index(module, "k1_graph_neg") == 0  # kept: the engine build will say what fails
    assert [call for call in gpu.calls if call[0] == "neg"] == [("neg", 0)]  # the others are not run
    notes = [d.why for d in report.dropped if d.kernel == "k1_graph_neg"]
    assert notes[0].startswith("launch: ") and notes[1:] == ["not checked: the heuristic's tactic did not run"] * 5


def test_a_tactic_that_breaks_the_context_stops_tuning_and_is_remembered(tmp_path):
    from runtime.tuning.timer import ContextLost

    class Faulting(FakeGPU):
        def __call__(self, candidate):
            if (_kind(candidate.kernel), _index(candidate)) == ("relu", 2):
                raise ContextLost("kernel 'optc_x' broke the CUDA context: CUDA_ERROR_ILLEGAL_ADDRESS")
            return super().__call__(candidate)

    with pytest.raises(OptcError, match=r"@k0_graph_relu: tactic <tactic = grid_stride, grid = .*> broke the CUDA context, so tuning cannot go on"):
        run_tune(kernel_module(), Faulting(), tmp_path / "cache.json")
    gpu = FakeGPU()
    report = run_tune(kernel_module(), gpu, tmp_path / "cache.json")  # the next build skips it
    assert ("relu", 2) not in gpu.calls and ("relu", 3) in gpu.calls
    assert [d.why for d in report.dropped if d.cached] == ["launch: kernel 'optc_x' broke the CUDA context: CUDA_ERROR_ILLEGAL_ADDRESS"]


def test_the_time_limit_stops_timing_and_untimed_kernels_keep_the_heuristic(tmp_path):
    module = kernel_module()
    before = launches(module)
    gpu = FakeGPU(times={("relu", 2): 0.5, ("relu", 4): 0.1, ("neg", 1): 0.1}, cost=1.0)
    report = run_tune(module, gpu, tmp_path / "cache.json", time_limit=2.5)
    assert gpu.calls == [("relu", 0), ("relu", 1), ("relu", 2)]  # at 3 s the limit is spent
    assert report.cut == 9 and "9 cut by the 2.5 s limit" in summary_line(report)
    assert launch_index(module, "k0_graph_relu") == 2  # the best of those timed
    assert launches(module)["k1_graph_neg"] == before["k1_graph_neg"]
    assert report.signatures[1].winner.ms is None


def test_a_zero_time_limit_uses_only_the_cache(tmp_path):
    run_tune(kernel_module(), FakeGPU(times={("neg", 5): 0.1}), tmp_path / "cache.json", mode="fast")
    module = kernel_module()
    gpu = FakeGPU()
    report = run_tune(module, gpu, tmp_path / "cache.json", mode="full", time_limit=0)
    assert gpu.calls == [] and report.cut == 4 and launch_index(module, "k1_graph_neg") == 0


@pytest.mark.parametrize(
    "mode, limit, message",
    [
        ("slow", None, "tuning mode must be one of none, fast, full, got 'slow'"),
        ("fast", -1, "the tuning time limit must be a non-negative number of seconds, got -1"),
        ("fast", float("nan"), "got nan"),
    ],
)
def test_bad_options_are_errors(tmp_path, mode, limit, message):
    with pytest.raises(OptcError, match=message):
        run_tune(kernel_module(), FakeGPU(), tmp_path / "c.json", mode=mode, time_limit=limit)


def test_the_report_is_a_table(tmp_path):
    gpu = FakeGPU(times={("relu", 0): 2.0, ("relu", 1): 3.0, ("relu", 2): 3.0, ("relu", 3): 1.0, ("relu", 4): 1.5, ("relu", 5): 3.0})
    report = run_tune(kernel_module(), gpu, tmp_path / "cache.json")
    summary, header, relu, neg = format_tune_report(report)
    assert summary.startswith("tuning (full): ") and "2 kernel signatures, 12 candidates timed, 0 cache hits, 0 dropped" in summary
    assert header.split() == ["kernel", "x", "heuristic", "ms", "winner", "ms", "speed-up", "runner-up", "ms", "winner", "runner-up"]
    assert relu.split()[:6] == ["k0_graph_relu", "2", "2.0000", "1.0000", "2.00x", "1.5000"] and "block = [128, 1, 1]" in relu
    assert neg.split()[:6] == ["k1_graph_neg", "1", "1.0000", "1.0000", "1.00x", "1.0000"] and "heuristic" in neg
    assert report.to_json()["signatures"][0]["winner"]["ms"] == 1.0


# --- the timer's arithmetic ------------------------------------------------------------------


def test_rotating_sets_outgrow_the_l2_within_the_budget():
    from runtime.tuning.timer import MAX_SETS, set_count

    l2 = 50 << 20
    assert set_count(30 << 20, l2, 1 << 30) == 4  # 120 MiB >= twice the L2
    assert set_count(200 << 20, l2, 1 << 30) == 1  # one set already does
    assert set_count(1 << 10, l2, 1 << 30) == MAX_SETS  # a tiny kernel: bounded
    assert set_count(30 << 20, l2, 64 << 20) == 2  # the budget caps it
    assert set_count(300 << 20, l2, 64 << 20) == 1  # but a kernel always gets its set


def test_a_batch_runs_every_set_and_about_a_millisecond():
    from runtime.tuning.timer import MAX_BATCH, batch_size

    assert batch_size(0.001, 4) == MAX_BATCH
    assert batch_size(0.01, 4) == 100
    assert batch_size(0.5, 8) == 8  # every set at least once
    assert batch_size(5.0, 1) == 1
    assert batch_size(0.0, 1) == MAX_BATCH


# --- the build and optc-run ----------------------------------------------------------------


def test_build_for_a_named_arch_keeps_the_heuristic_and_says_so_when_asked(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="compiler.engine_build"):
        image = build_module(parse(RELU_NEG_RELU), "lower-to-kernels", arch="sm_90", load=False, tune="full")
    notes = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert notes == [
        "optc: note: tuning: skipped: the engine is built for sm_90 and not loaded here (load=False); "
        "the heuristic chose every kernel's launch"
    ]
    assert image.plan.kernels[0].block == (256, 1, 1)
    caplog.clear()
    for tune_mode in (None, "none"):
        build_module(parse(RELU_NEG_RELU), "lower-to-kernels", arch="sm_90", load=False, tune=tune_mode)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


@pytest.mark.parametrize(
    "options, message",
    [
        ({"tune": "slow"}, "tuning mode must be one of none, fast, full, got 'slow'"),
        ({"tune_time_limit": -5}, "the tuning time limit must be a non-negative number of seconds, got -5"),
        ({"timing_cache": "{tmp}"}, "timing cache '{tmp}' is a directory"),
    ],
)
def test_build_checks_its_tuning_options_first(tmp_path, options, message):
    import compiler

    options = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v for k, v in options.items()}
    with pytest.raises(OptcError, match=message.replace("{tmp}", str(tmp_path))):
        compiler.build(tmp_path / "missing.onnx", arch="sm_90", load=False, **options)  # before reading the model


@pytest.fixture
def model_path(tmp_path) -> str:
    path = tmp_path / "model.onnx"
    onnx.save(make_model([helper.make_node("Relu", ["x"], ["y"])], {"x": ([2, 8], TensorProto.FLOAT)}, ["y"]), path)
    return str(path)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--device", "cuda", "--tune", "slow"], "argument --tune: invalid choice: 'slow'"),
        (["--device", "cuda", "--tune-time-limit", "-1"], "--tune-time-limit must be a non-negative number of seconds, got -1"),
        (["--device", "cuda", "--tune-time-limit", "soon"], "argument --tune-time-limit: invalid float value: 'soon'"),
        (["--device", "cuda", "--timing-cache", "{tmp}"], "timing cache '{tmp}' is a directory: give a file"),
        (["--tune", "full"], "--tune needs --device cuda (it tunes the GPU engine's kernels)"),
        (["--timing-cache", "{tmp}/c.json"], "--timing-cache needs --device cuda"),
        (["--tune-time-limit", "5"], "--tune-time-limit needs --device cuda"),
    ],
)
def test_optc_run_tuning_flag_errors(capsys, model_path, tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = optc_run.main([model_path, *argv])
    _, err = capsys.readouterr()
    assert code == 1 and err.startswith("optc-run: error: ") and "Traceback" not in err, err
    assert message.replace("{tmp}", str(tmp_path)) in err


def test_optc_run_tuning_flags_on_an_engine_are_errors(capsys, tmp_path):
    (tmp_path / "m.engine").write_bytes(b"")
    code = optc_run.main([str(tmp_path / "m.engine"), "--device", "cuda", "--tune", "full"])
    _, err = capsys.readouterr()
    assert code == 1 and "--tune applies when building a model; 'm.engine' is an engine, built already" in err


# --- on the GPU -------------------------------------------------------------------------------

F16_MATMUL = """
func.func @main(%a: tensor<256x512xf16>, %b: tensor<512x384xf16>, %c: tensor<256x512xf16>) -> (tensor<256x384xf16>, tensor<256x384xf16>) {
  %x = graph.matmul %a, %b : (tensor<256x512xf16>, tensor<512x384xf16>) -> tensor<256x384xf16>
  %y = graph.matmul %c, %b : (tensor<256x512xf16>, tensor<512x384xf16>) -> tensor<256x384xf16>
  %r = graph.relu %y : tensor<256x384xf16>
  func.return %x, %r : tensor<256x384xf16>, tensor<256x384xf16>
}
"""


def _relu_run(shared_bytes: int = 0):
    """The KernelRun of RELU_NEG_RELU's first kernel, compiled for this GPU."""
    from compiler.engine_build import kernel_params, shared_entry
    from passes.codegen.cuda import kernel_source
    from runtime.cuda import Device, compile_cuda
    from runtime.tuning.timer import KernelRun

    kernel = kernels_of(kernel_module())[0]
    entry, source = shared_entry(kernel.sym_name.data, kernel_source(kernel))
    launch = kernel.launch
    cubin = compile_cuda(source, f"{entry}.cu", arch=Device(0).arch)
    return KernelRun(cubin, entry, launch.grid_dims, launch.block_dims, shared_bytes, kernel_params(kernel), 1)


@pytest.mark.gpu
def test_the_timer_runs_a_kernel_on_seeded_inputs_and_times_it(gpu):
    from runtime.reference.inputs import random_array
    from runtime.tuning.timer import measure, run_once, time_kernel

    run = _relu_run()
    (out,) = run_once(run)
    x = random_array((4096,), np.float32, np.random.default_rng(0))
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    assert time_kernel(run, l2_bytes=gpu.l2_cache_size) > 0
    both = measure(run, l2_bytes=gpu.l2_cache_size)
    assert both.ms > 0 and np.array_equal(both.outputs[0], out)


@pytest.mark.gpu
def test_a_launch_that_fails_leaves_the_gpu_usable(gpu):
    from runtime.tuning.timer import ContextLost, run_once

    with pytest.raises(CudaError) as failure:
        run_once(_relu_run(shared_bytes=gpu.shared_memory_per_block_optin + 1024))
    assert not isinstance(failure.value, ContextLost)
    assert run_once(_relu_run())[0].shape == (4096,)  # the context still works


@pytest.mark.gpu
def test_a_small_f16_matmul_model_is_tuned_for_real_and_rebuilt_from_the_cache(gpu, tmp_path):
    from compiler.engine_build import compile_engine
    from dialects.weights import clone_with_weights
    from runtime.engine.engine import Engine
    from runtime.reference import run
    from runtime.reference.inputs import random_inputs
    from runtime.tuning.cache import DeviceKey as Key

    source = parse(F16_MATMUL)
    feeds = random_inputs(source, seed=0)
    expected = run(source, feeds)
    target, key = TARGETS[gpu.arch], Key.of(gpu)

    first = apply_pipeline(clone_with_weights(source), "kernel")
    report = tune(first, target=target, mode="full", cache=TimingCache(tmp_path / "cache.json"), device=key)
    assert report.timed >= len(report.signatures) == 2 and report.cache_hits == 0 and not report.skipped
    assert all(s.winner.ms is not None and s.winner.ms > 0 for s in report.signatures), format_tune_report(report)
    engine = Engine(compile_engine(first, gpu.arch))
    got = engine.run(feeds)
    for name, want in expected.items():
        # as tests/test_codegen_matmul.py: the reference rounds to f16 where the kernel keeps fp32
        np.testing.assert_allclose(got[name].astype(np.float32), want.astype(np.float32), rtol=2e-2, atol=0.12, err_msg=name)

    second = apply_pipeline(clone_with_weights(source), "kernel")
    again = tune(second, target=target, mode="full", cache=TimingCache(tmp_path / "cache.json"), device=key)
    assert again.timed == 0 and again.cache_hits == sum(s.candidates for s in report.signatures)
    assert launches(second) == launches(first)


@pytest.mark.gpu
def test_build_and_optc_run_tune_through_the_shared_cache(gpu, capsys, tmp_path):
    import json

    import compiler

    path = tmp_path / "m.onnx"
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((64, 96)).astype(np.float32)
    onnx.save(make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], {"x": ([32, 64], TensorProto.FLOAT)}, ["y"], {"w": weight}), path)
    cache = tmp_path / "cache.json"
    engine = compiler.build(path, precision="fp16", tune="fast", timing_cache=cache)
    x = rng.standard_normal((32, 64)).astype(np.float32)
    np.testing.assert_allclose(engine.run({"x": x})["y"], x @ weight, rtol=3e-2, atol=3e-2)
    assert json.loads(cache.read_text())["devices"], "the build recorded its timings"
    code = optc_run.main([str(path), "--device", "cuda", "--precision", "fp16", "--timing-cache", str(cache), "--profile", "--profile-runs", "3"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "tuning (fast): " in out and "0 candidates timed" in out  # all from the build's cache
    assert "heuristic ms" in out and "runner-up" in out
