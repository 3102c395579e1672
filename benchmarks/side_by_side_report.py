"""The side-by-side benchmark's arithmetic and writers: no GPU, no torch.

Everything here is a plain function over plain data, so tests run it with fake timings:

- `measure`: ms per call, one number per group of back-to-back calls, timed by a `Clock`
  (CUDA events on the GPU, `WallClock` on the CPU); `median` of the groups is the figure;
- `Row`: one (model, batch) with a `Measurement` per system; `finish_row` fills in the
  speed-ups (rival ms / optc ms: above 1, optc is faster) and the roofline floor;
- `roofline`: FLOPs / the measured matmul rate and weight bytes / the measured copy rate,
  the larger being the floor no implementation can beat on this GPU;
- `markdown_table`, `write_json` / `read_json`, `write_png`.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

OPTC = "optc"
RIVALS = ("eager", "compile", "compile-ro")
SYSTEMS = (OPTC, *RIVALS)
TITLES = {OPTC: "optc", "eager": "eager", "compile": "compile", "compile-ro": "compile-RO"}
"""How each system is named in the table and the chart: PyTorch eager, torch.compile
(default mode), torch.compile(mode="reduce-overhead")."""


# --- timing ---------------------------------------------------------------------------------


class WallClock:
    """Host wall time: the clock for work that is synchronous (the reference interpreter,
    tests). On the GPU, a clock records CUDA events on the stream the calls run on."""

    def start(self) -> None:
        self._start = time.perf_counter()

    def stop(self) -> float:
        return (time.perf_counter() - self._start) * 1e3


def measure(call: Callable[[], object], clock, groups: int, calls: int, warmup: int) -> list[float]:
    """Milliseconds per call, one number per group: `warmup` calls first, then `groups`
    times the clock around `calls` back-to-back calls (so launch overheads that overlap
    with GPU work are not counted twice, and those that do not, are)."""
    if groups < 1 or calls < 1:
        raise ValueError(f"need at least one group of one call, got {groups} groups of {calls}")
    for _ in range(warmup):
        call()
    times = []
    for _ in range(groups):
        clock.start()
        for _ in range(calls):
            call()
        times.append(clock.stop() / calls)
    return times


def median(times: Sequence[float]) -> float:
    return float(statistics.median(times))


def spread(times: Sequence[float]) -> float:
    """(max - min) / median of the groups: how steady the measurement was."""
    return (max(times) - min(times)) / median(times) if times and median(times) > 0 else math.nan


# --- results ---------------------------------------------------------------------------------


@dataclass
class Measurement:
    """One system on one (model, batch). `error` set means it did not run (the rest may be
    partly filled: a build that succeeded before the run failed keeps its time)."""

    ms: float | None = None
    groups_ms: list[float] = field(default_factory=list)
    first_call_s: float | None = None  # the first call, wall time (torch.compile compiles here)
    build_s: float | None = None  # optc: import, passes, NVRTC, engine load
    error: str | None = None
    traceback: str | None = None  # the end of the failure's traceback (JSON only)


@dataclass
class Ceilings:
    """The GPU's measured rates, in the same run: a large fp16 matmul (FLOP/s) and a large
    device-to-device copy (bytes read + written per second)."""

    matmul_tflops: float
    copy_gbps: float
    matmul_what: str = ""
    copy_what: str = ""


@dataclass
class Row:
    model: str
    batch: int
    batch_label: str = ""  # "batch 1", "throughput batch", "batch N": the chart's panel
    systems: dict[str, Measurement] = field(default_factory=dict)
    flops: float | None = None  # matmul/conv FLOPs of one call (2 per multiply-add)
    weight_bytes: float | None = None  # weights one call must read, at the run's precision
    cost_error: str | None = None
    max_rel_err: float | None = None  # max over outputs of max|optc - eager| / max|eager|
    rel_err: dict[str, float] = field(default_factory=dict)
    check_error: str | None = None
    compute_floor_ms: float | None = None
    memory_floor_ms: float | None = None
    floor_ms: float | None = None
    speedups: dict[str, float | None] = field(default_factory=dict)
    optc_over_floor: float | None = None
    error: str | None = None  # the whole row failed (the model could not be exported or built)

    def ms(self, system: str) -> float | None:
        m = self.systems.get(system)
        return m.ms if m is not None and m.error is None else None


def roofline(
    flops: float | None, weight_bytes: float | None, ceilings: Ceilings
) -> tuple[float | None, float | None, float | None]:
    """(compute floor, memory floor, floor) in ms: FLOPs at the matmul rate, weight bytes
    at the copy rate (bytes read + written per second: a copy is the fastest any kernel
    moves memory), and the larger of the two (either may be unknown)."""
    compute = (
        flops / (ceilings.matmul_tflops * 1e12) * 1e3 if flops is not None and ceilings.matmul_tflops > 0 else None
    )
    memory = (
        weight_bytes / (ceilings.copy_gbps * 1e9) * 1e3 if weight_bytes is not None and ceilings.copy_gbps > 0 else None
    )
    known = [x for x in (compute, memory) if x is not None]
    return compute, memory, (max(known) if known else None)


def speedup(optc_ms: float | None, rival_ms: float | None) -> float | None:
    """How many times faster optc is than a rival (rival ms / optc ms)."""
    if optc_ms is None or rival_ms is None or optc_ms <= 0:
        return None
    return rival_ms / optc_ms


def finish_row(row: Row, ceilings: Ceilings | None) -> Row:
    """Fill in the derived columns: speed-ups over each rival that ran, the floor and
    optc's distance to it."""
    optc = row.ms(OPTC)
    row.speedups = {rival: speedup(optc, row.ms(rival)) for rival in RIVALS if rival in row.systems}
    if ceilings is not None:
        row.compute_floor_ms, row.memory_floor_ms, row.floor_ms = roofline(row.flops, row.weight_bytes, ceilings)
    row.optc_over_floor = optc / row.floor_ms if optc is not None and row.floor_ms else None
    return row


def scaled_errors(actual: dict, expected: dict) -> dict[str, float]:
    """max|actual - expected| / max|expected| per output (both numpy arrays by name): the
    error relative to the output's scale, which neither vanishing elements nor fp16's
    rounding of large ones distorts."""
    import numpy as np

    missing = sorted(set(expected) - set(actual))
    if missing:
        raise ValueError(f"outputs missing: {', '.join(missing)} (got {', '.join(sorted(actual)) or 'none'})")
    errors = {}
    for name, want in expected.items():
        got = np.asarray(actual[name], dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            raise ValueError(f"output '{name}' has shape {list(got.shape)}, the reference {list(want.shape)}")
        scale = float(np.max(np.abs(want))) if want.size else 0.0
        diff = float(np.max(np.abs(got - want))) if want.size else 0.0
        errors[name] = diff / scale if scale > 0 else diff
    return errors


def one_line(error: BaseException | str, limit: int = 300) -> str:
    """An exception as one line: its type and first line (torch.compile's errors run to
    pages; the first line names what failed)."""
    if isinstance(error, BaseException):
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        text = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    else:
        text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- the Markdown table ------------------------------------------------------------------------

COLUMNS = (
    "model",
    "batch",
    "optc build s",
    "optc ms",
    "eager ms",
    "compile ms",
    "compile-RO ms",
    "× eager",
    "× compile",
    "× compile-RO",
    "floor ms",
    "optc / floor",
    "max rel err",
)


def _ms(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:.1f}"
    return f"{x:.2f}" if x >= 10 else f"{x:.3f}" if x >= 0.1 else f"{x:.3g}"


def _ratio(x: float | None, suffix: str = "×") -> str:
    if x is None:
        return "–"
    return (f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}") + suffix


class _Notes:
    """Errors as numbered notes under the table; a cell shows the start and the number."""

    def __init__(self):
        self.lines: list[str] = []

    def cell(self, where: str, error: str) -> str:
        """The error's head (the exception type, or 'skipped', 'not checked') and its note."""
        self.lines.append(f"{where}: {error}")
        head = error.split(": ", 1)[0]
        if len(head) > 24:
            head = head[:23] + "…"
        return f"{head} [{len(self.lines)}]".replace("|", "\\|")


def _system_cell(row: Row, system: str, notes: _Notes) -> str:
    m = row.systems.get(system)
    if m is None:
        return "not run"
    if m.error is not None:
        return notes.cell(f"{row.model} b{row.batch} {TITLES[system]}", m.error)
    return _ms(m.ms)


def markdown_table(rows: Iterable[Row]) -> str:
    """The table people read: one line per (model, batch); errors in their cells, each
    numbered, the full messages listed below the table."""
    notes = _Notes()
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for row in rows:
        if row.error is not None:
            cells = [row.model, str(row.batch), notes.cell(f"{row.model} b{row.batch}", row.error)]
            cells += [""] * (len(COLUMNS) - len(cells))
            lines.append("| " + " | ".join(cells) + " |")
            continue
        optc = row.systems.get(OPTC)
        cells = [
            row.model,
            str(row.batch),
            f"{optc.build_s:.1f}" if optc is not None and optc.build_s is not None else "–",
        ]
        cells += [_system_cell(row, s, notes) for s in SYSTEMS]  # notes numbered left to right
        cells += [_ratio(row.speedups.get(r)) for r in RIVALS]
        if row.floor_ms is None and row.cost_error is not None:
            cells.append(notes.cell(f"{row.model} b{row.batch} cost", row.cost_error))
        else:
            cells.append(_ms(row.floor_ms))
        cells.append(_ratio(row.optc_over_floor))
        if row.check_error is not None:
            cells.append(notes.cell(f"{row.model} b{row.batch} check", row.check_error))
        else:
            cells.append("–" if row.max_rel_err is None else f"{row.max_rel_err:.1e}")
        lines.append("| " + " | ".join(cells) + " |")
    if notes.lines:
        lines.append("")
        lines += [f"- [{i}] {line}" for i, line in enumerate(notes.lines, 1)]
    return "\n".join(lines)


# --- JSON ------------------------------------------------------------------------------------


def to_json(meta: dict, rows: Sequence[Row]) -> dict:
    return {"meta": meta, "rows": [asdict(r) for r in rows]}


def write_json(path: Path, meta: dict, rows: Sequence[Row]) -> None:
    """Write atomically (the benchmark rewrites it after every row, so a run cut short
    leaves every finished row readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_clean(to_json(meta, rows)), indent=1, allow_nan=False) + "\n")
    tmp.replace(path)


def _clean(value):
    """NaN/inf are not JSON: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def row_from_dict(data: dict) -> Row:
    data = dict(data)
    data["systems"] = {name: Measurement(**m) for name, m in data.get("systems", {}).items()}
    return Row(**data)


def read_json(path: Path) -> tuple[dict, list[Row]]:
    data = json.loads(Path(path).read_text())
    return data["meta"], [row_from_dict(r) for r in data["rows"]]


# --- the chart -------------------------------------------------------------------------------

COLORS = {OPTC: "#d62728", "eager": "#7f7f7f", "compile": "#1f77b4", "compile-ro": "#2ca02c"}


def write_png(path: Path, rows: Sequence[Row], title: str = "") -> None:
    """Grouped bars of ms per call (log axis: the models span three decades), one panel per
    batch kind, one bar per system, each labelled with its value; a system that failed or
    was skipped gets an 'x' where its bar would be."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[str, list[Row]] = {}
    for row in rows:
        panels.setdefault(row.batch_label or f"batch {row.batch}", []).append(row)
    if not panels:
        panels["no results"] = []
    width_in = max(7.0, 1.8 * max(len(r) for r in panels.values()) + 2)
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(width_in, 3.8 * len(panels) + 0.8), squeeze=False, layout="constrained"
    )
    bar = 0.8 / len(SYSTEMS)
    for ax, (label, panel) in zip(axes[:, 0], panels.items()):
        lowest = min((r.ms(s) for r in panel for s in SYSTEMS if r.ms(s)), default=1.0)
        for j, system in enumerate(SYSTEMS):
            xs = [i + (j - (len(SYSTEMS) - 1) / 2) * bar for i in range(len(panel))]
            ran = [(x, r.ms(system)) for x, r in zip(xs, panel) if r.ms(system)]
            bars = ax.bar([x for x, _ in ran], [h for _, h in ran], bar, label=TITLES[system], color=COLORS[system])
            ax.bar_label(bars, labels=[_ms(h) for _, h in ran], fontsize=6, rotation=90, padding=2)
            failed = [x for x, r in zip(xs, panel) if r.ms(system) is None and (system in r.systems or r.error)]
            ax.plot(failed, [lowest / 2] * len(failed), "x", color=COLORS[system], markersize=7)
        heights = [r.ms(s) for r in panel for s in SYSTEMS if r.ms(s)]
        if heights:  # room below for the x marks, above for the labels
            ax.set_yscale("log")
            ax.set_ylim(min(heights) / 3, max(heights) * 4)
        ax.set_xticks(range(len(panel)), [f"{r.model}\nb{r.batch}" for r in panel])
        ax.set_xlim(-0.5, max(len(panel), 1) - 0.5)
        ax.set_ylabel("ms per call (log)")
        ax.set_title(label, fontsize="medium")
        ax.grid(axis="y", which="both", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle((title + "; " if title else "") + "lower is better; x: failed or skipped", fontsize="medium")
    fig.legend(handles, labels, ncol=len(SYSTEMS), loc="outside lower center", fontsize="small", frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
