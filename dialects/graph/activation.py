"""Activation functions: what follows a convolution or a linear layer, elementwise.

Unary ops keep their operand's type (`graph.relu %x : tensor<4xf32>`); `graph.prelu`
is binary, its slope broadcasting to the input. They are elementwise ops like those of
`elementwise.py` (whose mixins say which element types each accepts), and the fusion
passes treat them so; `graph-recognize-activations` and `graph-recognize-gelu` build some
of them from the elementwise ops exporters write. Tanh, Exp, Erf and the other math
functions stay in `elementwise.py`.
"""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, StringAttr
from xdsl.irdl import irdl_op_definition, prop_def

from dialects.graph.base import BinaryOp, UnaryOp, fail, str_of
from dialects.graph.elementwise import FloatOperands, NumericOperands, SignedOperands


# --- unary: same type in and out ---------------------------------------------------------


@irdl_op_definition
class ReluOp(SignedOperands, UnaryOp):
    name = "graph.relu"


@irdl_op_definition
class SigmoidOp(FloatOperands, UnaryOp):
    name = "graph.sigmoid"


@irdl_op_definition
class HardSwishOp(FloatOperands, UnaryOp):
    """x * clamp(x / 6 + 1/2, 0, 1)."""

    name = "graph.hard_swish"


@irdl_op_definition
class SiluOp(FloatOperands, UnaryOp):
    """x * sigmoid(x) (SiLU, or Swish with beta 1). ONNX had no op for it before opset 24's
    Swish; graph-recognize-activations builds it from the Mul and Sigmoid exporters write."""

    name = "graph.silu"


@irdl_op_definition
class SoftplusOp(FloatOperands, UnaryOp):
    name = "graph.softplus"


# --- unary with parameters (ONNX attributes; the importer fills ONNX's defaults) ---------


@irdl_op_definition
class LeakyReluOp(FloatOperands, UnaryOp):
    name = "graph.leaky_relu"
    alpha = prop_def(FloatAttr)


@irdl_op_definition
class EluOp(FloatOperands, UnaryOp):
    name = "graph.elu"
    alpha = prop_def(FloatAttr)


@irdl_op_definition
class SeluOp(FloatOperands, UnaryOp):
    name = "graph.selu"
    alpha = prop_def(FloatAttr)
    gamma = prop_def(FloatAttr)


@irdl_op_definition
class CeluOp(FloatOperands, UnaryOp):
    name = "graph.celu"
    alpha = prop_def(FloatAttr)


@irdl_op_definition
class ThresholdedReluOp(FloatOperands, UnaryOp):
    """x where x > alpha, else 0."""

    name = "graph.thresholded_relu"
    alpha = prop_def(FloatAttr)


@irdl_op_definition
class HardSigmoidOp(FloatOperands, UnaryOp):
    """clamp(alpha * x + beta, 0, 1)."""

    name = "graph.hard_sigmoid"
    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)


GELU_APPROXIMATIONS = ("none", "tanh")


@irdl_op_definition
class GeluOp(FloatOperands, UnaryOp):
    """`approximate` is "none" (the erf form) or "tanh"."""

    name = "graph.gelu"
    approximate = prop_def(StringAttr)

    @classmethod
    def infer(cls, types, props):
        approximate = str_of(props.get("approximate"))
        if approximate not in GELU_APPROXIMATIONS:
            fail(cls, f"expects approximate to be one of {', '.join(GELU_APPROXIMATIONS)}, got '{approximate}'")
        return super().infer(types, props)


# --- binary: a slope that broadcasts to the input -----------------------------------------


@irdl_op_definition
class PReluOp(NumericOperands, BinaryOp):
    """x where x >= 0, else slope * x. The slope broadcasts to x (never the reverse), so
    the result has x's shape."""

    name = "graph.prelu"

    @classmethod
    def infer(cls, types, props):
        result = super().infer(types, props)
        if result[0] != types[0]:
            fail(cls, f"expects slope {types[1]} to broadcast to the input {types[0]}")
        return result


__all__ = [
    "CeluOp",
    "EluOp",
    "GeluOp",
    "HardSigmoidOp",
    "HardSwishOp",
    "LeakyReluOp",
    "PReluOp",
    "ReluOp",
    "SeluOp",
    "SigmoidOp",
    "SiluOp",
    "SoftplusOp",
    "ThresholdedReluOp",
]
