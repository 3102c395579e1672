"""`optc-run`: build a model and run it, in the spirit of `trtexec`.

    optc-run MODEL [--device cpu|cuda] [--precision fp32|fp16|bf16] [--inputs in.npz]
             [--output out.npz] [--shape NAME=DIMS ...] [--seed N] [-p PIPELINE] [--repeat N]
             [--compare reference|onnxruntime [--onnx MODEL.onnx]] [--save-engine FILE]
             [--tune none|fast|full] [--tune-time-limit SECONDS] [--timing-cache PATH]
             [--profile [--profile-runs N] [--profile-png PNG]] [--memory-report PNG] [--json FILE]

MODEL is an ONNX file (imported, with `--shape` fixing symbolic dimensions) or IR saved
by `optc -o FILE.mlir` (its weights file beside it). The pipeline (`default` unless `-p`
says otherwise) compiles it as far as optc goes, then the reference interpreter runs it
on the inputs of `in.npz` (one array per model input, keyed by the input's name) or on
seeded random inputs. `out.npz` receives one array per output, keyed by the output's name.
`--compare onnxruntime` runs the ONNX model in onnxruntime on the same inputs and checks
every output with numpy's `allclose` rule, |ours - theirs| <= atol + rtol * |theirs|.

With `--device cuda` the model is compiled to the kernel level (the pipeline, then
`lower-to-kernels`), its kernels generated and compiled with NVRTC, and the engine run on
the GPU through a CUDA graph; the report adds the arena beside the naive sum and the lower
bound, and the GPU time per run (CUDA events, after a warm-up). `--compare reference` runs
the imported model in the reference interpreter on the same inputs. MODEL may also be an
engine saved with `--save-engine`, which runs without compiling.

Before the engine is compiled, the autotuner times each kernel's tactics on the GPU and
keeps the fastest correct one (`--tune fast`, the default; `full` tries every tactic,
`none` keeps the heuristic's), within `--tune-time-limit` seconds, through the timing
cache (`--timing-cache`, default the shared one: docs/tuning.md). The report adds a line
on what tuning did; with `--profile`, a table of each kernel's winner, its time, the
runner-up's and the heuristic's.

`--profile` (with `--device cuda`) times every launch with CUDA events and prints a table,
slowest first: the kernel, the ops it fused, its median time and share, and its achieved
bandwidth or FLOP/s against the GPU's copy and matmul ceilings measured in the same run
(`runtime/engine/profile.py`); `--profile-png` draws it. `--memory-report PNG` prints the
arena beside the naive sum and the lower bound and draws every buffer's lifetime at its
offset. `--json FILE` writes the report (times, memory, profile, comparison) for machines.

Every failure is one line, `optc-run: error: ...`, and exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from collections.abc import Mapping, Sequence

import numpy as np

from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser

from compiler.accuracy import TOLERANCES, Diff, compare
from compiler.autotune import MODES, format_tune_report, summary_line
from compiler.calibration.flags import add_calibration_arguments, calibration_options
from compiler.errors import DEBUG_FLAG, DEBUG_HELP, handle
from compiler.pipelines import PRECISIONS, build, with_precision
from dialects.dtypes import describe_array
from dialects.errors import OptcError, blame, pass_failed
from dialects.registry import context
from dialects.weights import clone_with_weights, from_npz_arrays, store_of, to_npz_arrays

DEVICES = ("cpu", "cuda")
COMPARE_WITH = ("reference", "onnxruntime")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is an `OptcError` like every other failure (exit 1)."""

    def error(self, message: str):
        raise OptcError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="optc-run",
        description="Compile a model with optc and run it on the GPU or with the reference interpreter.",
        epilog="example: optc-run examples/cnn.onnx --compare onnxruntime --output out.npz",
    )
    add = p.add_argument
    add(
        "model",
        metavar="MODEL",
        help="an .onnx model, .mlir saved by `optc -o` (its weights file beside it), or an .engine (--device cuda)",
    )
    add(
        "--device",
        choices=DEVICES,
        default="cpu",
        help="where to run: cpu (the reference interpreter, the default) or cuda (an engine on the GPU)",
    )
    add(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="compute precision: fp16/bf16 convert the model's float32 work (I/O keeps its types; default fp32); "
        "int8 calibrates (--calibration-data) and quantizes the contractions, the rest in fp16 (docs/calibration.md)",
    )
    add_calibration_arguments(p)
    add("--save-engine", metavar="FILE", help="with --device cuda: save the engine to FILE (runs later without compiling)")
    add(
        "--tune",
        choices=MODES,
        help="with --device cuda: time each kernel's tactics and keep the fastest correct one: "
        "fast (the default: the heuristic's and a few more), full (every tactic) or none (the heuristic's)",
    )
    add("--tune-time-limit", type=float, metavar="SECONDS", help="stop timing new tactics after SECONDS (untimed kernels keep the heuristic's)")
    add("--timing-cache", metavar="PATH", help="the timing cache file (default: $OPTC_TIMING_CACHE or ~/.cache/optc/timing-cache.json)")
    add("--inputs", metavar="IN.npz", help="one array per model input, keyed by input name (default: random)")
    add("--output", metavar="OUT.npz", help="write one array per model output, keyed by output name")
    add(
        "--shape",
        action="append",
        default=[],
        metavar="NAME=DIMS",
        help="fix an ONNX input's shape, e.g. --shape input=1x3x224x224 (repeatable)",
    )
    add("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    add(
        "-p",
        "--pipeline",
        default="default",
        metavar="PIPELINE",
        help="passes to run first, as for optc -p (default: default; '' runs the IR as given); "
        "with --device cuda, lower-to-kernels follows",
    )
    add("--repeat", type=int, default=1, metavar="N", help="run N times; report the fastest and the median")
    add(
        "--compare",
        choices=COMPARE_WITH,
        help="also run the imported model in the reference interpreter, or the ONNX model in onnxruntime, "
        "and compare the outputs",
    )
    add("--onnx", metavar="MODEL.onnx", help="the ONNX model --compare runs when MODEL is .mlir")
    add("--rtol", type=float, help="relative tolerance of --compare (default: 1e-3 for fp32, 2e-2 fp16, 6e-2 bf16)")
    add("--atol", type=float, help="absolute tolerance of --compare (default: 1e-4 for fp32, 2e-2 fp16, 6e-2 bf16)")
    add(
        "--profile",
        action="store_true",
        help="with --device cuda: time every kernel (CUDA events) and print a table, slowest first, "
        "with achieved bandwidth or FLOP/s against the GPU's measured ceilings",
    )
    add("--profile-runs", type=int, default=20, metavar="N", help="runs the profile takes the median of (default: 20)")
    add("--profile-png", metavar="PNG", help="with --device cuda: draw the profile (slowest kernels and a timeline); implies --profile")
    add(
        "--memory-report",
        metavar="PNG",
        help="with --device cuda: print the arena beside the naive sum and the lower bound, and draw buffer lifetimes against offsets",
    )
    add("--json", metavar="FILE", help="write the report (inputs, outputs, times, memory, profile, comparison) as JSON")
    add(DEBUG_FLAG, action="store_true", help=DEBUG_HELP)
    return p


# --- loading -------------------------------------------------------------------


def _load_onnx(args: argparse.Namespace, shapes: dict[str, tuple[int, ...]], given: Mapping[str, np.ndarray] | None):
    """Import the model; symbolic dimensions come from --shape, else from the given arrays."""
    from compiler.onnx_import import import_onnx, load_model

    proto = load_model(args.model)
    if given is not None:
        initializers = {i.name for i in proto.graph.initializer}
        _check_input_names(args.inputs, [i.name for i in proto.graph.input if i.name not in initializers], given)
    shapes = {**_symbolic_shapes_from(proto, given or {}), **shapes}
    return import_onnx(proto, shapes)


def _symbolic_shapes_from(proto, given: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    """Shapes for the model's symbolic inputs, taken from the arrays the user gave."""
    from compiler.onnx_import import is_static

    return {i.name: tuple(np.shape(given[i.name])) for i in proto.graph.input if i.name in given and not is_static(i)}


def _load_mlir(path: str, shapes: Mapping[str, tuple[int, ...]]) -> ModuleOp:
    if shapes:
        raise OptcError("--shape applies to .onnx models; the shapes of saved IR are already fixed")
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise OptcError(f"cannot read '{path}': {e.strerror}") from None
    module = Parser(context(), text, path).parse_module()
    module.verify()
    store_of(module, os.path.dirname(path))  # resolve the weights file beside the IR now
    return module


def _load_inputs(path: str) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` archive (`numpy.savez`), by name; never unpickles."""
    if not os.path.exists(path):
        raise OptcError(f"inputs file '{path}' does not exist")
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic == b"\x93NUMPY":
        raise OptcError(f"inputs file '{path}' holds a single array; save one array per input with numpy.savez")
    if not magic.startswith(b"PK"):
        raise OptcError(f"inputs file '{path}' is not an .npz archive (write one with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as data:
            return from_npz_arrays({name: data[name] for name in data.files})
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # damaged archive, pickled member
        raise OptcError(f"inputs file '{path}' cannot be read: {e}") from None


def _check_input_names(path: str, model_inputs: Sequence[str], given: Mapping[str, np.ndarray]) -> None:
    """Before importing: the archive must name exactly the model's inputs."""
    missing = [n for n in model_inputs if n not in given]
    unknown = [n for n in given if n not in model_inputs]
    if missing or unknown:
        problems = [f"lacks {', '.join(missing)}"] if missing else []
        problems += [f"has unknown {', '.join(unknown)}"] if unknown else []
        raise OptcError(
            f"inputs file '{path}' {' and '.join(problems)}; the model's inputs are {', '.join(model_inputs)}"
        )


# --- compiling and running -----------------------------------------------------


def _compile(module: ModuleOp, spec: str, target=None) -> None:
    """Run the pipeline, verifying after every pass as optc does (a progress line names
    the pass on a terminal); kernels are configured for `target` when one is given."""
    from compiler.progress import Progress

    ctx = context()
    passes = build(spec, target)
    with Progress("running passes", len(passes)) as progress:
        for compiler_pass in passes:
            progress.advance(0, compiler_pass.name)
            with blame(lambda: pass_failed(compiler_pass.name)):
                compiler_pass.apply(ctx, module)
            module.verify()
            progress.advance()


def _run(module: ModuleOp, inputs: Mapping[str, np.ndarray], repeat: int) -> tuple[dict[str, np.ndarray], list[float]]:
    from runtime.reference import run

    times, outputs = [], {}
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = run(module, inputs)
        times.append(time.perf_counter() - start)
    return outputs, times


def _run_onnxruntime(path: str, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise OptcError("--compare onnxruntime needs onnxruntime (pip install onnxruntime)") from None
    try:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, dict(inputs))))
    except Exception as e:  # noqa: BLE001  (onnxruntime has its own exception types for bad models and inputs)
        raise OptcError(f"onnxruntime could not run '{path}': {e}") from None


# --- reporting -----------------------------------------------------------------


def _section(title: str, arrays: Mapping[str, np.ndarray], note: str = "") -> list[str]:
    width = max((len(n) for n in arrays), default=0)
    return [f"{title}:"] + [f"  {n:<{width}}  {describe_array(a)}{note}" for n, a in arrays.items()]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


# --- main ----------------------------------------------------------------------


def _check_args(args: argparse.Namespace) -> None:
    if args.repeat < 1:
        raise OptcError(f"--repeat must be at least 1, got {args.repeat}")
    if args.compare == "onnxruntime" and not (args.onnx or args.model.endswith(".onnx")):
        raise OptcError(f"--compare {args.compare} needs the ONNX model: give --onnx MODEL.onnx for '{args.model}'")
    if args.model.endswith(".engine"):
        if args.device != "cuda":
            raise OptcError(f"'{args.model}' is an engine: run it with --device cuda")
        if args.compare == "reference":
            raise OptcError("--compare reference needs the model, not an engine: use --compare onnxruntime --onnx MODEL.onnx")
    elif not args.model.endswith((".onnx", ".mlir")):
        raise OptcError(f"'{args.model}' is neither an .onnx model, .mlir IR nor an .engine")
    if args.save_engine and args.device != "cuda":
        raise OptcError("--save-engine needs --device cuda")
    if args.precision != "fp32" and args.pipeline != "default":
        raise OptcError("--precision picks the pipeline: give either --precision or -p, not both")
    calibration_options(args, args.precision)
    _check_tuning_args(args)
    _check_report_args(args)
    if not os.path.exists(args.model):
        raise OptcError(f"model file '{args.model}' does not exist")


def _check_tuning_args(args: argparse.Namespace) -> None:
    """Tuning happens while an engine is built: it needs --device cuda and a model."""
    from runtime.tuning.cache import check_path

    given = [flag for flag, value in (("--tune", args.tune), ("--tune-time-limit", args.tune_time_limit), ("--timing-cache", args.timing_cache)) if value is not None]
    if given and args.device != "cuda":
        raise OptcError(f"{given[0]} needs --device cuda (it tunes the GPU engine's kernels)")
    if given and args.model.endswith(".engine"):
        raise OptcError(f"{given[0]} applies when building a model; '{os.path.basename(args.model)}' is an engine, built already")
    if args.tune_time_limit is not None and not args.tune_time_limit >= 0:
        raise OptcError(f"--tune-time-limit must be a non-negative number of seconds, got {args.tune_time_limit:g}")
    if args.timing_cache is not None:
        check_path(args.timing_cache)


def _check_report_args(args: argparse.Namespace) -> None:
    """The profile and the memory report are the engine's: they need --device cuda, and
    charts need matplotlib (said before a long build, not after)."""
    args.profile = args.profile or bool(args.profile_png)
    for flag, given in (("--profile", args.profile), ("--memory-report", args.memory_report)):
        if given and args.device != "cuda":
            raise OptcError(f"{flag} needs --device cuda (it reports on the GPU engine)")
    if args.profile_runs < 1:
        raise OptcError(f"--profile-runs must be at least 1, got {args.profile_runs}")
    for flag, path in (("--profile-png", args.profile_png), ("--memory-report", args.memory_report)):
        if path:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise OptcError(f"{flag} draws with matplotlib, which is not installed (pip install matplotlib)") from None


def _pipeline(args: argparse.Namespace, module: ModuleOp | None) -> str:
    """The pipeline to run; at int8, after calibrating `module` (None: an engine, built already)."""
    spec = args.pipeline if args.device == "cpu" else ",".join(p for p in (args.pipeline, "lower-to-kernels") if p)
    if args.precision == "int8" and module is not None:
        from compiler.calibration import int8_pipeline

        return int8_pipeline(module, spec, calibration_options(args, args.precision))
    return with_precision(spec, args.precision) if args.precision != "int8" else spec


def _load_model(args, shapes, given) -> ModuleOp:
    return _load_onnx(args, shapes, given) if args.model.endswith(".onnx") else _load_mlir(args.model, shapes)


def run_main(args: argparse.Namespace) -> tuple[list[str], str | None]:
    """Do what the arguments say; returns the report's lines and, when the outputs do not
    match the reference or onnxruntime, the error to end with (other failures raise OptcError)."""
    from compiler.onnx_import import parse_shapes

    _check_args(args)
    if args.rtol is None or args.atol is None:
        rtol, atol = TOLERANCES[args.precision]
        args.rtol = rtol if args.rtol is None else args.rtol
        args.atol = atol if args.atol is None else args.atol
    shapes = parse_shapes(args.shape)
    given = _load_inputs(args.inputs) if args.inputs else None
    report = [f"model: {args.model}"]
    data: dict = {"model": args.model, "device": args.device, "precision": args.precision}
    try:
        report, failure = _run_and_report(args, shapes, given, report, data)
    except Exception as e:  # every failure main() reports, recorded for machines too
        data.update(ok=False, error=str(e))
        _write_json(args, data)
        raise
    data["ok"] = failure is None
    _write_json(args, data)
    return report, failure


def _write_json(args: argparse.Namespace, data: dict) -> None:
    if args.json:
        from compiler.reports import write_json

        write_json(args.json, data)


def _arrays_json(arrays: Mapping[str, np.ndarray]) -> dict:
    return {n: {"dtype": str(a.dtype), "shape": list(a.shape)} for n, a in arrays.items()}


def _run_and_report(args, shapes, given, report: list[str], data: dict) -> tuple[list[str], str | None]:
    """run_main's work; `data` receives what --json writes."""
    start = time.perf_counter()
    imported = None if args.model.endswith(".engine") else _load_model(args, shapes, given)
    reference = clone_with_weights(imported) if args.compare == "reference" else None
    loaded = time.perf_counter()
    spec = _pipeline(args, imported)
    target = None
    if imported is not None and args.device == "cuda":
        from compiler.engine_build import device_target

        target = device_target()  # the engine runs here: configure for this GPU
    if imported is not None:
        _compile(imported, spec, target)
    compiled = time.perf_counter()

    if args.device == "cpu":
        inputs = given if given is not None else _random_inputs(imported, None, args.seed)
        outputs, times = _run(imported, inputs, args.repeat)
        timing = f"run: {_ms(min(times))} on cpu (reference interpreter)"
    else:
        tuning = _tune(args, imported, target)
        engine, build_line = _engine(args, imported, time.perf_counter(), target)
        data["engine"] = {
            "gpu": engine.device.name,
            "arch": engine.plan.arch,
            "kernels": len(engine.plan.kernels),
            "launches": len(engine.plan.launches),
            "build_ms": (time.perf_counter() - compiled) * 1000 if imported is not None else None,
            "region_bytes": dict(engine.plan.region_bytes),
        }
        compiled = time.perf_counter()
        inputs = given if given is not None else _random_inputs(None, engine.plan, args.seed)
        outputs, times = _run_cuda(engine, inputs, args.repeat)
        timing = f"run: {_ms(min(times))} on {engine.device.name} (CUDA graph of {len(engine.plan.launches)} launches)"
        if tuning is not None:
            report.append(summary_line(tuning))
            data["tuning"] = tuning.to_json()
        report.append(build_line)
    source = f"from {args.inputs}" if given is not None else f"random, seed {args.seed}"
    report += _section("inputs", inputs, f"  ({source})")
    report += _section("outputs", outputs)
    if imported is not None:
        report.append(f"load: {_ms(loaded - start)}, compile (-p '{spec}'): {_ms(compiled - loaded)}")
    if len(times) > 1:
        timing += f"; fastest of {len(times)}, median {_ms(float(np.median(times)))}"
    report.append(timing)
    data["inputs"], data["outputs"] = _arrays_json(inputs), _arrays_json(outputs)
    data["times_ms"] = {
        **({"load": (loaded - start) * 1000, "compile": (compiled - loaded) * 1000} if imported is not None else {}),
        "runs": [t * 1000 for t in times],
        "fastest": min(times) * 1000,
        "median": float(np.median(times)) * 1000,
    }
    if imported is not None:
        data["pipeline"] = spec
    if args.device == "cuda":
        report += _engine_reports(args, engine, inputs, data, tuning)

    if args.output:
        _save(args.output, outputs)
        report.append(f"wrote {len(outputs)} output(s) to {args.output}")
    if not args.compare:
        return report, None
    if args.compare == "reference":
        from runtime.reference import run

        theirs, what = run(reference, inputs), "the reference interpreter"
    else:
        theirs, what = _run_onnxruntime(args.onnx or args.model, inputs), "onnxruntime"
    lines, failure, diffs = _compare_report(args, outputs, theirs, what)
    data["compare"] = {
        "with": args.compare,
        "rtol": args.rtol,
        "atol": args.atol,
        "outputs": [{**vars(d), "ok": d.ok} for d in diffs],
        "ok": failure is None,
    }
    return report + lines, failure


def _engine_reports(args: argparse.Namespace, engine, inputs, data: dict, tuning) -> list[str]:
    """The memory report, and the tuning table and the profile, as --memory-report and
    --profile ask."""
    from compiler import reports

    lines = []
    data["memory"] = reports.memory_json(engine.plan)
    if args.memory_report:
        lines += reports.format_memory(engine.plan)
        reports.draw_memory(engine.plan, args.memory_report)
        lines.append(f"  buffer lifetimes drawn in {args.memory_report}")
    if args.profile and tuning is not None and not tuning.skipped:
        lines += ["tuned kernels:", *format_tune_report(tuning)[1:]]
    if args.profile:
        from runtime.engine.profile import profile_engine

        profile = profile_engine(engine, inputs, runs=args.profile_runs)
        data["profile"] = profile.to_json()
        lines += reports.format_profile(profile)
        if args.profile_png:
            reports.draw_profile(profile, args.profile_png)
            lines.append(f"  profile drawn in {args.profile_png}")
    return lines


def _random_inputs(module: ModuleOp | None, plan, seed: int) -> dict[str, np.ndarray]:
    """Seeded inputs for a module, or for an engine's plan (the same arrays either way)."""
    from runtime.reference.inputs import random_arrays, random_inputs

    if module is not None:
        return random_inputs(module, seed)
    bf16 = "bfloat16"
    return random_arrays(
        ((s.name, s.shape, np.dtype(np.float32 if s.dtype == bf16 else s.dtype), s.dtype == bf16) for s in plan.inputs),
        seed,
    )


def _tune(args: argparse.Namespace, module: ModuleOp | None, target):
    """Tune the kernel-level module's launches (configured for `target`, this GPU) on this
    GPU (the TuneReport), or None for an engine read from a file; the timing cache's
    warnings go to stderr."""
    from compiler.engine_build import tune_kernels

    if module is None:
        return None
    report = tune_kernels(module, target, None, True, args.tune, args.tune_time_limit, args.timing_cache)
    for warning in report.warnings:
        print(warning, file=sys.stderr)
    return report


def _engine(args: argparse.Namespace, module: ModuleOp | None, compiled: float, target):
    """The engine to run (built from the kernel-level module for `target`, or read from a
    file), and a report line on how it was made, its kernels' tactics and its memory."""
    from collections import Counter

    from compiler.engine_build import compile_engine
    from runtime.engine.engine import Engine
    from runtime.engine.file import read_engine

    if module is None:
        image, how = read_engine(args.model), "engine: loaded"
    else:
        image = compile_engine(module, target.arch, target)
        how = f"engine: {len(image.plan.kernels)} kernels compiled with NVRTC in {_ms(time.perf_counter() - compiled)}"
    tactics = Counter(k.tactic for k in image.plan.kernels)
    how += " (tactics: " + ", ".join(f"{name} {n}" for name, n in sorted(tactics.items(), key=lambda kv: (-kv[1], kv[0]))) + ")"
    engine = Engine(image)
    if args.save_engine:
        engine.save(args.save_engine)
        how += f", saved to {args.save_engine}"
    memory = image.plan.memory
    if memory:
        ratio = memory["bytes"] / memory["lower_bound"] if memory["lower_bound"] else 1.0
        how += (
            f"; arena {_mib(memory['bytes'])} (naive {_mib(memory['naive'])}, lower bound "
            f"{_mib(memory['lower_bound'])}, {ratio:.3f}x), weights {_mib(image.plan.region_bytes['weights'])}"
        )
    return engine, how


def _mib(nbytes: int) -> str:
    return f"{nbytes / (1 << 20):.2f} MiB"


def _run_cuda(engine, inputs: Mapping[str, np.ndarray], repeat: int) -> tuple[dict[str, np.ndarray], list[float]]:
    """Outputs of one run; GPU seconds per replay of the launch sequence (after a warm-up)."""
    from runtime.cuda import Event

    outputs = engine.run(inputs)
    times = []
    start, end = Event(), Event()
    for _ in range(repeat):
        start.record(engine.stream)
        engine.execute()
        end.record(engine.stream)
        end.synchronize()
        times.append(start.elapsed_ms(end) / 1000)
    return outputs, times


def _save(path: str, outputs: Mapping[str, np.ndarray]) -> None:
    try:
        with open(path, "wb") as f:
            np.savez(f, **to_npz_arrays(outputs))
    except OSError as e:
        raise OptcError(f"cannot write '{path}': {e.strerror}") from None


def _compare_report(args: argparse.Namespace, outputs, theirs, what: str) -> tuple[list[str], str | None, list[Diff]]:
    if set(theirs) != set(outputs):
        raise OptcError(f"outputs differ by name: optc gives {', '.join(outputs)}, {what} gives {', '.join(theirs)}")
    diffs = [compare(outputs[n], theirs[n], n, args.rtol, args.atol) for n in theirs]
    width = max(len(d.name) for d in diffs)
    lines = [f"compare with {what} (rtol {args.rtol:g}, atol {args.atol:g}):"]
    for d in diffs:
        verdict = "ok" if d.ok else d.problem or f"FAIL: {d.mismatched} of {d.size} elements out of tolerance"
        lines.append(f"  {d.name:<{width}}  max abs err {d.max_abs:.3g}  max rel err {d.max_rel:.3g}  {verdict}")
    failed = ", ".join(d.name for d in diffs if not d.ok)
    if failed:
        return lines, f"output(s) {failed} differ from {what} beyond rtol {args.rtol:g}, atol {args.atol:g}", diffs
    lines.append(f"PASS: every output matches {what}")
    return lines, None, diffs


def main(argv: Sequence[str] | None = None) -> int:
    return handle("optc-run", lambda: _main(argv), argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    report, failure = run_main(args)
    print("\n".join(report))
    if failure:
        raise OptcError(failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
