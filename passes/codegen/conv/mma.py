"""Implicit-GEMM convolution on tensor cores: f16/bf16, channels last, one group, input
channels a multiple of 8; `mma.sync` m16n8k16 with fp32 accumulation.

The GEMM is the one `conv/gemm.py` describes: C[M, N] = A[M, K] · B[K, N] with
M = batch · output pixels, N = output channels, K = kernel taps · input channels, k = (tap,
c) with c fastest. B is the OHWI weight read as [N, K] row-major (the "n-major" B operand
of `mma`, fragments by plain `ldmatrix`). A is never materialised: row m of an A tile
is output pixel m's receptive field, and because C_in % 8 == 0 and the tile's k0 is a
multiple of 8, every 8 consecutive k of a row are 8 consecutive channels of ONE input pixel
(one tap): one 16-byte `cp.async`, zero-filled (src-size 0) where the tap falls into the
padding, past the image, past M or past K. So the K loop walks (kh, kw, c-chunk) in the
weight's memory order, `block_k` elements at a time, whatever C_in is (a tile may span
taps when C_in < block_k: each 16-byte chunk finds its own tap).

Shared memory: a ring of `stages` (A, B) tile pairs of 16-bit elements, rows padded by
`mma.PAD` (conflict-free `ldmatrix`); `stages - 1` tiles are in flight while the
warps multiply the current one, as in `matmul/matmul.py`. Each warp owns a (block_m / warps_m)
× (block_n / warps_n) sub-tile. The epilogue runs per element in fp32 on the accumulator
and rounds once at the store (`Epilogue.lines`, the family's shared printer).

Which convolutions take this kernel (`why_not` says why one does not): f16 or bf16,
NHWC (after graph-to-nhwc), group 1, C_in % 8 == 0. Everything else keeps its exact,
general kernel: the SIMT implicit GEMM (e.g. the RGB stem with C_in = 3, NCHW, grouped
convs) or the depthwise direct kernel. That is a dispatch rule, not an approximation: the
SIMT kernel computes the same fp32-accumulated result.

Tactic `mma`; tile parameters (`#kernel.launch` tile): block_m, block_n, block_k, warps_m,
warps_n, stages. Valid when block_m is a multiple of 16·warps_m, block_n of 16·warps_n,
block_k of 16, 2 ≤ stages ≤ 4 and 32..1024 threads; `check_tile` says which rule a
combination breaks and emit refuses it by name. The ring must fit the target's opt-in
shared memory (`fits`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common import mma
from passes.codegen.common.types import kernel_signature, pointer_params
from passes.codegen.conv.geometry import ConvGeometry, Epilogue, kernel_error, tile_launch_problem, unravel, used_only
from passes.codegen.target import Target

TILE_KEYS = ("block_m", "block_n", "block_k", "warps_m", "warps_n", "stages")
ELEMENTS = {"optc_half": "f16", "optc_bf16": "bf16"}


@dataclass(frozen=True)
class Tile:
    block_m: int
    block_n: int
    block_k: int
    warps_m: int
    warps_n: int
    stages: int
    element_bytes: int = 2
    """1 for 8-bit integers: block_k counts bytes, the tiles hold byte pairs."""

    @property
    def threads(self) -> int:
        return 32 * self.warps_m * self.warps_n

    @property
    def row(self) -> int:
        """16-bit elements from one shared tile row to the next (both tiles are k-fast)."""
        return self.block_k * self.element_bytes // 2 + mma.PAD

    @property
    def chunk(self) -> int:
        """Elements of one 16-byte copy."""
        return 16 // self.element_bytes

    @property
    def a_stage(self) -> int:
        return self.block_m * self.row

    @property
    def b_stage(self) -> int:
        return self.block_n * self.row

    @property
    def shared_bytes(self) -> int:
        return 2 * self.stages * (self.a_stage + self.b_stage)

    @property
    def registers(self) -> int:
        """32-bit registers a thread needs at least: its warp's fp32 accumulators and one
        k-slice's A and B fragments."""
        mi, ni = self.block_m // self.warps_m // 16, self.block_n // self.warps_n // 8
        return mi * ni * 4 + mi * 4 + ni * 2

    def launch(self, geo: ConvGeometry) -> LaunchAttr:
        tile = {k: getattr(self, k) for k in TILE_KEYS}
        return LaunchAttr("mma", [blocks(self, geo)], [self.threads], self.shared_bytes, tile)


CANDIDATES = (
    Tile(128, 128, 32, 2, 4, 3),
    Tile(128, 64, 32, 2, 2, 3),
    Tile(64, 128, 32, 2, 2, 3),
    Tile(64, 64, 32, 2, 2, 3),
    Tile(128, 32, 32, 4, 1, 3),
    Tile(32, 64, 32, 1, 2, 4),
    Tile(64, 32, 32, 2, 1, 4),
    Tile(32, 32, 32, 1, 2, 4),
)
"""Tiles `configure` picks from, largest first, and the tactic's candidates (all valid; only
the first needs more than 48 KiB of shared memory: 60 KiB). The 32-wide ones serve narrow
C_out (MobileNetV2's projections to 24 or 32 channels) without empty columns."""
INT8_CANDIDATES = tuple(replace(t, block_k=2 * t.block_k, element_bytes=1) for t in CANDIDATES)
"""The 8-bit tiles: CANDIDATES with block_k in bytes, twice as deep (the same shared memory)."""


def _table(geo: ConvGeometry) -> tuple[Tile, ...]:
    return INT8_CANDIDATES if geo.integer else CANDIDATES


def why_not(geo: ConvGeometry) -> str | None:
    """Why the tensor-core kernel does not apply to `geo` (None when it does)."""
    if geo.integer:
        return _int8_why_not(geo)
    if geo.ctype.storage not in ELEMENTS:
        return f"element type {geo.ctype.storage} (tensor cores take f16 and bf16)"
    if not geo.channels_last:
        return "layout NCHW (16-byte channel loads need NHWC)"
    if not geo.input_channels_last:
        return "input_layout NCHW (16-byte channel loads need NHWC)"
    if geo.group != 1:
        return f"group {geo.group} (grouped and depthwise convs keep their kernels)"
    if geo.cin % 8:
        return f"C_in = {geo.cin} is not a multiple of 8 (16-byte channel loads)"
    return None


def _int8_why_not(geo: ConvGeometry) -> str | None:
    """Why the 8-bit tensor-core conv does not apply (None when it does): the 16-bit
    kernel's rules on byte pairs, a 16-byte chunk being 16 channels."""
    if not geo.channels_last or not geo.input_channels_last:
        return "8-bit layout NCHW (16-byte channel loads need NHWC)"
    if geo.group != 1:
        return f"group {geo.group} (grouped and depthwise 8-bit convs take the SIMT implicit GEMM)"
    if geo.cin % 16:
        return f"C_in = {geo.cin} is not a multiple of 16 (16-byte loads of 8-bit channels)"
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
    step = 32 if tile.element_bytes == 1 else 16
    if tile.block_k % step:
        return f"block_k {tile.block_k} must be a multiple of {step}{' (bytes: the k32 of one 8-bit mma)' if step == 32 else ''}"
    if not 2 <= tile.stages <= 4:
        return f"stages {tile.stages} (2..4 allowed)"
    if not 32 <= tile.threads <= 1024:
        return f"the tile needs {tile.threads} threads (32 to 1024 are valid)"
    if blocks(tile, geo) >= 2**31:
        return "too many blocks for one grid dimension"
    return None


def fits(tile: Tile, geo: ConvGeometry, target: Target) -> str | None:
    """Why a valid tile cannot run on `target`: its ring's shared memory or registers."""
    if tile.shared_bytes > target.shared_per_block_optin:
        return f"the ring needs {tile.shared_bytes} bytes of shared memory, {target.name} ({target.arch}) allows {target.shared_per_block_optin}"
    if tile.threads * tile.registers > target.registers_per_sm:
        return f"{tile.threads} threads of at least {tile.registers} registers exceed {target.name}'s {target.registers_per_sm} per SM"
    return None


def choose_tile(geo: ConvGeometry, target: Target) -> Tile:
    """The largest tile that gives every SM a block without leaving half its columns empty;
    when none does (small M·N: ResNet-50's last stages at batch 1), the one giving the most
    blocks, larger on ties. Only tiles the target has room for are considered."""
    fitting = [t for t in _table(geo) if (t.block_n <= 32 or geo.cout > t.block_n // 2) and fits(t, geo, target) is None]
    if not fitting:
        raise OptcError(f"no tensor-core conv tile fits {target.name} ({target.arch})")
    for tile in fitting:
        if blocks(tile, geo) >= target.sm_count:
            return tile
    return max(fitting, key=lambda t: (blocks(t, geo), t.block_m * t.block_n))


def configure(geo: ConvGeometry, target: Target) -> LaunchAttr:
    return choose_tile(geo, target).launch(geo)


def candidates(geo: ConvGeometry) -> list[LaunchAttr]:
    return [tile.launch(geo) for tile in _table(geo)]


def tile_of(launch: LaunchAttr, geo: ConvGeometry) -> Tile:
    """The tile a launch names for `geo` (`launch_problem` says first whether it names one)."""
    return Tile(*(launch.tile_params[k] for k in TILE_KEYS), element_bytes=1 if geo.integer else 2)


def launch_problem(launch: LaunchAttr, geo: ConvGeometry) -> str | None:
    """Why the tensor-core conv cannot take `launch` for `geo` (None when it can)."""
    why = why_not(geo)
    if why is not None:
        return f"the tensor-core conv does not apply: {why}"
    return tile_launch_problem(launch, geo, TILE_KEYS, lambda la: tile_of(la, geo), check_tile, Tile.launch, "tensor-core conv")


# --- the kernel ---------------------------------------------------------------------------


def emit(kernel: FuncOp, launch: LaunchAttr, geo: ConvGeometry, epilogue: Epilogue) -> str:
    why = launch_problem(launch, geo)
    if why is not None:
        raise kernel_error(kernel, why)
    tile = tile_of(launch, geo)
    body = _body(geo, tile, epilogue)
    signature = kernel_signature(kernel.sym_name.data, pointer_params(kernel), tile.threads)
    helpers = mma.HELPERS + mma.INT8_HELPERS if geo.integer else mma.HELPERS
    return "\n".join([helpers, signature, "{", *(f"    {line}" for line in body), "}", ""])


def _index_type(geo: ConvGeometry) -> str:
    biggest = max(geo.batch * geo.in_pixels * geo.cin, geo.cout * geo.gemm_k, geo.gemm_m * geo.cout)
    return "int" if biggest < 2**31 else "long long"


def _a_rows(geo: ConvGeometry, t: Tile, it: str) -> list[str]:
    """Per A chunk slot j of this thread (fixed across K steps): the image's base offset
    `a_base[j]`, the window's first input position `a_pos[j][d]` and whether the row is a
    real output pixel `a_ok[j]`."""
    per_row = t.block_k // t.chunk
    total = t.block_m * per_row
    trips = -(-total // t.threads)
    spatial = len(geo.kernel)
    lines = [
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
    return lines


def _a_copy(geo: ConvGeometry, t: Tile, x: str) -> list[str]:
    """The A tile's 16-byte copies for K offset `k0` into `As`: chunk (r, cc) is channels
    c..c+7 (8-bit: c..c+15) of the input pixel row r reads at tap k / C_in."""
    per_row = t.block_k // t.chunk
    total = t.block_m * per_row
    trips = -(-total // t.threads)
    spatial = len(geo.kernel)
    taps = [f"kt{d}" for d in range(spatial)]
    conds = ["a_ok[j]", f"k < {geo.gemm_k}"]
    flat = ""
    for d in range(spatial):
        conds.append(f"(unsigned)x{d} < {geo.in_size[d]}u")
        flat = f"x{d}" if d == 0 else f"({flat}) * {geo.in_size[d]} + x{d}"
    guard = "" if total % t.threads == 0 else f"    if (threadIdx.x + j * {t.threads} >= {total}) break;"
    return [
        "#pragma unroll",
        f"for (int j = 0; j < {trips}; ++j) {{",
        *([guard] if guard else []),
        f"    const int e = threadIdx.x + j * {t.threads};",
        f"    const int r = e / {per_row}, cc = (e % {per_row}) * {t.chunk};",
        "    const int k = k0 + cc;",
        f"    const int tap = k / {geo.cin}, ch = k % {geo.cin};",
        *(f"    {line}" for line in unravel("tap", list(geo.kernel), taps)),
        *(f"    const int x{d} = a_pos[j][{d}] + kt{d} * {geo.dilations[d]};" for d in range(spatial)),
        f"    const bool ok = {' && '.join(conds)};",
        f"    optc_cp_async16(As + r * {t.row} + {'cc' if t.element_bytes == 2 else 'cc / 2'}, ok ? {x} + a_base[j] + ({flat}) * {geo.cin} + ch : {x}, ok ? 16 : 0);",
        "}",
    ]


def _epilogue(geo: ConvGeometry, t: Tile, epilogue: Epilogue, mi_count: int, ni_count: int) -> list[str]:
    """Every accumulator through the epilogue: per fragment row (mi, half) the output pixel
    is split once, then each of its columns is stored."""
    spatial = len(geo.out_size)
    pixel = [f"qo{d}" for d in range(spatial)]
    pixel_flat = "m" if geo.batch == 1 else f"(m - qn * {geo.out_pixels})"
    indices = geo.output_indices("qn", pixel, "n")
    flat = geo.output_offset("m", "qn", pixel_flat, "n")
    inner = [
        "#pragma unroll",
        f"for (int ni = 0; ni < {ni_count}; ++ni) {{",
        "    #pragma unroll",
        "    for (int q = 0; q < 2; ++q) {",
        "        const int n = n0 + wn + ni * 8 + (lane & 3) * 2 + q;",
        f"        if (n >= {geo.cout}) continue;",
        f"        const {geo.acc} acc = c[mi][ni][h * 2 + q];",
        *(f"        {line}" for line in epilogue.lines(geo, indices, f"({flat})")),
        "    }",
        "}",
    ]
    split = used_only(unravel("m", [geo.batch, *geo.out_size], ["qn", *pixel]), inner)
    return [
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi) {{",
        "    #pragma unroll",
        "    for (int h = 0; h < 2; ++h) {",
        "        const int m = m0 + wm + mi * 16 + (lane >> 2) + h * 8;",
        f"        if (m >= {geo.gemm_m}) continue;",
        *(f"        {line}" for line in split),
        *(f"        {line}" for line in inner),
        "    }",
        "}",
    ]


def _body(geo: ConvGeometry, t: Tile, epilogue: Epilogue) -> list[str]:
    it = _index_type(geo)
    bm, bn, bk, stages = t.block_m, t.block_n, t.block_k, t.stages
    mi_count, ni_count = bm // t.warps_m // 16, bn // t.warps_n // 8
    tiles_n = tiles(t, geo)[1]
    kt = -(-geo.gemm_k // bk)
    x, w = f"in{geo.input_arg}", f"in{geo.weight_arg}"
    if t.element_bytes == 2:
        b_copy = mma.TileCopy("Bs", w, bn, bk, "n0", geo.cout, "k0", geo.gemm_k, geo.gemm_k, it)
    else:  # byte pairs
        pairs = geo.gemm_k // 2
        b_copy = mma.TileCopy("Bs", f"((const unsigned short*){w})", bn, bk // 2, "n0", geo.cout, "k0 / 2", pairs, pairs, it)
    assert b_copy.vectorisable  # C_in % 8 == 0 (8-bit: % 16) makes K a multiple of 8 (of 16)

    def load_stage(stage: str, k0: str) -> list[str]:
        return [
            "{",
            f"    const int k0 = {k0};",
            f"    unsigned short* As = smem + ({stage}) * {t.a_stage};",
            f"    unsigned short* Bs = smem + {stages * t.a_stage} + ({stage}) * {t.b_stage};",
            *(f"    {line}" for line in _a_copy(geo, t, x)),
            *(f"    {line}" for line in b_copy.code(t.threads, True)),
            "}",
        ]

    if geo.integer:
        mma_fn, zero = mma.int8_mma_function(geo.ctype.storage, geo.weight.storage), "0"
    else:
        mma_fn, zero = mma.mma_function(ELEMENTS[geo.ctype.storage]), "0.0f"
    slice_end = bk * t.element_bytes // 2  # the k-slices' 16-bit columns
    return [
        "extern __shared__ __align__(16) unsigned short smem[];",
        "const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;",
        f"const int wm = (warp / {t.warps_n}) * {bm // t.warps_m}, wn = (warp % {t.warps_n}) * {bn // t.warps_n};",
        f"const int m0 = (int)(blockIdx.x / {tiles_n}) * {bm}, n0 = (int)(blockIdx.x % {tiles_n}) * {bn};",
        *_a_rows(geo, t, it),
        f"{geo.acc} c[{mi_count}][{ni_count}][4];",
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni)",
        "        #pragma unroll",
        f"        for (int q = 0; q < 4; ++q) c[mi][ni][q] = {zero};",
        "// prologue: the first stages - 1 K tiles in flight",
        "#pragma unroll",
        f"for (int s = 0; s < {stages - 1}; ++s) {{",
        f"    if (s < {kt}) {{",
        *(f"        {line}" for line in load_stage("s", f"s * {bk}")),
        "    }",
        "    optc_cp_async_commit();",
        "}",
        f"for (int kt = 0; kt < {kt}; ++kt) {{",
        f"    OPTC_CP_ASYNC_WAIT({stages - 2});  // K tile kt has landed (this thread's copies)",
        "    __syncthreads();  // ... everyone's; and everyone is done with tile kt - 1",
        f"    if (kt + {stages - 1} < {kt}) {{",
        *(f"        {line}" for line in load_stage(f"(kt + {stages - 1}) % {stages}", f"(kt + {stages - 1}) * {bk}")),
        "    }",
        "    optc_cp_async_commit();",
        f"    const unsigned short* As = smem + (kt % {stages}) * {t.a_stage};",
        f"    const unsigned short* Bs = smem + {stages * t.a_stage} + (kt % {stages}) * {t.b_stage};",
        "    #pragma unroll",
        f"    for (int kk = 0; kk < {slice_end}; kk += 16) {{",
        f"        unsigned a[{mi_count}][4], b[{ni_count}][2];",
        *(f"        {line}" for line in mma.a_fragments("As", True, t.row, mi_count, "wm", "kk")),
        *(f"        {line}" for line in mma.b_fragments("Bs", False, t.row, ni_count, "wn", "kk")),
        "        #pragma unroll",
        f"        for (int mi = 0; mi < {mi_count}; ++mi)",
        "            #pragma unroll",
        f"            for (int ni = 0; ni < {ni_count}; ++ni) {mma_fn}(c[mi][ni], a[mi], b[ni]);",
        "    }",
        "}",
        "OPTC_CP_ASYNC_WAIT(0);",
        *_epilogue(geo, t, epilogue, mi_count, ni_count),
    ]
