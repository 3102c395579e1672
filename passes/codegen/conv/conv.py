"""CUDA generators for the convolution family: `fused.conv` (a conv and its epilogue
region), `graph.conv` (optionally with a bias) and `graph.conv_transpose`.

Which kernel a convolution gets, by tactic (`#kernel.launch` tactic):
- `depthwise` (group = input channels): a direct kernel, threads on output elements
  (`direct.emit_depthwise`);
- `transpose` (conv_transpose): a direct gather kernel (`direct.emit_transpose`);
- `mma` (f16/bf16, NHWC, group 1, C_in % 8 == 0): implicit GEMM on tensor cores
  (`mma.py`, fp32 accumulation); 8-bit integers with C_in % 16 == 0 (s32 accumulation);
- `gemm` (every other conv, 1-D/2-D/3-D, NCHW or NHWC, any group): implicit GEMM on a
  tiled SIMT kernel with fp32 accumulation (`gemm.py`); the only kernel that reads its
  input in the other layout than it writes (fused.conv's `input_layout`: the RGB stem
  reading the model's NCHW input into NHWC).

Depthwise and transpose are what the op is, so each such conv has only that tactic; a
conv that `mma` applies to may also run `gemm` (the same fp32-accumulated result), which
an autotuner may time against it; configure picks `mma` where it applies. Candidates: the
tile tables of `gemm.py` and `mma.py`, the direct kernels' block sizes.

f16 and bf16 accumulate in float (on tensor cores where `mma.py` applies); f64 in
double. An integer contraction (`fused.conv` of i8/ui8 into i32) takes `mma` (NHWC, group 1,
C_in % 16 == 0: m16n8k32 on byte pairs) or `gemm` (everything else, depthwise included,
summing in wrapping unsigned int); its epilogue rounds each f32 op on its own, as the
reference does (bit-exact requantization). Other integer convolutions are refused by name.
"""

from __future__ import annotations

from xdsl.ir import Operation

from dialects import fused, graph
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.conv import direct, gemm, mma
from passes.codegen.conv.geometry import ConvGeometry, Epilogue, geometry, kernel_error
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.target import DEFAULT, Target

TACTICS = ("depthwise", "transpose", "gemm", "mma")


def _tactics(kernel: FuncOp, geo: ConvGeometry) -> tuple[str, ...]:
    """The tactics this conv can take, configure's first."""
    if isinstance(kernel.computation, graph.ConvTransposeOp):
        if geo.channels_last:
            raise kernel_error(kernel, "channels-last conv_transpose is not supported")
        return ("transpose",)
    if geo.integer:  # the implicit GEMMs take any group; the direct kernels sum floats only
        return ("mma", "gemm") if mma.applies(geo) else ("gemm",)
    if direct.is_depthwise(geo):
        if geo.input_layout != geo.layout:
            why = f"the depthwise kernel reads its input in its own layout {geo.layout}, got input_layout {geo.input_layout}"
            raise kernel_error(kernel, why)
        return ("depthwise",)
    return ("mma", "gemm") if mma.applies(geo) else ("gemm",)


def _tactic_problem(kernel: FuncOp, geo: ConvGeometry, tactic: str) -> str | None:
    """Why this conv cannot take `tactic` at all (None when it can)."""
    if tactic not in TACTICS:
        return unknown_tactic("conv", tactic, TACTICS)
    own = _tactics(kernel, geo)
    if tactic in own:
        return None
    if own == ("transpose",):
        return refused_tactic(tactic, "a conv_transpose takes the transpose kernel")
    if own == ("depthwise",):
        return refused_tactic(tactic, f"a depthwise conv (group {geo.group} = input channels) takes the depthwise kernel")
    if tactic == "mma":
        return refused_tactic(tactic, f"the tensor-core conv does not apply: {mma.why_not(geo)}")
    return refused_tactic(tactic, f"it is neither depthwise nor a conv_transpose (group {geo.group}, {geo.cin_g} input channels per group)")


EMITTERS = {"mma": mma.emit, "gemm": gemm.emit, "depthwise": direct.emit_depthwise, "transpose": direct.emit_transpose}
LAUNCH_PROBLEMS = {"mma": mma.launch_problem, "gemm": gemm.launch_problem, "depthwise": direct.launch_problem, "transpose": direct.launch_problem}
"""What each tactic's kernel refuses in a launch (emit's rules, whatever the target)."""
TARGET_PROBLEMS = {
    "mma": lambda launch, geo, target: mma.fits(mma.tile_of(launch, geo), geo, target),
    "gemm": lambda launch, geo, target: gemm.fits(gemm.tile_of(launch), geo, target),
}
"""What a target's limits refuse in a launch its kernel takes (the direct kernels fit any)."""


def _launch_problem(kernel: FuncOp, geo: ConvGeometry, launch: LaunchAttr) -> str | None:
    """Why emit refuses `launch` for this conv (None when it takes it)."""
    tactic = launch.tactic_name
    return _tactic_problem(kernel, geo, tactic) or LAUNCH_PROBLEMS[tactic](launch, geo)


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    geo = geometry(kernel)
    tactic = _tactics(kernel, geo)[0]
    if tactic == "mma":
        return mma.configure(geo, target)
    if tactic == "gemm":
        return gemm.configure(geo, target)
    return direct.configure(geo, tactic)


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Every tile (block size) of every tactic this conv can take."""
    geo = geometry(kernel)
    tables = {"mma": mma.candidates, "gemm": gemm.candidates}
    launches = []
    for tactic in _tactics(kernel, geo):
        launches += tables[tactic](geo) if tactic in tables else direct.candidates(geo, tactic)
    return launches


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this conv on `target` (None when it can)."""
    geo = geometry(kernel)
    why = _launch_problem(kernel, geo, launch)
    if why is not None or launch.tactic_name not in TARGET_PROBLEMS:
        return why
    return TARGET_PROBLEMS[launch.tactic_name](launch, geo, target)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    geo = geometry(kernel)
    why = _launch_problem(kernel, geo, launch)
    if why is not None:
        raise kernel_error(kernel, why)
    return EMITTERS[launch.tactic_name](kernel, launch, geo, Epilogue(kernel))


GENERATORS: dict[type[Operation], Generator] = {
    op: Generator(configure, emit, candidates, check) for op in (fused.ConvOp, graph.ConvOp, graph.ConvTransposeOp)
}
