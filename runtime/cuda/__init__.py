"""The CUDA layer: NVRTC compiles (with a disk cache) and a thin, checked driver API.

    from runtime.cuda import compile_cuda, Module, DeviceBuffer, Stream, Event

`nvrtc` needs no GPU; `driver` initialises CUDA on first use and raises CudaUnavailable where
there is no driver or device. Every failed call raises an error naming the call (errors.py).
"""

from runtime.cuda.driver import (
    Context,
    Device,
    DeviceBuffer,
    Event,
    Graph,
    Kernel,
    Module,
    Stream,
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
from runtime.cuda.nvrtc import cache_dir, compile_cuda, compile_ptx, nvrtc_version

__all__ = [
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
    "compile_ptx",
    "current_context",
    "device_count",
    "driver_version",
    "init",
    "memory_info",
    "nvrtc_version",
    "synchronize",
]
