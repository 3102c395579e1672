"""The engine's launch sequence as steps, one per launch of the plan, each enqueued on the
engine's stream (and so captured in its CUDA graph):

- `KernelStep`: one of optc's kernels, its pointers packed once;
- `LibraryStep`: a library kernel (`KernelSpec.library`): the library's call (cuBLASLt's
  matmul, cuDNN's graph: the operands it reads from the launch's argument slots, D the
  result's slot or the product at the start of the kernel's workspace, the library's
  workspace after the product), then its epilogue kernel (the kernel's own parameters and
  the product) unless the call wrote the result itself.

`build_steps` makes them from the plan, the regions' addresses, the loaded functions and
the library plans, all handed in: the sequence is built and checked without a GPU in the
tests, with stand-ins for the functions and the library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from runtime.engine.plan import EnginePlan, KernelSpec, Slot


@dataclass
class KernelStep:
    """One launch of one of optc's kernels."""

    spec: KernelSpec
    kernel: object
    """The loaded function (`runtime.cuda.Kernel`)."""
    parameters: object
    """Its pointers, packed once (`Kernel.pack`)."""

    def launch(self, stream) -> None:
        self.kernel.launch_packed(self.spec.grid, self.spec.block, self.parameters, self.spec.shared_bytes, stream)


@dataclass
class LibraryStep:
    """A library kernel: the library's call, then its epilogue kernel (if any)."""

    spec: KernelSpec
    plan: object
    """The library's plan of the call (`runtime.library.cublaslt.LtPlan`, `cudnn.CudnnPlan`)."""
    algorithm: object
    """Its algorithm (`cublaslt.Algorithm`, `cudnn.Choice`)."""
    reads: tuple[int, ...]
    """The addresses of the operands the call reads, in its order."""
    d: int
    workspace: int
    workspace_bytes: int
    epilogue: KernelStep | None

    def launch(self, stream) -> None:
        self.plan.run(self.algorithm, *self.reads, self.d, workspace=self.workspace, workspace_bytes=self.workspace_bytes, stream=stream)
        if self.epilogue is not None:
            self.epilogue.launch(stream)


Step = KernelStep | LibraryStep


def build_steps(
    plan: EnginePlan,
    address: Callable[[Slot], int],
    kernels: Mapping[str, object],
    libraries: Mapping[str, tuple[object, object]],
) -> list[Step]:
    """The steps of every launch of `plan`, in order: `address` gives a slot's device
    address, `kernels` each kernel's loaded function (none for a kernel without an
    image), `libraries` each library kernel's (plan, algorithm). The plan was checked
    (`EnginePlan.check`), so every index and size below is in bounds."""
    specs = {spec.name: spec for spec in plan.kernels}
    steps: list[Step] = []
    for launch in plan.launches:
        spec = specs[launch.kernel]
        pointers = [address(slot) for slot in launch.args]
        own = None
        if spec.image >= 0:
            kernel = kernels[spec.name]
            own = KernelStep(spec, kernel, kernel.pack([np.uint64(p) for p in pointers]))
        if spec.library is None:
            steps.append(own)
            continue
        call = spec.library
        lib_plan, algorithm = libraries[spec.name]
        scratch = pointers[-1]  # the kernel's workspace: the product, then the library's
        steps.append(
            LibraryStep(
                spec, lib_plan, algorithm,
                reads=tuple(pointers[i] for i in call.reads()),
                d=pointers[call.d] if call.d is not None else scratch,
                workspace=scratch + call.workspace_offset,
                workspace_bytes=spec.params[-1].nbytes - call.workspace_offset,
                epilogue=own,
            )
        )
    return steps
