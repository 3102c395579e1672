"""The driver, devices and contexts: `cuInit`, the device's properties, its primary context.

The context. Work runs in the device's primary context, the one the CUDA runtime (and so
PyTorch and CuPy) uses, so device pointers pass between them. `cuInit` runs on first use;
an object that needs a context and finds none current in its thread makes device 0's primary
context current (`current_context`), the way the runtime API does. `Context(n)` chooses
another device.
"""

from __future__ import annotations

import functools

from cuda.bindings import driver as cu

from runtime.cuda.driver import _SUCCESS, _call
from runtime.cuda.errors import CudaUnavailable


@functools.cache
def init() -> None:
    """`cuInit`, once. Raises CudaUnavailable where there is no driver library or no device."""
    try:
        (status,) = cu.cuInit(0)
    except Exception as exc:  # the bindings could not find or load libcuda
        raise CudaUnavailable("cuInit", "no CUDA driver", detail=str(exc)) from exc
    if status != _SUCCESS:
        raise CudaUnavailable("cuInit", status)


def device_count() -> int:
    init()
    return _call(cu.cuDeviceGetCount)


def driver_version() -> tuple[int, int]:
    """The CUDA version the driver supports, e.g. (13, 0)."""
    init()
    version = _call(cu.cuDriverGetVersion)
    return version // 1000, version % 1000 // 10


class Device:
    """One GPU, by ordinal. Its properties are read once."""

    def __init__(self, ordinal: int = 0):
        init()
        self.ordinal = ordinal
        self.handle = _call(cu.cuDeviceGet, ordinal, detail=f"device {ordinal} of {device_count()}")

    def attribute(self, attribute: cu.CUdevice_attribute | str) -> int:
        """A driver attribute, by enum or by the name after `CU_DEVICE_ATTRIBUTE_`
        ("MULTIPROCESSOR_COUNT"), so callers need not import the bindings."""
        if isinstance(attribute, str):
            attribute = getattr(cu.CUdevice_attribute, f"CU_DEVICE_ATTRIBUTE_{attribute}")
        return _call(cu.cuDeviceGetAttribute, attribute, self.handle)

    @functools.cached_property
    def name(self) -> str:
        return _call(cu.cuDeviceGetName, 256, self.handle).split(b"\0")[0].decode()

    @functools.cached_property
    def compute_capability(self) -> tuple[int, int]:
        attr = cu.CUdevice_attribute
        return (
            self.attribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
            self.attribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
        )

    @property
    def arch(self) -> str:
        """The NVRTC architecture of this device, e.g. "sm_90" (add "a" for sm_90a's extras)."""
        major, minor = self.compute_capability
        return f"sm_{major}{minor}"

    @functools.cached_property
    def sm_count(self) -> int:
        return self.attribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)

    @functools.cached_property
    def total_memory(self) -> int:
        """Bytes of device memory."""
        return _call(cu.cuDeviceTotalMem, self.handle)

    @functools.cached_property
    def shared_memory_per_block(self) -> int:
        """Bytes of shared memory a block gets without opting in (48 KiB)."""
        return self.attribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)

    @functools.cached_property
    def shared_memory_per_block_optin(self) -> int:
        """Bytes of shared memory a block may have after Kernel.set_max_dynamic_shared_memory."""
        return self.attribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)

    @functools.cached_property
    def l2_cache_size(self) -> int:
        return self.attribute(cu.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)

    def __repr__(self) -> str:
        return f"Device({self.ordinal}: {self.name}, {self.arch}, {self.sm_count} SMs)"


class Context:
    """A device's primary context, retained and made current in the calling thread.

    The primary context is shared and reference-counted by the driver: every Context over
    one device is the same context. `release()` gives this retain back (the context goes
    when none is left, with all memory in it); dropping the object does not.
    """

    def __init__(self, device: Device | int = 0):
        self.device = device if isinstance(device, Device) else Device(device)
        self.handle = _call(cu.cuDevicePrimaryCtxRetain, self.device.handle)
        self.make_current()

    def make_current(self) -> None:
        _call(cu.cuCtxSetCurrent, self.handle)

    def synchronize(self) -> None:
        self.make_current()
        _call(cu.cuCtxSynchronize)

    def release(self) -> None:
        _call(cu.cuDevicePrimaryCtxRelease, self.device.handle)

    def __repr__(self) -> str:
        return f"Context({self.device!r})"


_default_context: Context | None = None


def current_context() -> None:
    """Makes sure this thread has a current context: device 0's primary one if it has none."""
    global _default_context
    init()
    if int(_call(cu.cuCtxGetCurrent)) == 0:
        if _default_context is None:
            _default_context = Context(0)
        else:
            _default_context.make_current()


def synchronize() -> None:
    """Waits for all work in the current context."""
    current_context()
    _call(cu.cuCtxSynchronize)


def memory_info() -> tuple[int, int]:
    """(free, total) bytes of the current device."""
    current_context()
    return _call(cu.cuMemGetInfo)
