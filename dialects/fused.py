"""The `fused` dialect: each op is one future kernel.

A fused op owns a region of `graph` ops on whole tensors: what the kernel computes, written
with the ops the reference interpreter already knows. Codegen walks the region to print
the kernel body; the interpreter runs it to check every fusion decision.

- `fused.elementwise` / `fused.reduction`: a chain of elementwise ops, or a reduction
  (softmax, layer norm, reduce_*) with the elementwise ops around it. Its block arguments
  are its operands; `fused.yield` returns its results.
- `fused.matmul` / `fused.conv`: the matrix product, then an epilogue region. The epilogue's
  first block argument is the accumulator (the product), the others are the op's
  `extras` (bias, residual, scales); it yields the op's results. Operands are both floats
  of one type (the accumulator has it), or both 8-bit integers (i8 or ui8, mixed as the
  tensor cores allow), whose exact product accumulates in i32: the `quant` level's integer
  contractions, whose epilogue rescales the accumulator (`passes/quant/`).
- `fused.attention`: softmax(q·kᵀ·scale + mask [causal]) · v over [batch, heads, seq, dim],
  written as [batch, heads, seq, dim] or, merging the heads, [batch, seq, heads, dim].
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    Signedness,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import IsTerminator, Pure, RecursivelySpeculatable, RecursiveMemoryEffect

from dialects import graph
from dialects.graph.base import expect_rank, fail, int_of, str_of
from dialects.graph.layout import LAYOUTS, relayout

def _check_region(op: Operation, region: Region, arg_types: Sequence[Attribute], what: str) -> None:
    """One block, arguments of the given types, ending in a `fused.yield` of the op's result types."""
    if len(region.blocks) != 1:
        fail(op, f"expects its {what} region to have one block")
    block = region.block
    got = [a.type for a in block.args]
    if got != list(arg_types):
        fail(op, f"expects {what} block arguments of types ({_types(arg_types)}), got ({_types(got)})")
    last = block.last_op
    if not isinstance(last, YieldOp):
        fail(op, f"expects its {what} region to end in fused.yield")
    yielded = [v.type for v in last.values]
    results = [r.type for r in op.results]
    if yielded != results:
        fail(op, f"yields ({_types(yielded)}) but its results are ({_types(results)})")
    for inner in block.ops:
        if not (inner.name.startswith("graph.") or isinstance(inner, YieldOp)):
            fail(op, f"may hold only graph ops in its {what} region, found {inner.name}")


def _types(types: Sequence[Attribute]) -> str:
    return ", ".join(str(t) for t in types)


@irdl_op_definition
class YieldOp(IRDLOperation):
    name = "fused.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), Pure())
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])


class _FusedOp(IRDLOperation):
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(RecursiveMemoryEffect(), RecursivelySpeculatable())


class GroupOp(_FusedOp):
    """Operands become the body's block arguments; `fused.yield` gives the results."""

    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    body = region_def("single_block")
    assembly_format = "`(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs) $body"

    def verify_(self) -> None:
        _check_region(self, self.body, self.inputs.types, "body")


@irdl_op_definition
class ElementwiseOp(GroupOp):
    """`%y = fused.elementwise (%a, %b) : (...) -> ... { ^bb0(...): ... fused.yield ... }`:
    elementwise and broadcasting ops (and free views) in one pass over the data."""

    name = "fused.elementwise"


@irdl_op_definition
class ReductionOp(GroupOp):
    """Reductions (softmax, layer norm, reduce_*) with the elementwise ops around them,
    in one kernel."""

    name = "fused.reduction"


class _ContractionOp(_FusedOp):
    """A product plus an epilogue region over (accumulator, *extras)."""

    extras = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    epilogue = region_def("single_block")

    def verify_(self) -> None:
        acc = self.accumulator_type()  # each contraction says what its product is
        _check_region(self, self.epilogue, [acc, *self.extras.types], "epilogue")


INTEGER_OPERANDS = (IntegerType(8), IntegerType(8, Signedness.UNSIGNED))
"""What an integer contraction multiplies: 8-bit integers, signed or not."""
INTEGER_ACCUMULATOR = IntegerType(32)


def is_integer_contraction(op: Operation) -> bool:
    """Whether `op` (a fused.matmul or fused.conv) multiplies 8-bit integers into i32."""
    return op.operands[0].type.element_type in INTEGER_OPERANDS


def _product_types(op: Operation, a: TensorType, b: TensorType) -> list[TensorType]:
    """The operand types whose product rules (graph.matmul's, graph.conv's) give the
    accumulator: the operands' own, or for 8-bit integers (i8 x ui8 mixes included) both
    viewed as i32, the accumulator's type."""
    ints = [t.element_type in INTEGER_OPERANDS for t in (a, b)]
    if not any(ints):
        return [a, b]
    if not all(ints):
        fail(op, f"expects both operands floats of one type or both 8-bit integers (i8, ui8), got {a.element_type} and {b.element_type}")
    return [TensorType(INTEGER_ACCUMULATOR, t.get_shape()) for t in (a, b)]


def swap_last_axes(t: TensorType) -> TensorType:
    """`t` with its last two axes exchanged: how a transposed matmul operand is read."""
    shape = t.get_shape()
    return TensorType(t.element_type, [*shape[:-2], shape[-1], shape[-2]])


def _as_read(lhs: TensorType, rhs: TensorType, transpose_a: bool, transpose_b: bool) -> list[TensorType]:
    """The operands' types as the product reads them: lhs as [..., K, M] under `transpose_a`,
    rhs as [..., N, K] under `transpose_b`, both swapped back to [..., M, K] and [..., K, N]."""
    return [swap_last_axes(lhs) if transpose_a else lhs, swap_last_axes(rhs) if transpose_b else rhs]


def matmul_accumulator(lhs: TensorType, rhs: TensorType, transpose_a: bool, transpose_b: bool) -> TensorType:
    """The product's type: numpy's matmul of the operands as read (`_as_read`)."""
    return graph.MatMulOp.infer(_as_read(lhs, rhs, transpose_a, transpose_b), {})[0]


@irdl_op_definition
class MatmulOp(_ContractionOp):
    """`lhs · rhs` (numpy matmul semantics, batch dims broadcast), then the epilogue.
    `transpose_a` (absent: 0) reads lhs as [..., K, M], `transpose_b` rhs as [..., N, K]:
    a transpose of an operand's last two axes costs the kernel nothing (it loads that
    operand's tile in the other orientation)."""

    name = "fused.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    transpose_a = opt_prop_def(IntegerAttr[I64])
    transpose_b = prop_def(IntegerAttr[I64])
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$lhs `,` $rhs (`extras` `(` $extras^ `:` type($extras) `)`)? attr-dict `:` "
        "`(` type($lhs) `,` type($rhs) `)` `->` type($outputs) $epilogue"
    )

    def transposes(self) -> tuple[bool, bool]:
        """(transpose_a, transpose_b): whether lhs is read as [..., K, M], rhs as [..., N, K]."""
        return bool(int_of(self.transpose_a)), bool(int_of(self.transpose_b))

    def accumulator_type(self) -> TensorType:
        for flag in ("transpose_a", "transpose_b"):
            if int_of(self.properties.get(flag)) not in (0, 1):
                fail(self, f"expects {flag} to be 0 or 1, got {int_of(self.properties[flag])}")
        expect_rank(self, "lhs", self.lhs.type, *range(2, 7))
        expect_rank(self, "rhs", self.rhs.type, *range(2, 7))
        a, b = _as_read(self.lhs.type, self.rhs.type, *self.transposes())
        if a.get_shape()[-1] != b.get_shape()[-2]:
            fail(self, f"expects matching inner dimensions, got lhs read as {a} and rhs read as {b}")
        return graph.MatMulOp.infer(_product_types(self, a, b), {})[0]


@irdl_op_definition
class ConvOp(_ContractionOp):
    """A convolution (graph.conv's properties, layout included; no bias), then the epilogue.
    `input_layout` (absent: `layout`) is the input's layout when the kernel reads it in the
    other one: an NHWC conv whose input is NCHW computes the NHWC conv of the transposed
    input (`dialects/graph/layout.py`); the weight and the accumulator keep `layout`."""

    name = "fused.conv"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    strides = prop_def(DenseArrayBase[I64])
    pads = prop_def(DenseArrayBase[I64])
    dilations = prop_def(DenseArrayBase[I64])
    group = prop_def(IntegerAttr[I64])
    layout = opt_prop_def(StringAttr)
    input_layout = opt_prop_def(StringAttr)
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$input `,` $weight (`extras` `(` $extras^ `:` type($extras) `)`)? attr-dict `:` "
        "`(` type($input) `,` type($weight) `)` `->` type($outputs) $epilogue"
    )

    def accumulator_type(self) -> TensorType:
        props = {k: self.properties[k] for k in ("strides", "pads", "dilations", "group", "layout") if k in self.properties}
        x, layout = self.input.type, str_of(self.layout, "NCHW")
        if self.input_layout is not None:  # the other layout's input, viewed in `layout`
            input_layout = self.input_layout.data
            if input_layout not in LAYOUTS:
                fail(self, f"expects input_layout to be one of {', '.join(LAYOUTS)}, got '{input_layout}'")
            if layout in LAYOUTS:
                expect_rank(self, "input", x, 3, 4, 5)
                x = relayout(x, input_layout, layout)
        return graph.ConvOp.infer(_product_types(self, x, self.weight.type), props)[0]


ATTENTION_LAYOUTS = ("bhsd", "bshd")
"""How `fused.attention` writes its result: [batch, heads, seq, dim] as q, k and v are, or
[batch, seq, heads, dim], where the heads merge into [batch, seq, heads·dim] by a free view
(what the output projection reads)."""


@irdl_op_definition
class AttentionOp(_FusedOp):
    """softmax(q·kᵀ·scale + mask, causal) · v, on [batch, heads, seq, dim] tensors; the mask
    (additive, or i1 where false masks out) broadcasts to [batch, heads, seq_q, seq_k].
    `output_layout` (absent: "bhsd") says how the result is written (`ATTENTION_LAYOUTS`)."""

    name = "fused.attention"
    q = operand_def(TensorType)
    k = operand_def(TensorType)
    v = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    scale = prop_def(FloatAttr[Float32Type])
    causal = prop_def(IntegerAttr[I64])
    output_layout = opt_prop_def(StringAttr)
    output = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$q `,` $k `,` $v (`mask` `(` $mask^ `:` type($mask) `)`)? attr-dict `:` "
        "`(` type($q) `,` type($k) `,` type($v) `)` `->` type($output)"
    )

    def verify_(self) -> None:
        q, k, v = self.q.type, self.k.type, self.v.type
        for what, t in (("q", q), ("k", k), ("v", v)):
            expect_rank(self, what, t, 4)
        b, h, s_q, d = q.get_shape()
        if k.get_shape()[:2] != (b, h) or k.get_shape()[3] != d:
            fail(self, f"expects k of shape [{b}, {h}, seq_k, {d}], got {k}")
        s_k = k.get_shape()[2]
        if v.get_shape()[:3] != (b, h, s_k):
            fail(self, f"expects v of shape [{b}, {h}, {s_k}, dim_v], got {v}")
        layout = self.layout()
        if layout not in ATTENTION_LAYOUTS:
            fail(self, f"expects output_layout to be one of {', '.join(ATTENTION_LAYOUTS)}, got '{layout}'")
        dims = [b, h, s_q, v.get_shape()[3]] if layout == "bhsd" else [b, s_q, h, v.get_shape()[3]]
        want = TensorType(q.element_type, dims)
        if self.output.type != want:
            fail(self, f"expects result type {want} (output_layout {layout}), got {self.output.type}")

    def layout(self) -> str:
        """The result's layout: "bhsd" unless `output_layout` says "bshd"."""
        return str_of(self.output_layout, "bhsd")


Fused = Dialect("fused", [YieldOp, ElementwiseOp, ReductionOp, MatmulOp, ConvOp, AttentionOp], [])

__all__ = [
    "ATTENTION_LAYOUTS",
    "AttentionOp",
    "ConvOp",
    "ElementwiseOp",
    "Fused",
    "GroupOp",
    "MatmulOp",
    "ReductionOp",
    "YieldOp",
    "matmul_accumulator",
    "swap_last_axes",
]
