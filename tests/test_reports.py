"""The report writers on plain data (no GPU): the profile table, its JSON and chart, the
memory report and its chart, and the progress line."""

from __future__ import annotations

import io
import json
import math
import sys

import pytest

from compiler import reports
from compiler.engine_build import build_module
from compiler.progress import Progress
from dialects.errors import OptcError
from runtime.engine.plan import BufferSpec
from runtime.engine.profile import Ceilings, LaunchTime, Profile
from tests.support import parse

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

CHAIN = """
func.func @main(%x: tensor<64x64xf32>, %w: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %a = graph.relu %x : tensor<64x64xf32>
  %m = graph.matmul %a, %w : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  %s = graph.sigmoid %m : tensor<64x64xf32>
  %t = graph.add %s, %a : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  func.return %t : tensor<64x64xf32>
}
"""


def profile(ceilings: Ceilings | None = None, n: int = 3) -> Profile:
    """A matmul (2 GFLOP in 2 ms: 1 TFLOP/s) and elementwise kernels (1 MB in 1 ms: 1 GB/s)."""
    launches = [LaunchTime(0, "k0_fused_matmul", ("fused.matmul", "graph.add", "graph.relu"), 2.0, 0.0, 1000, 2 * 10**9, "float16", "mma")]
    launches += [
        LaunchTime(
            i, f"k{i}_fused_elementwise", ("fused.elementwise", "graph.mul", "graph.mul", "graph.add"), 1.0 / i, 2.0 + i, 10**6, 0, "float16", "grid_stride"
        )
        for i in range(1, n)
    ]
    ceilings = ceilings if ceilings is not None else Ceilings(4.0, {"float16": 4.0}, "torch.matmul 4096x4096x4096")
    return Profile("Test GPU", 20, tuple(launches), 5.0, 4.0, ceilings)


# --- the profile table -------------------------------------------------------------------


@pytest.mark.parametrize(
    "ops, text",
    [
        (("fused.conv", "graph.add", "graph.relu"), "conv: add, relu"),
        (("fused.elementwise", "graph.mul", "graph.add", "graph.mul"), "elementwise: mul x2, add"),
        (("graph.transpose",), "transpose"),
        ((), "?"),
    ],
)
def test_describe_ops(ops, text):
    assert reports.describe_ops(ops) == text


def test_describe_ops_cuts_long_lists():
    text = reports.describe_ops(("fused.elementwise", *(f"graph.op{i}" for i in range(30))), width=30)
    assert len(text) == 30 and text.endswith("...")


def test_profile_table_is_sorted_with_shares_rates_and_ceilings():
    lines = reports.format_profile(profile())
    assert lines[0].startswith("profile: 3 launches on Test GPU, median of 20 runs")
    assert lines[1].split()[:4] == ["#", "kernel", "tactic", "fused"]
    rows = lines[2:5]
    assert [r.split()[1:3] for r in rows] == [["k0_fused_matmul", "mma"], ["k1_fused_elementwise", "grid_stride"], ["k2_fused_elementwise", "grid_stride"]]
    assert "matmul: add, relu" in rows[0] and "2.0000" in rows[0] and "57.1%" in rows[0]  # 2 of 3.5 ms
    assert "1.00 TFLOP/s" in rows[0] and "25% matmul" in rows[0]  # 1 of a 4 TFLOP/s ceiling
    assert "1.00 GB/s" in rows[1] and "25% copy" in rows[1]
    assert "2.00 GB/s" in rows[2] and "50% copy" in rows[2]
    total = next(line for line in lines if "total" in line)
    assert "3 launches" in total and "3.5000" in total and "100.0%" in total
    assert "3.5000 ms of kernels, 5.0000 ms launched one by one, 4.0000 ms as one CUDA graph replay" in "\n".join(lines)
    assert lines[-1] == "  ceilings: copy 4 GB/s (cuMemcpyDtoD, read + write); matmul float16 4.0 TFLOP/s (torch.matmul 4096x4096x4096)"


def test_profile_table_without_ceilings_gives_rates_alone():
    lines = reports.format_profile(profile(Ceilings(None, {}, "not measured: torch not installed")))
    assert "% matmul" not in "\n".join(lines) and "% copy" not in "\n".join(lines)
    assert "1.00 TFLOP/s" in lines[2]
    assert lines[-1] == "  ceilings: copy not measured; matmul not measured: torch not installed"


def test_profile_json_file_is_strict(tmp_path):
    data = {"profile": profile().to_json(), "odd": [math.nan, math.inf, 1.5]}
    reports.write_json(tmp_path / "p.json", data)
    text = (tmp_path / "p.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    back = json.loads(text)
    assert back["odd"] == [None, None, 1.5] and len(back["profile"]["launches"]) == 3


def test_unwritable_json_is_an_error(tmp_path):
    with pytest.raises(OptcError, match="cannot write"):
        reports.write_json(tmp_path / "missing" / "p.json", {})


# --- charts ------------------------------------------------------------------------------------


def test_profile_chart_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    reports.draw_profile(profile(n=40), tmp_path / "p.png", top=10)  # ten bars and one for the rest
    assert (tmp_path / "p.png").read_bytes().startswith(PNG_MAGIC)


def test_charts_without_matplotlib_say_so(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(OptcError, match="needs matplotlib"):
        reports.draw_profile(profile(), tmp_path / "p.png")


def plan():
    return build_module(parse(CHAIN), pipeline="kernel", arch="sm_90", load=False).plan


def test_memory_chart_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    reports.draw_memory(plan(), tmp_path / "m.png")
    assert (tmp_path / "m.png").read_bytes().startswith(PNG_MAGIC)


def test_memory_chart_needs_lifetimes(tmp_path):
    pytest.importorskip("matplotlib")
    old = plan().__class__(**{**vars(plan()), "buffers": ()})
    with pytest.raises(OptcError, match="no buffer lifetimes"):
        reports.draw_memory(old, tmp_path / "m.png")


# --- the memory report -------------------------------------------------------------------------


def test_memory_report_compares_arena_naive_and_lower_bound():
    p = plan()
    lines = reports.format_memory(p)
    assert lines[0] == f"memory: {len(p.buffers)} arena buffers over {len(p.launches)} launches"
    arena, bound = p.memory["bytes"], p.memory["lower_bound"]
    assert f"{arena / bound:.3f}x the lower bound" in lines[1]
    assert "lower bound" in lines[2] and "naive" in lines[3] and "weights" in lines[4]
    assert lines[5].startswith("  peak at launch ")


def test_memory_json_lists_buffers():
    data = reports.memory_json(plan())
    assert {"bytes", "naive", "lower_bound", "buffers"} <= set(data)
    assert {"label", "offset", "size", "first", "last"} == set(data["buffers"][0])


def test_peak_step():
    buffers = [BufferSpec("a", 0, 100, 0, 1), BufferSpec("b", 256, 50, 1, 2), BufferSpec("c", 0, 400, 2, 3)]
    assert reports.peak_step(buffers) == (2, 450)
    assert reports.peak_step([]) == (0, 0)


def test_sizes_read_in_kib_below_a_mib():
    assert reports._mib(2048) == "2.00 KiB" and reports._mib(3 << 20) == "3.00 MiB"


# --- progress ------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_quiet_when_not_a_terminal():
    stream = io.StringIO()
    with Progress("compiling kernels", 3, stream) as progress:
        for _ in range(3):
            progress.advance()
    assert stream.getvalue() == ""


def test_progress_counts_on_a_terminal_and_erases_its_line():
    stream = Terminal()
    with Progress("compiling kernels", 3, stream) as progress:
        progress.advance(detail="k0")
        progress.advance(2)
        assert progress.done == 3
    text = stream.getvalue()
    assert text.startswith("\rcompiling kernels:") and "0/3" in text
    assert text.endswith("\r") and text.split("\r")[-2].strip() == ""  # the bar's line is blanked when the work ends (tqdm leave=False)


def test_progress_can_be_forced_off():
    stream = Terminal()
    with Progress("x", 2, stream, enabled=False) as progress:
        progress.advance()
    assert stream.getvalue() == ""
