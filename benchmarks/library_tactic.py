"""A kernel's library tactic measured beside optc's own kernel and torch, for the kernel
benchmarks' `--cudnn` option (conv_throughput.py, attention_throughput.py): the plans the
tuner would offer (`passes/codegen/library/cudnn.py`: cuDNN's first PLANS that build, at
most WORKSPACE_CAP of workspace), each timed as an engine runs it, inside a CUDA graph
(`iters` calls captured once, the graph replayed `repeats` times; the median), the
fastest reported with its plan's name. A kernel cuDNN cannot run reports why not.

Only where the cuDNN call writes the kernel's result (no epilogue kernel): the benchmarks'
kernels have no epilogue, or one cuDNN fuses."""

from __future__ import annotations

import statistics

from copy_bandwidth import time_ms


def graph_ms(run, stream, iters: int, repeats: int) -> float:
    """Median milliseconds per call of `run()` replayed from a CUDA graph of `iters` calls."""
    run()  # a plan's first execution may set its kernels up, which must not be captured
    stream.synchronize()
    with stream.capture() as graph:
        for _ in range(iters):
            run()
    try:
        return statistics.median(time_ms(lambda: graph.launch(stream), stream, 1, repeats)) / iters
    finally:
        graph.close()


def cudnn_tactic(kernel, buffers, out, stream, iters: int, repeats: int) -> dict:
    """The fastest of the cudnn tactic's plans for `kernel` (an outlined kernel.func whose
    pointer parameters are `buffers` then `out`), having run it into `out`: {"ms", "plan",
    "plans"}, or {"why"} where cuDNN is not here or cannot run the kernel."""
    from passes.codegen.library import cudnn as tactic
    from runtime.cuda import DeviceBuffer
    from runtime.library.cudnn import CudnnPlan

    why = tactic.unavailable() or tactic.why_not(kernel)
    if why is not None:
        return {"why": why}
    if not tactic.direct(kernel):
        return {"why": "the benchmark times kernels cuDNN computes whole (no epilogue kernel)"}
    reads, _ = tactic.operands(kernel)
    pointers = [buffers[i].ptr for i in reads]
    plan = CudnnPlan(tactic.cudnn_call(kernel))
    try:
        choices = plan.choices(tactic.PLANS, tactic.WORKSPACE_CAP)
        if not choices:
            return {"why": "cuDNN builds no plan for it on this GPU"}
        workspace = DeviceBuffer(max(1, max(c.workspace for c in choices)))
        timed = []
        for choice in choices:

            def run(choice=choice):
                plan.run(choice, *pointers, out.ptr, workspace=workspace.ptr, workspace_bytes=workspace.nbytes, stream=stream)

            timed.append((graph_ms(run, stream, iters, repeats), choice))
        ms, best = min(timed, key=lambda t: t[0])
        plan.run(best, *pointers, out.ptr, workspace=workspace.ptr, workspace_bytes=workspace.nbytes, stream=stream)
        stream.synchronize()
        workspace.close()
        return {"ms": ms, "plan": best.name, "plans": len(choices)}
    finally:
        plan.close()
