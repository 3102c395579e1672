"""Importers for elementwise ONNX ops.

Most ops map one to one onto a graph op, so they are tables: ONNX op type → graph op
(and, for parameterised activations, ONNX attribute → default). ONNX's variadic
Sum/Mean/Min/Max become chains of binary graph ops.
"""

from __future__ import annotations

import functools

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, FloatAttr, IntegerAttr
from xdsl.ir import Attribute, SSAValue

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.dtypes import is_float, numpy_dtype, onnx_elem_to_mlir
from dialects.graph import (
    AbsOp,
    AddOp,
    AndOp,
    CastOp,
    CeilOp,
    CeluOp,
    ClipOp,
    CosOp,
    DivOp,
    EluOp,
    EqualOp,
    ErfOp,
    ExpOp,
    FloorOp,
    GeluOp,
    GreaterOp,
    GreaterOrEqualOp,
    HardSigmoidOp,
    HardSwishOp,
    IsInfOp,
    IsNaNOp,
    LeakyReluOp,
    LessOp,
    LessOrEqualOp,
    LogOp,
    MaxOp,
    MinOp,
    ModOp,
    MulOp,
    NegOp,
    NotOp,
    OrOp,
    PowOp,
    PReluOp,
    ReciprocalOp,
    ReluOp,
    RoundOp,
    SeluOp,
    SigmoidOp,
    SignOp,
    SinOp,
    SoftplusOp,
    SqrtOp,
    SubOp,
    TanhOp,
    ThresholdedReluOp,
    WhereOp,
    XorOp,
)
from dialects.graph.base import float_attr, int_attr, str_attr
from dialects.graph.elementwise import E8M0_ROUND_MODES, expect_kind

UNARY = {
    "Relu": ReluOp,
    "Sigmoid": SigmoidOp,
    "Tanh": TanhOp,
    "Erf": ErfOp,
    "Exp": ExpOp,
    "Log": LogOp,
    "Sqrt": SqrtOp,
    "Reciprocal": ReciprocalOp,
    "Neg": NegOp,
    "Abs": AbsOp,
    "Sign": SignOp,
    "HardSwish": HardSwishOp,
    "Softplus": SoftplusOp,
    "Sin": SinOp,
    "Cos": CosOp,
    "Floor": FloorOp,
    "Ceil": CeilOp,
    "Round": RoundOp,
    "Not": NotOp,
    "IsNaN": IsNaNOp,
}

ACTIVATIONS = {
    "LeakyRelu": (LeakyReluOp, {"alpha": 0.01}),
    "Elu": (EluOp, {"alpha": 1.0}),
    "Selu": (SeluOp, {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875}),
    "Celu": (CeluOp, {"alpha": 1.0}),
    "ThresholdedRelu": (ThresholdedReluOp, {"alpha": 1.0}),
    "HardSigmoid": (HardSigmoidOp, {"alpha": 0.2, "beta": 0.5}),
}
"""Activations with float attributes: graph op, and each attribute's ONNX default."""

BINARY = {
    "Add": AddOp,
    "Sub": SubOp,
    "Mul": MulOp,
    "Div": DivOp,
    "Pow": PowOp,
    "PRelu": PReluOp,
    "Equal": EqualOp,
    "Less": LessOp,
    "LessOrEqual": LessOrEqualOp,
    "Greater": GreaterOp,
    "GreaterOrEqual": GreaterOrEqualOp,
    "And": AndOp,
    "Or": OrOp,
    "Xor": XorOp,
}

VARIADIC = {"Sum": AddOp, "Min": MinOp, "Max": MaxOp}
"""ONNX ops over any number of inputs, imported as a left-to-right chain of a binary op."""


def _unary(op_type):
    return lambda node: node.emit(op_type.make([node.input(0)]))


def _activation(op_type, defaults):
    def import_activation(node: Node):
        props = {name: float_attr(node.attr(name, default)) for name, default in defaults.items()}
        return node.emit(op_type.make([node.input(0)], props))

    return import_activation


def _binary(op_type):
    return lambda node: node.emit(op_type.make([node.input(0), node.input(1)]))


def _chain(node: Node, op_type) -> SSAValue:
    values = node.inputs()
    if not values:
        node.fail("expects at least one input")
    return functools.reduce(lambda acc, value: node.emit(op_type.make([acc, value])), values[1:], values[0])


def _variadic(op_type):
    return lambda node: _chain(node, op_type)


for _name, _op in UNARY.items():
    importer(_name)(_unary(_op))
for _name, (_op, _defaults) in ACTIVATIONS.items():
    importer(_name)(_activation(_op, _defaults))
for _name, _op in BINARY.items():
    importer(_name)(_binary(_op))
for _name, _op in VARIADIC.items():
    importer(_name)(_variadic(_op))


@importer("Mean")
def mean(node: Node):
    """A chain of adds, then one division by the input count."""
    total = _chain(node, AddOp)
    element_type = total.type.element_type
    count = np.asarray(len(node.inputs()), dtype=numpy_dtype(element_type))
    count = node.ctx.constant(count, node.name, element_type=element_type)
    return node.emit(DivOp.make([total, count]))


@importer("Gelu")
def gelu(node: Node):
    approximate = str_attr(node.attr("approximate", "none"))
    return node.emit(GeluOp.make([node.input(0)], {"approximate": approximate}))


@importer("IsInf")
def is_inf(node: Node):
    props = {flag: int_attr(node.attr(flag, 1)) for flag in ("detect_negative", "detect_positive")}
    return node.emit(IsInfOp.make([node.input(0)], props))


@importer("Mod")
def mod(node: Node):
    return node.emit(ModOp.make([node.input(0), node.input(1)], {"fmod": int_attr(node.attr("fmod", 0))}))


@importer("Where")
def where(node: Node):
    return node.emit(WhereOp.make([node.input(0), node.input(1), node.input(2)]))


BF16_MAX = float.fromhex("0x1.fep127")
"""The largest finite bf16 (numpy holds bf16 as float32, whose finfo would overshoot)."""


def _limits(element_type: Attribute) -> tuple[float | int, float | int]:
    """ONNX's default Clip bounds: the type's lowest and highest finite values."""
    if isinstance(element_type, BFloat16Type):
        return -BF16_MAX, BF16_MAX
    dtype = numpy_dtype(element_type)
    info = np.finfo(dtype) if is_float(element_type) else np.iinfo(dtype)
    return info.min, info.max


@importer("Clip")
def clip(node: Node):
    """Bounds are inputs 1 and 2 from opset 11 (attributes before). A bound known at
    compile time, or absent (then ONNX's default), becomes a property; one computed at run
    time stays an operand."""
    x = node.input(0)
    expect_kind(ClipOp, "numeric", [x.type])  # before asking the type for its limits
    operands: list[SSAValue | None] = [x, None, None]
    props: dict[str, Attribute] = {}
    for index, bound, default in zip((1, 2), ("min", "max"), _limits(x.type.element_type)):
        value = node.known(index) if node.has_input(index) else node.attr(bound, default)
        if value is None:
            operands[index] = node.input(index)
        else:
            props[bound] = _bound_attr(node, bound, np.asarray(value), x.type.element_type)
    return node.emit(ClipOp.make(operands, props))


def _bound_attr(node: Node, bound: str, value: np.ndarray, element_type: Attribute) -> Attribute:
    if value.size != 1:
        node.fail(f"{bound} must be a single value, got shape {list(value.shape)}")
    scalar = value.reshape(()).item()
    if is_float(element_type):
        return FloatAttr(float(scalar), element_type)
    return IntegerAttr(int(scalar), element_type)


@importer("Cast")
def cast(node: Node):
    to = onnx_elem_to_mlir(node.attr("to"), f"{node.where()}: ")
    return node.emit(CastOp.to(node.input(0), to, *_cast_modes(node)))


@importer("CastLike")
def cast_like(node: Node):
    return node.emit(CastOp.to(node.input(0), node.input(1).type.element_type, *_cast_modes(node)))


def _cast_modes(node: Node) -> tuple[bool, str]:
    """`saturate` (opset 19, default 1) and `round_mode` (opset 24, default "up"). ONNX
    applies them to float8 and E8M0 targets only; `CastOp.to` keeps them for those."""
    saturate, round_mode = node.attr("saturate", 1), node.attr("round_mode", "up")
    if saturate not in (0, 1):
        node.fail(f"saturate must be 0 or 1, got {saturate}")
    if round_mode not in E8M0_ROUND_MODES:
        node.fail(f"round_mode must be one of {', '.join(E8M0_ROUND_MODES)}, got '{round_mode}'")
    return bool(saturate), round_mode
