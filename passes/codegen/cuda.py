"""The CUDA of a kernel-level module: the prelude, then every kernel.func's kernel, each
made by its family's generator (`registry.py`) for its `#kernel.launch` configuration
(chosen here, as `configure-kernels` would, where the kernel has none yet)."""

from __future__ import annotations

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.pointwise_templates import helpers_for
from passes.codegen.common.types import PRELUDE
from passes.codegen.registry import generator_for


def launch_of(kernel: FuncOp) -> LaunchAttr:
    """The kernel's recorded launch configuration, or its generator's choice."""
    return kernel.launch if kernel.launch is not None else generator_for(kernel).configure(kernel)


def emit_kernel(kernel: FuncOp) -> str:
    """The CUDA C of one kernel.func, without the prelude."""
    return generator_for(kernel).emit(kernel, launch_of(kernel))


def kernel_source(kernel: FuncOp) -> str:
    """One kernel as a self-contained translation unit (what NVRTC compiles and caches)."""
    return _with_helpers([emit_kernel(kernel)])


def _with_helpers(kernels: list[str]) -> str:
    """The prelude, the helper functions the kernels call (storage-only casts, which any
    family's epilogue may print through `scalar_code`; guarded, so a second copy a
    family carried itself is harmless), then the kernels."""
    body = "\n".join(kernels)
    return "\n".join(part for part in (PRELUDE, helpers_for(body), body) if part)


def kernels_of(module) -> list[FuncOp]:
    return [op for op in module.ops if isinstance(op, FuncOp)]


def emit_module(module) -> str:
    """All kernels of `module` in one self-contained `.cu` file."""
    return _with_helpers([emit_kernel(k) for k in kernels_of(module)])


def print_cuda(module, stream) -> None:
    """The `-t cuda` target of optc."""
    print(emit_module(module), file=stream, end="")
