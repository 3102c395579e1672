"""Build an engine: ONNX (or IR) → the `kernel` level → CUDA → NVRTC → an engine.

    import compiler
    engine = compiler.build("model.onnx")                # compiles for this machine's GPU
    outputs = engine.run({"input": array})
    engine.save("model.engine")                          # runs later without recompiling
    engine = compiler.load("model.engine")

`compile_engine` does everything but touch a GPU (NVRTC needs none), so engines can be
built for a named architecture anywhere: `compiler.build(path, arch="sm_90", load=False)`
returns the EngineImage, which `runtime.engine.write_engine` saves.

Tuning (docs/tuning.md). Between the kernel pipeline and `compile_engine`, the autotuner
(`compiler/autotune.py`) times each kernel's tactics on this GPU and keeps the fastest
correct one: `tune="fast"` (the default), `"full"` or `"none"`, `tune_time_limit` in
seconds, `timing_cache` a file (default: the shared one). It runs only when the engine is
built for the GPU that is here; otherwise (`load=False` with a named arch, another arch)
the heuristic's launches stay, and a `tune` given explicitly says so in a one-line warning
(logger `compiler.engine_build`), as do the timing cache's warnings.

Kernels are configured for the GPU the engine is built for (`build_target`): the GPU in
this process as its driver describes it (`target.measured`) when the engine is for it,
else the named arch's table (`target.TARGETS`). Each kernel's tactic is recorded in the
plan (`KernelSpec.tactic`, `.tile`).

A library tactic (`cublaslt`, `cudnn`; chosen only by the tuner, so only where the
engine's GPU is here) is resolved here to its library's call on this GPU (`library_call`:
`algo = i` → the i-th algorithm's bytes of cuBLASLt's heuristic list, `plan = i` → the
name of the i-th plan of cuDNN's; and the library's version), which the plan records
(`KernelSpec.library`); its epilogue kernel is compiled like any other, and a kernel
whose call writes its result has no image.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np
import onnx
from xdsl.dialects import func
from xdsl.dialects.builtin import BFloat16Type, ModuleOp
from xdsl.ir import SSAValue

from compiler.progress import Progress
from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.graph import ConstantOp, WeightOp
from dialects.graph.base import is_free_view
from dialects.kernel import FuncOp, LaunchAttr, LaunchOp
from dialects.weights import check_weights, store_of
from passes.codegen.common.types import device_itemsize
from passes.codegen.cuda import kernel_source, launch_of
from passes.codegen.library import is_library
from passes.codegen.registry import workspace_bytes
from passes.codegen.target import Target, measured, named
from passes.memory.plan_memory import ARENA_ATTR, live_buffers
from runtime.cuda import compile_cuda
from runtime.engine.file import EngineImage
from runtime.engine.plan import BufferSpec, EnginePlan, KernelSpec, LaunchSpec, LibraryCall, ParamSpec, Slot, TensorSpec, device_dtype
from runtime.reference.interpreter import entry, io_names

ALIGNMENT = 256
DEFAULT_TUNE = "fast"
"""The tuning mode when `tune` is not given."""

logger = logging.getLogger(__name__)


def kernel_pipeline(precision: str = "fp32") -> str:
    """The pipeline from imported IR to the kernel level at `precision`."""
    from compiler.pipelines import with_precision

    return with_precision("kernel", precision)


def build(
    model: str | os.PathLike | onnx.ModelProto,
    *,
    precision: str = "fp32",
    shapes: Mapping[str, Sequence[int]] | None = None,
    arch: str | None = None,
    load: bool = True,
    tune: str | None = None,
    tune_time_limit: float | None = None,
    timing_cache: str | os.PathLike | None = None,
    calibration_data: str | os.PathLike | None = None,
    calibration_method: str | None = None,
    calibration_percentile: float | None = None,
    calibration_cache: str | os.PathLike | None = None,
    int8_fallback: str | None = None,
):
    """An engine for an ONNX model (a path or a ModelProto), loaded on the GPU (or, with
    `load=False`, the EngineImage, which needs no GPU when `arch` is given). `tune`,
    `tune_time_limit` and `timing_cache`: see the module's docstring. `precision="int8"`
    calibrates on `calibration_data` (or reads `calibration_cache`): the `--calibration-*`
    flags and `int8_fallback` (`--int8-fallback`), docs/calibration.md."""
    from compiler.onnx_import import import_onnx

    check_tuning(tune, tune_time_limit, timing_cache)  # before the import and the pipeline
    calibration = _calibration_options(calibration_data, calibration_method, calibration_percentile, calibration_cache, int8_fallback)
    calibration.check(precision)
    module = import_onnx(os.fspath(model) if not isinstance(model, onnx.ModelProto) else model, shapes)
    if precision == "int8":
        from compiler.calibration import int8_pipeline

        pipeline = int8_pipeline(module, "kernel", calibration)
    else:
        pipeline = kernel_pipeline(precision)
    return build_module(
        module, pipeline=pipeline, arch=arch, load=load,
        tune=tune, tune_time_limit=tune_time_limit, timing_cache=timing_cache,
    )


def _calibration_options(data, method, percentile, cache, fallback):
    """`build`'s calibration arguments as options (None: the flag's default)."""
    from compiler.calibration import CalibrationOptions

    given = {"data": data, "method": method, "percentile": percentile, "cache": cache, "fallback": fallback}
    return CalibrationOptions(**{k: os.fspath(v) if k in ("data", "cache") else v for k, v in given.items() if v is not None})


def build_module(
    module: ModuleOp,
    pipeline: str = "kernel",
    arch: str | None = None,
    load: bool = True,
    *,
    tune: str | None = None,
    tune_time_limit: float | None = None,
    timing_cache: str | os.PathLike | None = None,
):
    """An engine for a module at any level: `pipeline` takes it to the kernel level, the
    autotuner chooses each kernel's launch (see the module's docstring)."""
    check_tuning(tune, tune_time_limit, timing_cache)
    target = build_target(arch, load)
    lower(module, pipeline, target)
    report = tune_kernels(module, target, arch, load, tune, tune_time_limit, timing_cache)
    _log_tuning(report, explicit=tune is not None)
    image = compile_engine(module, arch or target.arch, target)
    if not load:
        return image
    from runtime.engine.engine import Engine

    return Engine(image)


def lower(module: ModuleOp, pipeline: str, target: Target) -> None:
    """Run `pipeline` on `module` in place, kernels configured for `target`, and verify it."""
    from compiler.pipelines import build as build_pipeline
    from dialects.registry import context

    ctx = context()
    for compiler_pass in build_pipeline(pipeline, target):
        compiler_pass.apply(ctx, module)
    module.verify()


def load(path: str | os.PathLike):
    """An engine saved by `Engine.save` (or `write_engine`), loaded on the GPU."""
    from runtime.engine.engine import Engine
    from runtime.engine.file import read_engine

    return Engine(read_engine(path))


def device_target() -> Target:
    """The GPU in this process (device 0), measured from its driver's attributes; raises
    CudaUnavailable where there is none."""
    from runtime.cuda import Device

    return measured(Device(0))


def build_target(arch: str | None, load: bool) -> Target:
    """What an engine is built for: the GPU in this process, measured, when no arch is
    named, or when the engine is loaded here on a GPU of that arch; else the named arch's
    table (and no GPU is touched unless the engine is to be loaded)."""
    from runtime.cuda import CudaUnavailable

    try:
        here = device_target() if arch is None or load else None
    except CudaUnavailable as exc:
        hint = "name one with arch='sm_90'" if arch is None else "pass load=False for an image to save"
        raise OptcError(f"no GPU to build for ({exc}); {hint}") from None
    if here is not None and (arch is None or here.arch == arch.removesuffix("a")):
        return here
    return named(arch)


# --- tuning --------------------------------------------------------------------------------


def check_tuning(mode: str | None, time_limit: float | None, timing_cache: str | os.PathLike | None) -> None:
    """The tuning options, checked before any work: a mode of MODES, a non-negative time
    limit, a timing cache path that is not a folder."""
    from compiler.autotune import check_options
    from runtime.tuning.cache import check_path

    check_options(mode or DEFAULT_TUNE, time_limit)
    if timing_cache is not None:
        check_path(timing_cache)


def tune_kernels(
    module: ModuleOp,
    target: Target,
    arch: str | None,
    load: bool,
    mode: str | None,
    time_limit: float | None = None,
    timing_cache: str | os.PathLike | None = None,
):
    """Tune a kernel-level module's launches (configured for `target`) for GPU 0 when the engine is built for it
    (`arch` None or GPU 0's, and loaded where `arch` is named); the TuneReport says what
    was done, or in `skipped` why nothing was."""
    from compiler.autotune import TuneReport, tune
    from runtime.tuning.cache import DeviceKey, TimingCache

    mode = mode or DEFAULT_TUNE
    if mode == "none":
        return TuneReport(mode, skipped="off (mode none)")
    device, why = _tuning_device(arch, load)
    if device is None:
        return TuneReport(mode, skipped=f"skipped: {why}")
    cache = TimingCache(timing_cache)
    return tune(module, target=target, mode=mode, time_limit=time_limit, cache=cache, device=DeviceKey.of(device))


def _tuning_device(arch: str | None, load: bool):
    """(GPU 0, "") when the engine is built for it, else (None, why not)."""
    from runtime.cuda import CudaUnavailable, Device

    if arch is not None and not load:
        return None, f"the engine is built for {arch} and not loaded here (load=False)"
    try:
        device = Device(0)
    except CudaUnavailable as exc:
        return None, f"no GPU ({exc})"
    if arch is not None and arch != device.arch:
        return None, f"the engine is built for {arch}, this GPU ({device.name}) is {device.arch}"
    return device, ""


def _log_tuning(report, explicit: bool) -> None:
    """The timing cache's warnings, and why nothing was tuned when tuning was asked for."""
    from compiler.autotune import summary_line

    for warning in report.warnings:
        logger.warning(warning)
    if report.skipped and explicit and report.mode != "none":
        logger.warning("optc: note: " + summary_line(report))
    else:
        logger.info(summary_line(report))


# --- kernel-level IR → plan ----------------------------------------------------------------


def _device_type_name(t, where: str) -> str:
    device_itemsize(t.element_type, where)  # refuses what has no device representation
    return "bfloat16" if isinstance(t.element_type, BFloat16Type) else numpy_dtype(t.element_type).name


def _device_bytes(array: np.ndarray, device_name: str) -> bytes:
    return np.ascontiguousarray(np.asarray(array).astype(device_dtype(device_name))).tobytes()


class _Layout:
    """Appends tensors to a region at aligned offsets."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, nbytes: int, data: bytes | None = None) -> int:
        offset = -(-self.size // ALIGNMENT) * ALIGNMENT
        if data is not None:
            self.chunks.append(b"\0" * (offset - self.size) + data)
        self.size = offset + nbytes
        return offset

    def bytes(self) -> bytes:
        data = b"".join(self.chunks)
        return data + b"\0" * (self.size - len(data))


def kernel_params(kernel: FuncOp, workspace: int = 0) -> tuple[ParamSpec, ...]:
    """The tensors a kernel's pointer parameters take: its arguments, then its results (then
    its tactic's `workspace` bytes, when it has some)."""
    where = f"@{kernel.sym_name.data}"
    types = [*kernel.function_type.inputs.data, *kernel.function_type.outputs.data]
    params = tuple(ParamSpec(_device_type_name(t, where), tuple(t.get_shape())) for t in types)
    return (*params, ParamSpec("uint8", (workspace,), workspace=True)) if workspace else params


def _computed_ops(kernel: FuncOp) -> tuple[str, ...]:
    op = kernel.computation
    inner = [o.name for region in op.regions for o in region.walk() if o.name.startswith("graph.")]
    return (op.name, *inner)


# --- what a kernel costs (for profiles) -------------------------------------------------------


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _matmul_flops(op) -> int:
    """2·M·N·K per batch: the accumulator's elements times K (lhs [..., M, K])."""
    out = op.accumulator_type() if hasattr(op, "accumulator_type") else op.results[0].type
    return 2 * math.prod(out.get_shape()) * _shape(op.operands[0])[-1]


def _gemm_flops(op) -> int:
    a = _shape(op.operands[0])
    k = a[0] if op.trans_a.value.data else a[1]
    return 2 * math.prod(op.results[0].type.get_shape()) * k


def _conv_flops(op) -> int:
    """2·N·OH·OW·C_out·(C_in/group)·KH·KW: every output element is a dot product over the
    weight's other dimensions ((C/g, *kernel) or, NHWC, (*kernel, C/g): the same count)."""
    out = op.accumulator_type() if hasattr(op, "accumulator_type") else op.results[0].type
    return 2 * math.prod(out.get_shape()) * math.prod(_shape(op.operands[1])[1:])


def _conv_transpose_flops(op) -> int:
    """Every input element is scattered into C_out/group · kernel outputs."""
    return 2 * math.prod(_shape(op.operands[0])) * math.prod(_shape(op.operands[1])[1:])


def _attention_flops(op) -> int:
    """q·kᵀ and p·v: 2·b·h·s_q·s_k·(d + d_v) (= 4·b·h·s_q·s_k·d); half of it when causal,
    the work that is not masked out (FlashAttention's convention)."""
    q, k, v = _shape(op.q), _shape(op.k), _shape(op.v)
    flops = 2 * math.prod(q[:-1]) * k[-2] * (q[-1] + v[-1])
    return flops // 2 if op.causal.value.data else flops


FLOPS: dict[str, Callable[[object], int]] = {
    "fused.matmul": _matmul_flops,
    "graph.matmul": _matmul_flops,
    "graph.gemm": _gemm_flops,
    "fused.conv": _conv_flops,
    "graph.conv": _conv_flops,
    "graph.conv_transpose": _conv_transpose_flops,
    "fused.attention": _attention_flops,
}
"""Op → arithmetic of one launch. Everything else is judged by the bytes it moves."""


def kernel_cost(kernel: FuncOp) -> tuple[int, int, str]:
    """(bytes, flops, dtype) of one launch: every argument read once and every result
    written once; the op's multiply-adds ×2; the element type of its first operand."""
    types = [*kernel.function_type.inputs.data, *kernel.function_type.outputs.data]
    nbytes = sum(math.prod(t.get_shape()) * device_itemsize(t.element_type, "the profile") for t in types)
    op = kernel.computation
    flops = FLOPS[op.name](op) if op.name in FLOPS else 0
    typed = op.operands[0] if op.operands else op.results[0]
    try:
        dtype = _device_type_name(typed.type, f"@{kernel.sym_name.data}")
    except OptcError:
        dtype = ""
    return nbytes, flops, dtype


def _buffer_specs(launches: Sequence[LaunchOp], returned: Sequence[SSAValue], names: Sequence[str]) -> tuple[BufferSpec, ...]:
    """Every arena buffer with its offset and live interval, as plan-memory computed them."""
    where: dict[SSAValue, tuple[str, int]] = {}
    for step, launch in enumerate(launches):
        for i, (result, offset) in enumerate(zip(launch.outputs, launch.arena_offsets.get_values())):
            where[result] = (names[step] if len(launch.outputs) == 1 else f"{names[step]}#{i}", offset)
    return tuple(BufferSpec(*where[b.id], b.size, b.first, b.last) for b in live_buffers(launches, returned))


def shared_entry(name: str, source: str) -> tuple[str, str]:
    """The entry name and source a kernel compiles under: its code with its own name
    replaced by one derived from that code, so that kernels doing the same thing (the same
    layer repeated twelve times, say) are one image, compiled (and cached) once."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise OptcError(f"kernel name '{name}' is not a C identifier")
    template = re.sub(rf"\b{name}\b", "@KERNEL@", source)
    entry_name = "optc_" + hashlib.sha256(template.encode()).hexdigest()[:16]
    return entry_name, template.replace("@KERNEL@", entry_name)


def library_call(kernel: FuncOp, launch: LaunchAttr) -> LibraryCall:
    """The library call of a kernel whose tactic is a library's (`cublaslt`, `cudnn`), its
    algorithm resolved on this GPU from the library's heuristic list (the tuner's list: the
    same process asks once), with the library's version (`passes.codegen.library`)."""
    from passes.codegen.library import library_call as resolve

    return resolve(kernel, launch)


def _scratch(kernels: Mapping[str, FuncOp], chosen: Mapping[str, LaunchAttr], workspace: Mapping[str, int], start: int) -> dict[str, int]:
    """Where each kernel's workspace starts in the arena (kernels with one): the tactics'
    scratch memory lives past every planned buffer, from `start`. Launches run one after
    another, so each range is shared: one for the tactics that need it zeroed (and leave it
    so: split-K's counters), then one for library calls, whose product and library
    workspace are left dirty and must never reach a counter."""
    zeroed = max((workspace[n] for n in kernels if workspace[n] and not is_library(chosen[n])), default=0)
    library_start = start + -(-zeroed // ALIGNMENT) * ALIGNMENT
    return {n: library_start if is_library(chosen[n]) else start for n in kernels if workspace[n]}


def _compile_all(names: Sequence[str], sources: Sequence[str], arch: str) -> list[bytes]:
    """Cubins of every kernel, compiled in parallel (NVRTC releases the GIL), in order; a
    progress line counts them on a terminal. The first failure in kernel order is raised."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool, Progress("compiling kernels", len(names)) as progress:
        futures = [pool.submit(compile_cuda, source, f"{name}.cu", arch=arch) for name, source in zip(names, sources)]
        for _ in as_completed(futures):
            progress.advance()
        return [f.result() for f in futures]


def compile_engine(module: ModuleOp, arch: str, target: Target | None = None) -> EngineImage:
    """The engine of a kernel-level module: plan, cubins (NVRTC, disk-cached) and weights.
    A kernel without a tactic gets its generator's choice for `target` (`arch`'s table by
    default)."""
    target = target or named(arch)
    main = entry(module)
    kernels = {k.sym_name.data: k for k in module.ops if isinstance(k, FuncOp)}
    store = store_of(module)
    check_weights(module, store)  # again: the bytes below are what the kernels read, by declared size
    slots: dict[SSAValue, Slot] = {}
    inputs, weights = _Layout(), _Layout()
    input_specs = []
    for name, arg in zip(io_names(main), main.body.block.args):
        tname = _device_type_name(arg.type, f"input '{name}'")
        offset = inputs.add(_nbytes(arg.type, tname))
        slots[arg] = Slot("inputs", offset)
        input_specs.append(TensorSpec(name, tname, tuple(arg.type.get_shape()), slots[arg]))
    launches, launch_ops = [], []
    for op in main.body.block.ops:
        if isinstance(op, (WeightOp, ConstantOp)):
            array = store[op.sym.data] if isinstance(op, WeightOp) else op.to_array()
            tname = _device_type_name(op.result.type, f"'{op.name}'")
            data = _device_bytes(array, tname)
            slots[op.result] = Slot("weights", weights.add(len(data), data))
        elif is_free_view(op):
            slots[op.results[0]] = slots[op.operands[0]]
        elif isinstance(op, LaunchOp):
            if op.arena_offsets is None:
                raise OptcError(f"launch of @{op.callee.root_reference.data} has no arena offsets: run plan-memory first")
            for result, offset in zip(op.outputs, op.arena_offsets.get_values()):
                slots[result] = Slot("arena", offset)
            args = (*(slots[a] for a in op.args), *(slots[r] for r in op.outputs))
            launches.append(LaunchSpec(op.callee.root_reference.data, args))
            launch_ops.append(op)
        elif isinstance(op, func.ReturnOp):
            continue
        else:
            raise OptcError(f"'{op.name}' in @main is not lowered to a kernel launch: lower the module to the kernel level first (-p kernel)")
    returned = main.body.block.last_op.operands
    output_specs = [
        TensorSpec(name, _device_type_name(v.type, f"output '{name}'"), tuple(v.type.get_shape()), slots[v])
        for name, v in zip(io_names(main, results=True), returned)
    ]
    chosen = {name: launch_of(kernel, target) for name, kernel in kernels.items()}
    library = {name: library_call(kernel, chosen[name]) for name, kernel in kernels.items() if is_library(chosen[name])}
    sources = {name: kernel_source(kernel, target) for name, kernel in kernels.items()}
    # a tactic that emits nothing (a library call that writes the result) has no image
    entries = {name: shared_entry(name, source) for name, source in sources.items() if source}
    unique = dict(entries.values())  # entry -> source: each distinct kernel compiled once
    images = _compile_all(list(unique), list(unique.values()), arch)
    image_of = {entry: index for index, entry in enumerate(unique)}
    workspace = {name: workspace_bytes(kernel, chosen[name]) for name, kernel in kernels.items()}
    memory = main.attributes.get(ARENA_ATTR)
    stats = {k: v.value.data for k, v in memory.data.items() if k != "strategy"} if memory else {}
    # the tactics' scratch memory, past the planned buffers, zeroed when the engine loads
    start = -(-stats.get("bytes", 0) // ALIGNMENT) * ALIGNMENT
    scratch = _scratch(kernels, chosen, workspace, start)
    launches = [
        LaunchSpec(launch.kernel, (*launch.args, Slot("arena", scratch[launch.kernel]))) if launch.kernel in scratch else launch
        for launch in launches
    ]
    arena_end = max((scratch[n] + workspace[n] for n in scratch), default=0)
    arena_bytes = arena_end if scratch else stats.get("bytes", 0)
    if scratch:
        stats["workspace"] = arena_end - start
    specs = []
    for name, kernel in kernels.items():
        launch = chosen[name]
        nbytes, flops, dtype = kernel_cost(kernel)
        entry_name = entries[name][0] if name in entries else ""
        specs.append(
            KernelSpec(
                name=name,
                image=image_of[entry_name] if entry_name else -1,
                grid=launch.grid_dims,
                block=launch.block_dims,
                shared_bytes=launch.shared_bytes,
                tactic=launch.tactic_name,
                tile=launch.tile_params,
                ops=_computed_ops(kernel),
                bytes=nbytes,
                flops=flops,
                dtype=dtype,
                entry=entry_name,
                params=kernel_params(kernel, workspace[name]),
                library=library.get(name),
            )
        )
    plan = EnginePlan(
        inputs=tuple(input_specs),
        outputs=tuple(output_specs),
        kernels=tuple(specs),
        launches=tuple(launches),
        region_bytes={"inputs": inputs.size, "weights": weights.size, "arena": arena_bytes},
        arch=arch,
        memory=stats,
        buffers=_buffer_specs(launch_ops, returned, [launch.kernel for launch in launches]),
    )
    return EngineImage(plan, tuple(images), weights.bytes(), str(module))


def _nbytes(t, tname: str) -> int:
    return math.prod(t.get_shape()) * device_dtype(tname).itemsize

