"""Generated flash-attention kernels against PyTorch's scaled_dot_product_attention, in the
same run.

For each case a `fused.attention` goes through `outline-kernels,configure-kernels` and the
CUDA emitter (passes/codegen/attention/attention.py), is compiled with NVRTC for the device, run
on random data, checked against torch's result, and timed with CUDA events (median of
repeats). `torch.nn.functional.scaled_dot_product_attention` on the same tensors is the
bar (flash or memory-efficient backends for f16, whatever torch picks for f32). TFLOP/s
counts the two products, 4·b·h·s_q·s_k·d (halved for causal). With `--cudnn`, the cudnn
tactic (cuDNN's flash attention through cudnn-frontend, as the tuner offers it:
benchmarks/library_tactic.py) runs each case it takes too, its fastest plan timed inside a
CUDA graph, checked against torch and reported beside optc's kernel and torch; a case it
does not take (BERT's f32 padding mask, f32) says why. Run on a GPU machine from the
repository root (torch is imported only here, and only when run):

    PYTHONPATH=. python3 benchmarks/attention_throughput.py --json out/attention.json
    PYTHONPATH=. python3 benchmarks/attention_throughput.py --cudnn
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from copy_bandwidth import load_function, time_ms, torch_ms, write_json  # noqa: E402  (this folder is on the path when run as a script)
from dialects.kernel import FuncOp  # noqa: E402
from passes.codegen.cuda import kernel_source  # noqa: E402
from runtime.cuda import Device, DeviceBuffer, Stream, current_context  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    dtype: str
    b: int
    h: int
    s: int
    d: int
    causal: bool = False
    mask: bool = False
    """BERT's padding mask [b, 1, 1, s], additive f32 (0 or -10000)."""

    def ir(self) -> str:
        t = f"tensor<{self.b}x{self.h}x{self.s}x{self.d}x{self.dtype}>"
        m_arg = f", %m: tensor<{self.b}x1x1x{self.s}xf32>" if self.mask else ""
        m_use = f" mask(%m : tensor<{self.b}x1x1x{self.s}xf32>)" if self.mask else ""
        return f"""func.func @main(%q: {t}, %k: {t}, %v: {t}{m_arg}) -> {t} {{
  %y = fused.attention %q, %k, %v{m_use} {{scale = {self.d ** -0.5!r} : f32, causal = {int(self.causal)} : i64}} : ({t}, {t}, {t}) -> {t}
  func.return %y : {t}
}}"""

    @property
    def flops(self) -> float:
        return 4.0 * self.b * self.h * self.s * self.s * self.d * (0.5 if self.causal else 1.0)


CASES = [
    Case("bert-base", "f16", 8, 12, 128, 64, mask=True),
    Case("bert-base-nomask", "f16", 8, 12, 128, 64),
    Case("bert-base", "f32", 8, 12, 128, 64, mask=True),
    Case("s1024", "f16", 8, 12, 1024, 64),
    Case("s1024", "f32", 8, 12, 1024, 64),
    Case("s1024-causal", "f16", 8, 12, 1024, 64, causal=True),
    Case("s1024-d128", "f16", 4, 16, 1024, 128),
]


def _kernel(ir: str) -> FuncOp:
    from tests.support import apply_pipeline, parse

    module = apply_pipeline(parse(ir), "outline-kernels,configure-kernels")
    return next(op for op in module.ops if isinstance(op, FuncOp))


def run_case(case: Case, device: Device, stream: Stream, args) -> dict:
    import torch
    import torch.nn.functional as F

    np_dtype = np.float16 if case.dtype == "f16" else np.float32
    rng = np.random.default_rng(0)
    shape = (case.b, case.h, case.s, case.d)
    q, k, v = (rng.standard_normal(shape).astype(np_dtype) for _ in range(3))
    mask = None
    if case.mask:  # the last quarter of each sequence but the first is padding
        mask = np.zeros((case.b, 1, 1, case.s), np.float32)
        mask[1:, ..., 3 * case.s // 4 :] = -10000.0
    kernel = _kernel(case.ir())
    name, launch = kernel.sym_name.data, kernel.launch
    function = load_function(kernel_source(kernel), name, device.arch, launch.shared_bytes)
    buffers = [DeviceBuffer.from_numpy(a) for a in (q, k, v, *([mask] if mask is not None else []))]
    out = DeviceBuffer.empty(shape, np_dtype)

    def ours():
        function.launch(launch.grid_dims, launch.block_dims, [*buffers, out], launch.shared_bytes, stream)

    tq, tk, tv = (torch.from_numpy(a).cuda() for a in (q, k, v))
    tmask = torch.from_numpy(mask).cuda().to(tq.dtype) if mask is not None else None

    def theirs():
        return F.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask, is_causal=case.causal)

    ours()
    stream.synchronize()
    want = theirs().float().cpu().numpy()
    got = out.to_numpy().astype(np.float32)
    tol = 2e-2 if case.dtype == "f16" else 1e-3  # torch may use TF32 for f32
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=f"{case.name} {case.dtype}")
    ms = statistics.median(time_ms(ours, stream, args.iters, args.repeats))
    rival_ms = torch_ms(theirs, args.iters, args.repeats)
    tactic = {}
    if args.cudnn:
        from library_tactic import cudnn_tactic

        out.fill_bytes(0xFF, stream)
        tactic = cudnn_tactic(kernel, buffers, out, stream, args.iters, args.repeats)
        if "ms" in tactic:
            np.testing.assert_allclose(out.to_numpy().astype(np.float32), want, rtol=tol, atol=tol, err_msg=f"{case.name} {case.dtype} (cudnn tactic)")
            tactic["tflops"] = case.flops / tactic["ms"] / 1e9
    result = {
        "case": case.name, "dtype": case.dtype, "shape": list(shape), "causal": case.causal, "mask": case.mask,
        "tile": launch.tile_params, "ms": ms, "tflops": case.flops / ms / 1e9,
        "torch_ms": rival_ms, "torch_tflops": case.flops / rival_ms / 1e9, "of_torch": rival_ms / ms,
        **{f"tactic_{key}": value for key, value in tactic.items()},
    }  # fmt: skip
    print(
        f"{case.name:>14} {case.dtype} {shape}: optc {ms:.4f} ms {result['tflops']:.1f} TFLOP/s | "
        f"torch {rival_ms:.4f} ms {result['torch_tflops']:.1f} TFLOP/s | {result['of_torch']:.2f} x torch  {launch.tile_params}"
    )
    if args.cudnn:
        if "ms" in tactic:
            print(f"{'':>15}cudnn tactic {tactic['ms']:.4f} ms {tactic['tflops']:.1f} TFLOP/s | {rival_ms / tactic['ms']:.2f} x torch  plan {tactic['plan']} (best of {tactic['plans']})")
        else:
            print(f"{'':>15}cudnn tactic: not offered ({tactic['why']})")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--only", help="run cases whose name contains this")
    parser.add_argument("--cudnn", action="store_true", help="also time the cudnn tactic (cudnn-frontend's SDPA) on each case it takes")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    current_context()
    import torch  # after our context: torch then shares the device's primary context

    device = Device(0)
    stream = Stream()
    print(f"device: {device.name}; torch {torch.__version__}")
    results = [run_case(c, device, stream, args) for c in CASES if not args.only or args.only in c.name]
    if args.json:
        write_json(args.json, {"device": device.name, "torch": torch.__version__, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
