"""The CUDA layer: NVRTC compiles (with a disk cache) and a thin, checked driver API.

    from runtime.cuda import compile_cuda, Module, DeviceBuffer, Stream, Event

`nvrtc` needs no GPU; the driver modules initialise CUDA on first use and raise
CudaUnavailable where there is no driver or device. Every failed call raises an error naming
the call (errors.py). One module per responsibility:

    nvrtc.py    compile_cuda, compile_ptx, compile_program (output and log) and their disk cache
    errors.py   the exceptions
    driver.py   the checked driver call and the base of owned driver objects
    device.py   cuInit, Device, the primary Context, synchronize, memory_info
    memory.py   DeviceBuffer: device memory and its copies
    stream.py   Stream, Event, Graph (capture and replay)
    kernel.py   Module, Kernel: loading, argument packing, launch
"""

from runtime.cuda.device import (
    Context,
    Device,
    current_context,
    device_count,
    driver_version,
    init,
    memory_info,
    synchronize,
)
from runtime.cuda.errors import (
    CudaError,
    CudaUnavailable,
    KernelArgumentError,
    NvrtcCompileError,
    NvrtcError,
    NvrtcUnavailable,
)
from runtime.cuda.kernel import Kernel, Module
from runtime.cuda.memory import DeviceBuffer
from runtime.cuda.nvrtc import Compiled, cache_dir, compile_cuda, compile_program, compile_ptx, nvrtc_version
from runtime.cuda.stream import Event, Graph, Stream

__all__ = [
    "Compiled",
    "Context",
    "CudaError",
    "CudaUnavailable",
    "Device",
    "DeviceBuffer",
    "Event",
    "Graph",
    "Kernel",
    "KernelArgumentError",
    "Module",
    "NvrtcCompileError",
    "NvrtcError",
    "NvrtcUnavailable",
    "Stream",
    "cache_dir",
    "compile_cuda",
    "compile_program",
    "compile_ptx",
    "current_context",
    "device_count",
    "driver_version",
    "init",
    "memory_info",
    "nvrtc_version",
    "synchronize",
]
