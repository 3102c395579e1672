"""The CUDA of a kernel-level module: the prelude, then every kernel.func's kernel, each
made by its family's generator (`registry.py`) for its `#kernel.launch` tactic (chosen
here, as `configure-kernels` would for `target`, where the kernel has none yet: `optc -t cuda`
passes `--arch`'s, sm_90 by default)."""

from __future__ import annotations

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.pointwise_templates import helpers_for
from passes.codegen.common.types import PRELUDE
from passes.codegen.registry import generator_for
from passes.codegen.target import DEFAULT, Target


def launch_of(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """The kernel's recorded tactic, or its generator's choice for `target`."""
    return kernel.launch if kernel.launch is not None else generator_for(kernel).configure(kernel, target)


def emit_kernel(kernel: FuncOp, target: Target = DEFAULT) -> str:
    """The CUDA C of one kernel.func, without the prelude ("" for a library tactic whose
    call writes the kernel's result: no kernel of its own)."""
    launch = launch_of(kernel, target)
    return generator_for(kernel, launch).emit(kernel, launch)


def kernel_source(kernel: FuncOp, target: Target = DEFAULT) -> str:
    """One kernel as a self-contained translation unit (what NVRTC compiles and caches), or
    "" when its tactic runs no kernel of its own."""
    code = emit_kernel(kernel, target)
    return _with_helpers([code]) if code else ""


def _with_helpers(kernels: list[str]) -> str:
    """The prelude, the helper functions the kernels call (storage-only casts, which any
    family's epilogue may print through `scalar_code`; guarded, so a second copy a
    family carried itself is harmless), then the kernels."""
    body = "\n".join(kernels)
    return "\n".join(part for part in (PRELUDE, helpers_for(body), body) if part)


def kernels_of(module) -> list[FuncOp]:
    return [op for op in module.ops if isinstance(op, FuncOp)]


def emit_module(module, target: Target = DEFAULT) -> str:
    """All kernels of `module` in one self-contained `.cu` file (a kernel without a tactic
    gets its generator's choice for `target`; a library kernel whose call writes its result
    has no CUDA)."""
    return _with_helpers([code for k in kernels_of(module) if (code := emit_kernel(k, target))])


def print_cuda(module, stream, target: Target = DEFAULT) -> None:
    """The `-t cuda` target of optc."""
    print(emit_module(module, target), file=stream, end="")
