"""`plan-memory`: every intermediate tensor of the launch sequence gets a byte offset in one
activation arena, written into the IR.

The buffers are the results of `kernel.launch` in `@main`. A buffer is live from the launch
that writes it to the last launch that reads it, directly or through a free view (a reshape
of a buffer is the same bytes, so its reads count for the buffer); a result `@main` returns
stays live to the end. `planner.plan_memory` places them; the pass writes each launch's
offsets (`arena_offsets`) and, on `@main`, the arena beside the naive sum of all buffers and
the lower bound (the most bytes live at once):

    func.func @main(...) attributes {kernel.arena = {bytes = 6912 : i64, lower_bound = 6912 : i64,
                                                      naive = 9216 : i64, strategy = "size-best"}}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin, func
from xdsl.dialects.builtin import DenseArrayBase, DictionaryAttr, IntegerAttr, StringAttr, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from dialects.errors import OptcError
from dialects.graph.base import is_free_view
from dialects.kernel import LaunchOp, launches_kernel
from passes.codegen.common.types import device_itemsize
from passes.memory.planner import Buffer, MemoryPlan, plan_memory

ARENA_ATTR = "kernel.arena"


def tensor_bytes(value: SSAValue) -> int:
    """Bytes on the device (bf16 is 2 bytes there, though numpy holds it as float32)."""
    t = value.type
    return math.prod(t.get_shape()) * device_itemsize(t.element_type, "plan-memory")


def storage_root(value: SSAValue) -> SSAValue:
    """The value whose bytes `value` is, looking through free views."""
    while is_free_view(value.owner):
        value = value.owner.operands[0]
    return value


def _main(module: builtin.ModuleOp) -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == "main":
            return op
    raise OptcError("plan-memory needs an @main function")


def live_buffers(launches: Sequence[LaunchOp], returned: Sequence[SSAValue]) -> list[Buffer]:
    """Every launch result as a Buffer (id: the SSA value), live from the launch that writes
    it to the last launch that reads it, directly or through a free view; a value in
    `returned` lives to the end (step `len(launches)`)."""
    first: dict[SSAValue, int] = {}
    last: dict[SSAValue, int] = {}
    for step, launch in enumerate(launches):
        for result in launch.outputs:
            first[result] = last[result] = step
        for arg in launch.args:
            root = storage_root(arg)
            if root in first:
                last[root] = step
    for value in returned:
        root = storage_root(value)
        if root in first:
            last[root] = len(launches)
    return [Buffer(value, tensor_bytes(value), first[value], last[value]) for value in first]


def plan_launches(main: func.FuncOp, alignment: int) -> tuple[MemoryPlan, list[LaunchOp]]:
    """The plan of `main`'s launch results, and the launches in order."""
    launches = [op for op in main.body.block.ops if isinstance(op, LaunchOp)]
    if not launches and any(launches_kernel(op) for op in main.body.block.ops):
        raise OptcError("plan-memory runs on the kernel level: run outline-kernels first")
    buffers = live_buffers(launches, main.body.block.last_op.operands)
    return plan_memory(buffers, alignment=alignment), launches


@dataclass(frozen=True)
class PlanMemory(ModulePass):
    """Give every launch result an offset in one arena; record the arena on @main."""

    name = "plan-memory"

    alignment: int = 256
    """Every offset is a multiple of this many bytes (256: what cudaMalloc guarantees, and
    enough for 16-byte vector accesses)."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if self.alignment < 16 or self.alignment & (self.alignment - 1):
            raise OptcError(f"plan-memory: alignment must be a power of two of at least 16, got {self.alignment}")
        main = _main(op)
        plan, launches = plan_launches(main, self.alignment)
        for launch in launches:
            offsets = [plan.offsets[r] for r in launch.outputs]
            launch.properties["arena_offsets"] = DenseArrayBase.from_list(i64, offsets)
        main.attributes[ARENA_ATTR] = DictionaryAttr(
            {
                "bytes": IntegerAttr(plan.arena_bytes, i64),
                "naive": IntegerAttr(plan.naive_bytes, i64),
                "lower_bound": IntegerAttr(plan.lower_bound_bytes, i64),
                "strategy": StringAttr(plan.strategy),
            }
        )
