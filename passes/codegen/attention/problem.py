"""What both attention kernels share: the problem read off a `fused.attention` kernel.func
(shapes, types, mask broadcasting) and the C pieces both print (masking, key range, output
index). `attention.py` (the generator and the SIMT kernel) and `mma.py` (the tensor-core
kernel) import it; neither imports the other back."""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.dialects.builtin import BFloat16Type, Float16Type, IntegerType
from xdsl.ir import SSAValue

from dialects.errors import OptcError
from dialects.fused import AttentionOp
from dialects.graph.base import float_of, int_of
from dialects.kernel import FuncOp
from passes.codegen.common.types import CType, ctype_of, literal

MAX_HEAD_DIM = 256
"""The largest head dimension (of q/k and of v) the kernels keep on chip."""

LOG2E = 1.4426950408889634


@dataclass(frozen=True)
class Problem:
    """The shapes and attributes of one attention kernel, read off its kernel.func."""

    name: str
    batch: int
    heads: int
    s_q: int
    s_k: int
    d: int
    d_v: int
    ctype: CType
    tensor_cores: bool
    """f16/bf16: the mma kernel can run it."""
    mma_type: str
    """"f16" or "bf16" (the PTX type of the mma operands); "" for other types."""
    scale: float
    causal: bool
    layout: str
    mask: Mask | None
    q_in: str
    k_in: str
    v_in: str
    """The kernel parameters q, k and v are read from: outlining passes a value once, so
    self-attention whose q, k and v are one tensor reads them all from `in0`."""

    @property
    def where(self) -> str:
        return f"cuda codegen of @{self.name} ('fused.attention')"


@dataclass(frozen=True)
class Mask:
    """The mask operand: its C type, whether it is boolean, its strides as seen from
    [batch, heads, s_q, s_k] (0 along broadcast axes) and the kernel parameter it is read
    from."""

    ctype: CType
    boolean: bool
    strides: tuple[int, int, int, int]
    param: str

    def base(self) -> str:
        """The offset of this block's (batch, head) plane, in elements."""
        sb, sh = self.strides[:2]
        terms = []
        if sb:
            terms.append(f"(long long)blockIdx.z * {sb}LL")
        if sh:
            terms.append(f"(long long)blockIdx.y * {sh}LL")
        return " + ".join(terms) or "0LL"

    def index(self, qi: str, kj: str) -> str:
        """The element of row `qi`, column `kj` within the plane."""
        sq, sk = self.strides[2:]
        terms = []
        if sq:
            terms.append(f"(long long)({qi}) * {sq}LL")
        if sk:
            terms.append(f"({kj})" if sk == 1 else f"(long long)({kj}) * {sk}LL")
        return " + ".join(terms) or "0"


def problem_of(kernel: FuncOp) -> Problem:
    """The attention problem of a kernel.func, or an OptcError saying why it cannot run."""
    name = kernel.sym_name.data
    op = kernel.computation
    if not isinstance(op, AttentionOp):
        raise OptcError(f"cuda codegen of @{name}: '{op.name}' is not fused.attention")
    where = f"cuda codegen of @{name} ('fused.attention')"
    batch, heads, s_q, d = op.q.type.get_shape()
    s_k, d_v = op.k.type.get_shape()[2], op.v.type.get_shape()[3]
    element = op.q.type.element_type
    for what, t in (("k", op.k.type), ("v", op.v.type)):
        if t.element_type != element:
            raise OptcError(f"{where}: {what} is {t.element_type} but q is {element}; q, k and v must share one type")
    ctype = ctype_of(element, f"@{name}")
    if not ctype.is_float:
        raise OptcError(f"{where}: element type {element} is not a float type (f64, f32, f16, bf16 are)")
    if max(d, d_v) > MAX_HEAD_DIM:
        raise OptcError(
            f"{where}: head dimension {max(d, d_v)} exceeds {MAX_HEAD_DIM}, the largest whose tiles fit on chip "
            "(split the heads, or run this attention unfused)"
        )
    if min(batch, heads, s_q, s_k, d, d_v) < 1:
        raise OptcError(f"{where}: empty tensors (q {op.q.type}, k {op.k.type}, v {op.v.type}) have no kernel")
    mma_type = {Float16Type: "f16", BFloat16Type: "bf16"}.get(type(element), "")
    params = {arg: f"in{j}" for j, arg in enumerate(kernel.body.block.args)}
    return Problem(
        name, batch, heads, s_q, s_k, d, d_v, ctype, bool(mma_type), mma_type,
        float_of(op.scale), bool(int_of(op.causal)), op.layout(), _mask_of(op, where, params),
        params[op.q], params[op.k], params[op.v],
    )  # fmt: skip


def _mask_of(op: AttentionOp, where: str, params: dict[SSAValue, str]) -> Mask | None:
    """The mask's broadcasting to [b, h, s_q, s_k] (ONNX rules: right-aligned, 1 or equal)."""
    if op.mask is None:
        return None
    t = op.mask.type
    shape = list(t.get_shape())
    full = [*op.q.type.get_shape()[:3], op.k.type.get_shape()[2]]
    while len(shape) > 4 and shape[0] == 1:
        shape.pop(0)
    shape = [1] * (4 - len(shape)) + shape
    if len(shape) != 4 or any(m not in (1, f) for m, f in zip(shape, full)):
        raise OptcError(f"{where}: mask {t} does not broadcast to [batch, heads, seq_q, seq_k] = {full}")
    boolean = isinstance(t.element_type, IntegerType) and t.element_type.width.data == 1
    ctype = ctype_of(t.element_type, f"@{op.parent_op().sym_name.data}" if op.parent_op() else "?")
    if not boolean and not ctype.is_float:
        raise OptcError(f"{where}: mask of type {t.element_type} is neither i1 nor a float type")
    dense = [math.prod(shape[k + 1 :]) for k in range(4)]
    return Mask(ctype, boolean, tuple(s if m > 1 else 0 for s, m in zip(dense, shape)), params[op.mask])


# --- pieces both kernels print ---------------------------------------------------------------


def neg_inf(p: Problem) -> str:
    return literal(float("-inf"), p.ctype)


def masked_score(p: Problem, x: str, qi: str, kj: str) -> list[str]:
    """C statements turning the scaled score `x` (row `qi`, column `kj`, both ints) into
    what the softmax sees: -inf past s_k, above the causal diagonal or where an i1 mask is
    false; plus an additive mask. Rows past s_q read the mask at row s_q - 1 (never stored)."""
    out_of_range = [f"{kj} >= {p.s_k}"]
    if p.causal:
        out_of_range.append(f"{kj} > {qi} + {p.s_k - p.s_q}")
    lines = [f"if ({' || '.join(out_of_range)}) {x} = {neg_inf(p)};"]
    if p.mask is not None:
        row = f"({qi} < {p.s_q} ? {qi} : {p.s_q - 1})"
        element = f"mask_plane[{p.mask.index(row, kj)}]"
        if p.mask.boolean:
            lines.append(f"else if (!{element}) {x} = {neg_inf(p)};")
        else:
            lines.append(f"else {x} += ({p.ctype.compute}){p.mask.ctype.load(element)};")
    return lines


def mask_plane(p: Problem) -> list[str]:
    """`mask_plane`: the mask at this block's (batch, head)."""
    if p.mask is None:
        return []
    return [f"const {p.mask.ctype.storage}* mask_plane = {p.mask.param} + {p.mask.base()};"]


def key_end(p: Problem, block_q: int) -> str:
    """How far the block's keys go: with a causal mask, no key tile past the last row's
    diagonal is loaded (those keys are masked for every row of the tile)."""
    if not p.causal:
        return f"{p.s_k}"
    return f"min({p.s_k}, (int)blockIdx.x * {block_q} + {block_q + p.s_k - p.s_q})"


def out_index(p: Problem, qi: str, j: str) -> str:
    """Where row `qi`, column `j` of this block's (batch, head) goes in the result."""
    if p.layout == "bshd":
        return f"(((long long)blockIdx.z * {p.s_q} + ({qi})) * {p.heads} + blockIdx.y) * {p.d_v}LL + ({j})"
    return f"(((long long)blockIdx.z * {p.heads} + blockIdx.y) * {p.s_q} + ({qi})) * {p.d_v}LL + ({j})"


def indent(lines: list[str], depth: int) -> str:
    """`lines` (each may hold several) joined, every line indented by `depth` spaces."""
    flat = [line for chunk in lines for line in chunk.split("\n")]
    return "\n".join(" " * depth + line if line else "" for line in flat)
