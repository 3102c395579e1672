"""Build an engine: ONNX (or IR) → the `kernel` level → CUDA → NVRTC → an engine.

    import compiler
    engine = compiler.build("model.onnx")                # compiles for this machine's GPU
    outputs = engine.run({"input": array})
    engine.save("model.engine")                          # runs later without recompiling
    engine = compiler.load("model.engine")

`compile_engine` does everything but touch a GPU (NVRTC needs none), so engines can be
built for a named architecture anywhere: `compiler.build(path, arch="sm_90", load=False)`
returns the EngineImage, which `runtime.engine.write_engine` saves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
from xdsl.dialects import func
from xdsl.dialects.builtin import BFloat16Type, ModuleOp
from xdsl.ir import SSAValue

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.graph import ConstantOp, WeightOp
from dialects.kernel import FuncOp, LaunchOp
from dialects.weights import store_of
from passes.codegen.cuda import kernel_source, launch_of
from passes.codegen.cuda_types import device_itemsize
from passes.memory.plan_memory import ARENA_ATTR, VIEW_OPS
from runtime.cuda import compile_cuda
from runtime.engine.file import EngineImage
from runtime.engine.plan import EnginePlan, KernelSpec, LaunchSpec, Slot, TensorSpec, device_dtype
from runtime.reference.interpreter import entry, io_names

ALIGNMENT = 256
PRECISIONS = {"fp32": None, "fp16": "fp16", "bf16": "bf16"}


def kernel_pipeline(precision: str = "fp32") -> str:
    """The pipeline from imported IR to the kernel level at `precision`."""
    if precision not in PRECISIONS:
        raise OptcError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return "kernel"
    return f"graph-optimize,graph-convert-precision{{precision={precision}}},fuse,lower-to-kernels"


def build(
    model: str | os.PathLike | onnx.ModelProto,
    *,
    precision: str = "fp32",
    shapes: Mapping[str, Sequence[int]] | None = None,
    arch: str | None = None,
    load: bool = True,
):
    """An engine for an ONNX model (a path or a ModelProto), loaded on the GPU (or, with
    `load=False`, the EngineImage, which needs no GPU when `arch` is given)."""
    from compiler.onnx_import import import_onnx

    module = import_onnx(os.fspath(model) if not isinstance(model, onnx.ModelProto) else model, shapes)
    return build_module(module, pipeline=kernel_pipeline(precision), arch=arch, load=load)


def build_module(module: ModuleOp, pipeline: str = "kernel", arch: str | None = None, load: bool = True):
    """An engine for a module at any level: `pipeline` takes it to the kernel level."""
    from compiler.pipelines import build as build_pipeline
    from xdsl.context import Context

    from dialects.registry import DIALECTS

    ctx = Context()
    for name, factory in DIALECTS.items():
        ctx.register_dialect(name, factory)
    for p in build_pipeline(pipeline):
        p.apply(ctx, module)
    module.verify()
    image = compile_engine(module, arch or _device_arch())
    if not load:
        return image
    from runtime.engine.engine import Engine

    return Engine(image)


def load(path: str | os.PathLike):
    """An engine saved by `Engine.save` (or `write_engine`), loaded on the GPU."""
    from runtime.engine.engine import Engine
    from runtime.engine.file import read_engine

    return Engine(read_engine(path))


def _device_arch() -> str:
    from runtime.cuda import CudaUnavailable, Device

    try:
        return Device(0).arch
    except CudaUnavailable as exc:
        raise OptcError(f"no GPU to build for ({exc}); name one with arch='sm_90'") from None


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


def _computed_ops(kernel: FuncOp) -> tuple[str, ...]:
    op = kernel.computation
    inner = [o.name for region in op.regions for o in region.walk() if o.name.startswith("graph.")]
    return (op.name, *inner)


def compile_engine(module: ModuleOp, arch: str) -> EngineImage:
    """The engine of a kernel-level module: plan, cubins (NVRTC, disk-cached) and weights."""
    main = entry(module)
    kernels = {k.sym_name.data: k for k in module.ops if isinstance(k, FuncOp)}
    store = store_of(module)
    slots: dict[SSAValue, Slot] = {}
    inputs, weights = _Layout(), _Layout()
    input_specs = []
    for name, arg in zip(io_names(main), main.body.block.args):
        tname = _device_type_name(arg.type, f"input '{name}'")
        offset = inputs.add(_nbytes(arg.type, tname))
        slots[arg] = Slot("inputs", offset)
        input_specs.append(TensorSpec(name, tname, tuple(arg.type.get_shape()), slots[arg]))
    launches = []
    for op in main.body.block.ops:
        if isinstance(op, (WeightOp, ConstantOp)):
            array = store[op.sym.data] if isinstance(op, WeightOp) else op.to_array()
            tname = _device_type_name(op.result.type, f"'{op.name}'")
            data = _device_bytes(array, tname)
            slots[op.result] = Slot("weights", weights.add(len(data), data))
        elif op.name in VIEW_OPS:
            slots[op.results[0]] = slots[op.operands[0]]
        elif isinstance(op, LaunchOp):
            if op.arena_offsets is None:
                raise OptcError(f"launch of @{op.callee.root_reference.data} has no arena offsets: run plan-memory first")
            for result, offset in zip(op.outputs, op.arena_offsets.get_values()):
                slots[result] = Slot("arena", offset)
            args = (*(slots[a] for a in op.args), *(slots[r] for r in op.outputs))
            launches.append(LaunchSpec(op.callee.root_reference.data, args))
        elif isinstance(op, func.ReturnOp):
            continue
        else:
            raise OptcError(f"'{op.name}' in @main is not lowered to a kernel launch: lower the module to the kernel level first (-p kernel)")
    returned = main.body.block.last_op.operands
    output_specs = [
        TensorSpec(name, _device_type_name(v.type, f"output '{name}'"), tuple(v.type.get_shape()), slots[v])
        for name, v in zip(io_names(main, results=True), returned)
    ]
    names = list(kernels)
    sources = [kernel_source(kernels[n]) for n in names]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        images = list(pool.map(lambda ns: compile_cuda(ns[1], f"{ns[0]}.cu", arch=arch), zip(names, sources)))
    specs = []
    for index, name in enumerate(names):
        launch = launch_of(kernels[name])
        specs.append(
            KernelSpec(name, index, launch.grid_dims, launch.block_dims, launch.shared_bytes, _computed_ops(kernels[name]))
        )
    memory = main.attributes.get(ARENA_ATTR)
    stats = {k: v.value.data for k, v in memory.data.items() if k != "strategy"} if memory else {}
    plan = EnginePlan(
        inputs=tuple(input_specs),
        outputs=tuple(output_specs),
        kernels=tuple(specs),
        launches=tuple(launches),
        region_bytes={"inputs": inputs.size, "weights": weights.size, "arena": stats.get("bytes", 0)},
        arch=arch,
        memory=stats,
    )
    return EngineImage(plan, tuple(images), weights.bytes(), str(module))


def _nbytes(t, tname: str) -> int:
    return math.prod(t.get_shape()) * device_dtype(tname).itemsize

