"""Implicit-GEMM convolution on tensor cores: f16/bf16, one group, either layout, any
channel count; `mma.sync` m16n8k16 with fp32 accumulation.

The GEMM is the one `cuda_conv_gemm` describes: C[M, N] = A[M, K] · B[K, N] with
M = batch · output pixels, N = output channels, K = kernel taps · input channels in the
weight's memory order (NHWC/OHWI: k = (tap, c), c fastest; NCHW/OIHW: k = (c, tap), tap
fastest). B is the weight read as [N, K] row-major (the "n-major" B operand of
`cuda_mma`, fragments by plain `ldmatrix`). A is never materialised: row m of an A tile is
output pixel m's receptive field. Two ways to fill the shared A tile:

- *vector* (NHWC, C_in % 8 == 0): since the tile's k0 is a multiple of 8, every 8
  consecutive k of a row are 8 consecutive channels of ONE input pixel (one tap): one
  16-byte `cp.async`, zero-filled (src-size 0) where the tap falls into the padding, past
  the image, past M or past K. A tile may span taps when C_in < block_k: each chunk finds
  its own tap.
- *element* (every other layout and channel count: the RGB stem with C_in = 3, NCHW
  convs): 2-byte loads through registers, zero where out of range. Each thread owns one
  k column of the tile (`threads % block_k == 0`), so k → (tap, channel) is split once
  per K step, and rows `threadIdx.x / block_k + j · threads / block_k`, whose image and
  window origin it reads from a per-block table in shared memory (filled once; a warp
  reads one row's entry, a broadcast), so the registers hold only the staged elements. The loads for K tile kt + stages - 1 are issued before
  the warps multiply tile kt and stored to shared memory after it (register staging), so
  their latency hides behind the MMAs. The weight takes the same path when K % 8 != 0.

Exactness: padded k (past K, past a channel count) and out-of-image taps are zeros in A
and B alike, so they add exact zeros to the fp32 accumulators.

Shared memory: a ring of `stages` (A, B) tile pairs of 16-bit elements, rows padded by
`cuda_mma.PAD` (conflict-free `ldmatrix`); `stages - 1` tiles are in flight while the
warps multiply the current one, as in `cuda_matmul`. Each warp owns a (block_m / warps_m)
× (block_n / warps_n) sub-tile. The epilogue goes through shared memory: one band of warp
rows at a time, the warps park their fp32 accumulators in the (now idle) ring, then the
whole block runs the epilogue over the band with consecutive threads on consecutive output
elements (channels for NHWC, pixels for NCHW), so every load of an epilogue operand and
every store is coalesced; the epilogue runs per element in fp32 and rounds once at the
store (`Epilogue.lines`, the family's shared printer).

Which convolutions take this kernel (`why_not` says why one does not): f16 or bf16,
group 1. Grouped and depthwise convs keep their SIMT/direct kernels (a dispatch rule, not
an approximation: those compute the same fp32-accumulated result).

Tile parameters (`#kernel.launch` tile): block_m, block_n, block_k, warps_m, warps_n,
stages. Valid when block_m is a multiple of 16·warps_m, block_n of 16·warps_n, block_k of
16, 2 ≤ stages ≤ 4, 32..1024 threads, the element loads' `threads % block_k == 0` where
they are used, and the ring (or the epilogue band) fits `MAX_SHARED`; `check_tile` says
which rule a combination breaks and emit refuses it by name.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen import cuda_mma
from passes.codegen.cuda_conv_geometry import ConvGeometry, Epilogue, kernel_error, unravel, used_only
from passes.codegen.cuda_types import kernel_signature, pointer_params

TILE_KEYS = ("block_m", "block_n", "block_k", "warps_m", "warps_n", "stages")
SMS = 132
"""Streaming multiprocessors to fill (an H100 SXM)."""
MAX_SHARED = 99 * 1024
"""Dynamic shared memory a tile may ask for (the engine raises a kernel's limit past 48 KiB)."""
ELEMENTS = {"optc_half": "f16", "optc_bf16": "bf16"}
C_PAD = 4
"""Floats of padding after each row of the epilogue's accumulator band (sizing; NCHW uses 1)."""


@dataclass(frozen=True)
class Tile:
    block_m: int
    block_n: int
    block_k: int
    warps_m: int
    warps_n: int
    stages: int

    @property
    def threads(self) -> int:
        return 32 * self.warps_m * self.warps_n

    @property
    def row(self) -> int:
        """Elements from one shared tile row to the next (both tiles are k-fast)."""
        return self.block_k + cuda_mma.PAD

    @property
    def a_stage(self) -> int:
        return self.block_m * self.row

    @property
    def b_stage(self) -> int:
        return self.block_n * self.row

    @property
    def band(self) -> int:
        """Rows of the accumulator the epilogue stages through shared memory at once."""
        return self.block_m // self.warps_m

    @property
    def ring_bytes(self) -> int:
        return 2 * self.stages * (self.a_stage + self.b_stage)

    @property
    def shared_bytes(self) -> int:
        """Dynamic shared memory with vector A loads: the ring, or the epilogue's band."""
        return max(self.ring_bytes, 4 * self.band * (self.block_n + C_PAD))

    def table_rows(self) -> int:
        """Rows of the element loads' receptive-field table (whole strides of rows)."""
        step = max(1, self.threads // self.block_k)  # (an invalid tile still gets a launch to refuse)
        return -(-self.block_m // step) * step

    def shared_for(self, geo: ConvGeometry) -> int:
        """Dynamic shared memory for `geo`: element A loads add the table of every tile
        row's image and window origin (`int[rows][1 + spatial]`) after the ring."""
        if vector_a(geo):
            return self.shared_bytes
        table = 4 * self.table_rows() * (1 + len(geo.kernel))
        return max(self.ring_bytes + table, self.shared_bytes)

    def launch(self, geo: ConvGeometry) -> LaunchAttr:
        return LaunchAttr([blocks(self, geo)], [self.threads], self.shared_for(geo), {k: getattr(self, k) for k in TILE_KEYS})


CANDIDATES = (
    Tile(128, 256, 32, 2, 4, 3),
    Tile(128, 128, 32, 2, 2, 4),
    Tile(128, 64, 32, 2, 2, 4),
    Tile(64, 128, 32, 2, 2, 3),
    Tile(64, 64, 32, 2, 2, 3),
    Tile(128, 32, 32, 4, 1, 3),
    Tile(32, 64, 32, 1, 2, 4),
    Tile(64, 32, 32, 2, 1, 4),
    Tile(32, 32, 32, 1, 2, 4),
)
"""Tiles `configure` picks from, largest first (all valid). The first two give every warp a
64×64 sub-tile (8 m16 × 8 n8 MMAs per 16 k from 4 + 4 `ldmatrix.x4`) for large M·N
(batch 32); they and 128×64 need more than 48 KiB of shared memory (90, 80, 60 KiB). The
32-wide ones serve narrow C_out (MobileNetV2's projections to 24 or 32 channels) without
empty columns."""


def vector_a(geo: ConvGeometry) -> bool:
    """Whether A tiles load as 16-byte chunks of 8 channels of one pixel."""
    return geo.channels_last and geo.cin % 8 == 0


def vector_b(geo: ConvGeometry) -> bool:
    """Whether the weight's [N, K] rows load as 16-byte chunks."""
    return geo.gemm_k % 8 == 0


def why_not(geo: ConvGeometry) -> str | None:
    """Why the tensor-core kernel does not apply to `geo` (None when it does)."""
    if geo.ctype.storage not in ELEMENTS:
        return f"element type {geo.ctype.storage} (tensor cores take f16 and bf16)"
    if geo.group != 1:
        return f"group {geo.group} (grouped and depthwise convs keep their kernels)"
    return None


def applies(geo: ConvGeometry) -> bool:
    return why_not(geo) is None


def tiles(tile: Tile, geo: ConvGeometry) -> tuple[int, int]:
    return -(-geo.gemm_m // tile.block_m), -(-geo.cout // tile.block_n)


def blocks(tile: Tile, geo: ConvGeometry) -> int:
    tm, tn = tiles(tile, geo)
    return tm * tn


def check_tile(tile: Tile, geo: ConvGeometry) -> str | None:
    """Why `tile` is not a valid configuration (None when it is)."""
    values = [getattr(tile, k) for k in TILE_KEYS]
    if min(values) < 1:
        return f"tile parameters must be positive, got {values}"
    if tile.block_m % (16 * tile.warps_m):
        return f"block_m {tile.block_m} must be a multiple of 16·warps_m = {16 * tile.warps_m}"
    if tile.block_n % (16 * tile.warps_n):
        return f"block_n {tile.block_n} must be a multiple of 16·warps_n = {16 * tile.warps_n}"
    if tile.block_k % 16:
        return f"block_k {tile.block_k} must be a multiple of 16"
    if not 2 <= tile.stages <= 4:
        return f"stages {tile.stages} (2..4 allowed)"
    if not 32 <= tile.threads <= 1024:
        return f"the tile needs {tile.threads} threads (32 to 1024 are valid)"
    if not (vector_a(geo) and vector_b(geo)) and tile.threads % tile.block_k:
        return f"element-wise tile loads need threads ({tile.threads}) to be a multiple of block_k {tile.block_k}"
    if tile.shared_for(geo) > MAX_SHARED:
        return f"the ring needs {tile.shared_for(geo)} bytes of shared memory (at most {MAX_SHARED})"
    if blocks(tile, geo) >= 2**31:
        return "too many blocks for one grid dimension"
    return None


def choose_tile(geo: ConvGeometry, sms: int = SMS) -> Tile:
    """The largest tile that gives every SM a block without leaving half its columns empty;
    when none does (small M·N: ResNet-50's last stages at batch 1), the one giving the most
    blocks, larger on ties."""
    fitting = [t for t in CANDIDATES if (t.block_n <= 32 or geo.cout > t.block_n // 2) and check_tile(t, geo) is None]
    for tile in fitting:
        if blocks(tile, geo) >= sms:
            return tile
    return max(fitting, key=lambda t: (blocks(t, geo), t.block_m * t.block_n))


def configure(geo: ConvGeometry) -> LaunchAttr:
    return choose_tile(geo).launch(geo)


def tile_of(launch: LaunchAttr) -> Tile:
    params = launch.tile_params
    missing = [k for k in TILE_KEYS if k not in params]
    if missing:
        raise ValueError(f"missing tile parameters {', '.join(missing)} (the tensor-core conv needs {', '.join(TILE_KEYS)})")
    return Tile(*(params[k] for k in TILE_KEYS))


# --- the kernel ---------------------------------------------------------------------------


def emit(kernel: FuncOp, launch: LaunchAttr, geo: ConvGeometry, epilogue: Epilogue) -> str:
    why = why_not(geo)
    if why is not None:
        raise kernel_error(kernel, f"the tensor-core conv does not apply: {why}")
    try:
        tile = tile_of(launch)
    except ValueError as exc:
        raise kernel_error(kernel, str(exc)) from None
    why = check_tile(tile, geo)
    if why is not None:
        raise kernel_error(kernel, f"invalid tile {launch.tile_params}: {why}")
    if launch.block_dims != (tile.threads, 1, 1):
        raise kernel_error(kernel, f"block {list(launch.block_dims)} does not match the tile's {tile.threads} threads")
    if launch.grid_dims != (blocks(tile, geo), 1, 1):
        raise kernel_error(kernel, f"grid {list(launch.grid_dims)} does not cover the output (needs [{blocks(tile, geo)}, 1, 1])")
    if launch.shared_bytes < tile.shared_for(geo):
        raise kernel_error(kernel, f"the tile needs {tile.shared_for(geo)} bytes of dynamic shared memory, launch gives {launch.shared_bytes}")
    body = _body(geo, tile, epilogue)
    signature = kernel_signature(kernel.sym_name.data, pointer_params(kernel), tile.threads)
    return "\n".join([cuda_mma.HELPERS, signature, "{", *(f"    {line}" for line in body), "}", ""])


def _index_type(geo: ConvGeometry) -> str:
    biggest = max(geo.batch * geo.in_pixels * geo.cin, geo.cout * geo.gemm_k, geo.gemm_m * geo.cout)
    return "int" if biggest < 2**31 else "long long"


def _a_rows(geo: ConvGeometry, t: Tile, it: str) -> list[str]:
    """Per A chunk slot j of this thread (fixed across K steps; tile row
    `(threadIdx.x + j · threads) / (block_k / 8)`): the image's base offset `a_base[j]`,
    the window's first input position `a_pos[j][d]` and whether the row is a real output
    pixel `a_ok[j]`."""
    spatial = len(geo.kernel)
    per_row = t.block_k // 8
    trips = -(-(t.block_m * per_row) // t.threads)
    return [
        f"{it} a_base[{trips}];",
        f"int a_pos[{trips}][{spatial}];",
        f"bool a_ok[{trips}];",
        "#pragma unroll",
        f"for (int j = 0; j < {trips}; ++j) {{",
        f"    const int r = (threadIdx.x + j * {t.threads}) / {per_row};",
        "    const int m = m0 + r;",
        f"    a_ok[j] = m < {geo.gemm_m} && r < {t.block_m};",
        "    const int mm = a_ok[j] ? m : 0;",
        *(f"    {line}" for line in unravel("mm", [geo.batch, *geo.out_size], ["pn", *(f"po{d}" for d in range(spatial))])),
        f"    a_base[j] = ({it})pn * {geo.in_pixels * geo.cin};",
        *(f"    a_pos[j][{d}] = po{d} * {geo.strides[d]} - {geo.pads[d]};" for d in range(spatial)),
        "}",
    ]


def _pixel(geo: ConvGeometry) -> tuple[list[str], str]:
    """The bounds checks of input position x0, x1, ... and its flat pixel index."""
    conds, flat = [], ""
    for d in range(len(geo.kernel)):
        conds.append(f"(unsigned)x{d} < {geo.in_size[d]}u")
        flat = f"x{d}" if d == 0 else f"({flat}) * {geo.in_size[d]} + x{d}"
    return conds, flat


def _x_positions(geo: ConvGeometry) -> list[str]:
    return [f"const int x{d} = a_pos[j][{d}] + kt{d} * {geo.dilations[d]};" for d in range(len(geo.kernel))]


def _a_vector(geo: ConvGeometry, t: Tile, x: str) -> list[str]:
    """The A tile's 16-byte copies for K offset `k0` into `As`: chunk (r, cc) is channels
    c..c+7 of the input pixel row r reads at tap k / C_in."""
    per_row = t.block_k // 8
    total = t.block_m * per_row
    trips = -(-total // t.threads)
    conds, flat = _pixel(geo)
    conds = ["a_ok[j]", f"k < {geo.gemm_k}", *conds]
    guard = "" if total % t.threads == 0 else f"    if (threadIdx.x + j * {t.threads} >= {total}) break;"
    return [
        "#pragma unroll",
        f"for (int j = 0; j < {trips}; ++j) {{",
        *([guard] if guard else []),
        f"    const int e = threadIdx.x + j * {t.threads};",
        f"    const int r = e / {per_row}, cc = (e % {per_row}) * 8;",
        "    const int k = k0 + cc;",
        f"    const int tap = k / {geo.cin}, ch = k % {geo.cin};",
        *(f"    {line}" for line in unravel("tap", list(geo.kernel), [f"kt{d}" for d in range(len(geo.kernel))])),
        *(f"    {line}" for line in _x_positions(geo)),
        f"    const bool ok = {' && '.join(conds)};",
        f"    optc_cp_async16(As + r * {t.row} + cc, ok ? {x} + a_base[j] + ({flat}) * {geo.cin} + ch : {x}, ok ? 16 : 0);",
        "}",
    ]


def _element_trips(t: Tile, rows: int) -> int:
    return -(-rows // (t.threads // t.block_k))


def _a_table(geo: ConvGeometry, t: Tile) -> list[str]:
    """The element loads' table, filled once per block: for tile row r, `tab[r][0]` is the
    image of output pixel m0 + r (-1 past M) and `tab[r][1 + d]` its window's first input
    position along axis d. It sits after the ring; the epilogue may overwrite it."""
    spatial = len(geo.kernel)
    width = 1 + spatial
    return [
        f"int* tab = reinterpret_cast<int*>(smem + {t.ring_bytes // 2});",
        f"for (int r = threadIdx.x; r < {t.table_rows()}; r += {t.threads}) {{",
        "    const int m = m0 + r;",
        f"    const bool ok = m < {geo.gemm_m} && r < {t.block_m};",
        "    const int mm = ok ? m : 0;",
        *(f"    {line}" for line in unravel("mm", [geo.batch, *geo.out_size], ["pn", *(f"po{d}" for d in range(spatial))])),
        f"    tab[r * {width}] = ok ? pn : -1;",
        *(f"    tab[r * {width} + {1 + d}] = po{d} * {geo.strides[d]} - {geo.pads[d]};" for d in range(spatial)),
        "}",
        "__syncthreads();  // the table is read by every thread's loads",
    ]


def _a_element_load(geo: ConvGeometry, t: Tile, x: str, it: str) -> list[str]:
    """This thread's A elements of K tile `k0` into registers `ra[j]`: column `ek`, rows
    `er + j · step` (their origins from the table); zero past K, past M and in the padding."""
    spatial = len(geo.kernel)
    width = 1 + spatial
    step = t.threads // t.block_k
    taps = [f"kt{d}" for d in range(spatial)]
    if geo.channels_last:
        split = unravel("kq", [*geo.kernel, geo.cin], [*taps, "ch"])
    else:
        split = unravel("kq", [geo.cin, *geo.kernel], ["ch", *taps])
    conds, flat = _pixel(geo)
    offset = f"({flat}) * {geo.cin} + ch" if geo.channels_last else f"ch * {geo.in_pixels} + {flat}"
    return [
        "{",
        "    const int k = k0 + ek;",
        f"    const bool k_ok = k < {geo.gemm_k};",
        "    const int kq = k_ok ? k : 0;",
        *(f"    {line}" for line in split),
        "    #pragma unroll",
        f"    for (int j = 0; j < {_element_trips(t, t.block_m)}; ++j) {{",
        f"        const int* row = tab + (er + j * {step}) * {width};",
        "        const int pn = row[0];",
        *(f"        const int x{d} = row[{1 + d}] + kt{d} * {geo.dilations[d]};" for d in range(spatial)),
        f"        const bool ok = {' && '.join(['pn >= 0', 'k_ok', *conds])};",
        f"        ra[j] = ok ? {x}[({it})pn * {geo.in_pixels * geo.cin} + {offset}].bits : (unsigned short)0;",
        "    }",
        "}",
    ]


def _b_element_load(geo: ConvGeometry, t: Tile, w: str, it: str) -> list[str]:
    """This thread's weight elements of K tile `k0` into registers `rb[j]`: B[n][k] =
    weight[n · K + k] for column `ek`, rows `er + j · step`; zero past N and K."""
    step = t.threads // t.block_k
    return [
        "{",
        "    const int k = k0 + ek;",
        "    #pragma unroll",
        f"    for (int j = 0; j < {_element_trips(t, t.block_n)}; ++j) {{",
        f"        const int n = n0 + er + j * {step};",
        f"        const bool ok = k < {geo.gemm_k} && n < {geo.cout} && er + j * {step} < {t.block_n};",
        f"        rb[j] = ok ? {w}[({it})n * {geo.gemm_k} + k].bits : (unsigned short)0;",
        "    }",
        "}",
    ]


def _element_store(t: Tile, regs: str, smem: str, rows: int) -> list[str]:
    """Registers `regs[j]` into shared tile `smem` at (row er + j · step, column ek)."""
    step = t.threads // t.block_k
    trips = _element_trips(t, rows)
    guard = "" if rows % step == 0 else f"if (er + j * {step} < {rows}) "
    return ["#pragma unroll", f"for (int j = 0; j < {trips}; ++j) {guard}{smem}[(er + j * {step}) * {t.row} + ek] = {regs}[j];"]


def _epilogue(geo: ConvGeometry, t: Tile, epilogue: Epilogue, mi_count: int, ni_count: int) -> list[str]:
    """Every accumulator through the epilogue, one band of warp rows at a time: the band's
    warps park their fp32 accumulators in shared memory `Cs[row][col]`, then every thread
    takes elements `threadIdx.x + j · threads` of the band, consecutive threads on
    consecutive channels (NHWC) or pixels (NCHW), i.e. consecutive output addresses."""
    spatial = len(geo.out_size)
    bn, band = t.block_n, t.band
    crow = bn + (C_PAD if geo.channels_last else 1)
    total = band * bn
    trips = -(-total // t.threads)
    pixel = [f"qo{d}" for d in range(spatial)]
    pixel_flat = "m" if geo.batch == 1 else f"(m - qn * {geo.out_pixels})"
    indices = geo.output_indices("qn", pixel, "n")
    flat = geo.output_offset("m", "qn", pixel_flat, "n")
    if geo.channels_last:
        place = f"const int row = e / {bn}, col = e % {bn};"
    else:
        place = f"const int row = e % {band}, col = e / {band};"
    inner = [
        f"const float acc = Cs[row * {crow} + col];",
        *epilogue.lines(geo, indices, f"({flat})"),
    ]
    split = used_only(unravel("m", [geo.batch, *geo.out_size], ["qn", *pixel]), inner)
    guard = [] if total % t.threads == 0 else [f"    if (e >= {total}) break;"]
    return [
        "OPTC_CP_ASYNC_WAIT(0);",
        "__syncthreads();  // the ring is idle: it holds the accumulators now",
        "float* Cs = reinterpret_cast<float*>(smem);",
        f"for (int p = 0; p < {t.warps_m}; ++p) {{",
        f"    if (warp / {t.warps_n} == p) {{",
        "        #pragma unroll",
        f"        for (int mi = 0; mi < {mi_count}; ++mi)",
        "            #pragma unroll",
        f"            for (int ni = 0; ni < {ni_count}; ++ni)",
        "                #pragma unroll",
        "                for (int q = 0; q < 4; ++q)",
        f"                    Cs[(mi * 16 + (lane >> 2) + (q >> 1) * 8) * {crow} + wn + ni * 8 + (lane & 3) * 2 + (q & 1)] = c[mi][ni][q];",
        "    }",
        "    __syncthreads();",
        "    #pragma unroll 2",
        f"    for (int j = 0; j < {trips}; ++j) {{",
        f"        const int e = threadIdx.x + j * {t.threads};",
        *(f"    {line}" for line in guard),
        f"        {place}",
        f"        const int m = m0 + p * {band} + row, n = n0 + col;",
        f"        if (m >= {geo.gemm_m} || n >= {geo.cout}) continue;",
        *(f"        {line}" for line in split),
        *(f"        {line}" for line in inner),
        "    }",
        "    __syncthreads();",
        "}",
    ]


def _body(geo: ConvGeometry, t: Tile, epilogue: Epilogue) -> list[str]:
    it = _index_type(geo)
    bm, bn, bk, stages = t.block_m, t.block_n, t.block_k, t.stages
    mi_count, ni_count = bm // t.warps_m // 16, bn // t.warps_n // 8
    tiles_n = tiles(t, geo)[1]
    kt = -(-geo.gemm_k // bk)
    x, w = f"in{geo.input_arg}", f"in{geo.weight_arg}"
    a_vec, b_vec = vector_a(geo), vector_b(geo)
    b_copy = cuda_mma.TileCopy("Bs", w, bn, bk, "n0", geo.cout, "k0", geo.gemm_k, geo.gemm_k, it)
    assert b_copy.vectorisable == b_vec
    staged = not (a_vec and b_vec)

    def stage_ptrs(stage: str, a: bool, b: bool) -> list[str]:
        """Pointers to ring slot `stage`'s A and/or B tile."""
        return [
            *([f"unsigned short* As = smem + ({stage}) * {t.a_stage};"] if a else []),
            *([f"unsigned short* Bs = smem + {stages * t.a_stage} + ({stage}) * {t.b_stage};"] if b else []),
        ]

    def load_async(stage: str, k0: str) -> list[str]:
        """cp.async copies of the vector operands of K tile `k0` into ring slot `stage`."""
        body = [*(_a_vector(geo, t, x) if a_vec else []), *(b_copy.code(t.threads, True) if b_vec else [])]
        if not body:
            return []
        ptrs = stage_ptrs(stage, a_vec, b_vec)
        return ["{", f"    const int k0 = {k0};", *(f"    {s}" for s in ptrs), *(f"    {s}" for s in body), "}"]

    def load_regs(k0: str) -> list[str]:
        """Register loads of the element operands of K tile `k0`."""
        body = [*([] if a_vec else _a_element_load(geo, t, x, it)), *([] if b_vec else _b_element_load(geo, t, w, it))]
        if not body:
            return []
        return ["{", f"    const int k0 = {k0};", *(f"    {s}" for s in body), "}"]

    def store_regs(stage: str) -> list[str]:
        body = [*([] if a_vec else _element_store(t, "ra", "As", bm)), *([] if b_vec else _element_store(t, "rb", "Bs", bn))]
        if not body:
            return []
        return ["{", *(f"    {s}" for s in stage_ptrs(stage, not a_vec, not b_vec)), *(f"    {s}" for s in body), "}"]

    setup = _a_rows(geo, t, it) if a_vec else _a_table(geo, t)
    regs = []
    if staged:
        regs.append(f"const int ek = threadIdx.x % {bk}, er = threadIdx.x / {bk};")
    if not a_vec:
        regs.append(f"unsigned short ra[{_element_trips(t, bm)}];")
    if not b_vec:
        regs.append(f"unsigned short rb[{_element_trips(t, bn)}];")
    nxt, nxt_stage = f"(kt + {stages - 1}) * {bk}", f"(kt + {stages - 1}) % {stages}"
    mma = cuda_mma.mma_function(ELEMENTS[geo.ctype.storage])
    return [
        "extern __shared__ __align__(16) unsigned short smem[];",
        "const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;",
        f"const int wm = (warp / {t.warps_n}) * {bm // t.warps_m}, wn = (warp % {t.warps_n}) * {bn // t.warps_n};",
        f"const int m0 = (int)(blockIdx.x / {tiles_n}) * {bm}, n0 = (int)(blockIdx.x % {tiles_n}) * {bn};",
        *regs,
        *setup,
        f"float c[{mi_count}][{ni_count}][4];",
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni)",
        "        #pragma unroll",
        "        for (int q = 0; q < 4; ++q) c[mi][ni][q] = 0.0f;",
        "// prologue: the first stages - 1 K tiles in flight",
        "#pragma unroll",
        f"for (int s = 0; s < {stages - 1}; ++s) {{",
        f"    if (s < {kt}) {{",
        *(f"        {line}" for line in load_async("s", f"s * {bk}")),
        *(f"        {line}" for line in load_regs(f"s * {bk}")),
        *(f"        {line}" for line in store_regs("s")),
        "    }",
        "    optc_cp_async_commit();",
        "}",
        f"for (int kt = 0; kt < {kt}; ++kt) {{",
        f"    OPTC_CP_ASYNC_WAIT({stages - 2});  // K tile kt has landed (this thread's copies)",
        "    __syncthreads();  // ... everyone's; and everyone is done with tile kt - 1",
        f"    if (kt + {stages - 1} < {kt}) {{",
        *(f"        {line}" for line in load_async(nxt_stage, nxt)),
        *(f"        {line}" for line in load_regs(nxt)),
        "    }",
        "    optc_cp_async_commit();",
        f"    const unsigned short* As = smem + (kt % {stages}) * {t.a_stage};",
        f"    const unsigned short* Bs = smem + {stages * t.a_stage} + (kt % {stages}) * {t.b_stage};",
        "    #pragma unroll",
        f"    for (int kk = 0; kk < {bk}; kk += 16) {{",
        f"        unsigned a[{mi_count}][4], b[{ni_count}][2];",
        *(f"        {line}" for line in cuda_mma.a_fragments("As", True, t.row, mi_count, "wm", "kk")),
        *(f"        {line}" for line in cuda_mma.b_fragments("Bs", False, t.row, ni_count, "wn", "kk")),
        "        #pragma unroll",
        f"        for (int mi = 0; mi < {mi_count}; ++mi)",
        "            #pragma unroll",
        f"            for (int ni = 0; ni < {ni_count}; ++ni) {mma}(c[mi][ni], a[mi], b[ni]);",
        "    }",
        *(
            [f"    if (kt + {stages - 1} < {kt}) {{  // the staged registers into the slot read at kt - 1", *(f"        {line}" for line in store_regs(nxt_stage)), "    }"]
            if staged
            else []
        ),
        "}",
        *_epilogue(geo, t, epilogue, mi_count, ni_count),
    ]

