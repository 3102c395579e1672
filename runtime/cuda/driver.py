"""The checked driver call and the owned driver object, which the rest of runtime.cuda
builds on (over `cuda.bindings.driver`).

Every call is checked: a failed status raises CudaError naming the call, the status and,
for launches, the kernel with its grid and block (runtime.cuda.errors).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod

from cuda.bindings import driver as cu

from runtime.cuda.errors import CudaError

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
