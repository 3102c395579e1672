"""The autotuner (DESIGN.md "Tactics and tuning"): for every kernel of a kernel-level module,
time the tactics its generator declares on this GPU and keep the fastest one that computes
the same answer as the heuristic's.

    report = tune(module, target=TARGETS["sm_90"], mode="fast")   # sets each kernel.func's launch
    print("\\n".join(format_tune_report(report)))

What is tuned. Kernels are grouped by signature (`kernel_signature`: the kernel.func printed
without its name and its launch, the architecture and the generators' code), so a layer
repeated twelve times is tuned once and all twelve get the winner. Each signature's
candidates come from `tactics(kernel)`, the heuristic's first; `mode` says how many are
tried: `none` (none: the heuristic's launch stays), `fast` (the heuristic's and the next
`FAST_CANDIDATES - 1` in the order given) or `full` (all).

How. Timings are looked up in the timing cache (runtime/tuning/cache.py) under this
device's key; the missing candidates are emitted, compiled in parallel (NVRTC releases the
GIL) and timed one at a time (`measure`: by default the GPU timer, runtime/tuning/timer.py).
A candidate may win only if its outputs match the heuristic's on the same inputs
(`output_mismatch`), so whenever a signature has a candidate to time, the heuristic's
tactic runs too. A tactic that cannot be emitted, compiled or launched, or that gives
another answer, is dropped with a note and recorded as failed, so it is not tried again on
this device; none of that stops the build. Every new timing is saved to the cache, and the
winner is then chosen from the cache's timings alone (`choose`), so two builds from one
cache choose the same tactics.

`time_limit` (seconds, counted from the start) stops the timing of new candidates when it
is spent; a signature with nothing timed keeps the heuristic's launch.

Library tactics (cuBLASLt, cuDNN: passes/codegen/library) are candidates like any other
where their library loads, listed after the family's own; `fast` also tries each library's
first (its own heuristic's pick). A candidate is then the library call and its epilogue
kernel, timed together on the same buffers; its rank (`algo = i`, `plan = i`) is resolved
to the library's list on this GPU, and one past the end of that list is dropped with a
note. Where a library does not load, the report says so once (`TuneReport.notes`).
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr

from compiler.accuracy import compare
from compiler.progress import Progress
from dialects.errors import OptcError
from dialects.kernel import LAUNCH_ATTR, FuncOp, LaunchAttr
from runtime.engine.plan import device_dtype
from runtime.tuning.cache import DeviceKey, Failed, Timing, TimingCache
from runtime.tuning.timer import ContextLost, KernelRun, Measurement

MODES = ("none", "fast", "full")
FAST_CANDIDATES = 4
"""Mode `fast` tries the heuristic's tactic and at most the next three the generator lists
(its order is its estimate of what is likely best), and each library tactic's first
candidate (the library's own best guess); `full` tries every one."""
TIE_MARGIN = 0.02
"""A tactic must be more than 2% faster than an earlier one to be chosen over it: timing
noise between runs is about 1%, so closer times are a tie, and a tie keeps the earlier
tactic (the heuristic's first), which makes the choice stable."""
RTOL = {"float64": 1e-9, "float32": 1e-4, "float16": 5e-3, "bfloat16": 4e-2}
"""Relative tolerance of a candidate's float outputs against the heuristic's, by element
type (about 5 ulps of f16 and bf16, whose results are rounded once from fp32 accumulators;
fp32 sums in another order). The absolute tolerance is the same fraction of the heuristic
output's largest finite magnitude, so long sums that cancel are judged by their scale.
Other float types (fp8, fp4): OTHER_FLOAT_ULPS ulps. Integers and booleans must be equal,
and NaN must appear exactly where the heuristic's output has NaN."""
OTHER_FLOAT_ULPS = 8

WHY_WIDTH = 200
"""Characters of a dropped tactic's reason in the report (the cache keeps all of it)."""

Tactics = Callable[[FuncOp], Sequence[LaunchAttr]]
"""A kernel's candidate launches, the heuristic's first."""


@dataclass(frozen=True)
class Candidate:
    """One tactic of one signature, compiled, as `measure` receives it."""

    kernel: str
    """The first kernel.func of the signature (the one emitted)."""
    signature: str
    launch: LaunchAttr
    run: KernelRun

    @property
    def tactic(self) -> str:
        return str(self.launch)


Measure = Callable[[Candidate], Measurement]
"""Times a compiled candidate: its median ms and its outputs on the seeded inputs."""


# --- signatures ---------------------------------------------------------------------------


@functools.cache
def generators_digest() -> str:
    """A digest of the code generators' sources: a tactic's timing (or failure) is a fact
    about the code they emit, which changes with them."""
    import passes.codegen

    root = Path(passes.codegen.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def kernel_signature(kernel: FuncOp, arch: str) -> str:
    """What a kernel's timings depend on, as a hex digest: the kernel.func printed without
    its name, its launch and its values' names, the architecture and `generators_digest`."""
    anonymous = kernel.clone()
    anonymous.attributes.pop(LAUNCH_ATTR, None)
    anonymous.properties["sym_name"] = StringAttr("kernel")
    for op in anonymous.walk():
        for value in (*op.results, *(arg for region in op.regions for block in region.blocks for arg in block.args)):
            value.name_hint = None
    text = f"{anonymous}\n{arch}\n{generators_digest()}"
    return hashlib.sha256(text.encode()).hexdigest()


def group_by_signature(kernels: Sequence[FuncOp], arch: str) -> dict[str, list[FuncOp]]:
    """The kernels by signature, in the order each signature first appears."""
    groups: dict[str, list[FuncOp]] = {}
    for kernel in kernels:
        groups.setdefault(kernel_signature(kernel, arch), []).append(kernel)
    return groups


# --- choosing and checking ----------------------------------------------------------------


def choose(timings: Sequence[Timing | None]) -> int | None:
    """The winner among candidates in their order (the heuristic's first), from their
    timings (None: not timed): the earliest whose time is within TIE_MARGIN of the fastest,
    i.e. that no candidate beats by more than the margin. So a later candidate replaces
    the heuristic's only when it is faster by more than the margin, ties keep the earlier
    one, and no candidate slower than the heuristic's can win. None if nothing was timed."""
    times = [(i, t) for i, t in enumerate(timings) if isinstance(t, float)]
    if not times:
        return None
    fastest = min(t for _, t in times)
    return next(i for i, t in times if fastest >= t * (1 - TIE_MARGIN))


def tolerance(dtype: str) -> float | None:
    """The relative tolerance of outputs of element type `dtype` (None: must be equal)."""
    if dtype in RTOL:
        return RTOL[dtype]
    numpy_type = device_dtype(dtype)
    if numpy_type.kind in "biu" or numpy_type == np.bool_:
        return None
    import ml_dtypes

    return OTHER_FLOAT_ULPS * float(ml_dtypes.finfo(numpy_type).eps)


def output_mismatch(got: np.ndarray, want: np.ndarray, dtype: str) -> str | None:
    """Why a candidate's output `got` is not the heuristic's `want` (None when it matches;
    see RTOL)."""
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"it gives {got.dtype}{list(got.shape)}, the heuristic's tactic {want.dtype}{list(want.shape)}"
    rtol = tolerance(dtype)
    if rtol is None:
        wrong = int(np.count_nonzero(got != want))
        return f"{wrong} of {want.size} elements differ (integers must be equal)" if wrong else None
    wide = np.asarray(want, np.float64)
    finite = np.abs(wide[np.isfinite(wide)])
    atol = rtol * float(finite.max(initial=0.0))
    diff = compare(got, want, "output", rtol, atol)
    if diff.ok:
        return None
    return f"{diff.mismatched} of {diff.size} elements differ beyond rtol {rtol:g}, atol {atol:.3g} (max abs error {diff.max_abs:.3g})"


# --- the report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """A tactic (its printed #kernel.launch) and its median ms (None: not timed)."""

    tactic: str
    ms: float | None


@dataclass(frozen=True)
class SignatureReport:
    """One signature: the kernels that share it and what was chosen for them."""

    signature: str
    kernels: tuple[str, ...]
    candidates: int
    default: Choice
    """The heuristic's tactic."""
    winner: Choice
    runner_up: Choice | None


@dataclass(frozen=True)
class Dropped:
    """A tactic that may not win, and why; `cached` when the cache already knew."""

    kernel: str
    tactic: str
    why: str
    cached: bool = False


@dataclass(frozen=True)
class TuneReport:
    """What tuning did: plain data for reports and JSON."""

    mode: str
    seconds: float = 0.0
    timed: int = 0
    """Candidates run on the GPU in this build."""
    cache_hits: int = 0
    """Candidates whose timing (or failure) the cache already held."""
    cut: int = 0
    """Candidates left untimed because `time_limit` was spent."""
    time_limit: float | None = None
    dropped: tuple[Dropped, ...] = ()
    signatures: tuple[SignatureReport, ...] = ()
    skipped: str = ""
    """Why nothing was tuned ("" when tuning ran)."""
    warnings: tuple[str, ...] = ()
    """One-line warnings for the caller to print (the timing cache's)."""
    notes: tuple[str, ...] = ()
    """What the candidates lacked ("vendor tactics unavailable: ..."), said once."""

    def to_json(self) -> dict:
        return asdict(self)


def _short(tactic: str) -> str:
    """A tactic without the `#kernel.launch<...>` around it."""
    return tactic.removeprefix("#kernel.launch<").removesuffix(">")


def summary_line(report: TuneReport) -> str:
    if report.skipped:
        return f"tuning: {report.skipped}; the heuristic chose every kernel's launch"
    line = (
        f"tuning ({report.mode}): {report.seconds:.1f} s, {len(report.signatures)} kernel signatures, "
        f"{report.timed} candidates timed, {report.cache_hits} cache hits, {len(report.dropped)} dropped"
    )
    if report.cut:
        line += f", {report.cut} cut by the {report.time_limit:g} s limit"
    return "; ".join([line, *report.notes])


def _ms(choice: Choice | None) -> str:
    return "-" if choice is None or choice.ms is None else f"{choice.ms:.4f}"


def format_tune_report(report: TuneReport) -> list[str]:
    """The summary, then one row per signature (slowest winner first): its kernels, the
    heuristic's ms, the winner's ms and speed-up, the runner-up's ms, and the winning and
    runner-up tactics ("heuristic" where it is the heuristic's); then the dropped tactics."""
    lines = [summary_line(report)]
    if report.skipped:
        return lines
    header = ("kernel", "x", "heuristic ms", "winner ms", "speed-up", "runner-up ms", "winner", "runner-up")
    rows = []
    order = sorted(report.signatures, key=lambda s: -(s.winner.ms or 0.0))
    for s in order:
        speedup = f"{s.default.ms / s.winner.ms:.2f}x" if s.default.ms and s.winner.ms else "-"

        def name(choice: Choice | None, default: Choice = s.default) -> str:
            return "-" if choice is None else "heuristic" if choice.tactic == default.tactic else _short(choice.tactic)

        rows.append((s.kernels[0], str(len(s.kernels)), _ms(s.default), _ms(s.winner), speedup, _ms(s.runner_up), name(s.winner), name(s.runner_up)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5}

    def line(cells) -> str:
        return "  " + "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines += [line(header), *(line(r) for r in rows)]
    for d in report.dropped:
        lines.append(f"  dropped {d.kernel} <{_short(d.tactic)}>: {_one_line(d.why)}" + (" (cached)" if d.cached else ""))
    return lines


def _one_line(text: str, width: int = WHY_WIDTH) -> str:
    """`text` (an NVRTC log, say) on one line, cut with '...' past `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 3] + "..."


# --- tuning -------------------------------------------------------------------------------


def check_options(mode: str, time_limit: float | None) -> None:
    """The tuning options, checked before any work."""
    if mode not in MODES:
        raise OptcError(f"tuning mode must be one of {', '.join(MODES)}, got '{mode}'")
    number = isinstance(time_limit, (int, float)) and not isinstance(time_limit, bool)
    if time_limit is not None and not (number and time_limit >= 0):
        raise OptcError(f"the tuning time limit must be a non-negative number of seconds, got {time_limit!r}")


def registry_tactics(target) -> Tactics:
    """The candidates the code generators declare for `target`, the heuristic's first
    (`passes.codegen.registry.tactics`, the tactic contract of DESIGN.md)."""

    def tactics(kernel: FuncOp) -> Sequence[LaunchAttr]:
        from passes.codegen.registry import tactics as candidates

        return candidates(kernel, target)

    return tactics


def gpu_measure(target) -> Measure:
    """Times candidates on GPU 0 with rotating buffers past the target's L2."""
    from runtime.tuning.timer import measure

    return lambda candidate: measure(candidate.run, l2_bytes=target.l2_bytes)


@dataclass
class _Signature:
    """One signature's candidates and what the cache knows of them."""

    digest: str
    kernels: list[FuncOp]
    launches: list[LaunchAttr]
    known: dict[str, Timing]
    """Tactic → timing: the cache's, then this run's."""
    keys: list[str] = field(init=False)
    """The tactics' keys: their printed launches."""
    runs: list[int] = field(init=False)
    """The candidates to time (indices): the ones the cache lacks, with the heuristic's
    first (its outputs are what the others are checked against) unless it is known to fail."""

    def __post_init__(self) -> None:
        self.keys = [str(launch) for launch in self.launches]
        missing = [i for i, key in enumerate(self.keys) if key not in self.known]
        failed = isinstance(self.known.get(self.keys[0]), Failed)
        self.runs = [] if not missing or failed else missing if missing[0] == 0 else [0, *missing]

    @property
    def name(self) -> str:
        return self.kernels[0].sym_name.data


@dataclass
class _Session:
    """One tuning run's state: the cache, the counters and the notes."""

    cache: TimingCache
    device: DeviceKey
    measure: Measure
    clock: Callable[[], float]
    deadline: float | None
    timed: int = 0
    cut: int = 0
    dropped: list[Dropped] = field(default_factory=list)

    def spent(self) -> bool:
        return self.deadline is not None and self.clock() >= self.deadline

    def fail(self, sig: _Signature, index: int, why: str) -> None:
        key = sig.keys[index]
        self.cache.record(self.device, sig.digest, key, Failed(why))
        sig.known[key] = Failed(why)
        self.dropped.append(Dropped(sig.name, key, why))


def _limit(launches: Sequence[LaunchAttr], mode: str, kernel: FuncOp) -> list[LaunchAttr]:
    """The candidates `mode` tries, duplicates removed, in the given order (`fast`: the
    first FAST_CANDIDATES, and each library tactic's first)."""
    from passes.codegen.library import is_library

    if not launches:
        raise OptcError(f"@{kernel.sym_name.data}: its generator declares no tactic (not even the heuristic's)")
    unique = list({str(launch): launch for launch in launches}.values())
    if mode != "fast":
        return unique
    chosen = unique[:FAST_CANDIDATES]
    for launch in unique[FAST_CANDIDATES:]:
        if is_library(launch) and all(c.tactic_name != launch.tactic_name for c in chosen):
            chosen.append(launch)
    return chosen


def _emit(kernel: FuncOp, launch: LaunchAttr) -> tuple[str, str]:
    """The entry and source the engine would compile `kernel` under with `launch` (the same
    program, so the winner's compile is an NVRTC cache hit when the engine is built)."""
    from compiler.engine_build import shared_entry
    from passes.codegen.cuda import kernel_source

    variant = kernel.clone()
    variant.attributes[LAUNCH_ATTR] = launch
    source = kernel_source(variant)
    return shared_entry(kernel.sym_name.data, source) if source else ("", "")


def _submit(sig: _Signature, pool: ThreadPoolExecutor, arch: str, session: _Session) -> dict[int, tuple[str, Future]]:
    """Emit the candidates to run and start compiling them; an emit that fails is dropped."""
    from runtime.cuda import compile_cuda

    jobs = {}
    for index in sig.runs:
        try:
            entry, source = _emit(sig.kernels[0], sig.launches[index])
        except OptcError as exc:
            session.fail(sig, index, f"emit: {exc}")
            continue
        # a library call that writes the result has no kernel to compile
        jobs[index] = (entry, pool.submit(compile_cuda, source, f"{entry}.cu", arch=arch) if source else _done(b""))
    return jobs


def _done(value) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future


def _candidate(sig: _Signature, index: int, entry: str, cubin: bytes) -> Candidate:
    """The candidate to measure; a library tactic's with its call resolved on this GPU
    (OptcError when the library offers no such algorithm)."""
    from compiler.engine_build import kernel_params, library_call
    from passes.codegen.library import is_library
    from passes.codegen.registry import workspace_bytes

    kernel, launch = sig.kernels[0], sig.launches[index]
    run = KernelRun(
        cubin, entry, launch.grid_dims, launch.block_dims, launch.shared_bytes,
        kernel_params(kernel), len(kernel.function_type.outputs.data), workspace_bytes(kernel, launch),
        library_call(kernel, launch) if is_library(launch) else None,
    )
    return Candidate(sig.name, sig.digest, launch, run)


def _time_signature(sig: _Signature, jobs: dict[int, tuple[str, Future]], session: _Session, progress: Progress) -> None:
    """Compile results, measurements and checks of one signature's candidates, in order."""
    reference: Measurement | None = None  # the heuristic's, once it ran
    for position, index in enumerate(sig.runs):
        key = sig.keys[index]
        if index not in jobs:  # its emit failed
            progress.advance()
            continue
        if index != 0 and reference is None:
            progress.advance()
            session.dropped.append(Dropped(sig.name, key, "not checked: the heuristic's tactic did not run"))
            continue
        if session.spent():
            session.cut += sum(1 for i in sig.runs[position:] if sig.keys[i] not in sig.known)
            return
        progress.advance()
        entry, future = jobs[index]
        try:
            cubin = future.result()
        except OptcError as exc:
            session.fail(sig, index, f"compile: {exc}")
            continue
        try:
            candidate = _candidate(sig, index, entry, cubin)
        except OptcError as exc:  # cuBLASLt offers fewer algorithms than the tactic's rank
            session.fail(sig, index, f"library: {exc}")
            continue
        try:
            measurement = session.measure(candidate)
        except ContextLost as exc:
            session.fail(sig, index, f"launch: {exc}")
            session.cache.save()
            raise OptcError(
                f"@{sig.name}: tactic <{_short(key)}> broke the CUDA context, so tuning cannot go on in this process; "
                f"it is recorded as failed in the timing cache '{session.cache.path}': build again to tune without it ({exc})"
            ) from exc
        except OptcError as exc:
            session.fail(sig, index, f"launch: {exc}")
            continue
        session.timed += 1
        if index == 0:
            reference = measurement
        elif (why := _mismatch(measurement, reference, candidate)) is not None:
            session.fail(sig, index, f"wrong output: {why}")
            continue
        if key not in sig.known:  # a known timing stays: the choice is the cache's
            session.cache.record(session.device, sig.digest, key, measurement.ms)
            sig.known[key] = measurement.ms


def _mismatch(measurement: Measurement, reference: Measurement, candidate: Candidate) -> str | None:
    """Why a candidate's outputs are not the heuristic's, output by output."""
    specs = candidate.run.params[len(candidate.run.inputs) :]
    for number, (got, want, spec) in enumerate(zip(measurement.outputs, reference.outputs, specs, strict=True)):
        why = output_mismatch(got, want, spec.dtype)
        if why is not None:
            return f"result {number}: {why}"
    return None


def _apply(sig: _Signature) -> SignatureReport:
    """Give every kernel of the signature the winner among the cache's timings."""
    timings = [sig.known.get(key) for key in sig.keys]
    winner = choose(timings)

    def choice(i: int) -> Choice:
        return Choice(sig.keys[i], timings[i] if isinstance(timings[i], float) else None)

    if winner is not None:
        for kernel in sig.kernels:
            kernel.attributes[LAUNCH_ATTR] = sig.launches[winner]
    others = [i for i, t in enumerate(timings) if isinstance(t, float) and i != winner]
    runner_up = min(others, key=lambda i: (timings[i], i)) if others else None
    return SignatureReport(
        sig.digest,
        tuple(k.sym_name.data for k in sig.kernels),
        len(sig.launches),
        choice(0),
        choice(winner if winner is not None else 0),
        choice(runner_up) if runner_up is not None else None,
    )


def tune(
    module: ModuleOp,
    *,
    target,
    mode: str = "fast",
    time_limit: float | None = None,
    cache: TimingCache | None = None,
    tactics: Tactics | None = None,
    measure: Measure | None = None,
    device: DeviceKey | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TuneReport:
    """Tune every kernel.func of `module` for `target` (a passes.codegen.target.Target) and
    set its launch to the winner (see the module's docstring). `cache` defaults to the
    shared timing cache, `tactics` to the registry's, `measure` to the GPU timer and
    `device` to GPU 0's key."""
    check_options(mode, time_limit)
    started = clock()
    if mode == "none":
        return TuneReport(mode, skipped="off (mode none)")
    cache = cache if cache is not None else TimingCache()
    if device is None:
        from runtime.cuda import Device

        device = DeviceKey.of(Device(0))
    kernels = [op for op in module.ops if isinstance(op, FuncOp)]
    notes = () if tactics is not None else tuple(note for note in [_library_note(kernels)] if note)
    tactics = tactics or registry_tactics(target)
    signatures = [
        _Signature(digest, group, _limit(tactics(group[0]), mode, group[0]), dict(cache.timings(device, digest)))
        for digest, group in group_by_signature(kernels, target.arch).items()
    ]
    hits = sum(key in sig.known for sig in signatures for key in sig.keys)
    cached_failures = [
        Dropped(sig.name, key, timing.why, cached=True)
        for sig in signatures for key in sig.keys if isinstance(timing := sig.known.get(key), Failed)
    ]
    session = _Session(cache, device, measure or gpu_measure(target), clock, None if time_limit is None else started + time_limit)
    _run_all(signatures, session, target.arch)
    cache.save()
    for sig in signatures:  # what the cache holds now, other builds' timings included
        sig.known = dict(cache.timings(device, sig.digest))
    reports = tuple(_apply(sig) for sig in signatures)
    return TuneReport(
        mode, clock() - started, session.timed, hits, session.cut, time_limit,
        tuple(cached_failures + session.dropped), reports, warnings=tuple(cache.warnings), notes=notes,
    )


def _library_note(kernels: Sequence[FuncOp]) -> str | None:
    """Why the library tactics these kernels could take are not candidates here, or None."""
    from passes.codegen.library import unavailable

    return unavailable(kernels)


def _run_all(signatures: Sequence[_Signature], session: _Session, arch: str) -> None:
    """Compile every candidate to run in the background, and time them one by one."""
    total = sum(len(sig.runs) for sig in signatures)
    if not total:
        return
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
    try:
        jobs = [_submit(sig, pool, arch, session) for sig in signatures]
        with Progress("tuning kernels", total) as progress:
            for sig, sig_jobs in zip(signatures, jobs):
                _time_signature(sig, sig_jobs, session, progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
