"""Emitted CUDA kernels run on the host with g++, for checking their index arithmetic and
their results against the reference interpreter where there is no GPU.

Two emulators, both over a small prelude that stands in for CUDA's built-ins:
- serial (`HOST_PRELUDE`, `serial_launcher`, `run_on_cpu`): blocks and threads run one
  after another and `__syncthreads` is a no-op, so a kernel must not need its threads to
  meet (a plane reduction gets one thread per row);
- fibers (`FIBERS`, `fiber_source`, `run_on_fibers`): every thread of a block is a fiber that yields at
  barriers and warp-wide instructions, which models `__syncthreads`, `ldmatrix` and
  `mma.sync` fragment layouts (from the PTX ISA: m16n8k16 f16/bf16, and m16n8k32 s8/u8 with
  wrapping s32 accumulators, `optc_mma_s8s8` and its u8 variants) and `__syncthreads_or`; `cp.async` is
  synchronous there, and so are `atomicAdd` and `__threadfence` (one fiber runs at a time
  and yields only at barriers and warp-wide instructions, so a plain add is atomic and
  memory needs no fence): split-K's counters run exactly.
A tactic with a workspace (split-K) gets it as the engine gives it: zeroed bytes after the
results, which `build_and_launch` holds to staying zero after every launch.
`to_buffer`/`from_buffer` move bf16 between the reference's float32 and the device's
2-byte storage.
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from dialects.dtypes import numpy_dtype
from dialects.kernel import LaunchAttr
from passes.codegen.common.types import WORKSPACE_PARAM, pointer_params
from passes.codegen.cuda import emit_kernel, kernels_of
from passes.codegen.registry import generator_for, workspace_bytes
from tests.cuda_support import lower

HOST_PRELUDE = r"""
#include <cmath>
#include <cstring>
using std::sqrt;
struct optc_dim3 { unsigned x, y, z; };
static optc_dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __launch_bounds__(n)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))  // alignas may not follow `static` (__shared__)
static inline void __syncthreads() {}
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
// one rounding per op: g++ on x86-64 (SSE, no -mfma) contracts nothing either
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
struct alignas(2) optc_half { unsigned short bits; };
struct alignas(2) optc_bf16 { unsigned short bits; };
static inline float optc_widen(optc_half h) { _Float16 f; std::memcpy(&f, &h.bits, 2); return (float)f; }
static inline float optc_widen(optc_bf16 h) { return __uint_as_float(((unsigned)h.bits) << 16); }
static inline optc_half optc_to_half(float f) { _Float16 g = (_Float16)f; optc_half h; std::memcpy(&h.bits, &g, 2); return h; }
static inline optc_bf16 optc_to_bf16(float f) {
    unsigned u; std::memcpy(&u, &f, 4);
    optc_bf16 h;
    h.bits = (f != f) ? (unsigned short)((u >> 16) | 0x40) : (unsigned short)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
    return h;
}
"""


def serial_launch(kernel) -> LaunchAttr:
    """The kernel's launch, except that a plane reduction gets one thread per row (blocks
    and threads run one after another here, and __syncthreads is a no-op)."""
    launch = generator_for(kernel).configure(kernel)
    tile = launch.tile_params
    if "reduce_threads" not in tile:
        return launch
    tile = {**tile, "reduce_threads": 1}
    block = (tile["channels"], 1, 1) if "channels" in tile else (1, tile["planes"], 1)
    return LaunchAttr(launch.tactic_name, launch.grid_dims, block, 0, tile)


def serial_launcher(kernel, launch: LaunchAttr) -> str:
    params = pointer_params(kernel)
    casts = ", ".join(f"({p.rsplit(' ', 1)[0]})ptrs[{j}]" for j, p in enumerate(params))
    (gx, gy, gz), (bx, by, bz) = launch.grid_dims, launch.block_dims
    return (
        'extern "C" void optc_launch(void** ptrs) {\n'
        f"    gridDim = {{{gx}, {gy}, {gz}}}; blockDim = {{{bx}, {by}, {bz}}};\n"
        f"    for (unsigned b = 0; b < {gx * gy * gz}; ++b)\n"
        f"    for (unsigned t = 0; t < {bx * by * bz}; ++t) {{\n"
        f"        blockIdx = {{b % {gx}, (b / {gx}) % {gy}, b / {gx * gy}}};\n"
        f"        threadIdx = {{t % {bx}, (t / {bx}) % {by}, t / {bx * by}}};\n"
        f"        {kernel.sym_name.data}({casts});\n"
        "    }\n}\n"
    )


def to_buffer(array: np.ndarray, element_type) -> np.ndarray:
    if "bf16" in str(element_type):
        return np.ascontiguousarray((np.asarray(array, np.float32).view(np.uint32) >> 16).astype(np.uint16))
    return np.ascontiguousarray(array)


def from_buffer(buffer: np.ndarray, element_type) -> np.ndarray:
    if "bf16" in str(element_type):
        return (buffer.astype(np.uint32) << 16).view(np.float32)
    return buffer


def run_on_cpu(ir: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Lower `ir` (one kernel), build its emitted C++ with g++ and run it on `feeds`."""
    (kernel,) = kernels_of(lower(ir))
    launch = serial_launch(kernel)
    kernel.attributes["launch"] = launch
    return build_and_launch(kernel, HOST_PRELUDE + emit_kernel(kernel) + serial_launcher(kernel, launch), feeds)


def build_and_launch(
    kernel, source: str, feeds: dict[str, np.ndarray], flags: tuple[str, ...] = (), launches: int = 1
) -> list[np.ndarray]:
    """Build `source` (a kernel with its host `optc_launch`) with g++ and run it on `feeds`
    `launches` times: the kernel's outputs of the last launch, as the reference holds them.
    Its tactic's workspace (`kernel.launch`'s) starts zeroed, and must be all zeros again
    after every launch; each launch after the first starts from outputs poisoned with 0xFF
    bytes, so every launch must write them all again."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.cpp").write_text(source)
        subprocess.run(["g++", "-O1", *flags, "-shared", "-fPIC", "-o", f"{tmp}/k.so", f"{tmp}/k.cpp"], check=True)
        lib = ctypes.CDLL(f"{tmp}/k.so")
        inputs = [to_buffer(feeds[name], t.element_type) for name, t in zip(feeds, kernel.function_type.inputs.data)]
        outputs = [
            np.zeros(t.get_shape(), to_buffer(np.zeros(0, numpy_dtype(t.element_type)), t.element_type).dtype)
            for t in kernel.function_type.outputs.data
        ]
        workspace = _zeroed_workspace(workspace_bytes(kernel, kernel.launch) if kernel.launch is not None else 0)
        buffers = [*inputs, *outputs, *([workspace] if workspace.size else [])]
        ptrs = (ctypes.c_void_p * len(buffers))(*[a.ctypes.data for a in buffers])
        for launch in range(launches):
            if launch:
                for o in outputs:
                    o.view(np.uint8).fill(0xFF)
            lib.optc_launch(ptrs)
            dirty = np.flatnonzero(workspace)
            assert not dirty.size, f"launch {launch + 1} left {dirty.size} workspace byte(s) nonzero, the first at {dirty[0]}"
    return [from_buffer(o, t.element_type) for o, t in zip(outputs, kernel.function_type.outputs.data)]


def _zeroed_workspace(nbytes: int) -> np.ndarray:
    """`nbytes` zeroed bytes starting on a 256-byte boundary (the engine's arena alignment)."""
    raw = np.zeros(nbytes + 256, np.uint8)
    start = -raw.ctypes.data % 256
    return raw[start : start + nbytes]


FIBERS = r"""
#include <ucontext.h>
#include <vector>
struct optc_fiber { ucontext_t ctx; optc_dim3 tid; bool done; const unsigned short* addr; unsigned a[4], b[2]; int vote; };
static std::vector<optc_fiber> optc_fibers;
static int optc_cur;
static ucontext_t optc_scheduler;
static std::vector<unsigned short> optc_smem;
#define threadIdx (optc_fibers[optc_cur].tid)
// Every thread runs to its next barrier, round-robin: with the block's control flow uniform
// at barriers, one yield is one __syncthreads (or one phase of a warp-collective op).
static inline void optc_yield() { swapcontext(&optc_fibers[optc_cur].ctx, &optc_scheduler); }
static inline void __syncthreads() { optc_yield(); }
// A barrier that also tells every thread whether any thread's predicate held: everyone
// votes, then everyone counts the votes before anyone may vote again.
static int __syncthreads_or(int predicate) {
    optc_fibers[optc_cur].vote = predicate;
    optc_yield();
    int any = 0;
    for (const optc_fiber& f : optc_fibers) any = any || f.vote;
    optc_yield();
    return any;
}
#define OPTC_MMA_HELPERS
#define OPTC_CP_ASYNC_WAIT(n)
static inline void optc_cp_async_commit() {}
static inline void optc_cp_async16(void* dst, const void* src, int bytes) {
    std::memset(dst, 0, 16);
    std::memcpy(dst, src, bytes);
}
static inline unsigned short optc_at(const unsigned short* p, int i) { return p[i]; }
// One fiber runs at a time and yields only at barriers and warp-wide instructions: a plain
// read-modify-write is atomic, and every write is visible to the fibers after it.
static inline unsigned atomicAdd(unsigned* p, unsigned v) { const unsigned old = *p; *p = old + v; return old; }
static inline void __threadfence() {}
// ldmatrix .x4: matrix j's row r comes from lane 8j + r's address; lane L gets, of each
// matrix, row L/4, columns 2(L%4) and 2(L%4)+1 (.trans: the transpose's).
static void optc_ldmatrix(unsigned* r, const void* p, bool trans) {
    const int me = optc_cur, warp = me & ~31, lane = me & 31;
    optc_fibers[me].addr = (const unsigned short*)p;
    optc_yield();
    const int row = lane >> 2, col = (lane & 3) * 2;
    for (int j = 0; j < 4; ++j) {
        unsigned lo, hi;
        if (!trans) {
            const unsigned short* q = optc_fibers[warp + j * 8 + row].addr;
            lo = q[col]; hi = q[col + 1];
        } else {
            lo = optc_fibers[warp + j * 8 + col].addr[row];
            hi = optc_fibers[warp + j * 8 + col + 1].addr[row];
        }
        r[j] = lo | (hi << 16);
    }
    optc_yield();
}
static inline void optc_ldmatrix_x4(unsigned* r, const void* p) { optc_ldmatrix(r, p, false); }
static inline void optc_ldmatrix_x4_trans(unsigned* r, const void* p) { optc_ldmatrix(r, p, true); }
static inline float optc_bits_to_float(unsigned short bits, bool bf16) {
    if (bf16) return __uint_as_float(((unsigned)bits) << 16);
    optc_half h; h.bits = bits; return optc_widen(h);
}
// mma.sync m16n8k16 row.col, fp32 accumulate; g = lane / 4, t = lane % 4:
// A regs a[g][2t..], a[g+8][2t..], a[g][2t+8..], a[g+8][2t+8..]; B regs b[2t..][g],
// b[2t+8..][g]; C c[g][2t], c[g][2t+1], c[g+8][2t], c[g+8][2t+1] (low half = lower index).
static void optc_mma(float* d, const unsigned* a, const unsigned* b, bool bf16) {
    const int me = optc_cur, warp = me & ~31, lane = me & 31;
    for (int i = 0; i < 4; ++i) optc_fibers[me].a[i] = a[i];
    for (int i = 0; i < 2; ++i) optc_fibers[me].b[i] = b[i];
    optc_yield();
    float A[16][16], B[16][8];
    for (int l = 0; l < 32; ++l) {
        const optc_fiber& f = optc_fibers[warp + l];
        const int g = l >> 2, t = l & 3;
        for (int e = 0; e < 2; ++e) {
            const int s = 16 * e;
            A[g][2 * t + e] = optc_bits_to_float(f.a[0] >> s, bf16);
            A[g + 8][2 * t + e] = optc_bits_to_float(f.a[1] >> s, bf16);
            A[g][2 * t + 8 + e] = optc_bits_to_float(f.a[2] >> s, bf16);
            A[g + 8][2 * t + 8 + e] = optc_bits_to_float(f.a[3] >> s, bf16);
            B[2 * t + e][g] = optc_bits_to_float(f.b[0] >> s, bf16);
            B[2 * t + 8 + e][g] = optc_bits_to_float(f.b[1] >> s, bf16);
        }
    }
    const int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; ++q) {
        const int row = g + (q >> 1) * 8, col = 2 * t + (q & 1);
        float s = d[q];
        for (int k = 0; k < 16; ++k) s += A[row][k] * B[k][col];
        d[q] = s;
    }
    optc_yield();
}
static inline void optc_mma_f16(float* d, const unsigned* a, const unsigned* b) { optc_mma(d, a, b, false); }
static inline void optc_mma_bf16(float* d, const unsigned* a, const unsigned* b) { optc_mma(d, a, b, true); }
#define OPTC_MMA_INT8_HELPERS
// mma.sync m16n8k32 row.col, 8-bit integers (s8 or u8 each), s32 accumulate, wrapping;
// byte j of a register is element j of its four (g = lane / 4, t = lane % 4): A regs
// a[g][4t..4t+3], a[g+8][4t..], a[g][4t+16..], a[g+8][4t+16..]; B regs b[4t..4t+3][g],
// b[4t+16..][g]; C as m16n8k16's.
static inline int optc_byte(unsigned reg, int j, bool is_signed) {
    const unsigned byte = (reg >> (8 * j)) & 0xFF;
    return is_signed ? (int)(signed char)byte : (int)byte;
}
static void optc_mma_s32(int* d, const unsigned* a, const unsigned* b, bool a_signed, bool b_signed) {
    const int me = optc_cur, warp = me & ~31, lane = me & 31;
    for (int i = 0; i < 4; ++i) optc_fibers[me].a[i] = a[i];
    for (int i = 0; i < 2; ++i) optc_fibers[me].b[i] = b[i];
    optc_yield();
    int A[16][32], B[32][8];
    for (int l = 0; l < 32; ++l) {
        const optc_fiber& f = optc_fibers[warp + l];
        const int g = l >> 2, t = l & 3;
        for (int j = 0; j < 4; ++j) {
            A[g][4 * t + j] = optc_byte(f.a[0], j, a_signed);
            A[g + 8][4 * t + j] = optc_byte(f.a[1], j, a_signed);
            A[g][4 * t + 16 + j] = optc_byte(f.a[2], j, a_signed);
            A[g + 8][4 * t + 16 + j] = optc_byte(f.a[3], j, a_signed);
            B[4 * t + j][g] = optc_byte(f.b[0], j, b_signed);
            B[4 * t + 16 + j][g] = optc_byte(f.b[1], j, b_signed);
        }
    }
    const int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; ++q) {
        const int row = g + (q >> 1) * 8, col = 2 * t + (q & 1);
        unsigned s = (unsigned)d[q];  // unsigned: wraps as the hardware's s32 does
        for (int k = 0; k < 32; ++k) s += (unsigned)(A[row][k] * B[k][col]);
        d[q] = (int)s;
    }
    optc_yield();
}
static inline void optc_mma_s8s8(int* d, const unsigned* a, const unsigned* b) { optc_mma_s32(d, a, b, true, true); }
static inline void optc_mma_s8u8(int* d, const unsigned* a, const unsigned* b) { optc_mma_s32(d, a, b, true, false); }
static inline void optc_mma_u8s8(int* d, const unsigned* a, const unsigned* b) { optc_mma_s32(d, a, b, false, true); }
static inline void optc_mma_u8u8(int* d, const unsigned* a, const unsigned* b) { optc_mma_s32(d, a, b, false, false); }
"""


def fiber_source(kernel, launch: LaunchAttr, reverse: bool = False) -> str:
    """The kernel and a host `optc_launch` running its blocks one after another, first to
    last (last to first with `reverse`: another order of arrival), each block's threads as
    fibers."""
    prelude = HOST_PRELUDE.replace("static optc_dim3 blockIdx, threadIdx, blockDim, gridDim;", "static optc_dim3 blockIdx, blockDim, gridDim;")
    prelude = prelude.replace("static inline void __syncthreads() {}", "")
    assert "threadIdx" not in prelude and "__syncthreads" not in prelude
    source = emit_kernel(kernel).replace(
        "extern __shared__ __align__(16) unsigned short smem[];", "unsigned short* smem = optc_smem.data();"
    )
    params = [*pointer_params(kernel), *([WORKSPACE_PARAM] if workspace_bytes(kernel, launch) else [])]
    casts = ", ".join(f"({p.rsplit(' ', 1)[0]})optc_args[{j}]" for j, p in enumerate(params))
    (gx, gy, gz), (threads, _, _) = launch.grid_dims, launch.block_dims
    name = kernel.sym_name.data
    launcher = f"""
static void** optc_args;
static void optc_entry() {{ {name}({casts}); optc_fibers[optc_cur].done = true; }}
extern "C" void optc_launch(void** ptrs) {{
    optc_args = ptrs;
    gridDim = {{{gx}, {gy}, {gz}}}; blockDim = {{{threads}, 1, 1}};
    optc_fibers.resize({threads});
    std::vector<std::vector<char>> stacks({threads}, std::vector<char>(1 << 16));
    for (unsigned i = 0; i < {gx * gy * gz}; ++i) {{
        const unsigned b = {f"{gx * gy * gz - 1} - i" if reverse else "i"};
        blockIdx = {{b % {gx}, (b / {gx}) % {gy}, b / {gx * gy}}};
        optc_smem.assign({launch.shared_bytes // 2 + 8}, 0xFFFF);  // NaN bits: unwritten reads show
        for (int t = 0; t < {threads}; ++t) {{
            optc_fiber& f = optc_fibers[t];
            f.tid = {{(unsigned)t, 0, 0}}; f.done = false;
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = stacks[t].data(); f.ctx.uc_stack.ss_size = stacks[t].size();
            f.ctx.uc_link = &optc_scheduler;
            makecontext(&f.ctx, optc_entry, 0);
        }}
        for (bool running = true; running;) {{
            running = false;
            for (int t = 0; t < {threads}; ++t) {{
                if (optc_fibers[t].done) continue;
                optc_cur = t;
                swapcontext(&optc_scheduler, &optc_fibers[t].ctx);
                running = running || !optc_fibers[t].done;
            }}
        }}
    }}
}}
"""
    return prelude + FIBERS + source + launcher


def run_on_fibers(ir: str, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Lower `ir` (one kernel, 1-D blocks), build its emitted C++ with g++ against the fiber
    harness and run it on `feeds`."""
    (kernel,) = kernels_of(lower(ir))
    return build_and_launch(kernel, fiber_source(kernel, kernel.attributes["launch"]), feeds, ("-w",))
