"""Elementwise graph ops printed as scalar C: the statements that compute one element of a
region from its operands' elements. The elementwise family prints whole kernels with it,
and every family with an epilogue (matmul, conv, attention, reduction, pooling) prints its
region with it; the op table itself is `pointwise_templates.TEMPLATES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.ir import Operation, SSAValue

from dialects import graph
from dialects.dtypes import is_storage_only
from dialects.errors import OptcError
from passes.codegen.common.low_precision import element_ctype
from passes.codegen.common.pointwise_templates import TEMPLATES, UNCONTRACTED
from passes.codegen.common.types import literal, strides


def c_type(element_type, where: str) -> str:
    """The C type arithmetic on `element_type` happens in (a storage-only type's is its
    byte: `common/low_precision.py`)."""
    return element_ctype(element_type, where).compute


def broadcast_index(shape: Sequence[int], out_shape: Sequence[int]) -> str:
    """The flat index into a tensor of `shape` that broadcasts to `out_shape` at the
    multi-index held in i0, i1, ... (`i` itself when the shapes are equal)."""
    if list(shape) == list(out_shape):
        return "i"
    offset = len(out_shape) - len(shape)
    terms = [
        f"i{k + offset}" if stride == 1 else f"i{k + offset} * {stride}LL"
        for k, (dim, stride) in enumerate(zip(shape, strides(shape)))
        if dim != 1
    ]
    return " + ".join(terms) if terms else "0"


def op_expression(op: Operation, operands: Sequence[str], uncontracted: bool = False) -> str:
    """The C expression of `op`'s result from its operands' C expressions (compute types);
    with `uncontracted`, f32 add/sub/mul round on their own (`UNCONTRACTED`)."""
    emit = TEMPLATES.get(type(op))
    if emit is None:
        raise OptcError(f"'{op.name}' has no CUDA template")
    types = [c_type(v.type.element_type, f"'{op.name}'") for v in op.operands]
    if uncontracted and type(op) in UNCONTRACTED and set(types) == {"float"}:
        return f"{UNCONTRACTED[type(op)]}({operands[0]}, {operands[1]})"
    return emit(op, list(operands), types)


def scalar_code(
    ops: Sequence[Operation],
    names: dict[SSAValue, str],
    index_of: Callable[[Sequence[int]], str],
    prefix: str = "v",
    uncontracted: bool = False,
) -> list[str]:
    """C statements computing `ops` (elementwise graph ops and constants, in order) on scalars.

    `names` maps each value the ops read to a C expression of its element, in its compute
    type; each result is added to it (`v0`, `v1`, ... with the given `prefix`). A non-splat
    constant is read at `index_of(its shape)`, the flat index of the element at hand. This is
    what other generators call to print an epilogue region. Raises OptcError for an op with
    no template. `uncontracted`: f32 add/sub/mul round on their own (`op_expression`)."""
    lines: list[str] = []
    for counter, op in enumerate(ops):
        ctype = c_type(op.results[0].type.element_type, f"'{op.name}'")
        if isinstance(op, graph.ConstantOp):
            expr = constant_expression(op, ctype, lambda: index_of(op.result.type.get_shape()), lines, f"{prefix}c{counter}")
        else:
            expr = op_expression(op, [names[v] for v in op.operands], uncontracted)
        lines.append(f"{ctype} {prefix}{counter} = {expr};")
        names[op.results[0]] = f"{prefix}{counter}"
    return lines


def constant_expression(op: graph.ConstantOp, ctype: str, index: Callable[[], str], lines: list[str], array_name: str) -> str:
    """A splat becomes a literal; a small constant a local array (declared into `lines`)
    read at `index()`."""
    flat = op.to_array().reshape(-1)
    if is_storage_only(op.result.type.element_type):
        flat = flat.view("uint8")  # held as their bytes
    if flat.size == 0 or graph.is_splat(flat):
        return literal(flat[0].item() if flat.size else 0, ctype)
    if not graph.fits_inline(flat):
        raise OptcError(f"a {flat.size}-element constant is too large to inline in a CUDA kernel")
    values = ", ".join(literal(x.item(), ctype) for x in flat)
    lines.append(f"const {ctype} {array_name}[{flat.size}] = {{{values}}};")
    return f"{array_name}[{index()}]"
