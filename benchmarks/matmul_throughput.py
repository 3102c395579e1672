"""Generated matmul kernels against cuBLAS (`torch.matmul`), measured in the same run.

BERT-base / GPT-2 layer shapes: M = tokens (batch·seq: 128 .. 4096), (N, K) of the QKV
projection (2304, 768), the attention output (768, 768), FFN up (3072, 768) and down
(768, 3072), f32 and f16. Each case is a `fused.matmul` [1, M, K] x [K, N] (ONNX's weight
layout; `--transpose-b` reads the weight as [N, K]) with no epilogue, or with bias + gelu
(`--epilogue bias_gelu`, torch then runs `addmm` + `gelu`), lowered through
`outline-kernels` and passes/codegen/matmul/matmul.py with the launch `configure` picks,
compiled with NVRTC for the device, checked against torch, and timed with CUDA events
(median of repeats). With `--split-k`, every split-K candidate (`mma_split_k`: f16 outputs
with fewer tiles than SMs) that the device takes is checked and timed too, with its zeroed
workspace, and the fastest is reported beside configure's launch. TFLOP/s counts 2·M·N·K. torch runs with TF32 off for f32, so both
sides do full fp32 FMAs; for f16 both use tensor cores with fp32 accumulation. Run on a GPU
machine from the repository root:

    PYTHONPATH=. python3 benchmarks/matmul_throughput.py --json out/matmul.json
    PYTHONPATH=. python3 benchmarks/matmul_throughput.py --dtype f16 --tokens 128 --split-k
    PYTHONPATH=. python3 benchmarks/matmul_throughput.py --dtype int8 --epilogue requant

`--dtype int8` is an integer contraction: x [1, M, K] i8 by the weight [N, K] i8 (always
read transposed: the tensor-core kernel's layout, a linear layer's) into i32, either
yielded as is (`--epilogue none`) or requantized to i8 (`--epilogue requant`: per-channel
scale, divide, round, clip, as the quant level's epilogue). Its rival is cuBLASLt's int8
matmul through `torch._int_mm` (the requantization then in torch ops), checked bit for bit;
optc's f16 kernel at the same shape (weight [N, K]) is timed in the same run, and the row
reports int8's speed-up over it. TOPS counts 2·M·N·K integer operations.
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
from passes.codegen.matmul import matmul  # noqa: E402
from passes.codegen.target import measured  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Stream, current_context  # noqa: E402

LAYERS = {  # name: (N, K)
    "qkv": (2304, 768),
    "attn-out": (768, 768),
    "ffn-up": (3072, 768),
    "ffn-down": (768, 3072),
}
TOKENS = [128, 512, 2048, 4096]
NUMPY = {"f32": np.float32, "f16": np.float16, "int8": np.int8}
EPILOGUES = {"f32": ("none", "bias_gelu"), "f16": ("none", "bias_gelu"), "int8": ("none", "requant")}
"""The epilogues each dtype's cases take."""
REQUANT_SCALE = 0.75
"""The output scale of `--epilogue requant` (the divisor before rounding)."""


def matmul_ir(m: int, n: int, k: int, dtype: str, transpose_b: bool, epilogue: str) -> str:
    if dtype == "int8":
        return int8_matmul_ir(m, n, k, epilogue)
    ta, tw = f"tensor<1x{m}x{k}x{dtype}>", f"tensor<{n}x{k}x{dtype}>" if transpose_b else f"tensor<{k}x{n}x{dtype}>"
    ty, tb = f"tensor<1x{m}x{n}x{dtype}>", f"tensor<{n}x{dtype}>"
    if epilogue == "none":
        return f"""
func.func @main(%a: {ta}, %w: {tw}) -> {ty} {{
  %y = fused.matmul %a, %w {{transpose_b = {int(transpose_b)} : i64}} : ({ta}, {tw}) -> {ty} {{
  ^bb0(%acc: {ty}):
    fused.yield %acc : {ty}
  }}
  func.return %y : {ty}
}}"""
    return f"""
func.func @main(%a: {ta}, %w: {tw}, %bias: {tb}) -> {ty} {{
  %y = fused.matmul %a, %w extras(%bias : {tb}) {{transpose_b = {int(transpose_b)} : i64}} : ({ta}, {tw}) -> {ty} {{
  ^bb0(%acc: {ty}, %b: {tb}):
    %s = graph.add %acc, %b : ({ty}, {tb}) -> {ty}
    %g = graph.gelu %s {{approximate = "none"}} : {ty}
    fused.yield %g : {ty}
  }}
  func.return %y : {ty}
}}"""


def int8_matmul_ir(m: int, n: int, k: int, epilogue: str) -> str:
    """x [1, M, K] i8 by w [N, K] i8 into i32: the accumulator (`none`), or requantized to i8
    with a per-channel scale %s (`requant`)."""
    ta, tw, tacc = f"tensor<1x{m}x{k}xi8>", f"tensor<{n}x{k}xi8>", f"tensor<1x{m}x{n}xi32>"
    tf, ty, ts = f"tensor<1x{m}x{n}xf32>", f"tensor<1x{m}x{n}xi8>", f"tensor<{n}xf32>"
    if epilogue == "none":
        return f"""
func.func @main(%a: {ta}, %w: {tw}) -> {tacc} {{
  %y = fused.matmul %a, %w {{transpose_b = 1 : i64}} : ({ta}, {tw}) -> {tacc} {{
  ^bb0(%acc: {tacc}):
    fused.yield %acc : {tacc}
  }}
  func.return %y : {tacc}
}}"""
    return f"""
func.func @main(%a: {ta}, %w: {tw}, %s: {ts}) -> {ty} {{
  %y = fused.matmul %a, %w extras(%s : {ts}) {{transpose_b = 1 : i64}} : ({ta}, {tw}) -> {ty} {{
  ^bb0(%acc: {tacc}, %sc: {ts}):
    %f = graph.cast %acc : {tacc} -> {tf}
    %d = graph.mul %f, %sc : ({tf}, {ts}) -> {tf}
    %sy = graph.constant dense<{REQUANT_SCALE}> : tensor<f32>
    %q0 = graph.div %d, %sy : ({tf}, tensor<f32>) -> {tf}
    %q1 = graph.round %q0 : {tf}
    %q2 = graph.clip %q1 {{min = -128.0 : f32, max = 127.0 : f32}} : {tf}
    %q = graph.cast %q2 : {tf} -> {ty}
    fused.yield %q : {ty}
  }}
  func.return %y : {ty}
}}"""


def int8_host_inputs(m: int, n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-range i8 x [1, M, K] and w [N, K], and per-channel scales spreading the
    requantized outputs over about ±3·127 (some saturate)."""
    a = rng.integers(-128, 128, (1, m, k), dtype=np.int64).astype(np.int8)
    w = rng.integers(-128, 128, (n, k), dtype=np.int64).astype(np.int8)
    scale = (rng.uniform(0.5, 1.5, n) * 127.0 * REQUANT_SCALE / (np.sqrt(k) * 74.0 * 74.0)).astype(np.float32)
    return a, w, scale


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def run_case(name: str, m: int, n: int, k: int, dtype: str, device: Device, stream: Stream, args) -> dict:
    import torch
    import torch.nn.functional as F

    kernel = _kernel(matmul_ir(m, n, k, dtype, args.transpose_b, args.epilogue))
    launch = matmul.configure(kernel, measured(device))
    source = PRELUDE + matmul.emit(kernel, launch)
    function = load_function(source, kernel.sym_name.data, device.arch, launch.shared_bytes)
    rng = np.random.default_rng(0)
    a_host = rng.standard_normal((1, m, k)).astype(NUMPY[dtype])
    w_shape = (n, k) if args.transpose_b else (k, n)
    w_host = (rng.standard_normal(w_shape) / np.sqrt(k)).astype(NUMPY[dtype])
    b_host = rng.standard_normal((n,)).astype(NUMPY[dtype])
    a, w, b = DeviceBuffer.from_numpy(a_host), DeviceBuffer.from_numpy(w_host), DeviceBuffer.from_numpy(b_host)
    y = DeviceBuffer.empty((1, m, n), NUMPY[dtype])
    buffers = [a, w, y] if args.epilogue == "none" else [a, w, b, y]

    def ours():
        function.launch(launch.grid_dims, launch.block_dims, buffers, shared_mem=launch.shared_bytes, stream=stream)

    ours()
    stream.synchronize()
    at, wt, bt = (torch.from_numpy(x).cuda() for x in (a_host, w_host, b_host))
    wk = wt.t() if args.transpose_b else wt  # [K, N] view either way

    def theirs():
        if args.epilogue == "none":
            return torch.matmul(at, wk)
        return F.gelu(torch.addmm(bt, at[0], wk))

    with torch.no_grad():
        want = theirs().reshape(1, m, n).float().cpu().numpy()
    tol = 1e-3 if dtype == "f32" else 3e-2
    np.testing.assert_allclose(y.to_numpy().astype(np.float32), want, rtol=tol, atol=tol, err_msg=name)
    ms = statistics.median(time_ms(ours, stream, args.iters, args.repeats))
    rival_ms = torch_ms(theirs, args.iters, args.repeats)
    flops = 2.0 * m * n * k
    split = best_split_k(kernel, device, stream, buffers, want, tol, args) if args.split_k else None
    return {
        "case": name,
        "m": m,
        "n": n,
        "k": k,
        "dtype": dtype,
        "tile": launch.tile_params,
        "optc_ms": ms,
        "cublas_ms": rival_ms,
        "optc_tflops": flops / (ms * 1e-3) / 1e12,
        "cublas_tflops": flops / (rival_ms * 1e-3) / 1e12,
        "split_k": split and {**split, "tflops": flops / (split["ms"] * 1e-3) / 1e12},
    }


def run_int8_case(name: str, m: int, n: int, k: int, device: Device, stream: Stream, args) -> dict:
    """optc's int8 kernel against `torch._int_mm` (bit for bit) and optc's f16 kernel at the
    same shape, all timed in this run."""
    import torch

    kernel = _kernel(int8_matmul_ir(m, n, k, args.epilogue))
    launch = matmul.configure(kernel, measured(device))
    function = load_function(PRELUDE + matmul.emit(kernel, launch), kernel.sym_name.data, device.arch, launch.shared_bytes)
    a_host, w_host, s_host = int8_host_inputs(m, n, k, np.random.default_rng(0))
    a, w, s = (DeviceBuffer.from_numpy(x) for x in (a_host, w_host, s_host))
    y = DeviceBuffer.empty((1, m, n), np.int32 if args.epilogue == "none" else np.int8)
    buffers = [a, w, y] if args.epilogue == "none" else [a, w, s, y]

    def ours():
        function.launch(launch.grid_dims, launch.block_dims, buffers, shared_mem=launch.shared_bytes, stream=stream)

    ours()
    stream.synchronize()
    at, wt, st = (torch.from_numpy(x).cuda() for x in (a_host[0], w_host, s_host))

    def theirs():
        acc = torch._int_mm(at, wt.t())  # cuBLASLt int8: [M, K] x [K, N] (column-major B) -> i32
        if args.epilogue == "none":
            return acc
        return (acc.float() * st).div(REQUANT_SCALE).round().clamp(-128.0, 127.0).to(torch.int8)

    with torch.no_grad():
        want = theirs().reshape(1, m, n).cpu().numpy()
    np.testing.assert_array_equal(y.to_numpy(), want, err_msg=name)
    ms = statistics.median(time_ms(ours, stream, args.iters, args.repeats))
    rival_ms = torch_ms(theirs, args.iters, args.repeats)
    f16_args = argparse.Namespace(**{**vars(args), "transpose_b": True, "epilogue": "none", "split_k": False})
    f16 = run_case(f"f16 M={m} (beside {name})", m, n, k, "f16", device, stream, f16_args)
    ops = 2.0 * m * n * k
    return {
        "case": name,
        "m": m,
        "n": n,
        "k": k,
        "dtype": "int8",
        "epilogue": args.epilogue,
        "tile": launch.tile_params,
        "tactic": launch.tactic_name,
        "optc_ms": ms,
        "cublas_ms": rival_ms,
        "optc_tflops": ops / (ms * 1e-3) / 1e12,
        "cublas_tflops": ops / (rival_ms * 1e-3) / 1e12,
        "optc_f16_ms": f16["optc_ms"],
        "speedup_over_f16": f16["optc_ms"] / ms,
        "split_k": None,
    }


def best_split_k(kernel: FuncOp, device: Device, stream: Stream, buffers: list, want: np.ndarray, tol: float, args) -> dict | None:
    """The fastest split-K candidate the device takes ({"ms", "tile"}), each checked against
    torch's answer first; None where none is offered."""
    target = measured(device)
    y = buffers[-1]
    best = None
    for launch in matmul.candidates(kernel, target):
        if launch.tactic_name != "mma_split_k" or matmul.check(kernel, launch, target) is not None:
            continue
        function = load_function(PRELUDE + matmul.emit(kernel, launch), kernel.sym_name.data, device.arch, launch.shared_bytes)
        workspace = DeviceBuffer(matmul.workspace(kernel, launch))
        workspace.fill_bytes(0, stream)  # the engine's arena starts so; every launch leaves it so

        def run(function=function, launch=launch, params=[*buffers, workspace]):
            function.launch(launch.grid_dims, launch.block_dims, params, shared_mem=launch.shared_bytes, stream=stream)

        y.fill_bytes(0xFF, stream)
        run()
        stream.synchronize()
        np.testing.assert_allclose(y.to_numpy().astype(np.float32), want, rtol=tol, atol=tol, err_msg=str(launch))
        ms = statistics.median(time_ms(run, stream, args.iters, args.repeats))
        if best is None or ms < best["ms"]:
            best = {"ms": ms, "tile": dict(launch.tile_params)}
    return best


def epilogue_problem(args) -> str | None:
    """Why `--epilogue` does not go with every `--dtype` asked for (None when it does)."""
    wrong = [dtype for dtype in args.dtype if args.epilogue not in EPILOGUES[dtype]]
    if wrong:
        return f"--epilogue {args.epilogue} is not one of {', '.join(wrong)}'s ({', '.join(EPILOGUES[wrong[0]])})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, nargs="+", default=TOKENS, help="M values (batch·seq)")
    parser.add_argument("--dtype", nargs="+", default=["f32", "f16"], choices=sorted(NUMPY))
    parser.add_argument("--layers", nargs="*", choices=sorted(LAYERS), help="default: all")
    parser.add_argument("--transpose-b", action="store_true", help="weights stored [N, K]")
    parser.add_argument("--epilogue", default="none", choices=["none", "bias_gelu", "requant"], help="bias_gelu: f32/f16; requant: int8")
    parser.add_argument("--split-k", action="store_true", help="also time every split-K candidate, report the fastest")
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    why = epilogue_problem(args)
    if why is not None:
        parser.error(why)

    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    current_context()
    device = Device(0)
    stream = Stream()
    print(f"device: {device.name}; torch {torch.__version__}; epilogue {args.epilogue}; transpose_b {args.transpose_b}")
    print(f"{'dtype':5} {'M':>5} {'layer':>9} {'N':>5} {'K':>5} | {'optc ms':>9} {'TFLOP/s':>8} | {'cuBLAS ms':>9} {'TFLOP/s':>8} | ratio  tile")
    results = []
    for dtype in args.dtype:
        for m in args.tokens:
            for layer, (n, k) in LAYERS.items():
                if args.layers and layer not in args.layers:
                    continue
                if dtype == "int8":
                    r = run_int8_case(f"int8 M={m} {layer}", m, n, k, device, stream, args)
                else:
                    r = run_case(f"{dtype} M={m} {layer}", m, n, k, dtype, device, stream, args)
                results.append(r)
                print(
                    f"{dtype:5} {m:5} {layer:>9} {n:5} {k:5} | {r['optc_ms']:9.4f} {r['optc_tflops']:8.2f} | "
                    f"{r['cublas_ms']:9.4f} {r['cublas_tflops']:8.2f} | {r['optc_tflops'] / r['cublas_tflops']:5.2f}  {r['tile']}",
                    flush=True,
                )
                if dtype == "int8":
                    print(f"{'':29} optc f16 {r['optc_f16_ms']:9.4f} ms: int8 is {r['speedup_over_f16']:.2f}x optc f16", flush=True)
                if r["split_k"]:
                    sk = r["split_k"]
                    print(f"{'':29} split-K {sk['ms']:9.4f} {sk['tflops']:8.2f} | {sk['tflops'] / r['cublas_tflops']:5.2f} of cuBLAS  {sk['tile']}", flush=True)
    for dtype in args.dtype:
        ratios = [r["optc_tflops"] / r["cublas_tflops"] for r in results if r["dtype"] == dtype]
        if ratios:
            print(f"{dtype}: geometric mean of optc / cuBLAS = {float(np.exp(np.mean(np.log(ratios)))):.2f}")
    if args.json:
        write_json(args.json, {"device": device.name, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
