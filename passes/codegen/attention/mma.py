"""The tensor-core attention kernel (f16/bf16): `mma.sync.aligned.m16n8k16` with fp32
accumulators for q·kᵀ and p·v, the online softmax in fp32 registers (see
`attention/attention.py` for the plan and the masking rules).

A warp owns 16 query rows, so a block of `block_q` rows has `block_q / 16` warps. Shared
memory holds the q tile [block_q][dp + 8], the k tile [block_k][dp + 8] and the v tile
[block_k][dvp + 8] as raw 16-bit values, with dp and dvp the head dims rounded up to 16
(zero-filled) and 8 halves of padding per row, which makes every fragment read below free of
bank conflicts. Fragments, with g = lane / 4 and t = lane % 4 (PTX ISA, "Matrix fragments
for mma.m16n8k16"):

- A (16x16, row-major): a0 = [g][2t, 2t+1], a1 = [g+8][2t, 2t+1], a2 = [g][2t+8, 2t+9],
  a3 = [g+8][2t+8, 2t+9], the lower column in the low half of each 32-bit register;
- B (16x8, "col"): b0 = [k = 2t, 2t+1][n = g], b1 = [k = 2t+8, 2t+9][n = g];
- C (16x8, fp32): c0, c1 = [g][2t, 2t+1], c2, c3 = [g+8][2t, 2t+1].

For s = q·kᵀ, B[k][n] = K[n][k]: two adjacent halves of one k row, one 32-bit read. The
scores of two adjacent n-tiles are, as they stand in C fragments, exactly the A fragment
of a 16-wide k-step of p·v (rounded to the input type), so p never leaves registers. For
p·v, B[k][n] = V[k][n]: two halves from adjacent v rows, packed.

q stays in registers (as A fragments) for head dims up to 128 and is read from shared memory
per key tile above that, to leave registers for the output accumulators.
"""

from __future__ import annotations

from passes.codegen.attention.problem import LOG2E, Problem, indent, key_end, mask_plane, masked_score, neg_inf, out_index
from passes.codegen.common.types import kernel_signature, literal

Q_IN_REGISTERS = 128
"""The largest (padded) head dim whose q fragments stay in registers."""


def _round16(n: int) -> int:
    return -(-n // 16) * 16


def mma_shared_bytes(p: Problem, block_q: int, block_k: int) -> int:
    row_qk, row_v = _round16(p.d) + 8, _round16(p.d_v) + 8
    return 2 * (block_q * row_qk + block_k * row_qk + block_k * row_v)


def _tile_load(dst: str, src: str, row0: str, limit: int, rows: int, width: int, stride: int, threads: int) -> list[str]:
    """Rows [row0, row0 + rows) of a [.., width] tensor of 16-bit values into shared memory
    (row stride `stride`, columns up to width rounded to 16), zeros past `limit` rows and
    `width` columns; 16 bytes at a time when rows are multiples of 8 elements."""
    padded = _round16(width)
    if width % 8 == 0:
        chunks = padded // 8
        guard = f"{row0} + r < {limit}" + (f" && c < {width}" if padded != width else "")
        return [
            f"for (int i = tid; i < {rows * chunks}; i += {threads}) {{",
            f"    const int r = i / {chunks}, c = (i % {chunks}) * 8;",
            "    uint4 val = {0u, 0u, 0u, 0u};",
            f"    if ({guard}) val = *(const uint4*)({src} + (long long)({row0} + r) * {width} + c);",
            f"    *(uint4*)({dst} + r * {stride} + c) = val;",
            "}",
        ]
    return [
        f"for (int i = tid; i < {rows * padded}; i += {threads}) {{",
        f"    const int r = i / {padded}, c = i % {padded};",
        f"    {dst}[r * {stride} + c] = ({row0} + r < {limit} && c < {width}) ? {src}[(long long)({row0} + r) * {width} + c] : (unsigned short)0;",
        "}",
    ]


def _helpers(p: Problem) -> str:
    """The mma and the fp32-pair packing, named after the kernel (several kernels share one
    file in `optc -t cuda`)."""
    t = p.mma_type
    return f"""__device__ __forceinline__ void {p.name}_mma(float (&c)[4], unsigned a0, unsigned a1, unsigned a2, unsigned a3, unsigned b0, unsigned b1) {{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.{t}.{t}.f32 {{%0, %1, %2, %3}}, {{%4, %5, %6, %7}}, {{%8, %9}}, {{%0, %1, %2, %3}};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}}
__device__ __forceinline__ unsigned {p.name}_pack(float lo, float hi) {{
    return (unsigned){p.ctype.narrow}(lo).bits | ((unsigned){p.ctype.narrow}(hi).bits << 16);
}}
"""


def _q_fragments(p: Problem, in_registers: bool) -> tuple[list[str], list[str]]:
    """(before the key loop, at each k-step `kk`): where a0..a3 come from."""
    reads = [
        "*(const unsigned*)(q_w + kk * 16)",
        f"*(const unsigned*)(q_w + {8 * (_round16(p.d) + 8)} + kk * 16)",
        "*(const unsigned*)(q_w + kk * 16 + 8)",
        f"*(const unsigned*)(q_w + {8 * (_round16(p.d) + 8)} + kk * 16 + 8)",
    ]
    if not in_registers:
        return [], [f"const unsigned a{i} = {r};" for i, r in enumerate(reads)]
    steps = _round16(p.d) // 16
    before = [
        f"unsigned qf[{steps}][4];",
        "#pragma unroll",
        f"for (int kk = 0; kk < {steps}; ++kk) {{",
        *[f"    qf[kk][{i}] = {r};" for i, r in enumerate(reads)],
        "}",
    ]
    return before, [f"const unsigned a{i} = qf[kk][{i}];" for i in range(4)]


def _stores(p: Problem) -> list[str]:
    """o / l into the result: pairs of adjacent columns as one 32-bit store where d_v is even."""
    guard = "" if _round16(p.d_v) == p.d_v else f" && j < {p.d_v}"
    if p.d_v % 2 == 0:
        return [
            "#pragma unroll",
            f"for (int h = 0; h < 2; ++h) {{",
            "    const int qi = h ? qi1 : qi0, j = nv * 8 + 2 * t4;",
            "    const float inv = h ? inv1 : inv0;",
            f"    if (qi < {p.s_q}{guard}) *(unsigned*)(out0 + {out_index(p, 'qi', 'j')}) = {p.name}_pack(o[nv][2 * h] * inv, o[nv][2 * h + 1] * inv);",
            "}",
        ]
    return [
        "#pragma unroll",
        "for (int e = 0; e < 4; ++e) {",
        "    const int qi = e < 2 ? qi0 : qi1, j = nv * 8 + 2 * t4 + (e & 1);",
        f"    if (qi < {p.s_q}{guard}) out0[{out_index(p, 'qi', 'j')}] = {p.ctype.narrow}(o[nv][e] * (e < 2 ? inv0 : inv1));",
        "}",
    ]


def emit_mma(p: Problem, block_q: int, block_k: int, params: list[str]) -> str:
    bq, bk, threads = block_q, block_k, 2 * block_q
    dp, dvp = _round16(p.d), _round16(p.d_v)
    qs, vs = dp + 8, dvp + 8
    ninf, L = neg_inf(p), literal(LOG2E, "float")
    mma = f"{p.name}_mma"
    pack = f"{p.name}_pack"
    before, a_frag = _q_fragments(p, dp <= Q_IN_REGISTERS)
    body = [
        "extern __shared__ __align__(16) unsigned char optc_smem[];",
        "unsigned short* q_s = (unsigned short*)optc_smem;",
        f"unsigned short* k_s = q_s + {bq * qs};",
        f"unsigned short* v_s = k_s + {bk * qs};",
        "const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;",
        f"const int q0 = blockIdx.x * {bq};",
        f"const long long bh = (long long)blockIdx.z * {p.heads} + blockIdx.y;",
        f"const unsigned short* qg = (const unsigned short*){p.q_in} + bh * {p.s_q * p.d}LL;",
        f"const unsigned short* kg = (const unsigned short*){p.k_in} + bh * {p.s_k * p.d}LL;",
        f"const unsigned short* vg = (const unsigned short*){p.v_in} + bh * {p.s_k * p.d_v}LL;",
        *mask_plane(p),
        *_tile_load("q_s", "qg", "q0", p.s_q, bq, p.d, qs, threads),
        "__syncthreads();",
        f"const unsigned short* q_w = q_s + (warp * 16 + g) * {qs} + 2 * t4;  // this thread's A fragments",
        *before,
        f"float o[{dvp // 8}][4];",
        "#pragma unroll",
        f"for (int nv = 0; nv < {dvp // 8}; ++nv) o[nv][0] = o[nv][1] = o[nv][2] = o[nv][3] = 0.0f;",
        f"float m0 = {ninf}, m1 = {ninf}, l0 = 0.0f, l1 = 0.0f;  // rows g and g + 8 of the warp",
        "const int qi0 = q0 + warp * 16 + g, qi1 = qi0 + 8;",
        f"const int k_end = {key_end(p, bq)};",
        f"for (int k0 = 0; k0 < k_end; k0 += {bk}) {{",
        "    __syncthreads();  // the previous tile's readers are done",
        indent(_tile_load("k_s", "kg", "k0", p.s_k, bk, p.d, qs, threads), 4),
        indent(_tile_load("v_s", "vg", "k0", p.s_k, bk, p.d_v, vs, threads), 4),
        "    __syncthreads();",
        f"    float s[{bk // 8}][4];",
        "    #pragma unroll",
        f"    for (int n = 0; n < {bk // 8}; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;",
        "    #pragma unroll",
        f"    for (int kk = 0; kk < {dp // 16}; ++kk) {{",
        indent(a_frag, 8),
        "        #pragma unroll",
        f"        for (int n = 0; n < {bk // 8}; ++n) {{",
        f"            const unsigned short* kr = k_s + (n * 8 + g) * {qs} + kk * 16 + 2 * t4;",
        f"            {mma}(s[n], a0, a1, a2, a3, *(const unsigned*)kr, *(const unsigned*)(kr + 8));",
        "        }",
        "    }",
        f"    float mx0 = {ninf}, mx1 = {ninf};",
        "    #pragma unroll",
        f"    for (int n = 0; n < {bk // 8}; ++n) {{",
        "        #pragma unroll",
        "        for (int e = 0; e < 4; ++e) {",
        "            const int qi = e < 2 ? qi0 : qi1, kj = k0 + n * 8 + 2 * t4 + (e & 1);",
        "            (void)qi; (void)kj;  // read only by masks and the causal rule",
        f"            float x = s[n][e] * {literal(p.scale, 'float')};",
        indent(masked_score(p, "x", "qi", "kj"), 12),
        "            s[n][e] = x;",
        "        }",
        "        mx0 = fmaxf(mx0, fmaxf(s[n][0], s[n][1]));",
        "        mx1 = fmaxf(mx1, fmaxf(s[n][2], s[n][3]));",
        "    }",
        "    // a row's 16 values of this tile sit in the 4 lanes of its quad",
        "    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));",
        "    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));",
        "    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));",
        "    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));",
        "    const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);",
        f"    const float u0 = n0 == {ninf} ? 0.0f : n0, u1 = n1 == {ninf} ? 0.0f : n1;",
        f"    const float alpha0 = exp2f((m0 - u0) * {L}), alpha1 = exp2f((m1 - u1) * {L});",
        "    m0 = n0; m1 = n1;",
        "    float r0 = 0.0f, r1 = 0.0f;",
        "    #pragma unroll",
        f"    for (int n = 0; n < {bk // 8}; ++n) {{",
        f"        s[n][0] = exp2f((s[n][0] - u0) * {L}); s[n][1] = exp2f((s[n][1] - u0) * {L});",
        f"        s[n][2] = exp2f((s[n][2] - u1) * {L}); s[n][3] = exp2f((s[n][3] - u1) * {L});",
        "        r0 += s[n][0] + s[n][1]; r1 += s[n][2] + s[n][3];",
        "    }",
        "    l0 = l0 * alpha0 + r0; l1 = l1 * alpha1 + r1;  // this lane's part; the quad sums at the end",
        "    #pragma unroll",
        f"    for (int nv = 0; nv < {dvp // 8}; ++nv) {{",
        "        o[nv][0] *= alpha0; o[nv][1] *= alpha0; o[nv][2] *= alpha1; o[nv][3] *= alpha1;",
        "    }",
        "    #pragma unroll",
        f"    for (int j = 0; j < {bk // 16}; ++j) {{",
        f"        const unsigned a0 = {pack}(s[2 * j][0], s[2 * j][1]), a1 = {pack}(s[2 * j][2], s[2 * j][3]);",
        f"        const unsigned a2 = {pack}(s[2 * j + 1][0], s[2 * j + 1][1]), a3 = {pack}(s[2 * j + 1][2], s[2 * j + 1][3]);",
        f"        const unsigned short* vr = v_s + (j * 16 + 2 * t4) * {vs} + g;",
        "        #pragma unroll",
        f"        for (int nv = 0; nv < {dvp // 8}; ++nv) {{",
        f"            const unsigned b0 = (unsigned)vr[nv * 8] | ((unsigned)vr[{vs} + nv * 8] << 16);",
        f"            const unsigned b1 = (unsigned)vr[{8 * vs} + nv * 8] | ((unsigned)vr[{9 * vs} + nv * 8] << 16);",
        f"            {mma}(o[nv], a0, a1, a2, a3, b0, b1);",
        "        }",
        "    }",
        "}",
        "l0 += __shfl_xor_sync(0xffffffffu, l0, 1);",
        "l0 += __shfl_xor_sync(0xffffffffu, l0, 2);",
        "l1 += __shfl_xor_sync(0xffffffffu, l1, 1);",
        "l1 += __shfl_xor_sync(0xffffffffu, l1, 2);",
        "const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;  // a row with every key masked: 0 * inf = NaN, as the reference",
        "#pragma unroll",
        f"for (int nv = 0; nv < {dvp // 8}; ++nv) {{",
        indent(_stores(p), 4),
        "}",
    ]
    return f"{_helpers(p)}{kernel_signature(p.name, params, threads)}\n{{\n{indent(body, 4)}\n}}\n"
