"""Vendor-library tactics: calls into CUDA libraries that an engine runs beside its own kernels.

Each library is a module here (`cublaslt`, `cudnn`) with the same face, which the plan,
the engine's steps and the tuner's timer use without knowing which library it is:

- `NAME` (its name in plans and timing-cache keys), `TITLE` (in messages);
- `library_version()` (raises LibraryUnavailable where it cannot load);
- the plain-data calls a plan records (`LtMatmul`; `ConvFprop`, `Sdpa`), each with
  `reads()` (role, element type, elements of every operand it reads, in order) and
  `writes()` (element type and elements of what it writes), and `call_from_json`;
- `ALGORITHM` (the form an algorithm takes in a plan) and `algorithm_of(library_call)`;
- a plan class (`LtPlan`, `CudnnPlan`) made from a call on the GPU: `check(algorithm)`
  returns the workspace it needs here or raises LibraryError, `run(algorithm, *reads, d,
  workspace=, workspace_bytes=, stream=)` enqueues it, `close()` releases it.
"""

from __future__ import annotations

from types import ModuleType

from dialects.errors import OptcError


class LibraryUnavailable(OptcError):
    """The library (or the Python package that loads it) is not installed here."""


class LibraryError(OptcError):
    """A library call that failed, or an algorithm this version of the library cannot run."""


def library(name: str) -> ModuleType:
    """The module of the library a plan names ("cublasLt", "cudnn")."""
    from runtime.library import cublaslt, cudnn

    modules = {cublaslt.NAME: cublaslt, cudnn.NAME: cudnn}
    if name not in modules:
        raise OptcError(f"unknown vendor library '{name}' (libraries: {', '.join(modules)})")
    return modules[name]
