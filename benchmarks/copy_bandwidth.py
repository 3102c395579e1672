"""Device-to-device copy bandwidth: the ceiling that memory-bound kernels are judged against.

Times, at each size, `cuMemcpyDtoD` and a copy kernel generated here (16-byte `uint4`
loads and stores, 1 to 4 of them in flight per thread, on a grid that covers the array or
one that fills the GPU once and strides over it). Each measurement is CUDA events around
`--iters` back-to-back copies on one stream, after a warm-up; it is repeated `--repeats`
times and the median is reported. Bandwidth counts bytes read plus bytes written (2 × the
size) in GB/s of 10^9 bytes, the way the device's copy ceiling is usually quoted. Sizes are
far above the L2 cache (50-60 MB on Hopper), so one pair of buffers cannot be served from it.
Every kernel's output is checked against its input (random bytes; the output is poisoned
before each check).

The ceiling is the best median over all methods at the largest size; `--json` writes it
with every measurement, the device, the versions and the command line.

    PYTHONPATH=. python3 benchmarks/copy_bandwidth.py                        # 256 MiB and 1 GiB
    PYTHONPATH=. python3 benchmarks/copy_bandwidth.py --sizes-mib 64 256 1024 --json $OUT/copy.json

It imports only numpy and runtime.cuda, so it runs where xDSL is not installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root

from runtime.cuda import (  # noqa: E402
    CudaError,
    Device,
    DeviceBuffer,
    Event,
    Module,
    Stream,
    compile_cuda,
    driver_version,
    nvrtc_version,
)

BLOCK = 256
UNROLLS = (1, 2, 4)

KERNEL = """
extern "C" __global__ void __launch_bounds__({block})
copy16_x{unroll}(const uint4* __restrict__ src, uint4* __restrict__ dst, long long n)
{{
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + ({unroll} - 1) * stride < n; i += {unroll} * stride) {{
        uint4 v[{unroll}];
#pragma unroll
        for (int k = 0; k < {unroll}; ++k) v[k] = src[i + k * stride];  // all loads first
#pragma unroll
        for (int k = 0; k < {unroll}; ++k) dst[i + k * stride] = v[k];
    }}
    for (; i < n; i += stride) dst[i] = src[i];  // the elements the unrolled loop left
}}
"""


@dataclass
class Result:
    size_bytes: int
    method: str
    median_ms: float
    min_ms: float
    gbps: float  # (read + write) bytes / median time, 10^9 bytes per second


def load_function(source: str, name: str, arch: str, shared_bytes: int = 0):
    """Compile `source`, load it and return its kernel `name`, allowed the dynamic shared
    memory its launch asks for (past 48 KiB that takes an attribute, as the engine sets)."""
    function = Module(compile_cuda(source, f"{name}.cu", arch=arch), name).function(name)
    if shared_bytes > 48 * 1024:
        function.set_max_dynamic_shared_memory(shared_bytes)
    return function


def torch_ms(fn, iters: int, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds per call of a torch function (CUDA events around `iters` calls,
    `repeats` times, after `warmup` calls): how every benchmark times its rival."""
    import torch

    with torch.no_grad():
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / iters)
    return statistics.median(times)


def write_json(path: Path, report: dict) -> None:
    """A benchmark's report as JSON, its folder made first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")


def time_ms(run, stream: Stream, iters: int, repeats: int, warmup: int = 3) -> list[float]:
    """Milliseconds per call of `run()`, one number per repeat (events around `iters` calls)."""
    for _ in range(warmup):
        run()
    start, end = Event(), Event()
    times = []
    for _ in range(repeats):
        start.record(stream)
        for _ in range(iters):
            run()
        end.record(stream)
        times.append(start.elapsed_ms(end) / iters)
    return times


def check_copy(src: DeviceBuffer, dst: DeviceBuffer, expected: np.ndarray, method: str) -> None:
    got = dst.to_numpy()
    if not np.array_equal(got, expected):
        wrong = int(np.count_nonzero(got != expected))
        raise SystemExit(f"{method}: the copy is wrong in {wrong} of {got.size} words")


def measure(size: int, kernels: dict, device: Device, args: argparse.Namespace) -> list[Result]:
    words = size // 4
    host = np.random.default_rng(size).integers(0, 2**32, words, dtype=np.uint32)
    src = DeviceBuffer.from_numpy(host)
    dst = DeviceBuffer.empty((words,), np.uint32)
    stream = Stream()
    n16 = size // 16
    resident = device.sm_count * (2048 // BLOCK)  # one full wave of resident blocks

    methods = {"cuMemcpyDtoD": lambda: dst.copy_from(src, stream=stream)}
    for unroll, kernel in kernels.items():
        grids = {"resident": resident} if unroll > 1 else {"covering": -(-n16 // BLOCK), "resident": resident}
        for grid_name, grid in grids.items():
            name = f"copy16_x{unroll} grid={grid_name} ({grid} blocks of {BLOCK})"
            methods[name] = lambda kernel=kernel, grid=grid: kernel.launch(
                grid, BLOCK, [src, dst, np.int64(n16)], stream=stream
            )

    results = []
    for method, run in methods.items():
        dst.fill_bytes(0xFF)
        run()
        stream.synchronize()
        check_copy(src, dst, host, method)
        times = time_ms(run, stream, args.iters, args.repeats)
        median = statistics.median(times)
        results.append(Result(size, method, median, min(times), 2 * size / (median * 1e-3) / 1e9))
    for buffer in (src, dst):
        buffer.close()
    stream.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[256, 1024], help="buffer sizes in MiB")
    parser.add_argument("--repeats", type=int, default=20, help="timed repeats per method (median taken)")
    parser.add_argument("--iters", type=int, default=10, help="copies per timed repeat")
    parser.add_argument(
        "--json", type=Path, default=Path("build/copy_bandwidth.json"), help="where to write results"
    )
    args = parser.parse_args(argv)

    try:
        device = Device(0)
    except CudaError as exc:
        print(f"copy_bandwidth: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    source = "".join(KERNEL.format(block=BLOCK, unroll=unroll) for unroll in UNROLLS)
    module = Module(compile_cuda(source, "copy16.cu", arch=device.arch, options=["-std=c++17"]), "copy16.cu")
    kernels = {unroll: module.function(f"copy16_x{unroll}") for unroll in UNROLLS}
    for unroll, kernel in kernels.items():
        if kernel.local_bytes:
            print(
                f"warning: copy16_x{unroll} uses {kernel.local_bytes} bytes of local memory", file=sys.stderr
            )

    driver, nvrtc = driver_version(), nvrtc_version()
    memory, l2 = device.total_memory / 2**30, device.l2_cache_size / 2**20
    print(
        f"device: {device.name} ({device.arch}, {device.sm_count} SMs, {memory:.0f} GiB, L2 {l2:.0f} MiB); "
        f"driver CUDA {driver[0]}.{driver[1]}; NVRTC {nvrtc[0]}.{nvrtc[1]}"
    )
    results = []
    for mib in args.sizes_mib:
        results += measure(mib << 20, kernels, device, args)

    largest = max(r.size_bytes for r in results)
    best = max((r for r in results if r.size_bytes == largest), key=lambda r: r.gbps)
    print(f"\n{'size':>9}  {'median ms':>9}  {'min ms':>8}  {'GB/s':>6}  method (GB/s counts read + write)")
    for r in results:
        print(f"{r.size_bytes >> 20:>5} MiB  {r.median_ms:9.4f}  {r.min_ms:8.4f}  {r.gbps:6.0f}  {r.method}")
    print(f"\ncopy ceiling: {best.gbps:.0f} GB/s ({best.method}, {largest >> 20} MiB)")

    report = {
        "device": device.name,
        "arch": device.arch,
        "sm_count": device.sm_count,
        "total_memory_bytes": device.total_memory,
        "l2_cache_bytes": device.l2_cache_size,
        "driver_cuda_version": f"{driver[0]}.{driver[1]}",
        "nvrtc_version": f"{nvrtc[0]}.{nvrtc[1]}",
        "bandwidth_counts": "bytes read + bytes written, 1 GB = 1e9 bytes",
        "repeats": args.repeats,
        "iters": args.iters,
        "ceiling_gbps": best.gbps,
        "ceiling_method": best.method,
        "results": [asdict(r) for r in results],
        "command": " ".join(
            ["python3", "benchmarks/copy_bandwidth.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "seconds": time.perf_counter() - started,
    }
    write_json(args.json, report)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
