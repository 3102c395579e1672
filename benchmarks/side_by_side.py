"""optc against PyTorch eager, torch.compile and torch.compile(mode="reduce-overhead"), whole
models, same inputs, same GPU, same process. On the GPU machine, from the repository root:

    PYTHONPATH=$PWD python3 benchmarks/side_by_side.py --json $OUT/side_by_side.json --png $OUT/side_by_side.png

(everything: 6 models x 2 batches x 4 systems, fp16; narrow it with e.g. `--models resnet50
bert --batches 1`). It needs torch, torchvision and transformers (build_zoo's builders);
zoo files missing from `--zoo` are exported first, once.

For each model (ResNet-50, MobileNetV2, BERT-base s128, GPT-2 s128, ViT-B/16, the MLP
recommender) and batch (1, and a throughput batch: 32 vision, 8 text, 256 recommender):

- optc: the zoo's ONNX file imported at that batch, built into an engine at `--precision`
  (build time reported: import, passes, NVRTC, load), timed replaying its CUDA graph with
  its inputs already in place;
- PyTorch: the model from the same builder and seed (the ONNX file was exported from it,
  so the weights are the same), `.half()`, run eager, under `torch.compile` and under
  `torch.compile(mode="reduce-overhead")` (CUDA graphs), static shapes, on the same input
  values; cuDNN autotuning on and CNNs channels-last, PyTorch's own best settings;
- optc's outputs against eager's: max |optc - eager| / max |eager| over each output;
- timing: CUDA events around `--calls` back-to-back calls after a warm-up, `--groups`
  times; the median is the ms per call; speed-ups are rival ms / optc ms (above 1: optc
  is faster);
- the roofline floor: the model's matmul/conv FLOPs (counted on the imported graph) at the
  rate of a large fp16 torch.matmul, and its weight bytes (gathered rows only, for
  embedding tables) at the copy rate of a 1 GiB device-to-device copy, both measured at
  the start of the run; the floor is the larger, and optc / floor says how far optc is.

Whatever fails (an export, an engine build, a torch.compile) is reported in its cell and
the run goes on. Output: progress lines on stderr when it is a terminal (or `--progress`),
the Markdown table last on stdout, `--json` (rewritten after every row, so a run cut short
keeps what finished) and `--png` (grouped bars of ms per call, one panel per batch kind).
`--time-limit` (default 540 s) skips what would start after it, so one 10-minute call of
the GPU machine always ends with a table. Where the whole zoo does not fit in one call, run
it in parts into one file, then print the table of all of it:

    PYTHONPATH=$PWD python3 benchmarks/side_by_side.py --models resnet50 mobilenet_v2 vit --json $OUT/sbs.json --png $OUT/sbs.png
    PYTHONPATH=$PWD python3 benchmarks/side_by_side.py --models bert gpt2 recommender --append --json $OUT/sbs.json --png $OUT/sbs.png
    python3 benchmarks/side_by_side.py --report-only --json $OUT/sbs.json --png $OUT/sbs.png
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(ROOT), str(HERE)) if p not in sys.path]

from side_by_side_report import (  # noqa: E402
    OPTC,
    SYSTEMS,
    TITLES,
    Ceilings,
    Measurement,
    Row,
    finish_row,
    markdown_table,
    measure,
    median,
    one_line,
    read_json,
    scaled_errors,
    write_json,
    write_png,
)
from side_by_side_systems import THROUGHPUT_BATCH  # noqa: E402

MODELS = ("resnet50", "mobilenet_v2", "bert", "gpt2", "vit", "recommender")
THROUGHPUT = "throughput"
REFERENCE = "eager"  # optc's outputs are checked against this system's


# --- what to run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    groups: int = 20
    calls: int = 10
    warmup: int = 10
    time_limit_s: float = 0.0  # 0: none

    def __post_init__(self):
        if self.groups < 1 or self.calls < 1 or self.warmup < 0:
            raise ValueError("--groups and --calls must be at least 1, --warmup at least 0")


def _batch_token(text: str) -> str:
    if text in (THROUGHPUT, "t"):
        return THROUGHPUT
    try:
        if int(text) >= 1:
            return str(int(text))
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"a batch is a positive integer or '{THROUGHPUT}', got '{text}'")


def cases(models: Sequence[str], batches: Sequence[str]) -> list[tuple[str, int, str]]:
    """(model, batch, panel label) in run order: every model with each batch token, where
    `throughput` is the model's own throughput batch; duplicates dropped."""
    out, seen = [], set()
    for model in models:
        for token in batches:
            batch = THROUGHPUT_BATCH[model] if token == THROUGHPUT else int(token)
            label = "throughput batch" if token == THROUGHPUT else f"batch {batch}"
            if batch == 1:
                label = "batch 1"
            if (model, batch) not in seen:
                seen.add((model, batch))
                out.append((model, batch, label))
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="default: all")
    parser.add_argument(
        "--batches",
        nargs="+",
        type=_batch_token,
        default=["1", THROUGHPUT],
        help=f"batch sizes; '{THROUGHPUT}' is each model's own ({', '.join(f'{m} {b}' for m, b in THROUGHPUT_BATCH.items())}); default: 1 {THROUGHPUT}",
    )
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS), help="default: all four")
    parser.add_argument("--precision", choices=("fp16", "bf16", "fp32"), default="fp16")
    parser.add_argument("--groups", type=int, default=20, help="timed groups per system (median taken); default 20")
    parser.add_argument("--calls", type=int, default=10, help="back-to-back calls per group; default 10")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls before timing; default 10")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "side_by_side.json")
    parser.add_argument("--png", type=Path, default=ROOT / "build" / "side_by_side.png")
    parser.add_argument("--zoo", type=Path, default=HERE / "zoo", help="ONNX files, exported here if missing")
    parser.add_argument(
        "--time-limit", type=float, default=540.0, help="seconds; work that would start later is skipped (0: none)"
    )
    parser.add_argument("--progress", action="store_true", help="progress lines on stderr even when not a terminal")
    parser.add_argument(
        "--append", action="store_true", help="keep the rows already in --json that this run does not measure again"
    )
    parser.add_argument(
        "--report-only", action="store_true", help="no run: the table and the chart from the results in --json"
    )
    args = parser.parse_args(argv)
    if args.groups < 1 or args.calls < 1 or args.warmup < 0:
        parser.error("--groups and --calls must be at least 1, --warmup at least 0")
    return args


# --- progress -----------------------------------------------------------------------------------


class Progress:
    """Lines on stderr with the elapsed time, only where someone watches (a terminal)."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(f"[side-by-side {self.elapsed():6.1f} s] {message}", file=sys.stderr, flush=True)


# --- running ------------------------------------------------------------------------------------


def run_system(session, system: str, batch: int, settings: Settings) -> tuple[Measurement, dict | None]:
    """Build (optc) or prepare one system, call it once for its outputs (the first call's
    wall time is torch.compile's compile time), warm up, time. Any failure is the result."""
    result, outputs, runner = Measurement(), None, None
    try:
        runner = session.runner(system, batch)
        result.build_s = getattr(runner, "build_s", None)
        start = time.perf_counter()
        runner()
        outputs = runner.outputs()
        result.first_call_s = time.perf_counter() - start
        result.groups_ms = measure(runner, runner.clock, settings.groups, settings.calls, settings.warmup)
        result.ms = median(result.groups_ms)
    except Exception as e:  # one system failing must not stop the others
        result.error = one_line(e)
        result.traceback = traceback.format_exc()[-3000:]
    finally:
        if runner is not None:
            try:
                runner.close()
            except Exception:
                pass
    return result, outputs


def run_case(
    session,
    model: str,
    batch: int,
    label: str,
    systems: Sequence[str],
    settings: Settings,
    ceilings: Ceilings | None,
    progress: Callable[[str], None],
    deadline: float | None = None,
) -> Row:
    row = Row(model, batch, label)
    try:
        row.flops, row.weight_bytes = session.cost(batch)
    except Exception as e:
        row.cost_error = one_line(e)
    outputs = {}
    for system in systems:
        if deadline is not None and time.perf_counter() > deadline:
            row.systems[system] = Measurement(error="skipped: past --time-limit")
            continue
        progress(f"{model} b{batch}: {TITLES[system]} ...")
        row.systems[system], outputs[system] = run_system(session, system, batch, settings)
        m = row.systems[system]
        done = (
            f"error: {m.error}"
            if m.error
            else f"{m.ms:.3f} ms"
            + (f", built in {m.build_s:.1f} s" if m.build_s else "")
            + (f", first call {m.first_call_s:.1f} s" if m.first_call_s and m.first_call_s > 1 else "")
        )
        progress(f"{model} b{batch}: {TITLES[system]}: {done}")
    if OPTC in systems and REFERENCE in systems:
        if outputs.get(OPTC) is None or outputs.get(REFERENCE) is None:
            failed = [TITLES[s] for s in (OPTC, REFERENCE) if outputs.get(s) is None]
            row.check_error = f"not checked: {' and '.join(failed)} did not run"
        else:
            try:
                row.rel_err = scaled_errors(outputs[OPTC], outputs[REFERENCE])
                row.max_rel_err = max(row.rel_err.values())
            except Exception as e:
                row.check_error = one_line(e)
    return finish_row(row, ceilings)


def run_all(
    open_session: Callable[[str], object],
    todo: Sequence[tuple[str, int, str]],
    systems: Sequence[str],
    settings: Settings,
    ceilings: Ceilings | None,
    progress: Progress,
    on_row: Callable[[list[Row]], None] = lambda rows: None,
) -> list[Row]:
    """Every case, one model's session at a time (its batches share it: one PyTorch build,
    one compiled model per mode). A model that cannot be opened fails its rows only."""
    rows: list[Row] = []
    deadline = progress.started + settings.time_limit_s if settings.time_limit_s > 0 else None
    models = list(dict.fromkeys(model for model, _, _ in todo))
    for model in models:
        batches = [(b, label) for m, b, label in todo if m == model]
        if deadline is not None and time.perf_counter() > deadline:
            rows += [Row(model, b, label, error="skipped: past --time-limit") for b, label in batches]
            on_row(rows)
            continue
        progress(f"{model}: preparing")
        try:
            session = open_session(model)
        except Exception as e:
            progress(f"{model}: error: {one_line(e)}")
            rows += [Row(model, b, label, error=one_line(e)) for b, label in batches]
            on_row(rows)
            continue
        try:
            for batch, label in batches:
                rows.append(run_case(session, model, batch, label, systems, settings, ceilings, progress, deadline))
                on_row(rows)
        finally:
            session.close()
    return rows


# --- the report around the rows ----------------------------------------------------------------------


def git_commit() -> str | None:
    """The commit being measured: OPTC_COMMIT when set (a copied checkout may carry stale
    git metadata, as the GPU machine's does), else git's HEAD with '+dirty' for
    uncommitted changes."""
    if os.environ.get("OPTC_COMMIT"):
        return os.environ["OPTC_COMMIT"]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def meta(
    args: argparse.Namespace, settings: Settings, device: dict, ceilings: Ceilings | None, argv: Sequence[str]
) -> dict:
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": " ".join(["python3", "benchmarks/side_by_side.py", *argv]),
        "precision": args.precision,
        "settings": asdict(settings),
        "systems": {s: TITLES[s] for s in args.systems},
        "speedup": "rival ms / optc ms (above 1: optc is faster)",
        "max_rel_err": "max over outputs of max|optc - eager| / max|eager|",
        "floor": "max(FLOPs / matmul rate, weight bytes / copy rate), rates measured in this run",
        "ceilings": asdict(ceilings) if ceilings else None,
        **device,
    }


def header(m: dict) -> str:
    c = m.get("ceilings") or {}
    parts = [
        m.get("device", "?"),
        f"torch {m.get('torch', '?')}",
        f"commit {m.get('commit') or '?'}",
        m["date"],
        m["precision"],
    ]
    lines = [", ".join(parts)]
    if c:
        lines.append(
            f"ceilings: {c['matmul_tflops']:.0f} TFLOP/s ({c['matmul_what']}), {c['copy_gbps']:.0f} GB/s ({c['copy_what']})"
        )
    s = m["settings"]
    lines.append(
        f"median of {s['groups']} groups of {s['calls']} calls after {s['warmup']} warm-up calls; `{m['command']}`"
    )
    return "\n".join(lines)


def gpu_device() -> tuple[dict, Callable[..., Ceilings]]:
    """What the GPU run needs, imported only then: the device's description and the
    ceiling measurement."""
    import torch
    from side_by_side_systems import configure_torch, measure_ceilings

    from runtime.cuda import Device, current_context

    current_context()  # optc's driver context is the primary one, which torch shares
    device = Device(0)
    info = {"device": device.name, "arch": device.arch, "torch": torch.__version__, "torch_settings": configure_torch()}
    return info, measure_ceilings


def merge_rows(earlier: Sequence[Row], new: Sequence[Row]) -> list[Row]:
    """Rows of an earlier run (`--append`) with this run's replacing those of the same
    (model, batch); in the zoo's model order, then by batch."""
    rows = {(r.model, r.batch): r for r in earlier} | {(r.model, r.batch): r for r in new}
    order = {m: i for i, m in enumerate(MODELS)}
    return sorted(rows.values(), key=lambda r: (order.get(r.model, len(order)), r.model, r.batch))


def publish(args: argparse.Namespace, report: dict, rows: list[Row]) -> None:
    """The chart, then the header and the table on stdout (last)."""
    if args.png:
        try:
            write_png(args.png, rows, f"{report.get('device', '?')}, {report.get('precision', '?')}, ms per call")
        except Exception as e:  # a missing matplotlib must not lose the table
            print(f"no chart: {one_line(e)}", file=sys.stderr)
    print(header(report))
    print()
    print(markdown_table(rows))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    earlier_meta, earlier = {}, []
    if args.report_only or args.append:
        if not args.json or not args.json.exists():
            print(
                f"side_by_side: no results at {args.json} to {'report' if args.report_only else 'append to'}",
                file=sys.stderr,
            )
            return 2
        earlier_meta, earlier = read_json(args.json)
        if args.report_only:
            publish(args, earlier_meta, earlier)
            return 0
    settings = Settings(args.groups, args.calls, args.warmup, args.time_limit)
    progress = Progress(True if args.progress else None)
    todo = cases(args.models, args.batches)

    from side_by_side_systems import TorchSession

    info, measure_ceilings = gpu_device()
    progress("measuring the matmul and copy ceilings")
    ceilings = measure_ceilings(settings.groups, settings.calls, settings.warmup, args.precision)
    progress(f"ceilings: {ceilings.matmul_tflops:.0f} TFLOP/s, {ceilings.copy_gbps:.0f} GB/s")
    report = meta(args, settings, info, ceilings, argv)
    kept: list[Row] = []
    if args.append:
        kept = earlier
        past = [{k: earlier_meta.get(k) for k in ("date", "commit", "command", "device")}]
        report["earlier_runs"] = earlier_meta.get("earlier_runs", []) + past

    def save(rows: list[Row]) -> None:
        if args.json:
            write_json(args.json, report, merge_rows(kept, rows))

    rows = run_all(
        lambda model: TorchSession(model, args.zoo, args.precision, progress),
        todo,
        args.systems,
        settings,
        ceilings,
        progress,
        save,
    )
    report["seconds"] = round(progress.elapsed(), 1)
    save(rows)
    publish(args, report, merge_rows(kept, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
