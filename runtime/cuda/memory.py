"""Device memory: DeviceBuffer, its host and device copies, views and wrapped tensors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from cuda.bindings import driver as cu

from runtime.cuda.device import current_context
from runtime.cuda.driver import _call, _Resource
from runtime.cuda.stream import Stream


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
