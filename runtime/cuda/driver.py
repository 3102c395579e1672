"""The CUDA driver, thinly: devices, the primary context, modules and kernels, device memory,
streams, events and graphs, over `cuda.bindings.driver`.

    cubin = compile_cuda(SAXPY, "saxpy.cu", arch=Device(0).arch)
    saxpy = Module(cubin, "saxpy.cu").function("saxpy")
    x, y = DeviceBuffer.from_numpy(xs), DeviceBuffer.from_numpy(ys)
    saxpy.launch(grid=blocks, block=256, args=[x, y, np.float32(2.0), np.int32(n)])
    print(y.to_numpy())

Every call is checked: a failed status raises CudaError naming the call, the status and,
for launches, the kernel with its grid and block (runtime.cuda.errors).

The context. Work runs in the device's primary context, the one the CUDA runtime (and so
PyTorch and CuPy) uses, so device pointers pass between them. `cuInit` runs on first use;
an object that needs a context and finds none current in its thread makes device 0's primary
context current, the way the runtime API does. `Context(n)` chooses another device.

Kernel arguments. `Kernel.launch(args=[...])` takes one value per kernel parameter:
- a DeviceBuffer, or anything with `__cuda_array_interface__` (a torch or CuPy tensor): its
  device address, 8 bytes;
- a numpy scalar (`np.float32(2.0)`, `np.int64(n)`, `np.uint64(address)`): its bytes, so its
  dtype says exactly what the kernel receives;
- a Python int or float: int32 or float32 (use a numpy scalar for anything else);
- bytes: a parameter passed by value as raw bytes (a struct, a CUtensorMap).
Where the driver can tell (`cuFuncGetParamInfo`, CUDA 12.4 and later), the number of
arguments and each one's size are checked against the kernel's parameters before the launch.

Asynchronous errors. A fault inside a kernel surfaces at the next call that waits for it
(usually a synchronize); that error names the last kernel launched on the stream. Set
CUDA_LAUNCH_BLOCKING=1 to make each launch wait, so the error comes from the kernel's own
launch.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt
from cuda.bindings import driver as cu

from runtime.cuda.errors import CudaError, CudaUnavailable, KernelArgumentError

_SUCCESS = cu.CUresult.CUDA_SUCCESS


def _call(fn, *args, kernel: str | None = None, detail: str = ""):
    """Calls a driver binding; raises CudaError on a failed status, else returns the results.

    The bindings return `(status, *results)`: this gives back None, the one result, or the
    tuple of results.
    """
    status, *results = fn(*args)
    if status != _SUCCESS:
        raise CudaError(fn.__name__, status, kernel=kernel, detail=detail)
    if not results:
        return None
    return results[0] if len(results) == 1 else tuple(results)


# -- the driver, devices and contexts ----------------------------------------------------


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

    def attribute(self, attribute: cu.CUdevice_attribute) -> int:
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


# -- owned driver objects ------------------------------------------------------------------


class _Resource(ABC):
    """A driver object this process owns: `close()` releases it (once), as do `with` and GC."""

    _closed = True

    @abstractmethod
    def _release(self) -> None:
        """Give the object back to the driver (called once, by `close`)."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the driver may be gone
            self.close()


# -- streams, events, graphs -------------------------------------------------------------


def _stream_handle(stream: Stream | None):
    return 0 if stream is None else stream.handle


class Stream(_Resource):
    """A stream that does not synchronise with the legacy default stream.

    `last_kernel` is the name of the last kernel launched on it, for error messages.
    """

    def __init__(self):
        current_context()
        self.handle = _call(cu.cuStreamCreate, cu.CUstream_flags.CU_STREAM_NON_BLOCKING)
        self._closed = False
        self.last_kernel: str | None = None

    def _release(self) -> None:
        _call(cu.cuStreamDestroy, self.handle)

    def synchronize(self) -> None:
        after = (
            f"the last kernel launched on this stream was '{self.last_kernel}'" if self.last_kernel else ""
        )
        _call(cu.cuStreamSynchronize, self.handle, kernel=None, detail=after)

    @contextlib.contextmanager
    def capture(self, mode: str = "global") -> Iterator[Graph]:
        """Records the work issued to this stream inside the block as a Graph (not run now).

            with stream.capture() as graph:
                kernel.launch(..., stream=stream)
            graph.launch(stream)

        `mode` is "global" (CUDA's default: unsafe calls such as cuMemAlloc from any thread
        invalidate the capture), "thread_local" or "relaxed".
        """
        modes = {
            "global": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL,
            "thread_local": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL,
            "relaxed": cu.CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_RELAXED,
        }
        _call(cu.cuStreamBeginCapture, self.handle, modes[mode])
        graph = Graph()
        try:
            yield graph
        except BaseException:
            status, captured = cu.cuStreamEndCapture(self.handle)  # leave the stream usable
            if status == _SUCCESS and int(captured):
                cu.cuGraphDestroy(captured)
            raise
        graph._instantiate(_call(cu.cuStreamEndCapture, self.handle))


class Event(_Resource):
    """A point in a stream; with `timing`, two of them measure the device time between."""

    def __init__(self, timing: bool = True):
        current_context()
        flags = cu.CUevent_flags.CU_EVENT_DEFAULT if timing else cu.CUevent_flags.CU_EVENT_DISABLE_TIMING
        self.handle = _call(cu.cuEventCreate, flags)
        self._closed = False

    def _release(self) -> None:
        _call(cu.cuEventDestroy, self.handle)

    def record(self, stream: Stream | None = None) -> Event:
        _call(cu.cuEventRecord, self.handle, _stream_handle(stream))
        return self

    def synchronize(self) -> None:
        _call(cu.cuEventSynchronize, self.handle)

    def elapsed_ms(self, end: Event) -> float:
        """Milliseconds of device time from this event to `end` (waits for `end`)."""
        end.synchronize()
        return _call(cu.cuEventElapsedTime, self.handle, end.handle)


class Graph(_Resource):
    """An instantiated CUDA graph, made by `Stream.capture()`; `launch` replays it."""

    def __init__(self):
        self.graph = None
        self.handle = None  # the executable graph, once captured

    def _instantiate(self, graph) -> None:
        self.graph = graph
        self._closed = False
        self.handle = _call(cu.cuGraphInstantiate, graph, 0)

    def _release(self) -> None:
        if self.handle is not None:
            _call(cu.cuGraphExecDestroy, self.handle)
        _call(cu.cuGraphDestroy, self.graph)

    @property
    def node_count(self) -> int:
        _, count = _call(cu.cuGraphGetNodes, self.graph, 0)
        return count

    def launch(self, stream: Stream | None = None) -> None:
        if self.handle is None:
            raise CudaError("cuGraphLaunch", "no graph", detail="the capture has not ended yet")
        _call(cu.cuGraphLaunch, self.handle, _stream_handle(stream))


# -- device memory -----------------------------------------------------------------------


class DeviceBuffer(_Resource):
    """Device memory with an element type and shape (plain bytes when made by size).

    Made by `DeviceBuffer(nbytes)`, `empty(shape, dtype)`, `from_numpy(array)`; `view(...)`
    and `wrap(tensor)` make buffers over memory someone else owns, which `close()` leaves
    alone. Host copies take and give numpy arrays; `__cuda_array_interface__` lets
    torch.as_tensor and CuPy read it without a copy.
    """

    def __init__(self, nbytes: int, dtype: npt.DTypeLike = np.uint8, shape: Sequence[int] | None = None):
        self.dtype = np.dtype(dtype)
        self.shape = tuple(shape) if shape is not None else (nbytes // self.dtype.itemsize,)
        if int(np.prod(self.shape)) * self.dtype.itemsize != nbytes:
            raise ValueError(f"{nbytes} bytes do not hold {self.dtype}{list(self.shape)}")
        self.nbytes = nbytes
        self.owner: object = None
        current_context()
        self.ptr = int(_call(cu.cuMemAlloc, nbytes, detail=f"{nbytes} bytes")) if nbytes else 0
        self._closed = False

    @classmethod
    def empty(cls, shape: Sequence[int], dtype: npt.DTypeLike = np.float32) -> DeviceBuffer:
        dtype = np.dtype(dtype)
        return cls(int(np.prod(shape)) * dtype.itemsize, dtype, shape)

    @classmethod
    def from_numpy(cls, array: np.ndarray, stream: Stream | None = None) -> DeviceBuffer:
        array = np.asarray(array)
        buffer = cls(array.nbytes, array.dtype, array.shape)
        buffer.copy_from_host(array, stream)
        return buffer

    @classmethod
    def _over(cls, ptr: int, dtype: np.dtype, shape: tuple[int, ...], owner: object) -> DeviceBuffer:
        """A buffer over memory `owner` keeps alive; closing it frees nothing."""
        buffer = cls.__new__(cls)
        buffer.ptr, buffer.dtype, buffer.shape, buffer.owner = ptr, np.dtype(dtype), shape, owner
        buffer.nbytes = int(np.prod(shape)) * buffer.dtype.itemsize
        return buffer

    @classmethod
    def wrap(cls, tensor: object) -> DeviceBuffer:
        """A buffer over a contiguous device array that has `__cuda_array_interface__`."""
        interface = tensor.__cuda_array_interface__
        dtype, shape = np.dtype(interface["typestr"]), tuple(interface["shape"])
        strides = interface.get("strides")
        if strides is not None and tuple(strides) != np.empty(shape, dtype).strides:
            raise ValueError(f"only contiguous device arrays can be wrapped, got strides {strides}")
        return cls._over(interface["data"][0], dtype, shape, tensor)

    def view(self, dtype: npt.DTypeLike, shape: Sequence[int], offset: int = 0) -> DeviceBuffer:
        """The bytes from `offset` seen as a `dtype` array of `shape` (no copy)."""
        view = DeviceBuffer._over(self.ptr + offset, np.dtype(dtype), tuple(shape), self)
        if offset < 0 or offset + view.nbytes > self.nbytes:
            raise ValueError(
                f"a view of {view.nbytes} bytes at offset {offset} overruns a buffer of {self.nbytes}"
            )
        return view

    def _release(self) -> None:
        if self.ptr:
            _call(cu.cuMemFree, self.ptr)

    def _check_size(self, nbytes: int, what: str) -> None:
        if nbytes > self.nbytes:
            raise ValueError(f"{what} of {nbytes} bytes does not fit a buffer of {self.nbytes} bytes")

    def copy_from_host(self, array: np.ndarray, stream: Stream | None = None) -> None:
        """Copies `array`'s bytes to the start of the buffer."""
        array = np.ascontiguousarray(array)
        self._check_size(array.nbytes, "a host-to-device copy")
        if not array.nbytes:
            return
        if stream is None:
            _call(cu.cuMemcpyHtoD, self.ptr, array.ctypes.data, array.nbytes)
        else:
            _call(cu.cuMemcpyHtoDAsync, self.ptr, array.ctypes.data, array.nbytes, stream.handle)

    def copy_to_host(self, out: np.ndarray, stream: Stream | None = None) -> np.ndarray:
        """Copies the start of the buffer into the contiguous array `out`; returns it."""
        if not out.flags.c_contiguous:
            raise ValueError("copy_to_host needs a contiguous array")
        self._check_size(out.nbytes, "a device-to-host copy")
        if not out.nbytes:
            return out
        if stream is None:
            _call(cu.cuMemcpyDtoH, out.ctypes.data, self.ptr, out.nbytes)
        else:
            _call(cu.cuMemcpyDtoHAsync, out.ctypes.data, self.ptr, out.nbytes, stream.handle)
            stream.synchronize()
        return out

    def to_numpy(self, stream: Stream | None = None) -> np.ndarray:
        return self.copy_to_host(np.empty(self.shape, self.dtype), stream)

    def copy_from(
        self, source: DeviceBuffer, nbytes: int | None = None, stream: Stream | None = None
    ) -> None:
        """Device-to-device copy of `nbytes` (all of `source`) to the start of this buffer."""
        nbytes = source.nbytes if nbytes is None else nbytes
        source._check_size(nbytes, "a device-to-device copy")
        self._check_size(nbytes, "a device-to-device copy")
        if not nbytes:
            return
        if stream is None:
            _call(cu.cuMemcpyDtoD, self.ptr, source.ptr, nbytes)
        else:
            _call(cu.cuMemcpyDtoDAsync, self.ptr, source.ptr, nbytes, stream.handle)

    def fill_bytes(self, value: int, stream: Stream | None = None) -> None:
        """Sets every byte to `value` (0xFF poisons float buffers with NaN)."""
        if not self.nbytes:
            return
        if stream is None:
            _call(cu.cuMemsetD8, self.ptr, value, self.nbytes)
        else:
            _call(cu.cuMemsetD8Async, self.ptr, value, self.nbytes, stream.handle)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {
            "shape": self.shape,
            "typestr": self.dtype.str,
            "data": (self.ptr, False),
            "strides": None,
            "version": 3,
        }

    def __repr__(self) -> str:
        return f"DeviceBuffer({self.dtype}{list(self.shape)} at {self.ptr:#x})"


# -- modules and kernels -----------------------------------------------------------------


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


class _Parameters:
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

    def _arguments(self, args: Sequence[object]) -> _Parameters:
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
        return _Parameters(arguments)

    def launch(
        self,
        grid: int | Sequence[int],
        block: int | Sequence[int],
        args: Sequence[object] = (),
        shared_mem: int = 0,
        stream: Stream | None = None,
    ) -> None:
        """Launches on `stream` (the legacy default stream if None); does not wait."""
        grid3, block3 = _dim3(grid), _dim3(block)
        parameters = self._arguments(args)
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
