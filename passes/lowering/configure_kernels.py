"""`configure-kernels`: each kernel.func gets its launch configuration, `#kernel.launch`.

The op a kernel computes picks its generator (`passes/codegen/registry.py`); the generator
chooses grid, block, shared memory and tile parameters for the kernel's shapes. A kernel
whose op has no generator is a compile error here, naming the kernel and the op: nothing
falls back to the CPU. Kernels already configured (by hand, or by a tuner) are kept unless
`reconfigure` is set.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass

from dialects.kernel import LAUNCH_ATTR, FuncOp


@dataclass(frozen=True)
class ConfigureKernels(ModulePass):
    """Record each kernel's launch configuration as its `launch` attribute."""

    name = "configure-kernels"

    reconfigure: bool = False
    """Choose again for kernels that already have a configuration."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        from passes.codegen.registry import generator_for  # every generator family: load on use

        for kernel in op.ops:
            if isinstance(kernel, FuncOp) and (self.reconfigure or kernel.launch is None):
                kernel.attributes[LAUNCH_ATTR] = generator_for(kernel).configure(kernel)
