"""`configure-kernels`: each kernel.func gets its tactic, `#kernel.launch`.

The op a kernel computes picks its generator (`passes/codegen/registry.py`); the generator
chooses the tactic (its variant, grid, block, shared memory and tile parameters) for the
kernel's shapes on the target GPU: `arch` names one of `passes/codegen/target.TARGETS`
(`configure-kernels{arch=sm_80}`; an unknown one is an error listing them). An engine
built for the GPU in this process configures for that GPU as its driver describes it
(`for_target`, which no option can name). A kernel whose op has no generator is a
compile error here, naming the kernel and the op: nothing falls back to the CPU. Kernels
already configured (by hand, or by a tuner) are kept unless `reconfigure` is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass

from dialects.kernel import LAUNCH_ATTR, FuncOp
from passes.codegen.target import DEFAULT, Target, named


@dataclass(frozen=True)
class ConfigureKernels(ModulePass):
    """Record each kernel's tactic as its `launch` attribute."""

    name = "configure-kernels"

    reconfigure: bool = False
    """Choose again for kernels that already have a tactic."""

    arch: str = DEFAULT.arch
    """The GPU architecture to configure for (`target.TARGETS`)."""

    measured: Target | None = field(default=None, init=False, compare=False, repr=False)
    """A GPU's own Target (`target.measured`), which takes the place of `arch`'s table:
    set by `for_target`, not an option (a pipeline string cannot spell it)."""

    def __post_init__(self) -> None:
        named(self.arch)  # an unknown arch is an error when the pipeline is built, before any pass runs

    @classmethod
    def for_target(cls, target: Target, reconfigure: bool = False) -> ConfigureKernels:
        """The pass configuring for `target` itself: the GPU in this process, whose arch no
        table need describe (an sm_89 part), so it is built without `__init__`, which would
        look `arch` up in the tables."""
        configured = object.__new__(cls)
        for name, value in (("reconfigure", reconfigure), ("arch", target.arch), ("measured", target)):
            object.__setattr__(configured, name, value)  # frozen: set once, here
        return configured

    def target(self) -> Target:
        return self.measured if self.measured is not None else named(self.arch)

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        from passes.codegen.registry import generator_for  # every generator family: load on use

        target = self.target()
        for kernel in op.ops:
            if isinstance(kernel, FuncOp) and (self.reconfigure or kernel.launch is None):
                kernel.attributes[LAUNCH_ATTR] = generator_for(kernel).configure(kernel, target)
