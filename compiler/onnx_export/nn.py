"""Writers for neural-network ops: convolution, pooling, normalisation, softmax and the
matrix products.

Channels-last ops (`layout = "NHWC"`, from graph-to-nhwc) are written as their NCHW ONNX
op: the input (and a conv's OHWI weight) read channels first, every result computed so
and moved back. That is exactly what the NHWC form means (`dialects/graph/layout.py`);
ONNX has no channels-last conv. `layout.py` keeps the Transposes this takes to where the
IR's layouts really meet.
"""

from __future__ import annotations

from compiler.onnx_export.context import ExportContext
from compiler.onnx_export.registry import writer
from dialects.graph import (
    AveragePoolOp,
    BatchNormOp,
    ConvOp,
    ConvTransposeOp,
    GemmOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
    InstanceNormOp,
    LayerNormOp,
    LogSoftmaxOp,
    MatMulOp,
    MaxPoolOp,
    SoftmaxOp,
)
from dialects.graph.base import float_of, int_of, ints
from compiler.onnx_export.layout import channels_first
from dialects.graph.layout import channels_last_perm, is_channels_last


def spatial_node(op, ctx: ExportContext, onnx_type: str, operands, channels_last: tuple[int, ...] = (0,), **attributes) -> None:
    """Write `op` as one `onnx_type` node. In the NHWC form, the operands at `channels_last`
    are read channels first and each result is computed so, then moved channels last
    (a Transpose that is dropped if only other NHWC ops read the result: `layout.py`)."""
    names = [ctx.input(v) for v in operands]
    results = [ctx.result(op, i) for i in range(len(op.results))]
    if not is_channels_last(op):
        ctx.node(onnx_type, names, results, **attributes)
        return
    for i in channels_last:
        names[i] = channels_first(ctx, operands[i])
    firsts = [ctx.temp(f"{name}.nchw", r.type.element_type) for name, r in zip(results, op.results)]
    ctx.node(onnx_type, names, firsts, **attributes)
    for first, name, r in zip(firsts, results, op.results):
        ctx.channels_first[r] = first
        ctx.node("Transpose", [first], [name], perm=list(channels_last_perm(r.type.get_num_dims())))


def _geometry(op, *names: str) -> dict[str, list[int]]:
    return {name: list(ints(op.properties[name])) for name in names}


# --- convolution -----------------------------------------------------------------


@writer(ConvOp)
def conv(op: ConvOp, ctx: ExportContext):
    attributes = _geometry(op, "strides", "pads", "dilations") | {"group": int_of(op.group)}
    spatial_node(op, ctx, "Conv", [op.input, op.weight, op.bias], (0, 1), **attributes)


@writer(ConvTransposeOp)
def conv_transpose(op: ConvTransposeOp, ctx: ExportContext):
    attributes = _geometry(op, "strides", "pads", "dilations", "output_padding") | {"group": int_of(op.group)}
    spatial_node(op, ctx, "ConvTranspose", [op.input, op.weight, op.bias], **attributes)


# --- pooling ---------------------------------------------------------------------


def _pool_attributes(op) -> dict:
    """Dilations only when some is not 1: AveragePool has them from opset 19 only."""
    attributes = _geometry(op, "kernel_shape", "strides", "pads") | {"ceil_mode": int_of(op.ceil_mode)}
    dilations = list(ints(op.dilations))
    if any(d != 1 for d in dilations):
        attributes["dilations"] = dilations
    return attributes


@writer(MaxPoolOp)
def max_pool(op: MaxPoolOp, ctx: ExportContext):
    order = int_of(op.storage_order) if op.storage_order is not None else None
    spatial_node(op, ctx, "MaxPool", [op.input], **_pool_attributes(op), storage_order=order)


@writer(AveragePoolOp)
def average_pool(op: AveragePoolOp, ctx: ExportContext):
    spatial_node(op, ctx, "AveragePool", [op.input], **_pool_attributes(op), count_include_pad=int_of(op.count_include_pad))


@writer(GlobalAveragePoolOp)
def global_average_pool(op: GlobalAveragePoolOp, ctx: ExportContext):
    spatial_node(op, ctx, "GlobalAveragePool", [op.input])


@writer(GlobalMaxPoolOp)
def global_max_pool(op: GlobalMaxPoolOp, ctx: ExportContext):
    spatial_node(op, ctx, "GlobalMaxPool", [op.input])


# --- normalisation ---------------------------------------------------------------


@writer(BatchNormOp)
def batch_norm(op: BatchNormOp, ctx: ExportContext):
    operands = [op.input, op.scale, op.bias, op.mean, op.var]
    spatial_node(op, ctx, "BatchNormalization", operands, epsilon=float_of(op.epsilon))


@writer(InstanceNormOp)
def instance_norm(op: InstanceNormOp, ctx: ExportContext):
    spatial_node(op, ctx, "InstanceNormalization", [op.input, op.scale, op.bias], epsilon=float_of(op.epsilon))


@writer(LayerNormOp)
def layer_norm(op: LayerNormOp, ctx: ExportContext):
    """Mean and InvStdDev are written when the op has them (ONNX's stash_type 1, f32)."""
    operands = [ctx.input(v) for v in (op.input, op.scale, op.bias)]
    results = [ctx.result(op, i) for i in range(len(op.results))]
    ctx.node("LayerNormalization", operands, results, axis=int_of(op.axis), epsilon=float_of(op.epsilon))


@writer(SoftmaxOp, LogSoftmaxOp)
def softmax(op, ctx: ExportContext):
    onnx_type = "Softmax" if isinstance(op, SoftmaxOp) else "LogSoftmax"
    ctx.node(onnx_type, [ctx.input(op.input)], [ctx.result(op)], axis=int_of(op.axis))


# --- matrix products -------------------------------------------------------------


@writer(GemmOp)
def gemm(op: GemmOp, ctx: ExportContext):
    attributes = {"alpha": float_of(op.alpha), "beta": float_of(op.beta), "transA": int_of(op.trans_a), "transB": int_of(op.trans_b)}
    ctx.node("Gemm", [ctx.input(v) for v in (op.a, op.b, op.c)], [ctx.result(op)], **attributes)


@writer(MatMulOp)
def matmul(op: MatMulOp, ctx: ExportContext):
    """A folded bias (graph-matmul-bias) is the Add it was folded from."""
    a, b = ctx.input(op.lhs), ctx.input(op.rhs)
    if op.bias is None:
        ctx.node("MatMul", [a, b], [ctx.result(op)])
        return
    product = ctx.temp("matmul", op.result.type.element_type)
    ctx.node("MatMul", [a, b], [product])
    ctx.node("Add", [product, ctx.input(op.bias)], [ctx.result(op)])
