"""Run an engine on the GPU: three allocations, one stream, and the launch sequence replayed
as one CUDA graph.

The sequence is a list of steps (`steps.py`): optc's kernels, and library kernels (a
cuBLASLt or cuDNN call, then its epilogue kernel). At load, every library kernel gets its
library's plan, and its algorithm is checked against the library here
(`library_plans`): an engine built with another cuBLASLt or cuDNN that this one cannot
run is an EngineError that says so, before anything runs.

    engine = Engine(read_engine("model.engine"))
    outputs = engine.run({"input": array})          # numpy in, numpy out
    views = engine.run(feeds, device_outputs=True)  # DeviceBuffers over the engine's memory

Inputs may be numpy arrays or device arrays with `__cuda_array_interface__` (torch, CuPy):
the latter are copied device-to-device into the engine's input region, never through the
host. With `device_outputs`, outputs are views of the engine's memory, valid until the next
run (torch.as_tensor reads them without a copy).
"""

from __future__ import annotations

from collections.abc import Mapping

import ml_dtypes
import numpy as np

from dialects.errors import OptcError
from runtime.cuda import Device, DeviceBuffer, Graph, Module, Stream
from runtime.engine.file import EngineImage, check_image, write_engine
from runtime.engine.plan import REGIONS, EnginePlan, Slot, TensorSpec, device_dtype
from runtime.engine.steps import Step, build_steps


class EngineError(OptcError):
    """An engine that cannot run here, or inputs it cannot take."""


class Engine:
    def __init__(self, image: EngineImage, use_graph: bool = True):
        check_image(image)  # before the device: every slot _pack turns into a pointer is in bounds
        self.image = image
        self.plan: EnginePlan = image.plan
        self.device = Device(0)
        if self.device.arch != self.plan.arch and not _compatible(self.plan.arch, self.device.arch):
            raise EngineError(
                f"the engine was built for {self.plan.arch}; this GPU ({self.device.name}) is {self.device.arch}: "
                "rebuild it here"
            )
        self.stream = Stream()
        self.regions = {r: DeviceBuffer(max(self.plan.region_bytes.get(r, 0), 1)) for r in REGIONS}
        # the tactics' workspaces (past the planned buffers) start zeroed: split-K's counters
        self.regions["arena"].fill_bytes(0, self.stream)
        if image.weights:
            self.regions["weights"].copy_from_host(np.frombuffer(image.weights, np.uint8))
        self.modules = [Module(cubin, f"image{i}") for i, cubin in enumerate(image.images)]
        self.kernels = {spec.name: self._load(spec) for spec in self.plan.kernels if spec.image >= 0}
        self.libraries = library_plans(self.plan)
        # check_image proved offset + each parameter's bytes <= its region's size
        self.steps: list[Step] = build_steps(self.plan, self._address, self.kernels, self.libraries)
        self.use_graph = use_graph
        self.graph: Graph | None = None

    # --- set-up ------------------------------------------------------------------------

    def _load(self, spec):
        """The kernel's function, allowed its dynamic shared memory: past the device's
        default per-block limit only after opting in, and never past the opt-in limit (a
        launch written by hand, or checked against another GPU's table, may ask for more)."""
        kernel = self.modules[spec.image].function(spec.function)
        if spec.shared_bytes > self.device.shared_memory_per_block_optin:
            raise EngineError(
                f"kernel '{spec.name}' (tactic {spec.tactic}) needs {spec.shared_bytes} bytes of shared memory; "
                f"{self.device.name} allows a block {self.device.shared_memory_per_block_optin}: rebuild the engine here"
            )
        if spec.shared_bytes > self.device.shared_memory_per_block:
            kernel.set_max_dynamic_shared_memory(spec.shared_bytes)
        return kernel

    def _address(self, slot: Slot) -> int:
        return self.regions[slot.region].ptr + slot.offset

    def view(self, spec: TensorSpec) -> DeviceBuffer:
        """The device memory of an input or output, as a typed buffer."""
        return self.regions[spec.slot.region].view(device_dtype(spec.dtype), spec.shape, spec.slot.offset)

    # --- running -----------------------------------------------------------------------

    def launch_all(self) -> None:
        """Issue every step on the engine's stream (no graph)."""
        for step in self.steps:
            step.launch(self.stream)

    def execute(self) -> None:
        """Run the launch sequence once on the engine's stream (inputs already in place)."""
        if not self.use_graph:
            self.launch_all()
            return
        if self.graph is None:
            if self.libraries:  # a library sets its kernels up at their first call, which must not be inside a capture
                self.launch_all()
            with self.stream.capture() as graph:
                self.launch_all()
            self.graph = graph
        self.graph.launch(self.stream)

    def set_inputs(self, feeds: Mapping[str, object]) -> None:
        names = [spec.name for spec in self.plan.inputs]
        missing = [n for n in names if n not in feeds]
        unknown = sorted(set(feeds) - set(names))
        if missing or unknown:
            problem = f"missing input(s): {', '.join(missing)}" if missing else f"unknown input(s): {', '.join(unknown)}"
            raise EngineError(f"{problem} (the engine takes {', '.join(names)})")
        for spec in self.plan.inputs:
            value = feeds[spec.name]
            target = self.view(spec)
            if hasattr(value, "__cuda_array_interface__"):
                source = DeviceBuffer.wrap(value)
                _check(spec, source.shape, source.dtype)
                target.copy_from(source, stream=self.stream)
            else:
                array = np.asarray(value)
                _check(spec, array.shape, _host_dtype(array.dtype, spec.dtype))
                target.copy_from_host(_to_device_repr(array, spec.dtype), self.stream)

    def run(self, feeds: Mapping[str, object], device_outputs: bool = False) -> dict[str, object]:
        """Run the model on `feeds` (by input name); outputs by name (numpy, or device views)."""
        self.set_inputs(feeds)
        self.execute()
        if device_outputs:
            self.stream.synchronize()
            return {spec.name: self.view(spec) for spec in self.plan.outputs}
        outputs = {}
        for spec in self.plan.outputs:
            host = np.empty(spec.shape, device_dtype(spec.dtype))
            self.view(spec).copy_to_host(host, self.stream)
            outputs[spec.name] = host.astype(np.float32) if spec.dtype == "bfloat16" else host
        self.stream.synchronize()
        return outputs

    def save(self, path) -> None:
        """Write the engine to one file that `compiler.load` runs without recompiling."""
        write_engine(self.image, path)

    def close(self) -> None:
        for lib_plan, _ in self.libraries.values():
            lib_plan.close()
        for buffer in self.regions.values():
            buffer.close()


def _compatible(built: str, device: str) -> bool:
    """A cubin runs on the architecture it was built for; sm_90a only on sm_90 parts."""
    return built.rstrip("a") == device.rstrip("a") and not built.endswith("a")


def _host_dtype(dtype: np.dtype, device: str) -> np.dtype:
    """bf16 inputs come from the host as float32 (as the reference holds them) or bfloat16."""
    if device == "bfloat16" and dtype in (np.dtype(np.float32), np.dtype(ml_dtypes.bfloat16)):
        return np.dtype(ml_dtypes.bfloat16)
    return dtype


def _to_device_repr(array: np.ndarray, device: str) -> np.ndarray:
    return np.ascontiguousarray(array.astype(device_dtype(device), copy=False))


def _check(spec: TensorSpec, shape, dtype) -> None:
    if tuple(shape) != spec.shape:
        raise EngineError(f"input '{spec.name}' has shape {list(shape)}, the engine expects {list(spec.shape)}")
    if np.dtype(dtype) != device_dtype(spec.dtype):
        raise EngineError(f"input '{spec.name}' has dtype {np.dtype(dtype)}, the engine expects {spec.dtype}")


def library_plans(plan: EnginePlan, make_plan=None, version=None) -> dict[str, tuple[object, object]]:
    """Each library kernel's (plan, algorithm) on this machine's library (`runtime.library`:
    cuBLASLt, cuDNN): the plan of its call (`make_plan`, default the library's plan class)
    and its algorithm checked there (`check`), which must fit the workspace the engine
    gives it. EngineError when the library is missing or cannot run the algorithm (an
    engine built with another version: rebuild it here). `version` (default: the
    library's) names the library in those errors."""
    plans: dict[str, tuple[object, object]] = {}
    try:
        for spec in plan.kernels:
            if spec.library is not None:
                plans[spec.name] = _library_plan(spec, make_plan, version)
    except BaseException:
        for lib_plan, _ in plans.values():
            lib_plan.close()
        raise
    return plans


def _built_with(call) -> str:
    """The versions an engine's library call was built with ("cuDNN 9.10.2 (cudnn-frontend 1.14.1)")."""
    from runtime.library import library

    title = library(call.library).TITLE
    return f"{title} {call.version}" + (f" (frontend {call.frontend})" if call.frontend else "")


def _here(module, call, version: str) -> str:
    """The library's version here, with its frontend's where the engine recorded one."""
    if not call.frontend:
        return version
    try:
        return f"{version} (frontend {module.frontend_version()})"
    except OptcError:
        return version


def _library_plan(spec, make_plan, version) -> tuple[object, object]:
    from runtime.library import LibraryError, LibraryUnavailable, library

    call, what = spec.library, f"kernel '{spec.name}' (tactic {spec.tactic})"
    module = library(call.library)
    title = module.TITLE
    try:
        here = (version or module.library_version)()
    except LibraryUnavailable as exc:
        raise EngineError(f"{what} runs {title}, which is not available here: {exc}") from None
    lib_plan = None
    try:
        lib_plan = (make_plan or module.Plan)(call.call)
        algorithm = module.algorithm_of(call)
        needed = lib_plan.check(algorithm)
    except LibraryError as exc:
        if lib_plan is not None:
            lib_plan.close()
        if here != call.version:
            raise EngineError(f"{what}: built with {_built_with(call)}, this GPU has {_here(module, call, here)}: rebuild the engine here ({exc})") from None
        raise EngineError(f"{what}: {title} {here} cannot run the engine's algorithm: rebuild the engine here ({exc})") from None
    room = spec.params[-1].nbytes - call.workspace_offset
    if needed > room:
        lib_plan.close()
        raise EngineError(
            f"{what}: {title} {here} needs {needed} bytes of workspace for the engine's algorithm, which was given {room} "
            f"(built with {_built_with(call)}): rebuild the engine here"
        )
    return lib_plan, algorithm
