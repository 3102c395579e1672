"""Generated convolution kernels against cuDNN (`torch.nn.functional.conv2d` on
channels-last tensors), measured in the same run.

The ResNet-50 convolution shapes (the 7x7 stem, 1x1 and 3x3 of each stage, the strided
3x3s) and MobileNetV2's pointwise 1x1s, channels last as optc runs them after
graph-optimize, batch 1 and 32, f32 and f16.
Each case is a `fused.conv` with no epilogue, lowered through `outline-kernels` and the conv
generator (passes/codegen/conv*.py) with the launch `configure` picks, compiled with
NVRTC for the device, checked against torch, and timed with CUDA events (median of
repeats). TFLOP/s counts 2·N·OH·OW·C_out·C_in·KH·KW / group. torch runs with TF32 off for
f32, so both sides do full fp32 FMAs. For f16 both sides use tensor cores with fp32
accumulation: optc's `conv/mma.py` (mma.sync m16n8k16) for every group-1 conv (16-byte
cp.async channel chunks where C_in % 8 == 0, element loads otherwise, e.g. the RGB stem);
grouped convs stay on SIMT (column `kernel` says which ran). With `--cudnn`, the cudnn
tactic (cuDNN through cudnn-frontend, as the tuner offers it: benchmarks/library_tactic.py)
runs each conv too, its fastest plan timed inside a CUDA graph, checked against torch
and reported beside optc's kernel and torch (`tactic_ms`, `plan`). Run on a GPU machine
from the repository root:

    PYTHONPATH=. python3 benchmarks/conv_throughput.py --json out/conv.json
    PYTHONPATH=. python3 benchmarks/conv_throughput.py --cudnn --dtype f16
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copy_bandwidth import load_function, time_ms, torch_ms, write_json  # noqa: E402  (this folder is on the path when run as a script)
from dialects.kernel import FuncOp  # noqa: E402
from passes.codegen.common.types import PRELUDE  # noqa: E402
from passes.codegen.conv import conv  # noqa: E402
from passes.codegen.conv.geometry import geometry  # noqa: E402
from passes.codegen.target import measured  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Stream, current_context  # noqa: E402

# name: (H = W, C_in, C_out, kernel, stride, pad)
RESNET50 = {
    "stem 7x7/2": (224, 3, 64, 7, 2, 3),
    "s2 1x1 64-64": (56, 64, 64, 1, 1, 0),
    "s2 3x3 64-64": (56, 64, 64, 3, 1, 1),
    "s2 1x1 64-256": (56, 64, 256, 1, 1, 0),
    "s2 1x1 256-64": (56, 256, 64, 1, 1, 0),
    "s3 3x3/2 128-128": (56, 128, 128, 3, 2, 1),
    "s3 3x3 128-128": (28, 128, 128, 3, 1, 1),
    "s3 1x1 512-128": (28, 512, 128, 1, 1, 0),
    "s4 3x3 256-256": (14, 256, 256, 3, 1, 1),
    "s4 1x1 256-1024": (14, 256, 1024, 1, 1, 0),
    "s5 3x3 512-512": (7, 512, 512, 3, 1, 1),
    "s5 1x1 512-2048": (7, 512, 2048, 1, 1, 0),
    "mbv2 1x1 32-192": (112, 32, 192, 1, 1, 0),
    "mbv2 1x1 144-24": (56, 144, 24, 1, 1, 0),
    "mbv2 1x1 192-64": (14, 192, 64, 1, 1, 0),
    "mbv2 1x1 960-320": (7, 960, 320, 1, 1, 0),
}

NUMPY = {"f32": np.float32, "f16": np.float16}


def conv_ir(batch: int, size: int, cin: int, cout: int, k: int, stride: int, pad: int, dtype: str) -> str:
    out = (size + 2 * pad - k) // stride + 1
    tx = f"tensor<{batch}x{size}x{size}x{cin}x{dtype}>"
    tw = f"tensor<{cout}x{k}x{k}x{cin}x{dtype}>"
    ty = f"tensor<{batch}x{out}x{out}x{cout}x{dtype}>"
    props = (
        f"strides = array<i64: {stride}, {stride}>, pads = array<i64: {pad}, {pad}, {pad}, {pad}>, "
        f'dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"'
    )
    return f"""
func.func @main(%x: {tx}, %w: {tw}) -> {ty} {{
  %y = fused.conv %x, %w {{{props}}} : ({tx}, {tw}) -> {ty} {{
  ^bb0(%acc: {ty}):
    fused.yield %acc : {ty}
  }}
  func.return %y : {ty}
}}"""


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def run_case(name: str, shape, batch: int, dtype: str, device: Device, stream: Stream, args) -> dict:
    import torch
    import torch.nn.functional as F

    size, cin, cout, k, stride, pad = shape
    kernel = _kernel(conv_ir(batch, size, cin, cout, k, stride, pad, dtype))
    launch = conv.configure(kernel, measured(device))
    source = PRELUDE + conv.emit(kernel, launch)
    function = load_function(source, kernel.sym_name.data, device.arch, launch.shared_bytes)
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((batch, size, size, cin)).astype(NUMPY[dtype])
    w_host = (rng.standard_normal((cout, k, k, cin)) / np.sqrt(cin * k * k)).astype(NUMPY[dtype])
    out = (size + 2 * pad - k) // stride + 1
    x, w = DeviceBuffer.from_numpy(x_host), DeviceBuffer.from_numpy(w_host)
    y = DeviceBuffer.empty((batch, out, out, cout), NUMPY[dtype])

    def ours():
        function.launch(launch.grid_dims, launch.block_dims, [x, w, y], shared_mem=launch.shared_bytes, stream=stream)

    ours()
    stream.synchronize()
    # torch: NCHW-shaped views of the NHWC / OHWI bytes (channels_last memory format)
    xt = torch.from_numpy(x_host).cuda().permute(0, 3, 1, 2)
    wt = torch.from_numpy(w_host).cuda().permute(0, 3, 1, 2)
    with torch.no_grad():
        yt = F.conv2d(xt, wt, stride=stride, padding=pad)
    torch.cuda.synchronize()
    want = yt.permute(0, 2, 3, 1).float().cpu().numpy()
    tol = 1e-3 if dtype == "f32" else 3e-2
    np.testing.assert_allclose(y.to_numpy().astype(np.float32), want, rtol=tol, atol=tol, err_msg=name)
    ms = statistics.median(time_ms(ours, stream, args.iters, args.repeats))

    def theirs():
        F.conv2d(xt, wt, stride=stride, padding=pad)

    rival_ms = torch_ms(theirs, args.iters, args.repeats)
    flops = geometry(kernel).flops()
    tactic = {}
    if args.cudnn:
        from library_tactic import cudnn_tactic

        y.fill_bytes(0xFF, stream)
        tactic = cudnn_tactic(kernel, [x, w], y, stream, args.iters, args.repeats)
        if "ms" in tactic:
            np.testing.assert_allclose(y.to_numpy().astype(np.float32), want, rtol=tol, atol=tol, err_msg=f"{name} (cudnn tactic)")
            tactic["tflops"] = flops / (tactic["ms"] * 1e-3) / 1e12
    return {
        "case": name,
        "batch": batch,
        "dtype": dtype,
        "kernel": "mma" if "optc_mma_" in source else "simt",
        "tile": launch.tile_params,
        "registers": function.num_registers,
        "spill_bytes": function.local_bytes,
        "optc_ms": ms,
        "cudnn_ms": rival_ms,
        "optc_tflops": flops / (ms * 1e-3) / 1e12,
        "cudnn_tflops": flops / (rival_ms * 1e-3) / 1e12,
        **{f"tactic_{key}": value for key, value in tactic.items()},
    }


def tactic_line(result: dict, torch_ms: float) -> str:
    """The cudnn tactic's row: its time and plan beside torch's, or why it did not run."""
    if "tactic_ms" not in result:
        return f"cudnn tactic: not offered ({result.get('tactic_why', '?')})"
    return (
        f"cudnn tactic {result['tactic_ms']:8.4f} ms {result['tactic_tflops']:6.2f} TFLOP/s | "
        f"{torch_ms / result['tactic_ms']:.2f}x torch  plan {result['tactic_plan']} (best of {result['tactic_plans']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--dtype", nargs="+", default=["f32", "f16"], choices=sorted(NUMPY))
    parser.add_argument("--cases", nargs="*", help="substrings of case names (default: all)")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cudnn", action="store_true", help="also time the cudnn tactic (cudnn-frontend) on each conv")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    current_context()
    device = Device(0)
    stream = Stream()
    print(f"device: {device.name}; torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}")
    results = []
    for dtype in args.dtype:
        for batch in args.batch:
            for name, shape in RESNET50.items():
                if args.cases and not any(s in name for s in args.cases):
                    continue
                r = run_case(name, shape, batch, dtype, device, stream, args)
                results.append(r)
                print(
                    f"{dtype} n={batch:<3} {name:>20}: optc {r['optc_ms']:8.4f} ms {r['optc_tflops']:6.2f} TFLOP/s | "
                    f"cuDNN {r['cudnn_ms']:8.4f} ms {r['cudnn_tflops']:6.2f} TFLOP/s | "
                    f"{r['optc_tflops'] / r['cudnn_tflops']:.2f}x  {r['kernel']} {r['tile']} regs {r['registers']} spill {r['spill_bytes']}",
                    flush=True,
                )
                if args.cudnn:
                    print(f"{'':>30}{tactic_line(r, r['cudnn_ms'])}", flush=True)
    if args.json:
        write_json(args.json, {"device": device.name, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
