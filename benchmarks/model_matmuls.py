"""Every matrix product of a model, tuned, against cuBLAS at the same shapes, in one run.

The target of issue 11: every matmul shape of the zoo at >= 0.95x cuBLAS. This compiles
the model to the kernel level for the GPU here (`--precision`, fp16 by default), keeps its
matrix-product kernels (`fused.matmul`, matmul, gemm), tunes them with optc's autotuner
(`--tune full` by default, a timing cache of its own unless `--timing-cache` names one) and
times `torch.matmul` (cuBLAS) on the same operands: batch x [M, K] @ [K, N] in the same
element type, with the same operand orientations. optc's time includes its fused epilogue
(bias, activation, residual, layout of the stores) and cuBLAS's does not, so the ratio is
conservative. Kernels with the same signature (a layer repeated twelve times) are one row,
counted by `kernels`.

    PYTHONPATH=. python3 benchmarks/model_matmuls.py benchmarks/zoo/bert_b1.onnx --json out/bert-matmuls.json

Prints one row per signature: shape, the heuristic's tactic and ms, the tuned tactic and
ms, cuBLAS's ms and tuned/cuBLAS throughput; then the geometric mean.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MATMUL_OPS = ("fused.matmul", "graph.matmul", "graph.gemm")
TORCH_DTYPES = {"float16": "float16", "bfloat16": "bfloat16", "float32": "float32"}


@dataclass(frozen=True)
class Product:
    """One matrix-product signature of the model, as cuBLAS would be asked for it."""

    kernels: tuple[str, ...]
    m: int
    n: int
    k: int
    batch: int
    a_k_fast: bool
    b_n_fast: bool
    dtype: str
    b_broadcast: bool
    """B has no batch dimension (a weight shared by every batch)."""


def kernel_module(model: str, precision: str, target, shapes: dict | None = None):
    """The model at the kernel level for `target` (configured, not yet tuned); `shapes` fix
    its inputs' shapes by name (a batch size, say)."""
    from compiler.engine_build import kernel_pipeline, lower
    from compiler.onnx_import import import_onnx

    module = import_onnx(model, shapes)
    lower(module, kernel_pipeline(precision), target)
    return module


def matmul_module(module):
    """A module of clones of `module`'s matrix-product kernels (what is tuned)."""
    from xdsl.dialects.builtin import ModuleOp

    from dialects.kernel import FuncOp

    kernels = [op.clone() for op in module.ops if isinstance(op, FuncOp) and op.computation.name in MATMUL_OPS]
    return ModuleOp(kernels)


def product_of(kernel, names: tuple[str, ...]) -> Product:
    from passes.codegen.matmul.problem import problem_of

    p = problem_of(kernel)
    dtype = {"f16": "float16", "bf16": "bfloat16", "f32": "float32"}.get(str(p.element), str(p.element))
    return Product(
        kernels=names,
        m=p.m,
        n=p.n,
        k=p.k,
        batch=max(1, p.batch_count),
        a_k_fast=p.a_k_fast,
        b_n_fast=p.b_n_fast,
        dtype=dtype,
        b_broadcast=not any(p.b_batch_strides),
    )


def cublas_ms(product: Product, iters: int, repeats: int) -> float:
    """torch.matmul's median ms on operands of `product`'s shapes, orientations and type."""
    import torch

    from copy_bandwidth import torch_ms  # this folder is on the path when run as a script

    dtype = getattr(torch, TORCH_DTYPES[product.dtype])
    batch = () if product.batch == 1 else (product.batch,)
    a = torch.randn(*batch, *((product.m, product.k) if product.a_k_fast else (product.k, product.m)), device="cuda", dtype=dtype)
    b_batch = () if product.b_broadcast else batch
    b = torch.randn(*b_batch, *((product.k, product.n) if product.b_n_fast else (product.n, product.k)), device="cuda", dtype=dtype)
    a = a if product.a_k_fast else a.transpose(-1, -2)
    b = b if product.b_n_fast else b.transpose(-1, -2)
    if product.dtype == "float32":
        torch.backends.cuda.matmul.allow_tf32 = False
    return torch_ms(lambda: torch.matmul(a, b), iters, repeats)


def rows(module, report, iters: int, repeats: int, rival=cublas_ms) -> list[dict]:
    """One row per signature of the tune report: the product, the heuristic's and the
    tuned tactic with their ms, and cuBLAS's ms (`rival`)."""
    from dialects.kernel import FuncOp

    kernels = {op.sym_name.data: op for op in module.ops if isinstance(op, FuncOp)}
    out = []
    for sig in report.signatures:
        product = product_of(kernels[sig.kernels[0]], tuple(sig.kernels))
        theirs = rival(product, iters, repeats)
        tuned = sig.winner.ms
        flops = 2.0 * product.m * product.n * product.k * product.batch
        out.append(
            {
                **asdict(product),
                "heuristic": _short(sig.default.tactic),
                "heuristic_ms": sig.default.ms,
                "tuned": _short(sig.winner.tactic),
                "tuned_ms": tuned,
                "cublas_ms": theirs,
                "tuned_tflops": flops / (tuned * 1e9) if tuned else None,
                "cublas_tflops": flops / (theirs * 1e9) if theirs else None,
                "vs_cublas": theirs / tuned if tuned and theirs else None,
            }
        )
    return out


def _short(tactic: str) -> str:
    return tactic.removeprefix("#kernel.launch<").removesuffix(">")


def geometric_mean(values: list[float]) -> float | None:
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def print_rows(table: list[dict]) -> None:
    print(f"{'kernels':>7} {'batch':>5} {'M':>6} {'N':>6} {'K':>6}  {'heuristic ms':>12} {'tuned ms':>9} {'cuBLAS ms':>9} {'x cuBLAS':>8}  tuned tactic")
    for row in table:
        ms = lambda v: f"{v:.4f}" if v is not None else "-"  # noqa: E731
        ratio = f"{row['vs_cublas']:.2f}" if row["vs_cublas"] is not None else "-"
        print(
            f"{len(row['kernels']):>7} {row['batch']:>5} {row['m']:>6} {row['n']:>6} {row['k']:>6}  "
            f"{ms(row['heuristic_ms']):>12} {ms(row['tuned_ms']):>9} {ms(row['cublas_ms']):>9} {ratio:>8}  {row['tuned']}"
        )
    mean = geometric_mean([row["vs_cublas"] for row in table])
    print(f"geometric mean: {mean:.2f}x cuBLAS" if mean is not None else "geometric mean: -")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="an ONNX model (e.g. one of benchmarks/zoo/)")
    parser.add_argument("--precision", default="fp16", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS", help="fix an input's shape, e.g. input_ids=8x128")
    parser.add_argument("--tune", default="full", choices=["fast", "full"])
    parser.add_argument("--timing-cache", type=Path, help="default: a fresh cache for this run")
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from compiler.autotune import format_tune_report, tune
    from compiler.onnx_import.frontend import parse_shapes
    from copy_bandwidth import write_json
    from passes.codegen.target import measured
    from runtime.cuda import Device
    from runtime.tuning.cache import TimingCache

    device = Device(0)
    target = measured(device)
    module = matmul_module(kernel_module(args.model, args.precision, target, parse_shapes(args.shape) or None))
    with tempfile.TemporaryDirectory() as scratch:
        cache = TimingCache(args.timing_cache or Path(scratch) / "timing-cache.json")
        report = tune(module, target=target, mode=args.tune, cache=cache)
    print("\n".join(format_tune_report(report)), file=sys.stderr)
    table = rows(module, report, args.iters, args.repeats)
    print(f"{args.model} at {args.precision} on {device.name}: {len(table)} matmul signatures, tuned ({args.tune})")
    print_rows(table)
    if args.json:
        write_json(args.json, {"model": args.model, "precision": args.precision, "device": device.name,
                               "tune": args.tune, "rows": table,
                               "geometric_mean": geometric_mean([r["vs_cublas"] for r in table])})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
