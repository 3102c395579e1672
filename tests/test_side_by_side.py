"""The side-by-side benchmark's harness on the CPU (benchmarks/side_by_side*.py).

The GPU run is a benchmark, not a test; what can go wrong without a GPU is tested here:
the timing loop and its median, the speed-up and roofline arithmetic, the FLOP and
weight-byte count, the Markdown table (errors in their cells), the JSON round trip, the
chart, the command line, and a whole run of the harness on a tiny recommender-shaped
ONNX model, with optc through the reference interpreter (lowered to the kernel level as
the engine would be), onnxruntime as "eager" and the torch.compile systems failing, as
they do where torch is missing: the run reports them and goes on.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

side_by_side = importlib.import_module("side_by_side")
report = importlib.import_module("side_by_side_report")
systems = importlib.import_module("side_by_side_systems")
cost = importlib.import_module("side_by_side_cost")

from side_by_side_report import Ceilings, Measurement, Row  # noqa: E402

# --- a tiny recommender: the op pattern build_zoo's exports (Gather, ReduceSum, Concat, Gemm) ---

TABLES, ROWS, DIM, BAG, DENSE = 2, 10, 4, 3, 5


def tiny_recommender(path: Path) -> Path:
    rng = np.random.default_rng(0)
    init = {
        "bottom.w": rng.standard_normal((DIM, DENSE)).astype(np.float32),
        "bottom.b": rng.standard_normal(DIM).astype(np.float32),
        "top.w": rng.standard_normal((1, DIM * (TABLES + 1))).astype(np.float32),
        "top.b": rng.standard_normal(1).astype(np.float32),
        "axes": np.array([1], np.int64),
    }
    nodes = [
        helper.make_node("Gemm", ["dense", "bottom.w", "bottom.b"], ["h0"], transB=1),
        helper.make_node("Relu", ["h0"], ["h"]),
    ]
    bags = []
    for t in range(TABLES):
        init[f"table{t}"] = rng.standard_normal((ROWS, DIM)).astype(np.float32)
        init[f"t{t}"] = np.array(t, np.int64)
        nodes += [
            helper.make_node("Gather", ["sparse_ids", f"t{t}"], [f"ids{t}"], axis=1),
            helper.make_node("Gather", [f"table{t}", f"ids{t}"], [f"rows{t}"]),
            helper.make_node("ReduceSum", [f"rows{t}", "axes"], [f"bag{t}"], keepdims=0),
        ]
        bags.append(f"bag{t}")
    nodes += [
        helper.make_node("Concat", ["h", *bags], ["features"], axis=1),
        helper.make_node("Gemm", ["features", "top.w", "top.b"], ["logit"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_recommender",
        [
            helper.make_tensor_value_info("dense", TensorProto.FLOAT, ["batch", DENSE]),
            helper.make_tensor_value_info("sparse_ids", TensorProto.INT64, ["batch", TABLES, BAG]),
        ],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["batch", 1])],
        [numpy_helper.from_array(v, k) for k, v in init.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


INPUTS = [
    systems.Input("dense", (1, DENSE), "float32"),
    systems.Input("sparse_ids", (1, TABLES, BAG), "int64", "ids", ROWS),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_recommender(tmp_path_factory.mktemp("zoo") / "tiny.onnx")


# --- timing and statistics -------------------------------------------------------------------


class FakeClock:
    """Each group 'takes' the next of a list of totals (ms for the whole group)."""

    def __init__(self, totals):
        self.totals = list(totals)
        self.starts = 0

    def start(self):
        self.starts += 1

    def stop(self):
        return self.totals.pop(0)


def test_measure_warms_up_then_times_groups_of_calls():
    calls = []
    clock = FakeClock([10.0, 30.0, 20.0])
    times = report.measure(lambda: calls.append(1), clock, groups=3, calls=5, warmup=4)
    assert len(calls) == 4 + 3 * 5
    assert times == [2.0, 6.0, 4.0]  # ms per call: the group's time / calls
    assert report.median(times) == 4.0
    assert report.spread(times) == pytest.approx((6 - 2) / 4)


def test_measure_refuses_empty_groups():
    with pytest.raises(ValueError, match="at least one group"):
        report.measure(lambda: None, FakeClock([]), groups=0, calls=10, warmup=0)


def test_median_of_an_even_number_of_groups():
    assert report.median([1.0, 9.0, 3.0, 5.0]) == 4.0


def test_wall_clock_measures_something():
    times = report.measure(lambda: sum(range(1000)), report.WallClock(), groups=3, calls=2, warmup=1)
    assert len(times) == 3 and all(t > 0 for t in times)


# --- speed-ups and the roofline ------------------------------------------------------------------------


def test_speedup_is_rival_over_optc():
    assert report.speedup(2.0, 5.0) == 2.5
    assert report.speedup(2.0, None) is None
    assert report.speedup(None, 5.0) is None


def test_roofline_takes_the_larger_floor():
    ceilings = Ceilings(matmul_tflops=500.0, copy_gbps=2500.0)
    # 1 TFLOP at 500 TFLOP/s = 2 ms; 1 GB at 2500 GB/s = 0.4 ms
    compute, memory, floor = report.roofline(1e12, 1e9, ceilings)
    assert compute == pytest.approx(2.0) and memory == pytest.approx(0.4) and floor == pytest.approx(2.0)
    compute, memory, floor = report.roofline(1e9, 5e9, ceilings)  # memory-bound
    assert floor == pytest.approx(2.0) and compute == pytest.approx(0.002)
    assert report.roofline(None, 5e9, ceilings)[2] == pytest.approx(2.0)
    assert report.roofline(None, None, ceilings) == (None, None, None)


def _row(**ms) -> Row:
    return Row("m", 1, "batch 1", systems={name.replace("_", "-"): Measurement(ms=v) for name, v in ms.items()})


def test_finish_row_speedups_and_distance_to_floor():
    row = _row(optc=1.0, eager=4.0, compile=2.0, compile_ro=0.5)
    row.flops, row.weight_bytes = 2e12, 1e9  # 4 ms and 0.4 ms at these ceilings
    report.finish_row(row, Ceilings(500.0, 2500.0))
    assert row.speedups == {"eager": 4.0, "compile": 2.0, "compile-ro": 0.5}
    assert row.floor_ms == pytest.approx(4.0) and row.optc_over_floor == pytest.approx(0.25)


def test_finish_row_with_failed_systems():
    row = _row(optc=1.0, eager=4.0)
    row.systems["compile"] = Measurement(error="BackendCompilerFailed: boom")
    report.finish_row(row, None)
    assert row.speedups == {"eager": 4.0, "compile": None}
    assert row.floor_ms is None and row.optc_over_floor is None
    row.systems["optc"] = Measurement(error="OptcError: no generator")
    report.finish_row(row, Ceilings(1.0, 1.0))
    assert row.speedups["eager"] is None


def test_scaled_errors():
    want = {"y": np.array([1.0, -10.0, 0.0])}
    got = {"y": np.array([1.5, -10.0, 0.1])}
    assert report.scaled_errors(got, want) == {"y": pytest.approx(0.05)}
    with pytest.raises(ValueError, match="outputs missing: y"):
        report.scaled_errors({}, want)
    with pytest.raises(ValueError, match="shape"):
        report.scaled_errors({"y": np.zeros(2)}, want)


def test_one_line_keeps_the_first_line():
    assert report.one_line(RuntimeError("first\nsecond")) == "RuntimeError: first"
    assert len(report.one_line("x" * 1000, limit=50)) == 50


# --- FLOPs and weight bytes ---------------------------------------------------------------------


def test_model_cost_counts_gemms_and_only_the_gathered_rows(tiny):
    from compiler.onnx_import import import_onnx

    batch = 7
    module = import_onnx(str(tiny), {"dense": [batch, DENSE], "sparse_ids": [batch, TABLES, BAG]})
    flops, weight_bytes = cost.model_cost(module, "fp16")
    assert flops == 2 * batch * DIM * DENSE + 2 * batch * 1 * DIM * (TABLES + 1)
    dense = DIM * DENSE + DIM + DIM * (TABLES + 1) + 1
    gathered = TABLES * min(ROWS, batch * BAG) * DIM
    small = [n for n in ("axes", "t0", "t1") if n in str(module)]  # int64 constants, if weights
    assert weight_bytes == pytest.approx(
        2 * (dense + gathered) + 8 * (1 if "axes" in small else 0) + 8 * (len(small) - ("axes" in small)), abs=64
    )
    _, fp32_bytes = cost.model_cost(module, "fp32")
    assert fp32_bytes > 1.9 * 2 * (dense + gathered) - 64


def test_model_cost_of_a_matmul_and_a_conv():
    from tests.support import parse

    module = parse(
        """
func.func @main(%a: tensor<2x8x16xf32>, %x: tensor<1x3x10x10xf32>) -> (tensor<2x8x4xf32>, tensor<1x6x8x8xf32>) {
  %w = graph.weight "w" : tensor<16x4xf32>
  %k = graph.weight "k" : tensor<6x3x3x3xf32>
  %y = graph.matmul %a, %w : (tensor<2x8x16xf32>, tensor<16x4xf32>) -> tensor<2x8x4xf32>
  %z = graph.conv %x, %k {dilations = array<i64: 1, 1>, group = 1 : i64, pads = array<i64: 0, 0, 0, 0>, strides = array<i64: 1, 1>} : (tensor<1x3x10x10xf32>, tensor<6x3x3x3xf32>) -> tensor<1x6x8x8xf32>
  func.return %y, %z : tensor<2x8x4xf32>, tensor<1x6x8x8xf32>
}"""
    )
    flops, weight_bytes = cost.model_cost(module, "fp16")
    assert flops == 2 * (2 * 8 * 4) * 16 + 2 * (6 * 8 * 8) * (3 * 3 * 3)
    assert weight_bytes == 2 * (16 * 4 + 6 * 3 * 3 * 3)


# --- the table, JSON and the chart ---------------------------------------------------------------------


def _rows() -> list[Row]:
    good = _row(optc=1.25, eager=5.0, compile=2.5, compile_ro=1.0)
    good.model, good.flops, good.weight_bytes = "resnet50", 1e12, 5e7
    good.systems["optc"].build_s = 12.5
    good.max_rel_err, good.rel_err = 3.2e-3, {"logits": 3.2e-3}
    bad = _row(eager=3.0)
    bad.model, bad.batch, bad.batch_label = "bert", 8, "throughput batch"
    bad.systems["optc"] = Measurement(error="OptcError: 'graph.erf' | has no generator")
    bad.systems["compile"] = Measurement(error="BackendCompilerFailed: triton missing")
    bad.check_error = "not checked: optc did not run"
    lost = Row("gpt2", 1, "batch 1", error="RuntimeError: export failed: unsupported op")
    ceilings = Ceilings(500.0, 2500.0)
    return [report.finish_row(r, ceilings) for r in (good, bad, lost)]


def test_markdown_table_shows_numbers_and_errors():
    table = report.markdown_table(_rows())
    lines = table.splitlines()
    assert lines[0].startswith("| model | batch | optc build s | optc ms | eager ms | compile ms | compile-RO ms")
    header_cells = lines[0].count("|")
    assert all(line.count("|") - line.count("\\|") == header_cells for line in lines[1:5])
    resnet = lines[2]
    for text in ("resnet50", "12.5", "1.250", "5.000", "4.00×", "2.00×", "0.80×", "2.000", "0.62×", "3.2e-03"):
        assert text in resnet, text
    bert = lines[3]
    assert "OptcError [1]" in bert and "BackendCompilerFailed [2]" in bert and "not run" in bert
    assert "gpt2" in lines[4] and "RuntimeError [4]" in lines[4]
    notes = "\n".join(lines[5:])
    assert "- [1] bert b8 optc: OptcError: 'graph.erf' | has no generator" in notes
    assert "BackendCompilerFailed: triton missing" in notes
    assert "not checked: optc did not run" in notes
    assert "export failed: unsupported op" in notes


def test_json_round_trip(tmp_path):
    rows = _rows()
    rows[0].systems["optc"].groups_ms = [1.2, 1.25, float("nan")]
    path = tmp_path / "out" / "result.json"
    report.write_json(path, {"device": "NVIDIA H100", "commit": "abc"}, rows)
    data = json.loads(path.read_text())  # strict JSON: NaN written as null
    assert data["rows"][0]["systems"]["optc"]["groups_ms"][2] is None
    meta, back = report.read_json(path)
    assert meta == {"device": "NVIDIA H100", "commit": "abc"}
    rows[0].systems["optc"].groups_ms[2] = None
    assert back == rows
    assert report.markdown_table(back) == report.markdown_table(rows)


def test_png_is_written(tmp_path):
    path = tmp_path / "chart.png"
    report.write_png(path, _rows(), "test chart")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    empty = tmp_path / "empty.png"
    report.write_png(empty, [])
    assert empty.exists()


# --- the command line -----------------------------------------------------------------------


def test_defaults():
    args = side_by_side.parse_args([])
    assert args.models == list(side_by_side.MODELS) and args.systems == list(report.SYSTEMS)
    assert args.precision == "fp16" and (args.groups, args.calls) == (20, 10)
    todo = side_by_side.cases(args.models, args.batches)
    assert len(todo) == 12
    assert ("resnet50", 32, "throughput batch") in todo and ("bert", 8, "throughput batch") in todo
    assert ("recommender", 256, "throughput batch") in todo and ("gpt2", 1, "batch 1") in todo


def test_models_and_batches_narrow_the_run(tmp_path):
    args = side_by_side.parse_args(
        [
            "--models",
            "bert",
            "vit",
            "--batches",
            "1",
            "4",
            "t",
            "--systems",
            "optc",
            "eager",
            "--groups",
            "3",
            "--calls",
            "2",
            "--json",
            str(tmp_path / "x.json"),
            "--zoo",
            str(tmp_path),
        ]
    )
    assert args.systems == ["optc", "eager"] and args.zoo == tmp_path
    todo = side_by_side.cases(args.models, args.batches)
    assert todo == [
        ("bert", 1, "batch 1"),
        ("bert", 4, "batch 4"),
        ("bert", 8, "throughput batch"),
        ("vit", 1, "batch 1"),
        ("vit", 4, "batch 4"),
        ("vit", 32, "throughput batch"),
    ]
    assert side_by_side.cases(["bert"], ["8", "throughput"]) == [("bert", 8, "batch 8")]  # no duplicates


@pytest.mark.parametrize(
    "argv",
    [["--models", "alexnet"], ["--batches", "0"], ["--batches", "big"], ["--groups", "0"], ["--systems", "tensorrt"]],
)
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        side_by_side.parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_the_docstring_names_the_command():
    assert "python3 benchmarks/side_by_side.py --json" in side_by_side.__doc__.split("\n\n")[1]


# --- a whole run on the CPU -------------------------------------------------------------------------


def _run(session_factory, todo, system_names=report.SYSTEMS, limit=0.0):
    settings = side_by_side.Settings(groups=3, calls=2, warmup=1, time_limit_s=limit)
    seen = []
    rows = side_by_side.run_all(
        session_factory,
        todo,
        system_names,
        settings,
        Ceilings(1.0, 1.0),
        side_by_side.Progress(False),
        lambda rows: seen.append(len(rows)),
    )
    return rows, seen


def test_a_run_on_the_reference_path(tiny, tmp_path):
    """optc lowered to the kernel level and interpreted, onnxruntime as eager, the
    torch.compile systems unavailable: every number where it can be, errors elsewhere."""
    rows, seen = _run(
        lambda model: systems.ReferenceSession(tiny, INPUTS, "fp16"),
        [("tiny", 1, "batch 1"), ("tiny", 16, "throughput batch")],
    )
    assert seen == [1, 2]  # the JSON is rewritten after every row
    for row in rows:
        assert row.error is None and row.cost_error is None
        optc, eager = row.systems["optc"], row.systems["eager"]
        assert optc.error is None and optc.ms > 0 and optc.build_s > 0 and len(optc.groups_ms) == 3
        assert eager.error is None and eager.ms > 0
        for rival in ("compile", "compile-ro"):
            assert "needs torch" in row.systems[rival].error
            assert row.speedups[rival] is None
        assert row.speedups["eager"] == pytest.approx(eager.ms / optc.ms)
        assert row.max_rel_err is not None and row.max_rel_err < 2e-2  # fp16 optc against fp32 onnxruntime
        assert row.flops > 0 and row.floor_ms > 0 and row.optc_over_floor > 0
    table = report.markdown_table(rows)
    assert table.count("needs torch") == 4  # a note per failed cell; the cells hold the start
    report.write_json(tmp_path / "r.json", {}, rows)
    report.write_png(tmp_path / "r.png", rows)


class FakeRunner:
    def __init__(self, ms: float, outputs: dict, fail_at: str | None = None):
        self.ms, self._outputs, self.fail_at = ms, outputs, fail_at
        self.clock = FakeClock([ms * 2] * 100)  # groups of 2 calls
        self.closed = False

    def __call__(self):
        if self.fail_at == "call":
            raise RuntimeError("an illegal memory access was encountered")

    def outputs(self):
        return self._outputs

    def close(self):
        self.closed = True


class FakeSession:
    """Fixed timings per system; a system named in `broken` fails when built."""

    def __init__(self, ms: dict, broken: dict | None = None):
        self.ms, self.broken, self.closed, self.runners = ms, broken or {}, False, []

    def cost(self, batch):
        if "cost" in self.broken:
            raise ValueError(self.broken["cost"])
        return 1e9 * batch, 1e6

    def runner(self, system, batch):
        if self.broken.get(system) == "build":
            raise RuntimeError(f"{system} failed to build")
        out = {"y": np.full(4, 1.0 if system != "optc" else 1.01)}
        runner = FakeRunner(self.ms[system] * batch, out, self.broken.get(system))
        self.runners.append(runner)
        return runner

    def close(self):
        self.closed = True


def test_failures_are_reported_and_the_run_goes_on():
    sessions = {}

    def open_session(model):
        if model == "noexport":
            raise RuntimeError("export failed: Unsupported ONNX opset")
        sessions[model] = FakeSession(
            {"optc": 1.0, "eager": 3.0, "compile": 2.0, "compile-ro": 1.5},
            {"compile": "build", "compile-ro": "call"}
            if model == "broken"
            else {"cost": "no shapes"}
            if model == "nocost"
            else {},
        )
        return sessions[model]

    todo = [
        ("good", 1, "batch 1"),
        ("noexport", 1, "batch 1"),
        ("noexport", 8, "t"),
        ("broken", 2, "t"),
        ("nocost", 1, "batch 1"),
    ]
    rows, _ = _run(open_session, todo)
    good, lost1, lost8, broken, nocost = rows
    assert good.systems["optc"].ms == pytest.approx(1.0) and good.speedups == pytest.approx(
        {"eager": 3.0, "compile": 2.0, "compile-ro": 1.5}
    )
    assert good.max_rel_err == pytest.approx(0.01)
    assert good.floor_ms == pytest.approx(1e9 / 1e12 * 1e3)  # 1 GFLOP at 1 TFLOP/s
    assert lost1.error == lost8.error == "RuntimeError: export failed: Unsupported ONNX opset"
    assert broken.systems["compile"].error == "RuntimeError: compile failed to build"
    assert "Traceback" in broken.systems["compile"].traceback  # the whole story, in the JSON
    assert broken.systems["compile-ro"].error == "RuntimeError: an illegal memory access was encountered"
    assert broken.systems["optc"].ms == pytest.approx(2.0) and broken.speedups["eager"] == pytest.approx(3.0)
    assert all(r.closed for r in sessions["broken"].runners)  # a failed run still frees its runner
    assert nocost.cost_error == "ValueError: no shapes" and nocost.floor_ms is None
    assert all(s.closed for s in sessions.values())
    assert "RuntimeError: export failed" in report.markdown_table(rows)


def test_check_needs_both_optc_and_eager():
    rows, _ = _run(
        lambda m: FakeSession({"optc": 1.0, "eager": 2.0}, {"optc": "build"}), [("m", 1, "b")], ["optc", "eager"]
    )
    assert rows[0].check_error == "not checked: optc did not run" and rows[0].max_rel_err is None
    rows, _ = _run(lambda m: FakeSession({"optc": 1.0}), [("m", 1, "b")], ["optc"])
    assert rows[0].check_error is None and rows[0].max_rel_err is None  # no eager asked for: no check


def test_time_limit_skips_what_would_start_after_it():
    rows, _ = _run(lambda m: FakeSession({s: 1.0 for s in report.SYSTEMS}), [("a", 1, "b"), ("b", 1, "b")], limit=1e-9)
    assert all(r.error == "skipped: past --time-limit" for r in rows)


def test_progress_is_quiet_unless_asked(capsys):
    side_by_side.Progress(False)("hidden")
    side_by_side.Progress(True)("shown")
    err = capsys.readouterr().err
    assert "hidden" not in err and "shown" in err


def test_measurement_fields_survive_math():
    # the JSON holds plain floats; NaN from a spread of an empty list never reaches it
    assert math.isnan(report.spread([]))


# --- several calls into one file, and the report from it ----------------------------------------------


def test_merge_rows_replaces_and_orders():
    earlier = [Row("gpt2", 1, error="old"), Row("resnet50", 32), Row("resnet50", 1)]
    new = [Row("gpt2", 1), Row("bert", 8)]
    merged = side_by_side.merge_rows(earlier, new)
    assert [(r.model, r.batch) for r in merged] == [("resnet50", 1), ("resnet50", 32), ("bert", 8), ("gpt2", 1)]
    assert merged[3].error is None


def _saved_run(tmp_path) -> Path:
    args = side_by_side.parse_args(["--models", "resnet50", "bert"])
    settings = side_by_side.Settings(args.groups, args.calls, args.warmup)
    meta = side_by_side.meta(
        args,
        settings,
        {"device": "NVIDIA H100 80GB HBM3", "torch": "2.11"},
        Ceilings(600.0, 3000.0, "mm", "copy"),
        ["--models", "resnet50", "bert"],
    )
    path = tmp_path / "sbs.json"
    report.write_json(path, meta, _rows())
    return path


def test_report_only_prints_the_table_and_draws_the_chart(tmp_path, capsys):
    path = _saved_run(tmp_path)
    png = tmp_path / "sbs.png"
    assert side_by_side.main(["--report-only", "--json", str(path), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    first, second = out.splitlines()[:2]
    assert "NVIDIA H100 80GB HBM3" in first and "torch 2.11" in first and "fp16" in first
    assert "600 TFLOP/s (mm)" in second and "3000 GB/s (copy)" in second
    assert out.rstrip().endswith(report.markdown_table(_rows()).rstrip())
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_report_only_and_append_need_results(tmp_path, capsys):
    for flag in ("--report-only", "--append"):
        assert side_by_side.main([flag, "--json", str(tmp_path / "none.json")]) == 2
    assert "no results" in capsys.readouterr().err


def test_meta_says_what_was_run():
    args = side_by_side.parse_args(["--models", "vit", "--groups", "25"])
    meta = side_by_side.meta(
        args, side_by_side.Settings(25, 10, 10), {"device": "GPU"}, None, ["--models", "vit", "--groups", "25"]
    )
    assert meta["command"] == "python3 benchmarks/side_by_side.py --models vit --groups 25"
    assert meta["settings"]["groups"] == 25 and meta["precision"] == "fp16" and meta["device"] == "GPU"
    assert "date" in meta and "commit" in meta and meta["ceilings"] is None
    json.dumps(meta)


def test_every_benchmarked_model_is_in_the_zoo():
    build_zoo = importlib.import_module("build_zoo")
    assert set(side_by_side.MODELS) == set(build_zoo.MODELS) == set(systems.THROUGHPUT_BATCH)
    rec = build_zoo.MODELS["recommender"]
    assert [i.name for i in rec.inputs] == ["dense", "sparse_ids"] and rec.outputs == ("logit",)
    ids = rec.inputs[1]
    assert ids.fill == "ids" and ids.high == build_zoo.RECOMMENDER_ROWS and ids.dynamic == {0: "batch"}
    arrays = systems.make_inputs([systems.Input.of(i) for i in rec.inputs], batch=256)
    assert arrays["sparse_ids"].shape == (256, build_zoo.RECOMMENDER_TABLES, build_zoo.RECOMMENDER_BAG)
    assert arrays["sparse_ids"].max() < build_zoo.RECOMMENDER_ROWS and arrays["dense"].dtype == np.float32


def test_commit_comes_from_optc_commit_first(monkeypatch):
    """A copied checkout (the GPU machine's) may carry stale git metadata: OPTC_COMMIT wins."""
    import side_by_side

    monkeypatch.setenv("OPTC_COMMIT", "abc1234")
    assert side_by_side.git_commit() == "abc1234"
