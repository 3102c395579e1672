"""Reports for people and machines: the per-kernel profile table, the memory report, their
PNG charts and JSON.

Every function takes plain data (a `runtime.engine.profile.Profile`, an `EnginePlan`) and
touches no GPU, so all of it is tested on the CPU. Charts use matplotlib's object API (no
pyplot, no display, no global state) and are drawn only when matplotlib is installed;
without it `draw_*` raise an OptcError that says so.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence

from dialects.errors import OptcError
from runtime.engine.plan import BufferSpec, EnginePlan
from runtime.engine.profile import LaunchTime, Profile

MIB = 1 << 20
OPS_WIDTH = 44
"""Characters of the 'fused ops' column before it is cut with '...'."""
TOP_KERNELS = 25
"""Bars in the profile chart: the slowest launches, the rest summed in one bar."""


# --- the profile table ------------------------------------------------------------------


def _short(name: str) -> str:
    return name.split(".", 1)[1] if "." in name else name


def describe_ops(ops: Sequence[str], width: int = OPS_WIDTH) -> str:
    """What a kernel computes, shortly: the op, then the ops fused into it, repeats
    counted: ("fused.conv", "graph.add", "graph.relu") → "conv: add, relu"."""
    if not ops:
        return "?"
    head, inner = _short(ops[0]), Counter(_short(o) for o in ops[1:])
    text = head + (": " + ", ".join(n if c == 1 else f"{n} x{c}" for n, c in inner.items()) if inner else "")
    return text if len(text) <= width else text[: width - 3] + "..."


def _kind(launch: LaunchTime) -> str:
    """The family a launch belongs to, for the chart's colours."""
    head = _short(launch.ops[0]) if launch.ops else ""
    if head in ("matmul", "gemm", "conv", "conv_transpose", "attention"):
        return head.replace("gemm", "matmul").replace("conv_transpose", "conv")
    return head if head in ("elementwise", "reduction") else "other"


def achieved(launch: LaunchTime, profile: Profile) -> tuple[str, str]:
    """(achieved rate, share of its ceiling) of a launch: TFLOP/s against the matmul
    ceiling of its element type for kernels with flops, GB/s against copy bandwidth for
    the rest."""
    ceilings = profile.ceilings
    if launch.flops:
        rate = launch.tflops
        ceiling = ceilings.matmul_tflops.get(launch.dtype)
        share = f"{_percent(rate / ceiling)} matmul" if rate and ceiling else ""
        return (f"{_rate(rate)} TFLOP/s" if rate else "", share)
    rate = launch.gbps
    share = f"{_percent(rate / ceilings.copy_gbps)} copy" if rate and ceilings.copy_gbps else ""
    return (f"{_rate(rate)} GB/s" if rate else "", share)


def _rate(value: float) -> str:
    """Three significant digits, without an exponent: 1234, 123, 12.3, 1.23, 0.0123."""
    return f"{value:.0f}" if value >= 100 else f"{value:#.3g}" if value >= 0.001 else f"{value:.2e}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.0f}%" if fraction >= 0.1 else f"{100 * fraction:.1f}%"


def profile_rows(profile: Profile) -> list[LaunchTime]:
    """The launches, slowest first (launch order among equals)."""
    return sorted(profile.launches, key=lambda launch: (-launch.ms, launch.index))


def format_profile(profile: Profile) -> list[str]:
    """The per-kernel table, sorted by time, with the ceilings and the whole-sequence times."""
    total = profile.kernel_ms
    header = ("#", "kernel", "tactic", "fused ops", "ms", "share", "achieved", "of ceiling")
    rows = []
    for launch in profile_rows(profile):
        rate, share = achieved(launch, profile)
        percent = 100 * launch.ms / total if total else 0.0
        rows.append(
            (str(launch.index), launch.kernel, launch.tactic, describe_ops(launch.ops), f"{launch.ms:.4f}", f"{percent:.1f}%", rate, share)
        )
    rows.append(("", "total", "", f"{len(profile.launches)} launches", f"{total:.4f}", "100.0%" if rows else "", "", ""))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {0, 4, 5, 6}

    def line(cells) -> str:
        return "  " + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [f"profile: {len(profile.launches)} launches on {profile.device}, median of {profile.runs} runs, launched one by one with CUDA events"]
    lines += [line(header), *(line(r) for r in rows[:-1]), "  " + "-" * (sum(widths) + 2 * (len(widths) - 1)), line(rows[-1])]
    lines.append(
        f"  sequence: {total:.4f} ms of kernels, {profile.sequence_ms:.4f} ms launched one by one"
        + (f", {profile.graph_ms:.4f} ms as one CUDA graph replay" if profile.graph_ms is not None else "")
    )
    lines.append(library_share(profile))
    lines += format_ceilings(profile)
    return lines


def library_share(profile: Profile) -> str:
    """How the kernels' time splits between optc's own kernels and library tactics."""
    total, library = profile.kernel_ms, profile.library_ms
    names = sorted({launch.library for launch in profile.launches if launch.library})
    own = 100 * (total - library) / total if total else 0.0
    lib = 100 * library / total if total else 0.0
    return f"  GPU time: {own:.1f}% in optc's own kernels, {lib:.1f}% in library tactics" + (f" ({', '.join(names)})" if names else "")


def format_ceilings(profile: Profile) -> list[str]:
    c = profile.ceilings
    copy = f"{c.copy_gbps:.0f} GB/s (cuMemcpyDtoD, read + write)" if c.copy_gbps else "not measured"
    if c.matmul_tflops:
        rates = ", ".join(f"{name} {rate:.1f} TFLOP/s" for name, rate in sorted(c.matmul_tflops.items()))
        matmul = f"{rates} ({c.matmul_source})"
    else:
        matmul = c.matmul_source or "not measured"
    return [f"  ceilings: copy {copy}; matmul {matmul}"]


def _strict(value):
    """`value` with NaN and infinities as null: strict JSON, which every parser reads."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data: dict) -> None:
    """`data` as indented, strict JSON (NaN and infinities as null); an unwritable path is
    an OptcError."""
    try:
        with open(path, "w") as f:
            json.dump(_strict(data), f, indent=2, allow_nan=False)
            f.write("\n")
    except OSError as e:
        raise OptcError(f"cannot write '{path}': {e.strerror}") from None


# --- the memory report --------------------------------------------------------------------


def _mib(nbytes: int) -> str:
    """Bytes in MiB, or KiB below one MiB (small models are all KiB)."""
    return f"{nbytes / MIB:.2f} MiB" if nbytes >= MIB else f"{nbytes / 1024:.2f} KiB"


def peak_step(buffers: Sequence[BufferSpec]) -> tuple[int, int]:
    """(the launch step with the most bytes live, those bytes); (0, 0) with no buffers."""
    if not buffers:
        return 0, 0
    steps = range(min(b.first for b in buffers), max(b.last for b in buffers) + 1)
    live = {s: sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps}
    step = max(live, key=lambda s: (live[s], -s))
    return step, live[step]


def format_memory(plan: EnginePlan, top: int = 5) -> list[str]:
    """The arena beside the naive sum and the lower bound, the step where most bytes are
    live and the largest buffers there."""
    memory, buffers = plan.memory, plan.buffers
    if not memory:
        return ["memory: the plan has no arena statistics (plan-memory did not run)"]
    arena, naive, bound = memory["bytes"], memory["naive"], memory["lower_bound"]
    lines = [
        f"memory: {len(buffers)} arena buffers over {len(plan.launches)} launches",
        f"  arena        {_mib(arena):>12}  {arena / bound if bound else 1.0:.3f}x the lower bound",
        f"  lower bound  {_mib(bound):>12}  the most bytes live at one step",
        f"  naive        {_mib(naive):>12}  {naive / arena if arena else 1.0:.2f}x the arena: every buffer its own bytes",
        f"  weights      {_mib(plan.region_bytes.get('weights', 0)):>12}   inputs {_mib(plan.region_bytes.get('inputs', 0))}",
    ]
    if buffers:
        step, live = peak_step(buffers)
        at_peak = sorted((b for b in buffers if b.first <= step <= b.last), key=lambda b: -b.size)
        where = f" ({plan.launches[step].kernel})" if step < len(plan.launches) else " (the outputs)"
        lines.append(f"  peak at launch {step}{where}: {_mib(live)} in {len(at_peak)} buffers; largest:")
        lines += [f"    {b.label:<32} {_mib(b.size):>12}  at {b.offset:>10}  live {b.first}..{b.last}" for b in at_peak[:top]]
    return lines


def memory_json(plan: EnginePlan) -> dict:
    from dataclasses import asdict

    return {**plan.memory, "buffers": [asdict(b) for b in plan.buffers]}


# --- charts -------------------------------------------------------------------------------

COLOURS = {
    "matmul": "#4477aa",
    "conv": "#66ccee",
    "attention": "#aa3377",
    "elementwise": "#228833",
    "reduction": "#ccbb44",
    "other": "#bbbbbb",
}


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise OptcError("drawing a chart needs matplotlib (pip install matplotlib)") from None
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save(figure, path: str | os.PathLike) -> None:
    try:
        figure.savefig(path, format="png")
    except OSError as e:
        raise OptcError(f"cannot write '{path}': {e.strerror}") from None


def draw_profile(profile: Profile, path: str | os.PathLike, top: int = TOP_KERNELS) -> None:
    """A PNG: the slowest launches as horizontal bars (labelled with their fused ops and
    share), and below them the timeline of the sequence launched one by one."""
    rows = profile_rows(profile)
    shown, rest = rows[:top], rows[top:]
    total = profile.kernel_ms or 1.0
    figure = _figure(11, 2.2 + 0.28 * (len(shown) + bool(rest)) + 1.6)
    bars, timeline = figure.subplots(2, 1, height_ratios=[max(len(shown), 1) + bool(rest), 3])
    labels = [f"{launch.kernel}{f' ({launch.tactic})' if launch.tactic else ''}  [{describe_ops(launch.ops, 36)}]" for launch in shown]
    widths = [launch.ms for launch in shown]
    colours = [COLOURS[_kind(launch)] for launch in shown]
    if rest:
        labels.append(f"{len(rest)} other launches")
        widths.append(sum(launch.ms for launch in rest))
        colours.append(COLOURS["other"])
    positions = range(len(labels))
    bars.barh(positions, widths, color=colours)
    bars.set_yticks(list(positions), labels, fontsize=8)
    bars.invert_yaxis()
    for y, (ms, launch) in enumerate(zip(widths, [*shown, None])):
        note = f" {100 * ms / total:.1f}%"
        if launch is not None:
            rate, share = achieved(launch, profile)
            note += f"  {rate}" + (f" ({share})" if share else "")
        bars.text(ms, y, note, va="center", fontsize=7)
    bars.set_xlim(0, max(widths, default=1.0) * 1.45)
    bars.set_xlabel("ms per launch (median)")
    graph = f", {profile.graph_ms:.3f} ms as a CUDA graph" if profile.graph_ms is not None else ""
    bars.set_title(f"{len(profile.launches)} launches on {profile.device}: {total:.3f} ms of kernels{graph}", fontsize=10)
    for launch in profile.launches:
        timeline.broken_barh([(launch.start_ms, launch.ms)], (0, 1), color=COLOURS[_kind(launch)])
    timeline.set_xlim(0, max(profile.sequence_ms, 1e-6))
    timeline.set_yticks([])
    timeline.set_xlabel("ms from the first launch (launched one by one)")
    from matplotlib.patches import Patch

    timeline.legend(
        handles=[Patch(color=c, label=k) for k, c in COLOURS.items()], loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=6, fontsize=8
    )
    _save(figure, path)


def draw_memory(plan: EnginePlan, path: str | os.PathLike, labelled: int = 12) -> None:
    """A PNG of buffer lifetimes against arena offsets: one rectangle per buffer from the
    launch that writes it to the last that reads it, at its offset, its height its size;
    the arena and the lower bound as lines. The largest buffers are labelled."""
    from matplotlib.patches import Rectangle

    buffers = plan.buffers
    if not buffers:
        raise OptcError("the engine has no buffer lifetimes to draw (it was built before they were recorded: rebuild it)")
    memory = plan.memory
    figure = _figure(11, 6)
    axes = figure.subplots()
    palette = list(COLOURS.values())[:-1]
    scale = MIB if memory.get("bytes", 0) >= MIB else 1024
    unit = "MiB" if scale == MIB else "KiB"
    largest = set(sorted(range(len(buffers)), key=lambda i: -buffers[i].size)[:labelled])
    for i, b in enumerate(buffers):
        rect = Rectangle((b.first, b.offset / scale), b.last - b.first + 1, b.size / scale, facecolor=palette[i % len(palette)], edgecolor="black", linewidth=0.4, alpha=0.8)
        axes.add_patch(rect)
        if i in largest:
            axes.text(b.first + 0.1, (b.offset + b.size / 2) / scale, b.label, fontsize=7, va="center", clip_on=True)
    steps = max(b.last for b in buffers) + 1
    arena, bound, naive = memory.get("bytes", 0), memory.get("lower_bound", 0), memory.get("naive", 0)
    axes.axhline(arena / scale, color="black", linestyle="-", linewidth=1, label=f"arena {_mib(arena)}")
    axes.axhline(bound / scale, color="red", linestyle="--", linewidth=1, label=f"lower bound {_mib(bound)}")
    axes.set_xlim(0, steps)
    axes.set_ylim(0, max(arena, max(b.offset + b.size for b in buffers)) / scale * 1.05)
    axes.set_xlabel("launch step")
    axes.set_ylabel(f"arena offset ({unit})")
    axes.set_title(f"{len(buffers)} buffers: arena {_mib(arena)}, lower bound {_mib(bound)}, naive {_mib(naive)}", fontsize=10)
    axes.legend(loc="upper right", fontsize=8)
    _save(figure, path)
