"""Tensor-core building blocks for generated matrix kernels (matmul, implicit-GEMM conv):
inline-PTX helpers as C text, and generators of the C that stages tiles into shared memory
and feeds `mma.sync.aligned.m16n8k16` from it.

NVRTC's wheel has no CUDA headers (no mma.h, no cuda_pipeline.h), so every instruction is
inline PTX. The helpers sit behind an include guard: a module that prints several kernels
into one file (`emit_module`) defines them once.

Shared-memory tiles hold 16-bit elements (`unsigned short`) in the orientation they have
in global memory (so 16-byte `cp.async` copies need no transpose), each row padded by 8
elements: a row of L elements, L a multiple of 16, then starts 16·(L/8 + 1) bytes after
the previous one, an odd number of 16-byte slots, so the 8 row addresses of one
`ldmatrix` phase fall in 8 different bank groups (no conflicts). `ldmatrix` (plain or
`.trans`) then produces the m16n8k16 fragments from either orientation:

| operand | stored as        | fragment load           |
|---------|------------------|-------------------------|
| A       | [m][k] (k fast)  | `ldmatrix.x4`           |
| A       | [k][m] (m fast)  | `ldmatrix.x4.trans`     |
| B       | [k][n] (n fast)  | `ldmatrix.x4.trans` (two n8 tiles) |
| B       | [n][k] (k fast)  | `ldmatrix.x4` (two n8 tiles)       |

Fragment layouts are the PTX ISA's for m16n8k16 (g = lane / 4, t = lane % 4): A regs
(a[g][2t..2t+1], a[g+8][2t..], a[g][2t+8..], a[g+8][2t+8..]); B regs (b[2t..2t+1][g],
b[2t+8..2t+9][g]); C floats (c[g][2t], c[g][2t+1], c[g+8][2t], c[g+8][2t+1]).
"""

from __future__ import annotations

from dataclasses import dataclass

PAD = 8
"""Elements of padding after each shared-memory row (16 bytes: keeps ldmatrix conflict-free)."""

HELPERS = r"""#ifndef OPTC_MMA_HELPERS
#define OPTC_MMA_HELPERS
// optc tensor-core helpers: inline PTX (sm_80+), no headers.
__device__ __forceinline__ unsigned optc_smem_addr(const void* p) {
    unsigned a;
    asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p));
    return a;
}
// 16 bytes global -> shared, asynchronously; bytes < 16 zero-fills the rest (0: all zeros).
__device__ __forceinline__ void optc_cp_async16(void* dst, const void* src, int bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" :: "r"(optc_smem_addr(dst)), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void optc_cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
#define OPTC_CP_ASYNC_WAIT(n) asm volatile("cp.async.wait_group " #n ";\n" ::: "memory")
__device__ __forceinline__ void optc_ldmatrix_x4(unsigned* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(optc_smem_addr(p)));
}
__device__ __forceinline__ void optc_ldmatrix_x4_trans(unsigned* r, const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(optc_smem_addr(p)));
}
// d += a * b on one m16n8k16 tile, fp32 accumulate.
__device__ __forceinline__ void optc_mma_f16(float* d, const unsigned* a, const unsigned* b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void optc_mma_bf16(float* d, const unsigned* a, const unsigned* b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif
"""

INT8_TYPES = {"signed char": "s8", "unsigned char": "u8"}
"""The PTX type of each 8-bit integer element (C storage type) that mma.sync multiplies."""


def _int8_mma(a: str, b: str) -> str:
    return f"""__device__ __forceinline__ void optc_mma_{a}{b}(int* d, const unsigned* a, const unsigned* b) {{
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.{a}.{b}.s32 {{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%0, %1, %2, %3}};\\n"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}}
"""


INT8_HELPERS = (
    "#ifndef OPTC_MMA_INT8_HELPERS\n#define OPTC_MMA_INT8_HELPERS\n"
    "// d += a * b on one m16n8k32 tile of 8-bit integers, s32 accumulate (wrapping, no .satfinite).\n"
    + "".join(_int8_mma(a, b) for a in ("s8", "u8") for b in ("s8", "u8"))
    + "#endif\n"
)
"""The m16n8k32 integer products (`int8_mma_function`), beside HELPERS in 8-bit kernels
only (so the 16-bit kernels' text stays what it was). Their fragments are the m16n8k16
b16 ones on byte pairs: A regs hold a[g][4t..4t+3], a[g+8][4t..], a[g][4t+16..],
a[g+8][4t+16..]; B regs b[4t..4t+3][g], b[4t+16..][g]; C as m16n8k16's, in s32. So a
[rows][K] byte tile read as [rows][K/2] 16-bit pairs gives them through the same `ldmatrix`
(without .trans, which 8-bit elements do not have)."""


@dataclass(frozen=True)
class TileCopy:
    """One operand tile's copy from global to shared memory: `rows` rows of `cols` elements,
    rows running along the operand's strided dimension, columns along its contiguous one.

    Element (r, c) of the tile is `src[(outer0 + r) * stride + inner0 + c]` when
    `outer0 + r < outer_size` and `inner0 + c < inner_size`, else zero; it lands at
    `dst[r * (cols + PAD) + c]`. All names are C expressions."""

    dst: str
    src: str
    rows: int
    cols: int
    outer0: str
    outer_size: int
    inner0: str
    inner_size: int
    stride: int
    index_type: str = "int"

    @property
    def row_length(self) -> int:
        return self.cols + PAD

    @property
    def vectorisable(self) -> bool:
        """16-byte copies need every row to start on a multiple of 8 elements, so chunks are
        wholly inside or wholly outside the tensor."""
        return self.stride % 8 == 0 and self.inner_size % 8 == 0 and self.cols % 8 == 0

    def code(self, threads: int, vector: bool) -> list[str]:
        """C statements (every thread of the block runs them) issuing the copy: cp.async
        16-byte chunks, zero-filled outside the tensor, when `vector`; else element by
        element through registers."""
        it = self.index_type
        if vector:
            per_row = self.cols // 8
            total = self.rows * per_row
            return [
                *_strided_loop("c", total, threads),
                f"    const int r = c / {per_row}, cc = (c % {per_row}) * 8;",
                f"    const {it} o = {self.outer0} + r, i = {self.inner0} + cc;",
                f"    const bool ok = o < {self.outer_size} && i < {self.inner_size};",
                f"    optc_cp_async16({self.dst} + r * {self.row_length} + cc, ok ? {self.src} + o * {self.stride} + i : {self.src}, ok ? 16 : 0);",
                "}",
            ]
        total = self.rows * self.cols
        return [
            *_strided_loop("e", total, threads),
            f"    const int r = e / {self.cols}, cc = e % {self.cols};",
            f"    const {it} o = {self.outer0} + r, i = {self.inner0} + cc;",
            f"    {self.dst}[r * {self.row_length} + cc] = (o < {self.outer_size} && i < {self.inner_size}) ? {self.src}[o * {self.stride} + i].bits : (unsigned short)0;",
            "}",
        ]


def _strided_loop(var: str, total: int, threads: int) -> list[str]:
    """The head of a loop giving each thread the items `threadIdx.x + j * threads` below
    `total`, with a constant trip count (so it unrolls), guarded only where uneven; the
    caller closes it with one `}`."""
    trips = -(-total // threads)
    guard = "" if total % threads == 0 else f" if ({var} >= {total}) break;"
    return [
        "#pragma unroll",
        f"for (int j_{var} = 0; j_{var} < {trips}; ++j_{var}) {{",
        f"    const int {var} = threadIdx.x + j_{var} * {threads};{guard}",
    ]


def a_fragments(smem: str, k_fast: bool, row_length: int, mi_count: int, warp_m: str, kk: str) -> list[str]:
    """Load `unsigned a[mi][4]` for the warp's `mi_count` m16 tiles at k offset `kk` from
    the A tile `smem` ([m][k] when `k_fast`, else [k][m])."""
    if k_fast:
        addr = f"{smem} + ({warp_m} + mi * 16 + (lane & 15)) * {row_length} + {kk} + (lane >> 4) * 8"
        load = "optc_ldmatrix_x4"
    else:
        addr = f"{smem} + ({kk} + (lane >> 4) * 8 + (lane & 7)) * {row_length} + {warp_m} + mi * 16 + ((lane >> 3) & 1) * 8"
        load = "optc_ldmatrix_x4_trans"
    return ["#pragma unroll", f"for (int mi = 0; mi < {mi_count}; ++mi) {load}(a[mi], {addr});"]


def b_fragments(smem: str, n_fast: bool, row_length: int, ni_count: int, warp_n: str, kk: str) -> list[str]:
    """Load `unsigned b[ni][2]` for the warp's `ni_count` n8 tiles (two per ldmatrix.x4) at
    k offset `kk` from the B tile `smem` ([k][n] when `n_fast`, else [n][k])."""
    if n_fast:
        addr = f"{smem} + ({kk} + (lane & 15)) * {row_length} + {warp_n} + ni * 8 + (lane >> 4) * 8"
        load = "optc_ldmatrix_x4_trans"
    else:
        addr = f"{smem} + ({warp_n} + ni * 8 + (lane & 7) + (lane >> 4) * 8) * {row_length} + {kk} + ((lane >> 3) & 1) * 8"
        load = "optc_ldmatrix_x4"
    return [
        "#pragma unroll",
        f"for (int ni = 0; ni < {ni_count}; ni += 2) {{",
        "    unsigned r[4];",
        f"    {load}(r, {addr});",
        "    b[ni][0] = r[0]; b[ni][1] = r[1]; b[ni + 1][0] = r[2]; b[ni + 1][1] = r[3];",
        "}",
    ]


def mma_function(element: str) -> str:
    """The helper computing one m16n8k16 product for 'f16' or 'bf16' operands."""
    if element not in ("f16", "bf16"):
        raise ValueError(f"mma.sync m16n8k16 takes f16 or bf16 operands, not {element}")
    return f"optc_mma_{element}"


def int8_mma_function(a_storage: str, b_storage: str) -> str:
    """The helper of INT8_HELPERS computing one m16n8k32 product of A and B elements of
    these C storage types (signed char, unsigned char)."""
    if a_storage not in INT8_TYPES or b_storage not in INT8_TYPES:
        raise ValueError(f"mma.sync m16n8k32 takes 8-bit integers, not {a_storage} x {b_storage}")
    return f"optc_mma_{INT8_TYPES[a_storage]}{INT8_TYPES[b_storage]}"


# --- XOR-swizzled tiles (no padding) ---------------------------------------------------------
#
# A tile of `cols` 16-bit elements per row (cols % 8 == 0: `cols / 8` 16-byte chunks) is
# stored densely, chunk c of row r at chunk position c ^ ((r >> shift) & mask) of that row.
# The XOR only permutes chunks within an aligned group of `mask + 1` chunks, so every chunk
# stays in its row and whole 16-byte chunks move (cp.async and ldmatrix addresses stay
# 16-byte aligned). With rows of P chunks, 8 consecutive rows at one logical chunk (one
# ldmatrix phase) fall in 8 different 16-byte bank groups when P is a power of two or a
# multiple of 8; other widths stay correct, only not conflict-free.


def swizzle(cols: int) -> tuple[int, int]:
    """(shift, mask) of the swizzle for rows of `cols` elements (cols a multiple of 8)."""
    if cols % 8:
        raise ValueError(f"a swizzled row holds whole 16-byte chunks, not {cols} elements")
    chunks = cols // 8
    group = min(chunks & -chunks, 8)
    shift = 0 if chunks % 8 == 0 else (8 // group).bit_length() - 1
    return shift, group - 1


def swizzled(row: str, col: str, cols: int, chunk_aligned: bool = True) -> str:
    """The element offset of (row, col) in a swizzled tile of `cols` columns; `col` must be
    a multiple of 8 when `chunk_aligned`."""
    shift, mask = swizzle(cols)
    r = f"({row})" if shift == 0 else f"(({row}) >> {shift})"
    if mask == 0:
        return f"({row}) * {cols} + ({col})"
    if chunk_aligned:
        return f"({row}) * {cols} + (((({col}) >> 3) ^ ({r} & {mask})) << 3)"
    return f"({row}) * {cols} + (((({col}) >> 3) ^ ({r} & {mask})) << 3) + (({col}) & 7)"


@dataclass(frozen=True)
class SwizzledTileCopy(TileCopy):
    """A `TileCopy` whose destination is a dense, swizzled tile (`swizzled`) instead of a
    padded one: element (r, c) lands at `dst[swizzled(r, c, cols)]`."""

    @property
    def row_length(self) -> int:
        return self.cols

    def code(self, threads: int, vector: bool) -> list[str]:
        it = self.index_type
        if vector:
            per_row = self.cols // 8
            return [
                *_strided_loop("c", self.rows * per_row, threads),
                f"    const int r = c / {per_row}, cc = (c % {per_row}) * 8;",
                f"    const {it} o = {self.outer0} + r, i = {self.inner0} + cc;",
                f"    const bool ok = o < {self.outer_size} && i < {self.inner_size};",
                f"    optc_cp_async16({self.dst} + {swizzled('r', 'cc', self.cols)}, ok ? {self.src} + o * {self.stride} + i : {self.src}, ok ? 16 : 0);",
                "}",
            ]
        return [
            *_strided_loop("e", self.rows * self.cols, threads),
            f"    const int r = e / {self.cols}, cc = e % {self.cols};",
            f"    const {it} o = {self.outer0} + r, i = {self.inner0} + cc;",
            f"    {self.dst}[{swizzled('r', 'cc', self.cols, chunk_aligned=False)}] = (o < {self.outer_size} && i < {self.inner_size}) ? {self.src}[o * {self.stride} + i].bits : (unsigned short)0;",
            "}",
        ]


def a_fragments_swizzled(smem: str, k_fast: bool, cols: int, mi_count: int, warp_m: str, kk: str, dst: str = "a") -> list[str]:
    """`a_fragments` from a swizzled A tile of `cols` columns, into `dst[mi][4]`."""
    if k_fast:
        row, col, load = f"{warp_m} + mi * 16 + (lane & 15)", f"{kk} + (lane >> 4) * 8", "optc_ldmatrix_x4"
    else:
        row, col, load = f"{kk} + (lane >> 4) * 8 + (lane & 7)", f"{warp_m} + mi * 16 + ((lane >> 3) & 1) * 8", "optc_ldmatrix_x4_trans"
    return ["#pragma unroll", f"for (int mi = 0; mi < {mi_count}; ++mi) {load}({dst}[mi], {smem} + {swizzled(row, col, cols)});"]


def b_fragments_swizzled(smem: str, n_fast: bool, cols: int, ni_count: int, warp_n: str, kk: str, dst: str = "b") -> list[str]:
    """`b_fragments` from a swizzled B tile of `cols` columns, into `dst[ni][2]` (ni_count even)."""
    if n_fast:
        row, col, load = f"{kk} + (lane & 15)", f"{warp_n} + ni * 8 + (lane >> 4) * 8", "optc_ldmatrix_x4_trans"
    else:
        row, col, load = f"{warp_n} + ni * 8 + (lane & 7) + (lane >> 4) * 8", f"{kk} + ((lane >> 3) & 1) * 8", "optc_ldmatrix_x4"
    return [
        "#pragma unroll",
        f"for (int ni = 0; ni < {ni_count}; ni += 2) {{",
        "    unsigned r[4];",
        f"    {load}(r, {smem} + {swizzled(row, col, cols)});",
        f"    {dst}[ni][0] = r[0]; {dst}[ni][1] = r[1]; {dst}[ni + 1][0] = r[2]; {dst}[ni + 1][1] = r[3];",
        "}",
    ]
