"""Modules and kernels: a loaded cubin or PTX, its kernels' attributes, and the launch.

    cubin = compile_cuda(SAXPY, "saxpy.cu", arch=Device(0).arch)
    saxpy = Module(cubin, "saxpy.cu").function("saxpy")
    x, y = DeviceBuffer.from_numpy(xs), DeviceBuffer.from_numpy(ys)
    saxpy.launch(grid=blocks, block=256, args=[x, y, np.float32(2.0), np.int32(n)])
    print(y.to_numpy())

Kernel arguments. `Kernel.launch(args=[...])` takes one value per kernel parameter:
- a DeviceBuffer, or anything with `__cuda_array_interface__` (a torch or CuPy tensor): its
  device address, 8 bytes;
- a numpy scalar (`np.float32(2.0)`, `np.int64(n)`, `np.uint64(address)`): its bytes, so its
  dtype says exactly what the kernel receives;
- a Python int or float: int32 or float32 (use a numpy scalar for anything else);
- bytes: a parameter passed by value as raw bytes (a struct, a CUtensorMap).
Where the driver can tell (`cuFuncGetParamInfo`, CUDA 12.4 and later), the number of
arguments and each one's size are checked against the kernel's parameters before the launch.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import numpy as np
from cuda.bindings import driver as cu

from runtime.cuda.device import Device, current_context
from runtime.cuda.driver import _SUCCESS, _call, _Resource
from runtime.cuda.errors import KernelArgumentError
from runtime.cuda.stream import Stream, _stream_handle


class Module(_Resource):
    """A loaded cubin (or PTX text); `function(name)` gives its kernels."""

    def __init__(self, image: bytes | str, name: str = "module"):
        current_context()
        self.name = name
        if isinstance(image, str):
            image = image.encode() + b"\0"  # PTX is read as a C string
        device = Device(int(_call(cu.cuCtxGetDevice)))
        self.handle = _call(
            cu.cuModuleLoadData, image, detail=f"loading '{name}' on {device.name} ({device.arch})"
        )
        self._closed = False

    def _release(self) -> None:
        _call(cu.cuModuleUnload, self.handle)

    def function(self, name: str) -> Kernel:
        handle = _call(
            cu.cuModuleGetFunction, self.handle, name.encode(), kernel=name, detail=f"in '{self.name}'"
        )
        return Kernel(self, name, handle)


def _dim3(dims: int | Sequence[int]) -> tuple[int, int, int]:
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if not 1 <= len(dims) <= 3:
        raise ValueError(f"a grid or block has 1 to 3 dimensions, got {dims}")
    return (*dims, *(1,) * (3 - len(dims)))


def _argument_bytes(value: object) -> bytes:
    """The bytes a kernel parameter receives for `value` (see the module's docstring)."""
    if hasattr(value, "__cuda_array_interface__"):
        return np.uint64(value.__cuda_array_interface__["data"][0]).tobytes()
    if isinstance(value, np.generic):
        return value.tobytes()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, bool):
        raise TypeError("a Python bool is ambiguous as a kernel argument: pass np.bool_ or np.int32")
    if isinstance(value, int):
        if not -(2**31) <= value < 2**31:
            raise OverflowError(f"{value} does not fit int32: pass np.int64 or np.uint64")
        return np.int32(value).tobytes()
    if isinstance(value, float):
        return np.float32(value).tobytes()
    raise TypeError(f"cannot pass {type(value).__name__} to a kernel")


class Parameters:
    """The `void**` array cuLaunchKernel reads: a pointer to each argument's bytes, which sit
    in 16-byte-aligned slots of one host array that lives as long as this object."""

    def __init__(self, arguments: Sequence[bytes]):
        slots = [(len(data) + 15) // 16 * 16 for data in arguments]
        offsets = [0, *itertools.accumulate(slots)][: len(arguments)]
        self.storage = np.zeros(max(sum(slots), 16), np.uint8)
        for offset, data in zip(offsets, arguments, strict=True):
            self.storage[offset : offset + len(data)] = np.frombuffer(data, np.uint8)
        base = self.storage.ctypes.data
        self.pointers = np.array([base + offset for offset in offsets] or [0], np.uint64)

    @property
    def address(self) -> int:
        return self.pointers.ctypes.data


class Kernel:
    """A `__global__` function of a loaded Module."""

    def __init__(self, module: Module, name: str, handle):
        self.module = module  # keeps the module loaded
        self.name = name
        self.handle = handle

    def attribute(self, attribute: cu.CUfunction_attribute) -> int:
        return _call(cu.cuFuncGetAttribute, attribute, self.handle, kernel=self.name)

    @property
    def num_registers(self) -> int:
        return self.attribute(cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_NUM_REGS)

    @property
    def local_bytes(self) -> int:
        """Local memory per thread: register spills and arrays the compiler put in memory."""
        return self.attribute(cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES)

    @property
    def static_shared_bytes(self) -> int:
        return self.attribute(cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)

    @property
    def max_threads_per_block(self) -> int:
        return self.attribute(cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK)

    def set_max_dynamic_shared_memory(self, nbytes: int) -> None:
        """Lets launches ask for up to `nbytes` of dynamic shared memory (past 48 KiB needs this)."""
        _call(
            cu.cuFuncSetAttribute,
            self.handle,
            cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            nbytes,
            kernel=self.name,
            detail=f"{nbytes} bytes",
        )

    @functools.cached_property
    def parameter_sizes(self) -> tuple[int, ...] | None:
        """Each parameter's size in bytes, or None where the driver cannot say (before 12.4)."""
        sizes = []
        for index in itertools.count():
            try:
                status, _offset, size = cu.cuFuncGetParamInfo(self.handle, index)
            except Exception:  # bindings or driver without cuFuncGetParamInfo
                return None
            if status == cu.CUresult.CUDA_ERROR_INVALID_VALUE:  # past the last parameter
                return tuple(sizes)
            if status != _SUCCESS:
                return None
            sizes.append(size)
        raise AssertionError("unreachable")

    def pack(self, args: Sequence[object]) -> Parameters:
        """The arguments, checked and packed once, for `launch_packed` to reuse."""
        return self._arguments(args)

    def _arguments(self, args: Sequence[object]) -> Parameters:
        try:
            arguments = [_argument_bytes(value) for value in args]
        except (TypeError, OverflowError) as exc:
            raise KernelArgumentError(f"kernel '{self.name}': {exc}") from None
        sizes = self.parameter_sizes
        if sizes is not None:
            if len(arguments) != len(sizes):
                raise KernelArgumentError(
                    f"kernel '{self.name}' takes {len(sizes)} parameters "
                    f"({', '.join(map(str, sizes))} bytes), got {len(arguments)} arguments"
                )
            for index, (data, size, value) in enumerate(zip(arguments, sizes, args, strict=True)):
                if len(data) != size:
                    raise KernelArgumentError(
                        f"kernel '{self.name}' parameter {index} is {size} bytes, got {len(data)} bytes "
                        f"({type(value).__name__}); pass a numpy scalar of the parameter's type"
                    )
        return Parameters(arguments)

    def launch(
        self,
        grid: int | Sequence[int],
        block: int | Sequence[int],
        args: Sequence[object] = (),
        shared_mem: int = 0,
        stream: Stream | None = None,
    ) -> None:
        """Launches on `stream` (the legacy default stream if None); does not wait."""
        self.launch_packed(grid, block, self._arguments(args), shared_mem, stream)

    def launch_packed(
        self,
        grid: int | Sequence[int],
        block: int | Sequence[int],
        parameters: Parameters,
        shared_mem: int = 0,
        stream: Stream | None = None,
    ) -> None:
        """`launch` with arguments packed beforehand by `pack` (what an engine replays)."""
        grid3, block3 = _dim3(grid), _dim3(block)
        _call(
            cu.cuLaunchKernel,
            self.handle,
            *grid3,
            *block3,
            shared_mem,
            _stream_handle(stream),
            parameters.address,
            0,
            kernel=self.name,
            detail=f"grid {grid3}, block {block3}, {shared_mem} bytes of dynamic shared memory",
        )
        if stream is not None:
            stream.last_kernel = self.name

    def __repr__(self) -> str:
        return f"Kernel({self.name!r} in {self.module.name!r})"
