"""CUDA C for `fused.attention`: softmax(q·kᵀ·scale + mask, causal) · v as one flash-attention
kernel (the scores never reach global memory).

One block per (query tile, head, batch): `grid = [ceil(s_q / block_q), heads, batch]`. The
block walks the keys in tiles of `block_k` rows; each key tile and value tile goes through
shared memory, and every query row keeps a running maximum `m` and sum `l` in fp32, so

    m' = max(m, max_j x_j),  p_j = exp(x_j - m'),  l' = l·exp(m - m') + Σ p_j,
    o' = o·exp(m - m') + Σ p_j v_j                 (x_j = q·k_j·scale + mask_j, or -inf)

and the result is o / l after the last tile. Two kernels, the two tactics, share that plan
(tile parameters block_q and block_k):

- `mma` (f16/bf16; `attention/mma.py`): tensor cores; a warp owns 16 query rows, so the
  block is 2·block_q threads; q·kᵀ and p·v are `mma.sync.m16n8k16` with fp32
  accumulators, the probabilities rounded to the input type for the second product (as
  FlashAttention does);
- `simt` (any float type): every product in the compute type (fp32, fp64 for f64), any
  1-D block of whole warps; what f32 and f64 run, and a candidate for f16/bf16.

Candidates: block_q × block_k in {16, 32, 64, 128}² for `mma` (SIMT_TILES for `simt`),
those whose shared memory the target grants. Shared memory: configure stays under the
default 48 KiB where some tile does (opting in only for head dims that need it), so its
choice runs on every target; `check` holds a tactic to the target's opt-in limit, and the
engine refuses, by kernel, a launch past the limit of the GPU it loads on (an sm_80
engine on an sm_86 part, whose opt-in is 99 KiB).

Masking follows `runtime/reference/fused.py::attention` exactly: keys past s_k, keys a
causal mask removes (key j is kept for query i when j <= i + s_k - s_q) and keys an i1 mask
marks false get -inf; an additive mask is added to the scaled score (in the natural
exponent, so a finite -big mask stays finite). A row whose keys are all -inf gives NaN, as
the reference's exp(-inf - -inf) does: o = 0 and l = 0 at the end. A running maximum of
-inf is replaced by 0 inside the exponentials only, so a fully masked key tile is exact.
"""

from __future__ import annotations

import math

from xdsl.ir import Operation

from dialects.errors import OptcError
from dialects.fused import AttentionOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.attention.mma import emit_mma, mma_shared_bytes
from passes.codegen.attention.problem import LOG2E, Problem, indent, key_end, mask_plane, masked_score, neg_inf, out_index, problem_of
from passes.codegen.common.types import kernel_signature, literal, math_fn, pointer_params
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.target import DEFAULT, Target

TACTICS = ("simt", "mma")
MMA_TILES = tuple((block_q, block_k) for block_q in (16, 32, 64, 128) for block_k in (16, 32, 64, 128))
"""(block_q, block_k) the tensor-core kernel's candidates take (block: 2·block_q threads)."""
SIMT_TILES = tuple((block_q, block_k) for block_q in (16, 32, 64) for block_k in (16, 32, 64))
"""(block_q, block_k) the SIMT kernel's candidates take."""
SIMT_THREADS = 128

# --- configuration ---------------------------------------------------------------------------


def shared_bytes(p: Problem, mma: bool, block_q: int, block_k: int) -> int:
    """Dynamic shared memory of one block for these tiles (see each kernel's layout)."""
    if mma:
        return mma_shared_bytes(p, block_q, block_k)
    c = 8 if p.ctype.compute == "double" else 4
    return c * (block_q * p.d + block_k * (p.d + 1) + block_k * p.d_v + block_q * block_k + 3 * block_q)


def _launch(p: Problem, tactic: str, block_q: int, block_k: int) -> LaunchAttr:
    mma = tactic == "mma"
    threads = 2 * block_q if mma else SIMT_THREADS
    shared = shared_bytes(p, mma, block_q, block_k)
    return LaunchAttr(tactic, [_blocks_q(p, block_q), p.heads, p.batch], [threads], shared, {"block_q": block_q, "block_k": block_k})


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """Tensor cores for f16/bf16; tiles as large as fit the default 48 KiB of shared memory
    (opting in above it only for head dims that need it); the query tile shrinks for short
    or few sequences so that the grid covers the GPU."""
    p = problem_of(kernel)
    mma = p.tensor_cores
    block_k = 64
    if mma:
        block_q = 64
        while block_q > 16 and (block_q // 2 >= p.s_q or _blocks(p, block_q) < target.sm_count):
            block_q //= 2
    else:
        block_q = 32 if p.s_q > 16 else 16
    while block_k > 16 and shared_bytes(p, mma, block_q, block_k) > target.shared_per_block:
        block_k //= 2
    while block_q > 16 and shared_bytes(p, mma, block_q, block_k) > target.shared_per_block:
        block_q //= 2
    return _launch(p, "mma" if mma else "simt", block_q, block_k)


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Every tile of each tactic's table this attention can take (mma for f16/bf16 only)."""
    p = problem_of(kernel)
    tables = {"mma": MMA_TILES, "simt": SIMT_TILES} if p.tensor_cores else {"simt": SIMT_TILES}
    return [_launch(p, tactic, block_q, block_k) for tactic, tiles in tables.items() for block_q, block_k in tiles]


def _blocks_q(p: Problem, block_q: int) -> int:
    return -(-p.s_q // block_q)


def _blocks(p: Problem, block_q: int) -> int:
    return _blocks_q(p, block_q) * p.heads * p.batch


def _launch_problem(p: Problem, launch: LaunchAttr) -> str | None:
    """Why the kernel cannot take `launch` (None when it can): a launch that disagrees with
    the code would compute the wrong rows."""
    tactic, tile = launch.tactic_name, launch.tile_params
    if tactic not in TACTICS:
        return unknown_tactic("attention", tactic, TACTICS)
    mma = tactic == "mma"
    if mma and not p.tensor_cores:
        return refused_tactic(tactic, f"tensor cores take f16 and bf16 inputs, got {p.ctype.storage}")
    missing = [k for k in ("block_q", "block_k") if k not in tile]
    if missing:
        return f"#kernel.launch tile lacks {', '.join(missing)}"
    block_q, block_k = tile["block_q"], tile["block_k"]
    threads = math.prod(launch.block_dims)
    if block_q < 1 or block_k < 1:
        return f"tile sizes must be positive, got block_q = {block_q}, block_k = {block_k}"
    if mma:
        if block_q % 16 or block_k % 16:
            return f"the tensor-core kernel needs block_q and block_k multiples of 16, got {block_q}, {block_k}"
        if launch.block_dims != (2 * block_q, 1, 1):
            return f"the tensor-core kernel runs one warp per 16 query rows: block must be [{2 * block_q}, 1, 1], got {list(launch.block_dims)}"
    elif launch.block_dims[1:] != (1, 1) or threads % 32:
        return f"the SIMT kernel needs a 1-D block of whole warps, got {list(launch.block_dims)}"
    want_grid = (_blocks_q(p, block_q), p.heads, p.batch)
    if launch.grid_dims != want_grid:
        return f"grid must be {list(want_grid)} for block_q = {block_q}, got {list(launch.grid_dims)}"
    need = shared_bytes(p, mma, block_q, block_k)
    if launch.shared_bytes < need:
        return f"tiles {block_q}x{block_k} need {need} bytes of shared memory, the launch gives {launch.shared_bytes}"
    return None


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this attention on `target` (None when it can)."""
    p = problem_of(kernel)
    why = _launch_problem(p, launch)
    if why is not None:
        return why
    tile = launch.tile_params
    need = shared_bytes(p, launch.tactic_name == "mma", tile["block_q"], tile["block_k"])
    if need > target.shared_per_block_optin:
        return f"tiles {tile['block_q']}x{tile['block_k']} need {need} bytes of shared memory, {target.name} ({target.arch}) allows {target.shared_per_block_optin}"
    return None


# --- the SIMT kernel ---------------------------------------------------------------------------


def _simt_tile_load(p: Problem, dst: str, src: str, row0: str, limit: int, rows: int, width: int, stride: int, threads: int) -> list[str]:
    """Rows [row0, row0 + rows) of a [.., width] global tensor into shared memory (row
    stride `stride`), converted to the compute type; rows past `limit` become zeros. f32
    reads 16 bytes at a time where rows allow it."""
    ct = p.ctype.compute
    if p.ctype.storage == "float" and width % 4 == 0:
        chunks = width // 4
        return [
            f"for (int i = tid; i < {rows * chunks}; i += {threads}) {{",
            f"    const int r = i / {chunks}, c = (i % {chunks}) * 4;",
            "    float4 val = {0.0f, 0.0f, 0.0f, 0.0f};",
            f"    if ({row0} + r < {limit}) val = *(const float4*)({src} + (long long)({row0} + r) * {width} + c);",
            f"    float* to = {dst} + r * {stride} + c;",
            "    to[0] = val.x; to[1] = val.y; to[2] = val.z; to[3] = val.w;",
            "}",
        ]
    return [
        f"for (int i = tid; i < {rows * width}; i += {threads}) {{",
        f"    const int r = i / {width}, c = i % {width};",
        f"    {dst}[r * {stride} + c] = {row0} + r < {limit} ? ({ct}){p.ctype.load(f'{src}[(long long)({row0} + r) * {width} + c]')} : ({ct})0;",
        "}",
    ]


def emit_simt(p: Problem, block_q: int, block_k: int, threads: int, params: list[str]) -> str:
    """The SIMT kernel. Shared memory, in the compute type: q [block_q][d], k [block_k][d+1]
    (the pad makes the lanes' column reads conflict-free), v [block_k][d_v], the tile's
    scores/probabilities [block_q][block_k], and per row m, l and this tile's rescale.
    Each thread owns fixed scores (flat index tid + e·threads) and fixed outputs."""
    c, d, dv, bq, bk = p.ctype.compute, p.d, p.d_v, block_q, block_k
    exp2 = math_fn("exp2", p.ctype)
    fmax = "fmaxf" if c == "float" else "fmax"
    per_score, per_out = -(-bq * bk // threads), -(-bq * dv // threads)
    warps = threads // 32

    def guarded(limit: int, body: list[str]) -> list[str]:
        """`body` for the thread's element e, skipping indices past `limit`."""
        if limit % threads == 0:
            return body
        return [f"if (idx < {limit}) {{", *["    " + line for line in body], "}"]

    score = guarded(bq * bk, [
        f"const int r = idx / {bk}, col = idx % {bk};",
        f"const {c}* qr = q_s + r * {d};",
        f"const {c}* kr = k_s + col * {d + 1};",
        f"{c} acc = 0;",
        "#pragma unroll 8",
        f"for (int t = 0; t < {d}; ++t) acc += qr[t] * kr[t];",
        "const int qi = q0 + r, kj = k0 + col;",
        "(void)qi; (void)kj;  // read only by masks and the causal rule",
        f"{c} x = acc * ({c}){literal(p.scale, p.ctype)};",
        *masked_score(p, "x", "qi", "kj"),
        "s_s[idx] = x;",
    ])  # fmt: skip
    pv = guarded(bq * dv, [
        f"const int r = idx / {dv}, j = idx % {dv};",
        f"const {c}* pr = s_s + r * {bk};",
        f"{c} acc = o[e] * a_s[r];",
        "#pragma unroll 8",
        f"for (int t = 0; t < {bk}; ++t) acc += pr[t] * v_s[t * {dv} + j];",
        "o[e] = acc;",
    ])  # fmt: skip
    store = guarded(bq * dv, [
        f"const int r = idx / {dv}, j = idx % {dv}, qi = q0 + r;",
        f"if (qi < {p.s_q}) out0[{out_index(p, 'qi', 'j')}] = {p.ctype.store('o[e] / l_s[r]')};",
    ])  # fmt: skip
    L = literal(LOG2E, p.ctype)
    body = [
        "extern __shared__ __align__(16) unsigned char optc_smem[];",
        f"{c}* q_s = ({c}*)optc_smem;",
        f"{c}* k_s = q_s + {bq * d};",
        f"{c}* v_s = k_s + {bk * (d + 1)};",
        f"{c}* s_s = v_s + {bk * dv};",
        f"{c}* m_s = s_s + {bq * bk};",
        f"{c}* l_s = m_s + {bq};",
        f"{c}* a_s = l_s + {bq};",
        "const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;",
        f"const int q0 = blockIdx.x * {bq};",
        f"const long long bh = (long long)blockIdx.z * {p.heads} + blockIdx.y;",
        f"const {p.ctype.storage}* qg = {p.q_in} + bh * {p.s_q * d}LL;",
        f"const {p.ctype.storage}* kg = {p.k_in} + bh * {p.s_k * d}LL;",
        f"const {p.ctype.storage}* vg = {p.v_in} + bh * {p.s_k * dv}LL;",
        *mask_plane(p),
        *_simt_tile_load(p, "q_s", "qg", "q0", p.s_q, bq, d, d, threads),
        f"for (int r = tid; r < {bq}; r += {threads}) {{ m_s[r] = {neg_inf(p)}; l_s[r] = 0; }}",
        f"{c} o[{per_out}];",
        "#pragma unroll",
        f"for (int e = 0; e < {per_out}; ++e) o[e] = 0;",
        f"const int k_end = {key_end(p, bq)};",
        f"for (int k0 = 0; k0 < k_end; k0 += {bk}) {{",
        "    __syncthreads();  // the previous tile's readers are done",
        indent(_simt_tile_load(p, "k_s", "kg", "k0", p.s_k, bk, d, d + 1, threads), 4),
        indent(_simt_tile_load(p, "v_s", "vg", "k0", p.s_k, bk, dv, dv, threads), 4),
        "    __syncthreads();",
        "    #pragma unroll",
        f"    for (int e = 0; e < {per_score}; ++e) {{",
        f"        const int idx = tid + e * {threads};",
        indent(score, 8),
        "    }",
        "    __syncthreads();",
        "    // online softmax, one warp per row",
        f"    for (int r = warp; r < {bq}; r += {warps}) {{",
        f"        {c}* row = s_s + r * {bk};",
        f"        {c} mx = {neg_inf(p)};",
        f"        for (int t = lane; t < {bk}; t += 32) mx = {fmax}(mx, row[t]);",
        f"        for (int s = 16; s > 0; s >>= 1) mx = {fmax}(mx, __shfl_xor_sync(0xffffffffu, mx, s));",
        f"        const {c} m_old = m_s[r], m_new = {fmax}(m_old, mx);",
        f"        const {c} m_use = m_new == {neg_inf(p)} ? ({c})0 : m_new;",
        f"        {c} sum = 0;",
        f"        for (int t = lane; t < {bk}; t += 32) {{ const {c} pj = {exp2}((row[t] - m_use) * {L}); row[t] = pj; sum += pj; }}",
        "        for (int s = 16; s > 0; s >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, s);",
        "        __syncwarp();",
        "        if (lane == 0) {",
        f"            const {c} alpha = {exp2}((m_old - m_use) * {L});",
        "            a_s[r] = alpha; l_s[r] = l_s[r] * alpha + sum; m_s[r] = m_new;",
        "        }",
        "    }",
        "    __syncthreads();",
        "    #pragma unroll",
        f"    for (int e = 0; e < {per_out}; ++e) {{",
        f"        const int idx = tid + e * {threads};",
        indent(pv, 8),
        "    }",
        "}",
        "__syncthreads();",
        "#pragma unroll",
        f"for (int e = 0; e < {per_out}; ++e) {{",
        f"    const int idx = tid + e * {threads};",
        indent(store, 4),
        "}",
    ]
    return f"{kernel_signature(p.name, params, threads)}\n{{\n{indent(body, 4)}\n}}\n"


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The CUDA C of an attention kernel.func for `launch` (its tactic and tiles, checked)."""
    p = problem_of(kernel)
    why = _launch_problem(p, launch)
    if why is not None:
        raise OptcError(f"{p.where}: {why}")
    block_q, block_k = launch.tile_params["block_q"], launch.tile_params["block_k"]
    params = pointer_params(kernel)
    if launch.tactic_name == "mma":
        return emit_mma(p, block_q, block_k, params)
    return emit_simt(p, block_q, block_k, math.prod(launch.block_dims), params)


GENERATORS: dict[type[Operation], Generator] = {AttentionOp: Generator(configure, emit, candidates, check)}
