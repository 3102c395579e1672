"""The exceptions of the CUDA layer: every failed driver or NVRTC call becomes one of these.

Each names the call that failed (`cuLaunchKernel`, `nvrtcCompileProgram`, ...), the status
the library returned (`CUDA_ERROR_INVALID_VALUE`) with its description, and where it
matters the kernel or the NVRTC program. All are `OptcError`s, so the commands print them
as a sentence rather than a traceback.

    CudaError               a driver call returned an error status
      CudaUnavailable       no driver library, or no device: GPU work cannot run here
    NvrtcError              an NVRTC call returned an error status
      NvrtcCompileError     the source did not compile; carries NVRTC's log
      NvrtcUnavailable      libnvrtc could not be loaded
    KernelArgumentError     launch arguments that do not match the kernel's parameters
"""

from __future__ import annotations

from dialects.errors import OptcError


def _status_name(status: object) -> str:
    """`CUDA_ERROR_INVALID_VALUE` for an enum member, the number for anything else."""
    return getattr(status, "name", None) or str(status)


def _driver_description(status: object) -> str:
    """The driver's own sentence for a status (`cuGetErrorString`), or "" if it has none."""
    try:
        from cuda.bindings import driver

        err, text = driver.cuGetErrorString(status)
        if err == driver.CUresult.CUDA_SUCCESS and text:
            return text.decode(errors="replace")
    except Exception:  # no driver library, or a status the driver does not know
        pass
    return ""


def _nvrtc_description(status: object) -> str:
    try:
        from cuda.bindings import nvrtc

        err, text = nvrtc.nvrtcGetErrorString(status)
        if err == nvrtc.nvrtcResult.NVRTC_SUCCESS and text:
            return text.decode(errors="replace")
    except Exception:
        pass
    return ""


class CudaError(OptcError):
    """A CUDA driver call failed.

    `call` is the driver function (`cuMemAlloc`), `status` what it returned (a `CUresult`),
    `kernel` the kernel involved, if any, and `detail` what the caller knew (a launch's grid
    and block, a copy's size).
    """

    def __init__(self, call: str, status: object, *, kernel: str | None = None, detail: str = ""):
        self.call = call
        self.status = status
        self.kernel = kernel
        self.detail = detail
        name = _status_name(status)
        description = _driver_description(status)
        where = f" for kernel '{kernel}'" if kernel else ""
        message = f"{call} failed{where}: {name}"
        if description and description.lower() != name.lower():
            message += f" ({description})"
        if detail:
            message += f"; {detail}"
        super().__init__(message)

    @property
    def status_name(self) -> str:
        return _status_name(self.status)


class CudaUnavailable(CudaError):
    """No CUDA here: the driver library is missing, or it finds no device. Tests skip on it."""

    def __init__(self, call: str, status: object, *, detail: str = ""):
        super().__init__(call, status, detail=detail)


class NvrtcError(OptcError):
    """An NVRTC call failed; `program` is the program's name (`saxpy.cu`)."""

    def __init__(self, call: str, status: object, *, program: str | None = None, detail: str = ""):
        self.call = call
        self.status = status
        self.program = program
        name = _status_name(status)
        description = _nvrtc_description(status)
        where = f" for program '{program}'" if program else ""
        message = f"{call} failed{where}: {name}"
        if description and description != name:
            message += f" ({description})"
        if detail:
            message += f"; {detail}"
        super().__init__(message)


class NvrtcCompileError(NvrtcError):
    """The source did not compile. `log` is NVRTC's log (lines like `saxpy.cu(3): error: ...`)."""

    def __init__(self, program: str, arch: str, options: tuple[str, ...], log: str, status: object):
        self.call = "nvrtcCompileProgram"
        self.status = status
        self.program = program
        self.arch = arch
        self.options = options
        self.log = log
        flags = " ".join(options)
        OptcError.__init__(
            self,
            f"NVRTC could not compile '{program}' for {arch}"
            + (f" (options: {flags})" if flags else "")
            + ":\n"
            + (log.rstrip() or "(NVRTC wrote no log)"),
        )


class NvrtcUnavailable(NvrtcError):
    """libnvrtc could not be loaded (install optc's dependencies: `nvidia-cuda-nvrtc`)."""


class KernelArgumentError(OptcError):
    """The arguments of a launch do not match the kernel's parameters (count or sizes)."""
