"""Implicit-GEMM convolution on CUDA cores: a tiled SIMT kernel for any spatial rank,
either layout and any group count.

Per group g, the convolution is a matrix product C[M, N] = A[M, K] · B[K, N] with
M = batch · output pixels, N = output channels of the group, K = input channels of the
group · kernel taps. A is never materialised: A[m, k] is the input pixel that output
pixel m reads at tap/channel k (zero where the tap falls into the padding). The order of
k matches the weight's memory order, so B[k, n] = weight[(g·N + n)·K + k] in both layouts:

- NHWC (weight OHWI): k = (tap, c), c fastest: consecutive k are consecutive channels of
  one input pixel, so a warp reading a tile row is coalesced;
- NCHW (weight OIHW): k = (c, tap), tap fastest: consecutive m are consecutive pixels.

The input is read in its own layout (fused.conv's `input_layout`, where it differs from the
weight's and result's): A[m, k] is the same pixel and channel, found by the input's strides,
and the input tile is loaded k-fast from NHWC and m-fast from NCHW, so that a warp's loads
stay coalesced. The RGB stem reads the model's NCHW input this way into its NHWC result.

One block computes a `block_m` × `block_n` tile of C for group `blockIdx.z`, stepping
through K `block_k` at a time: the block loads the A and B tiles into shared memory
(converted to the accumulator type, zero outside the matrix), then each thread
accumulates a `thread_m` × `thread_n` micro-tile, rows strided by block_m/thread_m and
columns by block_n/thread_n (so a warp's shared reads are broadcasts or consecutive).
Accumulation is float (double for f64), with no TF32; the epilogue runs per element.
An integer contraction (i8/ui8 operands, i32 accumulator) sums the widened operands in
unsigned int (wrapping as the reference's i32 does) and hands the epilogue the int.

Tactic `gemm`; tile parameters (`#kernel.launch` tile): block_m, block_n, block_k,
thread_m, thread_n. Valid when thread_m divides block_m, thread_n divides block_n, the
block has 32 to 1024 threads, and the threads divide evenly over the rows and k of both
tile loads (`check_tile` says which rule a combination breaks); the tiles' static shared
memory must fit the target's default per-block limit (`fits`).
"""

from __future__ import annotations

from dataclasses import dataclass

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import kernel_signature, pointer_params
from passes.codegen.conv.geometry import ConvGeometry, Epilogue, kernel_error, tile_launch_problem, unravel, used_only
from passes.codegen.target import Target

TILE_KEYS = ("block_m", "block_n", "block_k", "thread_m", "thread_n")


@dataclass(frozen=True)
class Tile:
    block_m: int
    block_n: int
    block_k: int
    thread_m: int
    thread_n: int

    @property
    def threads_m(self) -> int:
        return self.block_m // self.thread_m

    @property
    def threads_n(self) -> int:
        return self.block_n // self.thread_n

    @property
    def threads(self) -> int:
        return self.threads_m * self.threads_n


def tile_of(launch: LaunchAttr) -> Tile:
    """The tile a launch names (`launch_problem` says first whether it names one)."""
    return Tile(*(launch.tile_params[k] for k in TILE_KEYS))


def _load_split(threads: int, rows: int, depth: int, k_fast: bool) -> tuple[int, int] | None:
    """How `threads` share a rows × depth tile load: (threads along rows, threads along
    k), each dividing its side; k gets the consecutive threads when `k_fast`."""
    if k_fast:
        along_k = min(depth, threads)
        along_rows = threads // along_k
    else:
        along_rows = min(rows, threads)
        along_k = threads // along_rows
    if along_rows * along_k != threads or rows % along_rows or depth % along_k:
        return None
    return along_rows, along_k


def check_tile(tile: Tile, geo: ConvGeometry) -> str | None:
    """Why `tile` is not a valid configuration (None when it is)."""
    values = [tile.block_m, tile.block_n, tile.block_k, tile.thread_m, tile.thread_n]
    if min(values) < 1:
        return f"tile sizes must be positive, got {values}"
    if tile.block_m % tile.thread_m or tile.block_n % tile.thread_n:
        return "thread_m must divide block_m and thread_n divide block_n"
    if tile.threads > 1024 or tile.threads < 32:
        return f"the tile needs {tile.threads} threads (32 to 1024 are valid)"
    if _load_split(tile.threads, tile.block_m, tile.block_k, geo.input_channels_last) is None:
        return f"{tile.threads} threads cannot share a {tile.block_m}x{tile.block_k} input tile evenly"
    if _load_split(tile.threads, tile.block_n, tile.block_k, True) is None:
        return f"{tile.threads} threads cannot share a {tile.block_n}x{tile.block_k} weight tile evenly"
    return None


def shared_bytes(tile: Tile, geo: ConvGeometry) -> int:
    """Static shared memory of the padded input and weight tiles."""
    return tile.block_k * (tile.block_m + 1 + tile.block_n + 1) * _acc_size(geo)


def _acc_size(geo: ConvGeometry) -> int:
    return 8 if geo.acc == "double" else 4


ZEROS = {"double": "0.0", "float": "0.0f", "unsigned int": "0u"}


def registers(tile: Tile, geo: ConvGeometry) -> int:
    """32-bit registers a thread needs at least: its accumulators and one k-step's a and b."""
    return (tile.thread_m * tile.thread_n + tile.thread_m + tile.thread_n) * _acc_size(geo) // 4


def fits(tile: Tile, geo: ConvGeometry, target: Target) -> str | None:
    """Why a valid tile cannot run on `target`: static shared memory (which no kernel can
    opt past the default limit) or registers."""
    shared = shared_bytes(tile, geo)
    if shared > target.shared_per_block:
        return f"the tiles need {shared} bytes of static shared memory, {target.name} ({target.arch}) allows {target.shared_per_block}"
    if tile.threads * registers(tile, geo) > target.registers_per_sm:
        return f"{tile.threads} threads of at least {registers(tile, geo)} registers exceed {target.name}'s {target.registers_per_sm} per SM"
    return None


CANDIDATES = (
    Tile(128, 128, 8, 8, 8),
    Tile(128, 64, 16, 8, 4),
    Tile(64, 64, 16, 4, 4),
    Tile(128, 32, 16, 4, 4),
    Tile(64, 32, 16, 4, 2),
    Tile(32, 32, 16, 2, 2),
)
"""Tiles `configure` picks from, largest first (all are valid for both layouts), and the
tactic's candidates."""


def choose_tile(geo: ConvGeometry, target: Target) -> Tile:
    """The largest tile that fits the GEMM's N (output channels of a group) without much
    waste and still gives about one block per SM; small problems get small tiles."""
    m, n = geo.gemm_m, geo.cout_g
    for tile in CANDIDATES:
        if tile.block_n > 32 and n <= tile.block_n // 2:
            continue  # half the tile's columns would be empty
        blocks = -(-m // tile.block_m) * -(-n // tile.block_n) * geo.group
        if blocks >= target.sm_count and check_tile(tile, geo) is None and fits(tile, geo, target) is None:
            return tile
    return min(CANDIDATES, key=lambda t: t.block_m * t.block_n)


def configure(geo: ConvGeometry, target: Target) -> LaunchAttr:
    return launch_for(choose_tile(geo, target), geo)


def launch_for(tile: Tile, geo: ConvGeometry) -> LaunchAttr:
    grid = [-(-geo.gemm_m // tile.block_m), -(-geo.cout_g // tile.block_n), geo.group]
    return LaunchAttr("gemm", grid, [tile.threads], 0, {k: getattr(tile, k) for k in TILE_KEYS})


def candidates(geo: ConvGeometry) -> list[LaunchAttr]:
    return [launch_for(tile, geo) for tile in CANDIDATES]


def launch_problem(launch: LaunchAttr, geo: ConvGeometry) -> str | None:
    """Why the SIMT implicit GEMM cannot take `launch` (None when it can)."""
    return tile_launch_problem(launch, geo, TILE_KEYS, tile_of, check_tile, launch_for, "SIMT implicit GEMM")


# --- the kernel ---------------------------------------------------------------------------


def _pixel_split(geo: ConvGeometry, m: str, prefix: str) -> list[str]:
    """`{prefix}n` (image) and `{prefix}o0, ...` (output position per axis) of row `m`."""
    names = [f"{prefix}n", *(f"{prefix}o{d}" for d in range(len(geo.out_size)))]
    return unravel(m, [geo.batch, *geo.out_size], names)


def _k_split(geo: ConvGeometry, k: str) -> list[str]:
    """`kc` (channel within the group) and `kt0, ...` (kernel tap per axis) of column `k`."""
    taps = [f"kt{d}" for d in range(len(geo.kernel))]
    if geo.channels_last:
        return unravel(k, [*geo.kernel, geo.cin_g], [*taps, "kc"])
    return unravel(k, [geo.cin_g, *geo.kernel], ["kc", *taps])


def _input_offset(geo: ConvGeometry, pos: list[str]) -> str:
    """Offset of input pixel `pos` (per axis) and channel `kc` from the image's group base."""
    flat = pos[0]
    for d in range(1, len(pos)):
        flat = f"({flat}) * {geo.in_size[d]} + {pos[d]}"
    if geo.input_channels_last:
        return f"({flat}) * {geo.cin} + kc"
    return f"kc * {geo.in_pixels} + {flat}"


def emit(kernel: FuncOp, launch: LaunchAttr, geo: ConvGeometry, epilogue: Epilogue) -> str:
    why = launch_problem(launch, geo)
    if why is not None:
        raise kernel_error(kernel, why)
    tile = tile_of(launch)
    body = _body(geo, tile, epilogue)
    name = kernel.sym_name.data
    return f"{kernel_signature(name, pointer_params(kernel), tile.threads)}\n{{\n{body}}}\n"


def _body(geo: ConvGeometry, t: Tile, epilogue: Epilogue) -> str:
    acc, ct = geo.sum_type, geo.ctype
    spatial = len(geo.kernel)
    a_rows, a_ks = _load_split(t.threads, t.block_m, t.block_k, geo.input_channels_last)
    b_rows, b_ks = _load_split(t.threads, t.block_n, t.block_k, True)
    zero = ZEROS[acc]
    x, w = f"in{geo.input_arg}", f"in{geo.weight_arg}"
    if geo.input_channels_last:
        image_stride, group_base = geo.in_pixels * geo.cin, f"g * {geo.cin_g}"
        a_lane = [f"const int a_k = tid % {a_ks};", f"const int a_r = tid / {a_ks};"]
    else:
        image_stride, group_base = geo.in_pixels * geo.cin, f"(long long)g * {geo.cin_g * geo.in_pixels}"
        a_lane = [f"const int a_r = tid % {a_rows};", f"const int a_k = tid / {a_rows};"]
    L: list[str] = []
    add = L.append
    add(f"    constexpr int BM = {t.block_m}, BN = {t.block_n}, BK = {t.block_k};")
    add(f"    constexpr int M = {geo.gemm_m}, N = {geo.cout_g}, K = {geo.gemm_k};")
    add(f"    __shared__ {acc} As[BK][BM + 1];")
    add(f"    __shared__ {acc} Bs[BK][BN + 1];")
    add("    const int tid = threadIdx.x;")
    add("    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN, g = blockIdx.z;")
    L.extend(f"    {line}" for line in a_lane)
    # Per input-tile row this thread loads: image base and the top-left input position.
    n_a = t.block_m // a_rows
    add(f"    long long a_base[{n_a}];")
    add(f"    int a_pos[{n_a}][{spatial}];")
    add(f"    bool a_ok[{n_a}];")
    add("    #pragma unroll")
    add(f"    for (int i = 0; i < {n_a}; ++i) {{")
    add(f"        const int m = m0 + a_r + i * {a_rows};")
    add("        a_ok[i] = m < M;")
    add("        const int mm = a_ok[i] ? m : 0;")
    L.extend(f"        {line}" for line in _pixel_split(geo, "mm", "p"))
    add(f"        a_base[i] = (long long)pn * {image_stride} + {group_base};")
    for d in range(spatial):
        add(f"        a_pos[i][{d}] = po{d} * {geo.strides[d]} - {geo.pads[d]};")
    add("    }")
    add(f"    const int b_k = tid % {b_ks}, b_r = tid / {b_ks};")
    add(f"    const {geo.weight.storage}* __restrict__ wg = {w} + (long long)g * N * K;")
    add(f"    const int tx = tid % {t.threads_n}, ty = tid / {t.threads_n};")
    add(f"    {acc} c[{t.thread_m}][{t.thread_n}];")
    add("    #pragma unroll")
    add(f"    for (int i = 0; i < {t.thread_m}; ++i)")
    add("        #pragma unroll")
    add(f"        for (int j = 0; j < {t.thread_n}; ++j) c[i][j] = {zero};")
    add("    for (int k0 = 0; k0 < K; k0 += BK) {")
    # input tile
    add("        #pragma unroll")
    add(f"        for (int j = 0; j < {t.block_k // a_ks}; ++j) {{")
    add(f"            const int kk = a_k + j * {a_ks};")
    add("            const int k = k0 + kk;")
    add("            const bool k_ok = k < K;")
    L.extend(f"            {line}" for line in _k_split(geo, "(k_ok ? k : 0)"))
    add("            #pragma unroll")
    add(f"            for (int i = 0; i < {n_a}; ++i) {{")
    pos = []
    conds = ["a_ok[i]", "k_ok"]
    for d in range(spatial):
        add(f"                const int x{d} = a_pos[i][{d}] + kt{d} * {geo.dilations[d]};")
        pos.append(f"x{d}")
        conds.append(f"(unsigned)x{d} < {geo.in_size[d]}u")
    add(f"                const bool ok = {' && '.join(conds)};")
    load = ct.load(f"{x}[a_base[i] + {_input_offset(geo, pos)}]")
    add(f"                As[kk][a_r + i * {a_rows}] = ok ? ({acc}){load} : {zero};")
    add("            }")
    add("        }")
    # weight tile
    add("        #pragma unroll")
    add(f"        for (int j = 0; j < {t.block_k // b_ks}; ++j) {{")
    add(f"            const int kk = b_k + j * {b_ks};")
    add("            const int k = k0 + kk;")
    add("            #pragma unroll")
    add(f"            for (int i = 0; i < {t.block_n // b_rows}; ++i) {{")
    add(f"                const int nn = b_r + i * {b_rows};")
    add("                const int n = n0 + nn;")
    wload = geo.weight.load("wg[(long long)n * K + k]")
    add(f"                Bs[kk][nn] = (n < N && k < K) ? ({acc}){wload} : {zero};")
    add("            }")
    add("        }")
    add("        __syncthreads();")
    add("        #pragma unroll")
    add("        for (int kk = 0; kk < BK; ++kk) {")
    add(f"            {acc} a[{t.thread_m}], b[{t.thread_n}];")
    add("            #pragma unroll")
    add(f"            for (int i = 0; i < {t.thread_m}; ++i) a[i] = As[kk][ty + i * {t.threads_m}];")
    add("            #pragma unroll")
    add(f"            for (int j = 0; j < {t.thread_n}; ++j) b[j] = Bs[kk][tx + j * {t.threads_n}];")
    add("            #pragma unroll")
    add(f"            for (int i = 0; i < {t.thread_m}; ++i)")
    add("                #pragma unroll")
    if geo.integer:
        add(f"                for (int j = 0; j < {t.thread_n}; ++j) c[i][j] += a[i] * b[j];")
    else:
        fma = "fma" if acc == "double" else "fmaf"
        add(f"                for (int j = 0; j < {t.thread_n}; ++j) c[i][j] = {fma}(a[i], b[j], c[i][j]);")
    add("        }")
    add("        __syncthreads();")
    add("    }")
    # epilogue
    add("    #pragma unroll")
    add(f"    for (int i = 0; i < {t.thread_m}; ++i) {{")
    add(f"        const int m = m0 + ty + i * {t.threads_m};")
    add("        if (m >= M) continue;")
    pixel_flat = "m" if geo.batch == 1 else f"(m - qn * {geo.out_pixels})"
    indices = geo.output_indices("qn", [f"qo{d}" for d in range(spatial)], "ch")
    flat = geo.output_offset("m", "qn", pixel_flat, "ch")
    inner = [
        f"for (int j = 0; j < {t.thread_n}; ++j) {{",
        f"    const int n = n0 + tx + j * {t.threads_n};",
        "    if (n >= N) continue;",
        "    const int ch = g * N + n;",
        f"    const {geo.acc} acc = {'(int)' if geo.integer else ''}c[i][j];",
        *(f"    {line}" for line in epilogue.lines(geo, indices, f"({flat})")),
        "}",
    ]
    L.extend(f"        {line}" for line in used_only(_pixel_split(geo, "m", "q"), inner))
    add("        #pragma unroll")
    L.extend(f"        {line}" for line in inner)
    add("    }")
    return "\n".join(L) + "\n"
