"""Writers for elementwise ops: one ONNX node each, from the importer's own tables read
backwards (so an op that imports from ONNX exports to it), plus what graph-optimize
names that ONNX spells out (SiLU: Sigmoid and Mul; ONNX's Swish needs opset 24)."""

from __future__ import annotations

from compiler.onnx_export.context import ExportContext, onnx_elem
from compiler.onnx_export.layout import in_operands_layout, write_elementwise
from compiler.onnx_export.registry import writer
from compiler.onnx_import.elementwise import ACTIVATIONS, BINARY, UNARY, VARIADIC
from dialects.graph import CastOp, ClipOp, GeluOp, IsInfOp, ModOp, SiluOp, WhereOp
from dialects.graph.base import float_of, int_of, str_of

UNARY_NODES = {op: onnx_type for onnx_type, op in UNARY.items()}
BINARY_NODES = {op: onnx_type for onnx_type, op in (*VARIADIC.items(), *BINARY.items())}
"""Graph op → ONNX op (Add is both Sum's chain and Add; the binary name wins)."""
ACTIVATION_NODES = {op: (onnx_type, tuple(defaults)) for onnx_type, (op, defaults) in ACTIVATIONS.items()}


def _unary(onnx_type: str):
    def write(op, ctx: ExportContext):
        write_elementwise(op, ctx, onnx_type, [op.input])

    return write


def _binary(onnx_type: str):
    def write(op, ctx: ExportContext):
        write_elementwise(op, ctx, onnx_type, [op.lhs, op.rhs])

    return write


def _activation(onnx_type: str, attributes: tuple[str, ...]):
    def write(op, ctx: ExportContext):
        values = {name: float_of(op.properties[name]) for name in attributes}
        write_elementwise(op, ctx, onnx_type, [op.input], **values)

    return write


for _op, _type in UNARY_NODES.items():
    writer(_op)(_unary(_type))
for _op, _type in BINARY_NODES.items():
    writer(_op)(_binary(_type))
for _op, (_type, _attributes) in ACTIVATION_NODES.items():
    writer(_op)(_activation(_type, _attributes))


@writer(GeluOp)
def gelu(op: GeluOp, ctx: ExportContext):
    ctx.node("Gelu", [ctx.input(op.input)], [ctx.result(op)], approximate=str_of(op.approximate))


@writer(SiluOp)
def silu(op: SiluOp, ctx: ExportContext):
    def write(inputs: list[str], out: str) -> None:
        sigmoid = ctx.unary("Sigmoid", inputs[0], op.input.type.element_type, "sigmoid")
        ctx.node("Mul", [inputs[0], sigmoid], [out])

    in_operands_layout(op, ctx, [op.input], write)


@writer(ModOp)
def mod(op: ModOp, ctx: ExportContext):
    write_elementwise(op, ctx, "Mod", [op.lhs, op.rhs], fmod=int_of(op.fmod))


@writer(IsInfOp)
def is_inf(op: IsInfOp, ctx: ExportContext):
    flags = {flag: int_of(op.properties[flag]) for flag in ("detect_negative", "detect_positive")}
    write_elementwise(op, ctx, "IsInf", [op.input], **flags)


@writer(WhereOp)
def where(op: WhereOp, ctx: ExportContext):
    write_elementwise(op, ctx, "Where", [op.condition, op.on_true, op.on_false])


def _bound(op: ClipOp, ctx: ExportContext, name: str, operand) -> str:
    """A bound known at compile time becomes a 0-d initializer (ONNX's bounds are inputs);
    one computed at run time is its operand, viewed as 0-d when it is not already."""
    element_type = op.input.type.element_type
    if operand is None:
        return ctx.scalar(op.properties[name].value.data, element_type, name)
    value = ctx.input(operand)
    if operand.type.get_num_dims() == 0:
        return value
    (flat,) = ctx.node("Reshape", [value, ctx.ints([], "shape")], [ctx.temp(name, element_type)])
    return flat


@writer(ClipOp)
def clip(op: ClipOp, ctx: ExportContext):
    """In its input's layout (`layout.py`): the bounds are single values (ReLU6 in an NHWC
    region stays channels first)."""
    bounds = [_bound(op, ctx, "min", op.min_value), _bound(op, ctx, "max", op.max_value)]
    in_operands_layout(op, ctx, [op.input], lambda inputs, out: ctx.node("Clip", [*inputs, *bounds], [out]))


@writer(CastOp)
def cast(op: CastOp, ctx: ExportContext):
    """`saturate` (float8 targets, opset 19) and `round_mode` (E8M0, opset 24) as given."""
    modes = {"saturate": int_of(op.saturate) if op.saturate is not None else None, "round_mode": str_of(op.round_mode) or None}
    write_elementwise(op, ctx, "Cast", [op.input], to=onnx_elem(op.result.type.element_type, op.name), **modes)
