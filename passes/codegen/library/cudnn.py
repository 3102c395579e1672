"""The cuDNN tactic (`cudnn`) of convolutions and attention: which kernels cuDNN can run, the
graph it is asked to build (`cudnn_call`), and the epilogue kernel that finishes a conv
whose fused region cuDNN cannot express.

Convolution (`fused.conv`, `graph.conv`): a channels-last (NHWC) 2-D conv of f16, bf16 or
f32, group 1, undilated, padded the same before and after, reading its input in its own
layout. Its epilogue splits all or nothing (DESIGN.md, "Tactics and tuning"):
- where the region is a chain cuDNN's pointwise nodes compute exactly (`epilogue_nodes`:
  bias over the channels, a residual of the output's shape, relu, sigmoid, tanh, gelu in
  either form, silu as swish; each on the one value before it, no casts), cuDNN runs the
  conv and the chain as one graph and writes the kernel's result (`direct`): no kernel of
  optc's runs;
- otherwise cuDNN computes the conv alone into the start of the kernel's workspace, in
  the element type (what the region's first argument is: the accumulator rounded once),
  and the epilogue kernel (`emit_epilogue`) runs the whole region on it with the printer
  every optc conv kernel uses (`conv.geometry.Epilogue`). Splitting the chain between the
  two would save nothing: the epilogue kernel reads and writes every element anyway.

Attention (`fused.attention`): cuDNN's flash attention (SDPA) for f16/bf16 with head dims
that are multiples of 8 up to 128, causal or not (bottom-right aligned, as optc's), with
the scale, writing bhsd or bshd, with an additive mask of the operands' type that varies
over both sequence axes (it may broadcast over batch and heads). cuDNN writes the result.

The tactic (`#kernel.launch<tactic = cudnn, grid = [blocks], block = [256], shared = 0,
tile = {plan = i}>`): the i-th of the execution plans cuDNN's heuristic lists for this
graph on the GPU the engine is built for that build there, i < PLANS; grid and block are
the epilogue kernel's. As for cuBLASLt, the plan's name is resolved where the tuner runs
(`library_call`), never by the heuristic that configures kernels, and candidates are
offered only where cudnn-frontend loads cuDNN 9 (`unavailable`).
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type
from xdsl.ir import BlockArgument, SSAValue

from dialects import fused, graph
from dialects.errors import OptcError
from dialects.graph.base import ints
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.attention.problem import problem_of
from passes.codegen.common.types import kernel_signature, pointer_params
from passes.codegen.conv.geometry import ConvGeometry, Epilogue, geometry
from passes.codegen.generator import Generator
from passes.codegen.library import base
from passes.codegen.target import Target
from runtime.library import LibraryUnavailable
from runtime.library import cudnn as runtime_cudnn
from runtime.library.cudnn import ConvFprop, Sdpa

TACTIC = "cudnn"
TITLE = "cuDNN"
KEY = "plan"
PLANS = 4
"""Candidates per kernel: `plan = 0 .. PLANS - 1`, the first plans of cuDNN's heuristic
list that build on this GPU (best first by its own estimate)."""
WORKSPACE_CAP = 16 << 20
"""Bytes of workspace a cuDNN plan may use: enough for its implicit-GEMM and flash-attention
engines, small beside a CNN's arena (plans needing more are not offered)."""
MAX_HEAD_DIM = 128
"""The largest head dimension optc offers cuDNN's flash attention (cuDNN 9 takes 128 on
every architecture it runs on; more only on some)."""

_DTYPES = {Float16Type: "float16", BFloat16Type: "bfloat16", Float32Type: "float32"}
_ACTIVATIONS = {graph.ReluOp: "relu", graph.SigmoidOp: "sigmoid", graph.TanhOp: "tanh", graph.SiluOp: "swish"}
"""optc's activation ops whose cuDNN pointwise modes compute the same function (graph.gelu
is mapped by its `approximate`)."""


# --- whether cuDNN is here --------------------------------------------------------------------


_load = base.availability(lambda: runtime_cudnn.library_version(), LibraryUnavailable)


def unavailable() -> str | None:
    """Why cuDNN tactics cannot run in this process (cudnn-frontend is not installed, or
    finds no cuDNN 9), or None when they can. Asked once."""
    return _load()


# --- convolutions -------------------------------------------------------------------------------


def _refuse(kernel: FuncOp, why: str) -> OptcError:
    return OptcError(f"@{kernel.sym_name.data}: {why}")


def _dtype(kernel: FuncOp, element, what: str, allowed=("float16", "bfloat16", "float32")) -> str:
    name = _DTYPES.get(type(element))
    if name not in allowed:
        kinds = {"float16": "f16", "bfloat16": "bf16", "float32": "f32"}
        raise _refuse(kernel, f"cuDNN takes {', '.join(kinds[a] for a in allowed)} {what}, got {element}")
    return name


def _arg_index(kernel: FuncOp, value: SSAValue, what: str) -> int:
    """The kernel parameter a value the call reads comes from."""
    if not isinstance(value, BlockArgument) or value.owner is not kernel.body.block:
        raise _refuse(kernel, f"cuDNN reads its operands from the kernel's arguments; {what} is computed inside it")
    return value.index


def _conv_geometry(kernel: FuncOp) -> ConvGeometry:
    """The conv's geometry, refused by name where cuDNN's tactic does not take it."""
    op = kernel.computation
    geo = geometry(kernel)
    if not geo.channels_last:
        raise _refuse(kernel, "cuDNN's tactic runs channels-last (NHWC) convs; this one is NCHW (optc's own kernels run it)")
    if geo.input_layout != geo.layout:
        raise _refuse(kernel, f"this conv reads its input in {geo.input_layout} and writes {geo.layout}; cuDNN's tactic reads the input in the conv's own layout")
    if geo.group != 1:
        kind = "depthwise" if geo.group == geo.cin else "grouped"
        raise _refuse(kernel, f"a {kind} conv (group {geo.group}, {geo.cin} input channels): cuDNN's tactic runs group-1 convs")
    if len(geo.kernel) != 2:
        raise _refuse(kernel, f"a {len(geo.kernel)}-D conv: cuDNN's tactic runs 2-D convs")
    if any(d != 1 for d in geo.dilations):
        raise _refuse(kernel, f"a dilated conv (dilations {list(geo.dilations)}): cuDNN's tactic runs undilated convs")
    pads = ints(op.pads)
    if pads[:2] != pads[2:]:
        raise _refuse(kernel, f"asymmetric padding (pads {list(pads)}, begins then ends): cuDNN's fused conv graph pads the same before and after")
    return geo


def _is_channel_vector(t, cout: int) -> bool:
    """A bias over the output channels: [C], or [1, ..., 1, C] (channels last)."""
    shape = list(t.get_shape())
    return bool(shape) and shape[-1] == cout and all(d == 1 for d in shape[:-1])


def _fused_nodes(kernel: FuncOp, op: fused.ConvOp, cout: int) -> tuple[tuple[str, ...], list[int]] | None:
    """cuDNN's pointwise nodes for the region of a fused.conv and the kernel parameters they
    read, or None when the region is not such a chain (see the module's docstring)."""
    block = op.epilogue.block
    acc = block.args[0]
    value: SSAValue = acc
    nodes: list[str] = []
    operands: list[int] = []
    *body, last = list(block.ops)
    for inner in body:
        if len(list(value.uses)) != 1 or inner.results[0].type != acc.type:
            return None
        if type(inner) in _ACTIVATIONS and inner.operands[0] == value:
            nodes.append(_ACTIVATIONS[type(inner)])
        elif isinstance(inner, graph.GeluOp) and inner.operands[0] == value:
            nodes.append("gelu" if inner.approximate.data == "none" else "gelu_tanh")
        elif isinstance(inner, graph.AddOp) and value in inner.operands and inner.operands[0] != inner.operands[1]:
            other = inner.operands[1] if inner.operands[0] == value else inner.operands[0]
            if not isinstance(other, BlockArgument) or other.owner is not block or other.type.element_type != acc.type.element_type:
                return None
            if other.type == acc.type:
                nodes.append("add")
            elif _is_channel_vector(other.type, cout):
                nodes.append("bias")
            else:
                return None
            outer = op.extras[other.index - 1]
            if not isinstance(outer, BlockArgument) or outer.owner is not kernel.body.block:
                return None
            operands.append(outer.index)
        else:
            return None
        value = inner.results[0]
    if not isinstance(last, fused.YieldOp) or list(last.operands) != [value] or len(list(value.uses)) != 1:
        return None
    returned = list(kernel.body.block.last_op.operands)
    if returned != [op.outputs[0]]:
        return None
    return tuple(nodes), operands


def epilogue_nodes(kernel: FuncOp) -> tuple[tuple[str, ...], list[int]] | None:
    """The pointwise nodes cuDNN computes after the conv and the kernel parameters they read
    (bias, residual) when cuDNN can compute the whole kernel (`direct`); None when the
    epilogue kernel runs the region."""
    op = kernel.computation
    geo = _conv_geometry(kernel)
    if isinstance(op, fused.ConvOp):
        return _fused_nodes(kernel, op, geo.cout)
    returned = list(kernel.body.block.last_op.operands)
    if returned != [op.result]:
        return None
    if op.bias is None:
        return (), []
    if not _is_channel_vector(op.bias.type, geo.cout) or op.bias.type.element_type != op.input.type.element_type:
        return None
    return ("bias",), [_arg_index(kernel, op.bias, "the bias")]


def _conv_call(kernel: FuncOp) -> ConvFprop:
    op = kernel.computation
    geo = _conv_geometry(kernel)
    dtype = _dtype(kernel, op.input.type.element_type, "convs")
    acc = op.accumulator_type() if isinstance(op, fused.ConvOp) else op.result.type
    if acc.element_type != op.input.type.element_type:
        raise _refuse(kernel, f"the conv's accumulator is {acc.element_type}, its input {op.input.type.element_type}: cuDNN writes the conv in the input's type")
    split = epilogue_nodes(kernel)
    return ConvFprop(
        dtype=dtype, batch=geo.batch, cin=geo.cin, cout=geo.cout, in_size=geo.in_size, kernel=geo.kernel,
        out_size=geo.out_size, strides=geo.strides, pads=geo.pads, epilogue=split[0] if split else (),
    )


# --- attention ----------------------------------------------------------------------------------


def _sdpa_call(kernel: FuncOp) -> Sdpa:
    op = kernel.computation
    p = problem_of(kernel)
    dtype = _dtype(kernel, op.q.type.element_type, "attention", ("float16", "bfloat16"))
    if p.d % 8 or p.d_v % 8 or max(p.d, p.d_v) > MAX_HEAD_DIM:
        raise _refuse(kernel, f"head dims {p.d} (q, k) and {p.d_v} (v): cuDNN's flash attention takes multiples of 8 up to {MAX_HEAD_DIM}")
    if p.causal and p.s_q > p.s_k:
        raise _refuse(kernel, f"a causal attention with more queries ({p.s_q}) than keys ({p.s_k}): its first rows see no key")
    bias: tuple[int, ...] = ()
    if op.mask is not None:
        mask = p.mask
        if mask.boolean:
            raise _refuse(kernel, "an i1 mask: cuDNN's SDPA adds a bias, it takes no boolean mask")
        if op.mask.type.element_type != op.q.type.element_type:
            raise _refuse(kernel, f"a {op.mask.type.element_type} mask on {op.q.type.element_type} attention: cuDNN's SDPA bias has the operands' type")
        if 0 in mask.strides[2:]:
            raise _refuse(kernel, f"mask {op.mask.type} broadcasts over a sequence axis: cuDNN's SDPA bias varies over both (it may broadcast over batch and heads)")
        if p.causal and p.s_q != p.s_k:
            raise _refuse(kernel, f"a mask with a bottom-right causal diagonal (seq_q {p.s_q} != seq_k {p.s_k}): cuDNN's SDPA takes no bias with it")
        bias = (p.batch if mask.strides[0] else 1, p.heads if mask.strides[1] else 1, p.s_q, p.s_k)
    return Sdpa(dtype=dtype, batch=p.batch, heads=p.heads, s_q=p.s_q, s_k=p.s_k, d=p.d, d_v=p.d_v,
                scale=p.scale, causal=p.causal, layout=p.layout, bias=bias)  # fmt: skip


# --- what cuDNN computes --------------------------------------------------------------------------


def cudnn_call(kernel: FuncOp) -> ConvFprop | Sdpa:
    """The graph cuDNN builds for this kernel; an OptcError naming the kernel says why it
    cannot."""
    if isinstance(kernel.computation, fused.AttentionOp):
        return _sdpa_call(kernel)
    return _conv_call(kernel)


def why_not(kernel: FuncOp) -> str | None:
    """Why cuDNN cannot run this kernel, or None."""
    try:
        cudnn_call(kernel)
    except OptcError as exc:
        return str(exc)
    return None


def direct(kernel: FuncOp) -> bool:
    """Whether cuDNN writes the kernel's result itself (attention always; a conv whose region
    cuDNN computes): then no epilogue kernel runs."""
    return isinstance(kernel.computation, fused.AttentionOp) or epilogue_nodes(kernel) is not None


def operands(kernel: FuncOp) -> tuple[list[int], int | None]:
    """The kernel's parameters cuDNN reads, in the call's order, and the one it writes (its
    result, when `direct`; None: the conv goes to the workspace)."""
    op = kernel.computation
    result = len(kernel.function_type.inputs.data)
    if isinstance(op, fused.AttentionOp):
        values = [(op.q, "q"), (op.k, "k"), (op.v, "v")] + ([(op.mask, "the mask")] if op.mask is not None else [])
        return [_arg_index(kernel, v, what) for v, what in values], result
    reads = [_arg_index(kernel, op.input, "the input"), _arg_index(kernel, op.weight, "the weight")]
    split = epilogue_nodes(kernel)
    return (reads + split[1], result) if split is not None else (reads, None)


def output_elements(kernel: FuncOp) -> int:
    """Elements of what cuDNN computes (the result, or the conv's accumulator)."""
    return cudnn_call(kernel).writes()[1]


def product_bytes(kernel: FuncOp) -> int:
    """Bytes of the conv at the workspace's start (0 when cuDNN writes the result)."""
    if direct(kernel):
        return 0
    dtype, elements = cudnn_call(kernel).writes()
    return elements * (4 if dtype == "float32" else 2)


def library_offset(kernel: FuncOp) -> int:
    """Where cuDNN's workspace starts in the kernel's: after the conv, aligned."""
    return base.aligned(product_bytes(kernel))


def library_call(kernel: FuncOp, launch: LaunchAttr):
    """The LibraryCall of a kernel whose tactic is `cudnn`, its `plan = i` resolved to the
    i-th plan of cuDNN's list on this GPU (the tuner's list: the same process asks once,
    `runtime.library.cudnn.heuristic`), with cuDNN's and the frontend's versions."""
    from runtime.engine.plan import LibraryCall

    name = f"@{kernel.sym_name.data}"
    call = cudnn_call(kernel)
    reads, d = operands(kernel)
    index = launch.tile_params[KEY]
    try:
        offered = runtime_cudnn.heuristic(call, PLANS, WORKSPACE_CAP)
        version, frontend = runtime_cudnn.library_version(), runtime_cudnn.frontend_version()
    except OptcError as exc:
        raise OptcError(f"{name} runs tactic cudnn, whose plan cuDNN chooses on the GPU the engine is for: {exc}") from None
    if index >= len(offered):
        raise OptcError(f"{name}: cuDNN offers {len(offered)} plan(s) for this {call.op} on this GPU, the tactic names plan {index}")
    chosen = offered[index]
    return LibraryCall(runtime_cudnn.NAME, version, call, chosen.name, chosen.workspace, reads[0], reads[1], d, tuple(reads[2:]), frontend)


# --- the epilogue kernel ----------------------------------------------------------------------


def emit_epilogue(kernel: FuncOp) -> str:
    """The epilogue kernel of a conv cuDNN computes alone: every conv element (channels-last,
    in the element type) through the fused region, with optc's conv epilogue printer."""
    geo = geometry(kernel)
    shape = geo.out_shape
    total = math.prod(shape)
    inner = [math.prod(shape[d + 1 :]) for d in range(len(shape))]
    indices = [f"f / {inner[0]}LL", *(f"(f / {inner[d]}LL) % {shape[d]}" if inner[d] > 1 else f"f % {shape[d]}" for d in range(1, len(shape)))]
    params = [*pointer_params(kernel), f"const {geo.ctype.storage}* __restrict__ product"]
    body = [f"const {geo.acc} acc = {geo.ctype.load('product[f]')};", *Epilogue(kernel).lines(geo, indices, "f")]
    lines = base.grid_stride_loop(total, body)
    return "\n".join([kernel_signature(kernel.sym_name.data, params, base.BLOCK), "{", *(f"    {line}" for line in lines), "}", ""])


# --- the tactic contract ----------------------------------------------------------------------


def configure(kernel: FuncOp, target: Target) -> LaunchAttr:
    """Never called: the heuristic configures a kernel with its family's own tactics."""
    raise OptcError(f"@{kernel.sym_name.data}: cuDNN is a tactic the tuner may choose, not the heuristic's")


def candidates(kernel: FuncOp, target: Target) -> list[LaunchAttr]:
    """The first PLANS of cuDNN's list, where cuDNN is here and runs this kernel."""
    if unavailable() is not None or why_not(kernel) is not None:
        return []
    return [base.launch(TACTIC, KEY, index, output_elements(kernel), target.sm_count) for index in range(PLANS)]


def _launch_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    return base.launch_problem(kernel, launch, TACTIC, TITLE, KEY, PLANS, why_not)


def check(kernel: FuncOp, launch: LaunchAttr, target: Target) -> str | None:
    """Why `launch` cannot run this kernel (nothing about the target: cuDNN's heuristic
    answers for the GPU itself)."""
    return _launch_problem(kernel, launch)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The epilogue kernel's CUDA, or "" where cuDNN writes the result (no kernel of its own)."""
    why = _launch_problem(kernel, launch)
    if why is not None:
        raise OptcError(f"cuda codegen of @{kernel.sym_name.data}: {why}")
    return "" if direct(kernel) else emit_epilogue(kernel)


def workspace(kernel: FuncOp, launch: LaunchAttr) -> int:
    """The conv (0 when `direct`), then WORKSPACE_CAP bytes for cuDNN."""
    return library_offset(kernel) + WORKSPACE_CAP


GENERATOR = Generator(configure, emit, candidates, check, workspace)
