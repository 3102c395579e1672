"""Per-kernel profile of an engine, and the GPU's ceilings measured in the same process.

    profile = profile_engine(engine, feeds, runs=20)    # GPU
    profile.launches[0].ms, profile.graph_ms, profile.ceilings.copy_gbps

How it measures. The launch sequence runs without the CUDA graph, once per run, with a
CUDA event on the engine's stream before every launch (a library kernel's launch is its
library call and its epilogue kernel, timed together) and one after the last; a kernel's
time is the median over the runs of the time between its two events, and its start is the
median time from the first event. Launched one by one, kernels queue behind the host, so
each run starts behind a short spin kernel that holds the stream until every launch and
event is queued: the events then measure the GPU's work, not the host's launch rate.
Launching one by one still adds a small gap per launch, so the profile also times the
whole sequence replayed as the engine runs it (one CUDA graph), and reports both.

The ceilings a kernel is judged against:
- copy bandwidth: `cuMemcpyDtoD` of a buffer far larger than the L2 cache, counted as
  bytes read plus bytes written (how kernels' bytes are counted, KernelSpec.bytes);
- matmul throughput, for each element type a kernel with flops computes in:
  `torch.matmul` (cuBLAS) of square matrices, when torch is importable and sees the GPU.
  optc's own kernels are not a ceiling. Without torch the ceiling is "not measured".

Everything but `profile_engine` and the `measure_*` functions is plain data and
arithmetic, testable without a GPU.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

DEFAULT_RUNS = 20
WARMUP_RUNS = 3
COPY_BYTES = 256 << 20
"""Bytes copied to measure the copy ceiling: far above the L2 cache (50-60 MB on Hopper)."""
MATMUL_SIZE = 4096
"""M = N = K of the matmul ceiling: large enough for cuBLAS to reach its peak."""
TORCH_DTYPES = {"float32": "float32", "float16": "float16", "bfloat16": "bfloat16"}
"""Element types a matmul ceiling is measured for (torch's names); others are not measured."""
SPIN_US_PER_LAUNCH = 50.0
"""How long the spin kernel holds the stream per launch queued behind it (host launch
overhead is a few microseconds; this leaves a wide margin)."""


@dataclass(frozen=True)
class Ceilings:
    """What the GPU can do, measured in this process."""

    copy_gbps: float | None = None
    """Device-to-device copy, (read + write) bytes / time, in 10^9 bytes per second."""
    matmul_tflops: Mapping[str, float] = field(default_factory=dict)
    """Best matmul rate by element type ("float16": 740.0), in 10^12 FLOP/s."""
    matmul_source: str = ""
    """How the matmul ceilings were measured, or why they were not ("not measured: ...")."""


@dataclass(frozen=True)
class LaunchTime:
    """One launch of the sequence, its median time and what it moves and computes."""

    index: int
    kernel: str
    ops: tuple[str, ...]
    ms: float
    start_ms: float
    bytes: int = 0
    flops: int = 0
    dtype: str = ""
    tactic: str = ""
    """The tactic its kernel runs (`KernelSpec.tactic`)."""
    library: str = ""
    """The vendor library its tactic calls ("cublasLt"; its time includes the epilogue
    kernel), or "" for optc's own kernels."""

    @property
    def gbps(self) -> float | None:
        """Achieved bandwidth: bytes moved / time (10^9 bytes per second)."""
        return self.bytes / (self.ms * 1e6) if self.ms > 0 and self.bytes else None

    @property
    def tflops(self) -> float | None:
        return self.flops / (self.ms * 1e9) if self.ms > 0 and self.flops else None


@dataclass(frozen=True)
class Profile:
    """The launches with their times, the whole-sequence times and the ceilings."""

    device: str
    runs: int
    launches: tuple[LaunchTime, ...]
    sequence_ms: float
    """Median time from the first event to the last: the sequence launched one by one."""
    graph_ms: float | None
    """Median time of one replay as the engine runs it (its CUDA graph)."""
    ceilings: Ceilings = Ceilings()

    @property
    def kernel_ms(self) -> float:
        """The kernels' median times added up."""
        return sum(launch.ms for launch in self.launches)

    @property
    def library_ms(self) -> float:
        """The part of `kernel_ms` in library tactics (their calls and epilogue kernels);
        the rest is optc's own kernels."""
        return sum(launch.ms for launch in self.launches if launch.library)

    def to_json(self) -> dict:
        data = asdict(self)
        data["ceilings"]["matmul_tflops"] = dict(self.ceilings.matmul_tflops)
        data["kernel_ms"] = self.kernel_ms
        data["library_ms"] = self.library_ms
        for entry, launch in zip(data["launches"], self.launches):
            entry["gbps"], entry["tflops"] = launch.gbps, launch.tflops
        return data


def median_times(samples: Sequence[Sequence[float]]) -> tuple[list[float], list[float], float]:
    """From event times of each run (`samples[run][i]`: ms from the run's first event to
    event i, event 0 first, one more event than launches), the median duration of every
    launch, the median start of every launch, and the median length of the whole run."""
    if not samples:
        raise ValueError("no runs to take the median of")
    events = len(samples[0])
    if events < 1 or any(len(run) != events for run in samples):
        raise ValueError("every run needs the same number of events, at least one")
    durations = [statistics.median(run[i + 1] - run[i] for run in samples) for i in range(events - 1)]
    starts = [statistics.median(run[i] - run[0] for run in samples) for i in range(events - 1)]
    return durations, starts, statistics.median(run[-1] - run[0] for run in samples)


def launch_times(plan, durations: Sequence[float], starts: Sequence[float]) -> tuple[LaunchTime, ...]:
    """LaunchTimes of a plan's launches (in order) from their median durations and starts."""
    kernels = {k.name: k for k in plan.kernels}
    result = []
    for index, (launch, ms, start) in enumerate(zip(plan.launches, durations, starts, strict=True)):
        k = kernels[launch.kernel]
        library = k.library.library if k.library is not None else ""
        result.append(LaunchTime(index, k.name, tuple(k.ops), ms, start, k.bytes, k.flops, k.dtype, k.tactic, library))
    return tuple(result)


# --- on the GPU ---------------------------------------------------------------------------

SPIN_SOURCE = r"""
extern "C" __global__ void optc_spin(unsigned long long nanoseconds)
{
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < nanoseconds);
}
"""


def _spin_kernel(arch: str):
    from runtime.cuda import Module, compile_cuda

    module = Module(compile_cuda(SPIN_SOURCE, "optc_spin.cu", arch=arch), "optc_spin")
    return module, module.function("optc_spin")


def profile_engine(engine, feeds: Mapping[str, object] | None = None, runs: int = DEFAULT_RUNS, warmup: int = WARMUP_RUNS, ceilings: bool = True) -> Profile:
    """Time every launch of `engine` (on `feeds`, or the inputs already in place) over
    `runs` runs after `warmup`, the CUDA-graph replay, and (with `ceilings`) the GPU's
    copy and matmul ceilings."""
    import numpy as np

    from runtime.cuda import Event

    if runs < 1:
        raise ValueError(f"a profile needs at least one run, got {runs}")
    if feeds is not None:
        engine.set_inputs(feeds)
    stream = engine.stream
    module, spin = _spin_kernel(engine.plan.arch)
    spin_ns = np.uint64(int(SPIN_US_PER_LAUNCH * 1000 * (len(engine.steps) + 1)))
    events = [Event() for _ in range(len(engine.steps) + 1)]
    samples = []
    for run in range(warmup + runs):
        spin.launch(1, 1, [spin_ns], stream=stream)
        for event, step in zip(events, engine.steps):  # a library step: its call and its epilogue kernel
            event.record(stream)
            step.launch(stream)
        events[-1].record(stream)
        events[-1].synchronize()
        if run >= warmup:
            samples.append([events[0].elapsed_ms(e) for e in events])
    durations, starts, sequence_ms = median_times(samples)
    graph_ms = _graph_ms(engine, runs, warmup)
    for event in events:
        event.close()
    module.close()
    return Profile(
        device=engine.device.name,
        runs=runs,
        launches=launch_times(engine.plan, durations, starts),
        sequence_ms=sequence_ms,
        graph_ms=graph_ms,
        ceilings=measure_ceilings({k.dtype for k in engine.plan.kernels if k.flops}) if ceilings else Ceilings(),
    )


def _graph_ms(engine, runs: int, warmup: int) -> float:
    """Median GPU time of one `engine.execute()` (a CUDA-graph replay unless disabled)."""
    from runtime.cuda import Event

    start, end = Event(), Event()
    times = []
    for run in range(warmup + runs):
        start.record(engine.stream)
        engine.execute()
        end.record(engine.stream)
        if run >= warmup:
            times.append(start.elapsed_ms(end))
    start.close()
    end.close()
    return statistics.median(times)


def measure_ceilings(dtypes: set[str] | frozenset[str] = frozenset()) -> Ceilings:
    """Copy bandwidth, and the matmul ceiling for each of `dtypes` (device element type names)."""
    tflops, source = measure_matmul_tflops(sorted(dtypes))
    return Ceilings(measure_copy_gbps(), tflops, source)


def measure_copy_gbps(nbytes: int = COPY_BYTES, runs: int = 10) -> float:
    """cuMemcpyDtoD of `nbytes`: (read + write) bytes / median time, in GB/s."""
    from runtime.cuda import DeviceBuffer, Event, Stream

    src, dst, stream = DeviceBuffer(nbytes), DeviceBuffer(nbytes), Stream()
    start, end = Event(), Event()
    times = []
    try:
        for run in range(3 + runs):
            start.record(stream)
            dst.copy_from(src, stream=stream)
            end.record(stream)
            if run >= 3:
                times.append(start.elapsed_ms(end))
    finally:
        for resource in (src, dst, start, end, stream):
            resource.close()
    return 2 * nbytes / (statistics.median(times) * 1e6)


def measure_matmul_tflops(dtypes: Sequence[str], size: int = MATMUL_SIZE, runs: int = 10) -> tuple[dict[str, float], str]:
    """torch.matmul (cuBLAS) of two size×size matrices per element type: TFLOP/s by type,
    and how they were measured or why not. Never raises: a missing or CPU-only torch is
    a reason, not an error."""
    if not dtypes:
        return {}, "not measured: no kernel has flops"
    try:
        import torch
    except ImportError:
        return {}, "not measured: torch not installed"
    if not torch.cuda.is_available():
        return {}, "not measured: torch cannot use the GPU"
    result = {}
    for name in dtypes:
        if name not in TORCH_DTYPES:
            continue
        dtype = getattr(torch, TORCH_DTYPES[name])
        a = torch.randn(size, size, device="cuda", dtype=dtype)
        b = torch.randn(size, size, device="cuda", dtype=dtype)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        times = []
        for run in range(3 + runs):
            start.record()
            torch.matmul(a, b)
            end.record()
            end.synchronize()
            if run >= 3:
                times.append(start.elapsed_time(end))
        result[name] = 2 * size**3 / (statistics.median(times) * 1e9)
        del a, b
    tf32 = " (TF32 off)" if not torch.backends.cuda.matmul.allow_tf32 else " (TF32 on)"
    return result, f"torch.matmul {size}x{size}x{size}, torch {torch.__version__}{tf32}"
