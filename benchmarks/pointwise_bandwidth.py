"""Generated pointwise kernels against the GPU's copy bandwidth, measured in the same run.

Issue 4 asks pointwise kernels to reach 80% of the measured copy bandwidth at large sizes.
For each case (bias+relu, bias+gelu(tanh), and a plain copy through the generator, in
f32 and f16) the IR goes through `outline-kernels`; the pointwise generator
(passes/codegen/elementwise/elementwise.py) chooses the launch (`configure`: grid, block, the
`vector` tile parameter) and emits the kernel for it, which is compiled with NVRTC for the
device, launched exactly as configured (a pointer per argument and result, nothing else),
checked against numpy and timed with CUDA events (median of repeats). Bandwidth counts the
bytes each kernel must move (x read, y written, the bias once); cuMemcpyDtoD over the same
bytes per dtype is the ceiling, and each line gives the ratio to it. `--vectors 1,2,4,8`
also times the kernels at other vector widths (what an autotuner would try). Run on a GPU
machine from the repository root:

    PYTHONPATH=. python3 benchmarks/pointwise_bandwidth.py --json out/pointwise.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copy_bandwidth import time_ms, write_json  # noqa: E402  (this folder is on the path when run as a script)
from dialects.kernel import FuncOp, LaunchAttr  # noqa: E402
from passes.codegen.common.types import PRELUDE  # noqa: E402
from passes.codegen.elementwise.elementwise import configure, emit  # noqa: E402
from passes.codegen.target import measured  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Module, Stream, compile_cuda, current_context  # noqa: E402

DTYPES = {"f32": np.float32, "f16": np.float16}
TOLERANCE = {"f32": 1e-5, "f16": 1e-2}


def _tanh_gelu(s: np.ndarray) -> np.ndarray:
    return 0.5 * s * (1 + np.tanh(0.7978845608028654 * (s + 0.044715 * s**3)))


def _cases(rows: int, cols: int, dtype: str) -> dict[str, tuple[str, callable, bool]]:
    """name -> (IR of @main with one fused kernel, numpy reference on (x, b), reads b)."""
    t, v = f"tensor<{rows}x{cols}x{dtype}>", f"tensor<{cols}x{dtype}>"

    def bias_then(act: str) -> str:
        return f"""
func.func @main(%x: {t}, %b: {v}) -> {t} {{
  %y = fused.elementwise (%x, %b) : ({t}, {v}) -> {t} {{
  ^bb0(%xa: {t}, %ba: {v}):
    %s = graph.add %xa, %ba : ({t}, {v}) -> {t}
    %r = {act} : {t}
    fused.yield %r : {t}
  }}
  func.return %y : {t}
}}"""

    copy = f"""
func.func @main(%x: {t}) -> {t} {{
  %y = fused.elementwise (%x) : ({t}) -> {t} {{
  ^bb0(%xa: {t}):
    %r = graph.identity %xa : {t}
    fused.yield %r : {t}
  }}
  func.return %y : {t}
}}"""
    wide = lambda x, b: x.astype(np.float64) + b.astype(np.float64)  # noqa: E731
    return {
        "copy (generated)": (copy, lambda x, b: x, False),
        "bias+relu": (bias_then("graph.relu %s"), lambda x, b: np.maximum(wide(x, b), 0), True),
        "bias+gelu(tanh)": (bias_then('graph.gelu %s {approximate = "tanh"}'), lambda x, b: _tanh_gelu(wide(x, b)), True),
    }


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def _with_vector(launch: LaunchAttr, vector: int, elements: int, target) -> LaunchAttr:
    """`launch` with another vector width, the grid re-sized the way `configure` sizes it."""
    from passes.codegen.generator import grid_stride_blocks

    block = launch.block_dims[0]
    grid = grid_stride_blocks(elements, block, vector, target.sm_count * (target.threads_per_sm // block))
    return LaunchAttr(launch.tactic_name, [grid], [block], 0, {**launch.tile_params, "vector": vector})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=65536)
    parser.add_argument("--cols", type=int, default=1024, help="64M elements by default")
    parser.add_argument("--dtypes", default="f32,f16")
    parser.add_argument("--vectors", default="", help="extra vector widths to time, e.g. 1,2,4,8")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    current_context()
    device = Device(0)
    target = measured(device)
    rows, cols = args.rows, args.cols
    n = rows * cols
    stream = Stream()
    rng = np.random.default_rng(0)
    print(f"device: {device.name}; {rows}x{cols} = {n / 2**20:.0f}M elements")
    results, copies = [], {}
    for dtype in args.dtypes.split(","):
        np_dtype, item = DTYPES[dtype], np.dtype(DTYPES[dtype]).itemsize
        x_host = rng.standard_normal((rows, cols), dtype=np.float32).astype(np_dtype)
        b_host = rng.standard_normal(cols, dtype=np.float32).astype(np_dtype)
        x, b, y = DeviceBuffer.from_numpy(x_host), DeviceBuffer.from_numpy(b_host), DeviceBuffer.empty((rows, cols), np_dtype)
        copy_ms = statistics.median(time_ms(lambda: y.copy_from(x, stream=stream), stream, args.iters, args.repeats))
        copy_gbps = 2 * n * item / (copy_ms * 1e-3) / 1e9
        copies[dtype] = copy_gbps
        print(f"[{dtype}] cuMemcpyDtoD: {copy_ms:.4f} ms, {copy_gbps:.0f} GB/s (the ceiling)")
        for name, (ir, reference, reads_bias) in _cases(rows, cols, dtype).items():
            kernel = _kernel(ir)
            configured = configure(kernel, target)
            vectors = [configured.tile_params["vector"]]
            vectors += [int(v) for v in args.vectors.split(",") if v and int(v) not in vectors]
            for vector in vectors:
                launch = configured if vector == vectors[0] else _with_vector(configured, vector, n, target)
                kname = kernel.sym_name.data
                cubin = compile_cuda(PRELUDE + emit(kernel, launch), f"{kname}_{dtype}_v{vector}.cu", arch=device.arch)
                function = Module(cubin, kname).function(kname)
                params = [x, b, y] if reads_bias else [x, y]
                run = lambda f=function, g=launch.grid_dims, bl=launch.block_dims, p=params: f.launch(g, bl, p, stream=stream)  # noqa: E731
                run()
                stream.synchronize()
                tol = TOLERANCE[dtype]
                want = reference(x_host, b_host)
                np.testing.assert_allclose(y.to_numpy().astype(np.float64), want, rtol=tol, atol=tol, err_msg=name)
                ms = statistics.median(time_ms(run, stream, args.iters, args.repeats))
                moved = 2 * n * item + (cols * item if reads_bias else 0)
                gbps = moved / (ms * 1e-3) / 1e9
                chosen = " (configured)" if vector == vectors[0] else ""
                results.append({"dtype": dtype, "case": name, "vector": vector, "grid": launch.grid_dims[0],
                                "median_ms": ms, "gbps": gbps, "of_copy": gbps / copy_gbps})  # fmt: skip
                print(f"[{dtype}] {name:>16} vector {vector:2d}{chosen}: {ms:.4f} ms, {gbps:.0f} GB/s = {gbps / copy_gbps:.2f} x copy")
    if args.json:
        write_json(args.json, {"device": device.name, "copy_gbps": copies, "rows": rows, "cols": cols, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
