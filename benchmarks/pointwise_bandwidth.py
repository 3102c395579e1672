"""Generated pointwise kernels against the GPU's copy bandwidth, measured in the same run.

Issue 4 asks pointwise and reduction kernels to reach 80% of the measured copy bandwidth at
large sizes. For each case the IR below goes through `outline-kernels` and the CUDA
emitter (passes/codegen/cuda_elementwise.py), is compiled with NVRTC for the device, run
on random data, checked against numpy, and timed with CUDA events (median of repeats);
bandwidth counts the bytes each kernel must read and write. cuMemcpyDtoD over the same
bytes is the ceiling. Run on a GPU machine from the repository root:

    PYTHONPATH=. python3 benchmarks/pointwise_bandwidth.py --json out/pointwise.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copy_bandwidth import time_ms  # noqa: E402  (this folder is on the path when run as a script)
from dialects.kernel import FuncOp  # noqa: E402
from passes.codegen.cuda_elementwise import BLOCK_SIZE, emit_kernel  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Module, Stream, compile_cuda, current_context  # noqa: E402


def _cases(rows: int, cols: int) -> dict[str, tuple[str, callable]]:
    """name -> (IR of @main with one fused kernel, numpy reference on (x, b))."""
    t, v = f"tensor<{rows}x{cols}xf32>", f"tensor<{cols}xf32>"
    bias_relu = f"""
func.func @main(%x: {t}, %b: {v}) -> {t} {{
  %y = fused.elementwise (%x, %b) : ({t}, {v}) -> {t} {{
  ^bb0(%xa: {t}, %ba: {v}):
    %s = graph.add %xa, %ba : ({t}, {v}) -> {t}
    %r = graph.relu %s : {t}
    fused.yield %r : {t}
  }}
  func.return %y : {t}
}}"""
    gelu = f"""
func.func @main(%x: {t}, %b: {v}) -> {t} {{
  %y = fused.elementwise (%x, %b) : ({t}, {v}) -> {t} {{
  ^bb0(%xa: {t}, %ba: {v}):
    %s = graph.add %xa, %ba : ({t}, {v}) -> {t}
    %g = graph.gelu %s {{approximate = "tanh"}} : {t}
    fused.yield %g : {t}
  }}
  func.return %y : {t}
}}"""
    tanh_gelu = lambda s: 0.5 * s * (1 + np.tanh(0.7978845608 * (s + 0.044715 * s**3)))  # noqa: E731
    return {
        "bias+relu": (bias_relu, lambda x, b: np.maximum(x + b, 0)),
        "bias+gelu(tanh)": (gelu, lambda x, b: tanh_gelu((x + b).astype(np.float64))),
    }


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--cols", type=int, default=1024)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    current_context()
    device = Device(0)
    rows, cols = args.rows, args.cols
    n = rows * cols
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((rows, cols), dtype=np.float32)
    b_host = rng.standard_normal(cols, dtype=np.float32)
    x, b, y = DeviceBuffer.from_numpy(x_host), DeviceBuffer.from_numpy(b_host), DeviceBuffer.empty((rows, cols), np.float32)
    stream = Stream()
    moved = 2 * n * 4 + cols * 4  # x read, y written, b read
    copy_src, copy_dst = DeviceBuffer.empty((n,), np.float32), DeviceBuffer.empty((n,), np.float32)
    copy_ms = statistics.median(time_ms(lambda: copy_dst.copy_from(copy_src, stream=stream), stream, args.iters, args.repeats))
    copy_gbps = 2 * n * 4 / (copy_ms * 1e-3) / 1e9
    print(f"device: {device.name}; {rows}x{cols} f32 ({n * 4 / 2**20:.0f} MiB per tensor)")
    print(f"cuMemcpyDtoD: {copy_ms:.4f} ms, {copy_gbps:.0f} GB/s (the ceiling)")
    results = []
    for name, (ir, reference) in _cases(rows, cols).items():
        kernel = _kernel(ir)
        cubin = compile_cuda(emit_kernel(kernel), f"{kernel.sym_name.data}.cu", arch=device.arch)
        function = Module(cubin, kernel.sym_name.data).function(kernel.sym_name.data)
        grid = -(-n // BLOCK_SIZE)
        run = lambda function=function, grid=grid: function.launch(grid, BLOCK_SIZE, [x, b, y, np.int64(n)], stream=stream)  # noqa: E731
        run()
        stream.synchronize()
        np.testing.assert_allclose(y.to_numpy(), reference(x_host, b_host), rtol=1e-5, atol=1e-5, err_msg=name)
        ms = statistics.median(time_ms(run, stream, args.iters, args.repeats))
        gbps = moved / (ms * 1e-3) / 1e9
        results.append({"case": name, "median_ms": ms, "gbps": gbps, "of_copy": gbps / copy_gbps})
        print(f"{name:>16}: {ms:.4f} ms, {gbps:.0f} GB/s = {gbps / copy_gbps:.2f} x copy")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"device": device.name, "copy_gbps": copy_gbps, "rows": rows, "cols": cols, "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
