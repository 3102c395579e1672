"""Generated softmax and layer-norm kernels against the GPU's copy bandwidth, measured in the same run.

Issue 4 asks reduction kernels to reach 80% of the measured copy bandwidth at large sizes.
Each case (softmax over the last axis; layer norm over the last axis with scale and bias)
goes through `outline-kernels,configure-kernels` and the reduction generator
(passes/codegen/reduction/reduction.py), is compiled with NVRTC for the device, run on random
data, checked against numpy, and timed with CUDA events (median of repeats). Bandwidth
counts the bytes the kernel must move: the input read once and the output written once
(plus scale and bias). cuMemcpyDtoD over the input's bytes is the ceiling. Shapes:
[8192, 4096] and [4096*128, 768] in f32 and f16. Run on a GPU machine from the repository root:

    PYTHONPATH=. python3 benchmarks/reduction_bandwidth.py --json out/reduction.json
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copy_bandwidth import load_function, time_ms, write_json  # noqa: E402  (this folder is on the path when run as a script)
from dialects.kernel import FuncOp  # noqa: E402
from passes.codegen.cuda import kernel_source  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Stream, current_context  # noqa: E402

SHAPES = ((8192, 4096), (4096 * 128, 768))
DTYPES = {"f32": np.float32, "f16": np.float16}


def _softmax_ir(rows: int, cols: int, dtype: str) -> str:
    t = f"tensor<{rows}x{cols}x{dtype}>"
    return f"""
func.func @main(%x: {t}) -> {t} {{
  %y = graph.softmax %x {{axis = 1 : i64}} : {t}
  func.return %y : {t}
}}"""


def _layer_norm_ir(rows: int, cols: int, dtype: str) -> str:
    t, v = f"tensor<{rows}x{cols}x{dtype}>", f"tensor<{cols}x{dtype}>"
    return f"""
func.func @main(%x: {t}, %s: {v}, %b: {v}) -> {t} {{
  %y = graph.layer_norm %x, %s, %b {{axis = 1 : i64, epsilon = 1.0e-05 : f32}} : ({t}, {v}, {v}) -> {t}
  func.return %y : {t}
}}"""


def _softmax_ref(x, s=None, b=None):
    x = x.astype(np.float32)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _layer_norm_ref(x, s, b):
    x = x.astype(np.float32)
    c = x - x.mean(axis=1, keepdims=True)
    return c / np.sqrt((c * c).mean(axis=1, keepdims=True) + 1e-5) * s.astype(np.float32) + b.astype(np.float32)


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels,configure-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--check-rows", type=int, default=64, help="rows compared with numpy")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    current_context()
    device = Device(0)
    stream = Stream()
    rng = np.random.default_rng(0)
    results = []
    copy_gbps_by_bytes: dict[int, float] = {}
    print(f"device: {device.name}")
    for rows, cols in SHAPES:
        for dname, dtype in DTYPES.items():
            nbytes = rows * cols * np.dtype(dtype).itemsize
            if nbytes not in copy_gbps_by_bytes:
                src, dst = DeviceBuffer.empty((nbytes,), np.uint8), DeviceBuffer.empty((nbytes,), np.uint8)
                ms = statistics.median(time_ms(lambda: dst.copy_from(src, stream=stream), stream, args.iters, args.repeats))
                copy_gbps_by_bytes[nbytes] = 2 * nbytes / (ms * 1e-3) / 1e9
                print(f"cuMemcpyDtoD {nbytes / 2**20:.0f} MiB: {ms:.4f} ms, {copy_gbps_by_bytes[nbytes]:.0f} GB/s (the ceiling)")
                del src, dst
            copy_gbps = copy_gbps_by_bytes[nbytes]
            x_host = rng.standard_normal((rows, cols), dtype=np.float32).astype(dtype)
            s_host = rng.standard_normal(cols, dtype=np.float32).astype(dtype)
            b_host = rng.standard_normal(cols, dtype=np.float32).astype(dtype)
            x, y = DeviceBuffer.from_numpy(x_host), DeviceBuffer.empty((rows, cols), dtype)
            s, b = DeviceBuffer.from_numpy(s_host), DeviceBuffer.from_numpy(b_host)
            for op, ir, reference, buffers in (
                ("softmax", _softmax_ir(rows, cols, dname), _softmax_ref, [x, y]),
                ("layer_norm", _layer_norm_ir(rows, cols, dname), _layer_norm_ref, [x, s, b, y]),
            ):
                kernel = _kernel(ir)
                launch = kernel.launch
                name = kernel.sym_name.data
                function = load_function(kernel_source(kernel), name, device.arch, launch.shared_bytes)

                def run(function=function, launch=launch, buffers=buffers):
                    function.launch(launch.grid_dims, launch.block_dims, buffers, shared_mem=launch.shared_bytes, stream=stream)

                run()
                stream.synchronize()
                n = args.check_rows
                got = y.to_numpy()[:n].astype(np.float32)
                want = reference(x_host[:n], s_host, b_host)
                tol = 1e-5 if dname == "f32" else 1e-2
                np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{op} {rows}x{cols} {dname}")
                ms = statistics.median(time_ms(run, stream, args.iters, args.repeats))
                moved = 2 * nbytes + (2 * cols * np.dtype(dtype).itemsize if op == "layer_norm" else 0)
                gbps = moved / (ms * 1e-3) / 1e9
                case = f"{op} {rows}x{cols} {dname}"
                results.append(
                    {"case": case, "tile": launch.tile_params, "median_ms": ms, "gbps": gbps, "copy_gbps": copy_gbps, "of_copy": gbps / copy_gbps}
                )
                print(f"{case:>32}: {ms:.4f} ms, {gbps:.0f} GB/s = {gbps / copy_gbps:.2f} x copy  {launch.tile_params}")
            del x, y, s, b
    if args.json:
        write_json(args.json, {"device": device.name, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
