"""Time one compiled kernel on the GPU, alone, the way the autotuner compares tactics.

    run = KernelRun(cubin, "optc_1f2e...", grid, block, shared_bytes, params, outputs=1)
    outputs = run_once(run)                          # one numpy array per result
    ms = time_kernel(run, l2_bytes=50 << 20)         # median ms of one launch
    measurement = measure(run, l2_bytes=50 << 20)    # both, on the same buffers

Inputs. Every pointer parameter gets its own memory; the inputs (the parameters before the
last `outputs`) hold seeded random values of their type (`runtime.reference.inputs`, the
arrays optc-run and the tests use), so every tactic of a kernel sees the same inputs. The
outputs are filled with 0xFF bytes (NaN for floats) before `run_once`, so an element a
tactic forgets to write shows up as a wrong answer.

How it times. The parameters are allocated as several rotating sets, copies of the first,
so that a batch of launches cycling through them reads more than the L2 cache holds
(`L2_FACTOR` × `l2_bytes`, within `MEMORY_BUDGET` and half the free memory, at most
`MAX_SETS`): each launch then reads its inputs from memory, as it will inside a model,
instead of from the L2 where the previous launch left them. A set larger than that is one
set. The batch (at least one launch per set, enough launches for about `BATCH_MS` of GPU
time, at most `MAX_BATCH`) is captured once as a CUDA graph and replayed: the engine
replays its launches as one graph too, and a replay keeps the GPU busy whatever the
host's launch rate, which a kernel of a few microseconds would otherwise measure
(runtime/engine/profile.py holds the stream with a spin kernel for the same reason). After
`WARMUP_REPLAYS`, CUDA events time `REPEATS` replays; the result is the median replay's
time divided by its launches.

A library tactic (`KernelRun.library`: cuBLASLt, cuDNN) is timed as the engine runs it:
each launch is the library's call on the set's own operands (D: the set's result, or the
product at the workspace's start), then the epilogue kernel, if it has one (`cubin`
empty: none). The call's plan is built before anything is timed or captured.

A launch that fails (too much shared memory, too many registers for the block) raises the
driver's CudaError and leaves the context usable. A kernel that faults (an illegal address)
breaks the CUDA context for the rest of the process; that raises `ContextLost`, which the
caller cannot recover from in this process.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dialects.errors import OptcError
from runtime.engine.plan import LibraryCall, ParamSpec, device_dtype

REPEATS = 10
"""Timed replays of the batch; the median is the result."""
WARMUP_REPLAYS = 2
BATCH_MS = 1.0
"""GPU time one batch aims at: long enough for CUDA events (0.5 µs resolution) to resolve it."""
MAX_BATCH = 1000
"""Launches in one batch at most (a kernel of a microsecond or less)."""
L2_FACTOR = 2
"""The rotating sets together read at least this many times the L2 cache's size."""
MAX_SETS = 64
"""Rotating sets at most: a tiny kernel's whole working set may stay in the L2, as it
would between two launches of a model."""
MEMORY_BUDGET = 1 << 30
"""Bytes the rotating sets may take at most (and never more than half the free memory)."""
ALIGNMENT = 256
"""Each tensor starts at a multiple of this, as in an engine's regions."""
SEED = 0


class ContextLost(OptcError):
    """A kernel broke the CUDA context (a fault inside it): no GPU work can follow in this process."""


@dataclass(frozen=True)
class KernelRun:
    """What launching one compiled kernel takes: its cubin and entry point, its launch
    shape, and its pointer parameters (arguments, then the last `outputs` are results)."""

    cubin: bytes
    entry: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    params: tuple[ParamSpec, ...]
    outputs: int
    workspace: int = 0
    """Bytes of zeroed scratch memory the tactic takes after its results (one buffer for
    every set: launches run one after another)."""
    library: LibraryCall | None = None
    """The library call each launch makes before the kernel (a library tactic's); then an
    empty `cubin` means the call writes the result and there is no kernel."""

    @property
    def inputs(self) -> tuple[ParamSpec, ...]:
        return self.params[: len(self.params) - self.outputs]

    @property
    def set_bytes(self) -> int:
        """Bytes of one set of parameters."""
        return sum(_aligned(p.nbytes) for p in self.params)


@dataclass(frozen=True)
class Measurement:
    """A kernel's median ms per launch and what it wrote (one array per result)."""

    ms: float
    outputs: tuple[np.ndarray, ...]


def measure(run: KernelRun, *, l2_bytes: int, memory_budget: int | None = None, seed: int = SEED) -> Measurement:
    """`run_once` and `time_kernel` on one allocation: the outputs of a launch on the seeded
    inputs, then the median time of a launch."""
    with _guard(run), _Bench(run, _set_count(run, l2_bytes, memory_budget)) as bench:
        outputs = bench.run_once(seed)
        return Measurement(bench.time(), outputs)


def run_once(run: KernelRun, seed: int = SEED) -> tuple[np.ndarray, ...]:
    """The results of one launch on the seeded random inputs, as numpy arrays."""
    with _guard(run), _Bench(run, 1) as bench:
        return bench.run_once(seed)


def time_kernel(run: KernelRun, *, l2_bytes: int, memory_budget: int | None = None, seed: int = SEED) -> float:
    """The median ms of one launch, over rotating sets that outgrow the L2 (see the module)."""
    with _guard(run), _Bench(run, _set_count(run, l2_bytes, memory_budget)) as bench:
        bench.fill(seed)
        return bench.time()


# --- how many sets ------------------------------------------------------------------------


def _aligned(nbytes: int) -> int:
    return max(ALIGNMENT, -(-nbytes // ALIGNMENT) * ALIGNMENT)


def set_count(set_bytes: int, l2_bytes: int, budget: int) -> int:
    """Rotating sets of `set_bytes` that together read `L2_FACTOR`·`l2_bytes`, within
    `budget` and `MAX_SETS`; at least one."""
    wanted = -(-L2_FACTOR * l2_bytes // max(set_bytes, 1))
    return max(1, min(wanted, MAX_SETS, budget // max(set_bytes, 1)))


def _set_count(run: KernelRun, l2_bytes: int, memory_budget: int | None) -> int:
    from runtime.cuda import memory_info

    free, _ = memory_info()
    budget = min(MEMORY_BUDGET if memory_budget is None else memory_budget, free // 2)
    return set_count(run.set_bytes, l2_bytes, budget)


def batch_size(estimate_ms: float, sets: int) -> int:
    """Launches in a timed batch: every set once at least, about BATCH_MS of work, at most MAX_BATCH."""
    enough = math.ceil(BATCH_MS / estimate_ms) if estimate_ms > 0 else MAX_BATCH
    return max(1, min(MAX_BATCH, max(sets, enough)))


# --- on the GPU ---------------------------------------------------------------------------


@contextlib.contextmanager
def _guard(run: KernelRun) -> Iterator[None]:
    """Turns a CudaError that left the context broken into ContextLost."""
    from runtime.cuda import CudaError, synchronize

    try:
        yield
    except CudaError as error:
        try:
            synchronize()
        except CudaError as lost:
            raise ContextLost(
                f"kernel '{run.entry}' (grid {list(run.grid)}, block {list(run.block)}, "
                f"{run.shared_bytes} bytes of shared memory) broke the CUDA context: {error}; {lost}"
            ) from error
        raise


class _Bench:
    """The loaded kernel, its rotating parameter sets and a stream, released on exit."""

    def __init__(self, run: KernelRun, sets: int):
        from runtime.cuda import DeviceBuffer, Module, Stream

        self.run, self.sets = run, sets
        self.resources: list = []
        self.kernel = None
        if run.cubin:
            self.module = self._own(Module(run.cubin, run.entry))
            self.kernel = self.module.function(run.entry)
            if run.shared_bytes:  # allowed any size up to the opt-in limit (the engine checks that at load)
                self.kernel.set_max_dynamic_shared_memory(run.shared_bytes)
        self.stream = self._own(Stream())
        self.strides = [_aligned(p.nbytes) for p in run.params]
        self.buffers = [self._own(DeviceBuffer(stride * sets)) for stride in self.strides]
        scratch = []
        if run.workspace:
            self.workspace = self._own(DeviceBuffer(run.workspace))
            self.workspace.fill_bytes(0, self.stream)
            scratch = [self.workspace.ptr]
        self.pointers = [[b.ptr + s * stride for b, stride in zip(self.buffers, self.strides)] + scratch for s in range(sets)]
        self.packed = [self.kernel.pack([np.uint64(p) for p in pointers]) for pointers in self.pointers] if self.kernel else []
        self.library = self._own(_LibraryRun(run.library)) if run.library is not None else None

    def _own(self, resource):
        self.resources.append(resource)
        return resource

    def __enter__(self) -> _Bench:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        from runtime.cuda import CudaError

        for resource in reversed(self.resources):
            try:
                resource.close()
            except CudaError:
                if error is None:  # after a failure the context may be gone: report that one
                    raise

    def fill(self, seed: int) -> None:
        """Seeded random inputs in every set; 0xFF bytes in every output."""
        from runtime.reference.inputs import random_array

        rng = np.random.default_rng(seed)
        count = len(self.run.inputs)
        for index, (spec, buffer, stride) in enumerate(zip(self.run.params, self.buffers, self.strides)):
            if index >= count:
                buffer.fill_bytes(0xFF, self.stream)
                continue
            dtype = device_dtype(spec.dtype)
            host = np.ascontiguousarray(random_array(spec.shape, dtype, rng).astype(dtype))
            buffer.copy_from_host(host, self.stream)
            first = buffer.view(np.uint8, (spec.nbytes,))
            for s in range(1, self.sets):
                buffer.view(np.uint8, (spec.nbytes,), s * stride).copy_from(first, stream=self.stream)
        self.stream.synchronize()

    def launch(self, s: int) -> None:
        run = self.run
        if self.library is not None:
            self.library.launch(self.pointers[s], run.workspace, self.stream)
        if self.kernel is not None:
            self.kernel.launch_packed(run.grid, run.block, self.packed[s], run.shared_bytes, self.stream)

    def run_once(self, seed: int) -> tuple[np.ndarray, ...]:
        self.fill(seed)
        self.launch(0)
        self.stream.synchronize()
        outputs = []
        for spec, buffer in zip(self.run.params[len(self.run.inputs) :], self.buffers[len(self.run.inputs) :]):
            outputs.append(buffer.copy_to_host(np.empty(spec.shape, device_dtype(spec.dtype)), self.stream))
        return tuple(outputs)

    def time(self) -> float:
        from runtime.cuda import Event

        start, end = self._own(Event()), self._own(Event())
        start.record(self.stream)
        for s in range(self.sets):  # warms the kernel up and estimates one launch
            self.launch(s)
        end.record(self.stream)
        batch = batch_size(start.elapsed_ms(end) / self.sets, self.sets)
        with self.stream.capture("thread_local") as graph:
            for i in range(batch):
                self.launch(i % self.sets)
        self._own(graph)
        times = []
        for replay in range(WARMUP_REPLAYS + REPEATS):
            start.record(self.stream)
            graph.launch(self.stream)
            end.record(self.stream)
            if replay >= WARMUP_REPLAYS:
                times.append(start.elapsed_ms(end) / batch)
        return statistics.median(times)


class _LibraryRun:
    """A library tactic's call in the timer: its plan on this GPU (its algorithm checked
    there, which builds it), run on one set's pointers (the last of them the workspace:
    the product, then the library's own)."""

    def __init__(self, call: LibraryCall):
        from runtime.library import library

        module = library(call.library)
        self.call = call
        self.plan = module.Plan(call.call)
        self.algorithm = module.algorithm_of(call)
        try:
            self.plan.check(self.algorithm)
        except BaseException:
            self.plan.close()
            raise

    def launch(self, pointers: list[int], workspace_bytes: int, stream) -> None:
        call, scratch = self.call, pointers[-1]
        d = pointers[call.d] if call.d is not None else scratch
        self.plan.run(
            self.algorithm, *(pointers[i] for i in call.reads()), d,
            workspace=scratch + call.workspace_offset, workspace_bytes=workspace_bytes - call.workspace_offset, stream=stream,
        )

    def close(self) -> None:
        self.plan.close()
