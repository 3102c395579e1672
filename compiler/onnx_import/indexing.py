"""Importers for GatherND, ScatterND, OneHot, Trilu, CumSum, and the two ONNX ops without a
graph op of their own: Einsum (lowered to reduce_sum, transpose, reshape and matmul) and
NonZero (folded when its input is known, since its result's shape depends on values).
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import SSAValue

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from compiler.onnx_import.tensor import _axis, _reshape
from dialects.graph import (
    CumSumOp,
    GatherNDOp,
    MatMulOp,
    OneHotOp,
    ReduceSumOp,
    ScatterNDOp,
    TransposeOp,
    TriluOp,
)
from dialects.graph.base import i64_array, int_attr, str_attr

# --- N-d gather and scatter ---------------------------------------------------------


@importer("GatherND")
def gather_nd(node: Node):
    """batch_dims arrived in opset 12; before it, there are none."""
    props = {"batch_dims": int_attr(node.attr("batch_dims", 0))}
    return node.emit(GatherNDOp.make([node.input(0), node.input(1)], props))


# ScatterND reductions and the first opset that has each.
_SCATTER_REDUCTIONS = {"none": 11, "add": 16, "mul": 16, "max": 18, "min": 18}


@importer("ScatterND")
def scatter_nd(node: Node):
    reduction = node.attr("reduction", "none")
    if node.opset < _SCATTER_REDUCTIONS.get(reduction, math.inf):
        node.fail(
            f"reduction '{reduction}' is not supported at opset {node.opset} "
            "(none from opset 11, add and mul from 16, max and min from 18)"
        )
    operands = [node.input(0), node.input(1), node.input(2)]
    return node.emit(ScatterNDOp.make(operands, {"reduction": str_attr(reduction)}))


# --- encodings and masks -----------------------------------------------------------


def _scalar_input(node: Node, i: int, what: str) -> int:
    """A configuration input given as a scalar or a one-element tensor (truncated to an
    integer, as onnxruntime reads a float depth)."""
    value = node.const_input(i, what).reshape(-1)
    if value.size != 1:
        node.fail(f"expects '{what}' to hold one value, got {value.size}")
    return int(value[0])


@importer("OneHot")
def one_hot(node: Node):
    """`depth` decides the result's shape, so it must be known; `axis` indexes the result."""
    indices, values = node.input(0), node.input(2)
    depth = _scalar_input(node, 1, "depth")
    axis = _axis(node, node.attr("axis", -1), indices.type.get_num_dims() + 1)
    return node.emit(OneHotOp.make([indices, values], {"axis": int_attr(axis), "depth": int_attr(depth)}))


@importer("Trilu")
def trilu(node: Node):
    """Opset 14's only form: the diagonal offset `k` is an optional 0-d input."""
    k = _scalar_input(node, 1, "k") if node.has_input(1) else 0
    props = {"upper": int_attr(node.attr("upper", 1)), "k": int_attr(k)}
    return node.emit(TriluOp.make([node.input(0)], props))


@importer("CumSum")
def cum_sum(node: Node):
    x = node.input(0)
    axis = _axis(node, _scalar_input(node, 1, "axis"), x.type.get_num_dims())
    props = {
        "axis": int_attr(axis),
        "exclusive": int_attr(node.attr("exclusive", 0)),
        "reverse": int_attr(node.attr("reverse", 0)),
    }
    return node.emit(CumSumOp.make([x], props))


@importer("NonZero")
def non_zero(node: Node):
    """The number of non-zeros sets the result's shape, so only a known input can be
    imported: it folds to a constant (a 0-d input counts as one element, as in onnxruntime)."""
    value = node.known(0)
    if value is None:
        node.fail(
            "its result's shape (the number of non-zero elements) depends on the input's values, "
            "which are known only at run time; optc compiles static shapes only"
        )
    coordinates = np.asarray(np.nonzero(np.atleast_1d(value)), dtype=np.int64)
    return node.ctx.constant(coordinates.reshape(max(value.ndim, 1), -1), node.proto.output[0])


# --- Einsum --------------------------------------------------------------------------


def _is_term(term: str) -> bool:
    """Letters, with at most one ellipsis among them (an empty term is a scalar)."""
    return all(c.isascii() and c.isalpha() for c in term.replace("...", "", 1))


def _expand(term: str, ellipsis: list[str]) -> list[str]:
    head, dots, tail = term.partition("...")
    return list(head) + (ellipsis if dots else []) + list(tail)


def _einsum_labels(node: Node, equation: str, ranks: list[int]) -> tuple[list[list[str]], list[str]]:
    """Each operand's index labels and the result's. An ellipsis stands for the operand's
    unnamed leading dimensions, right-aligned across operands (labels "0", "1", ...);
    without `->` the result is the ellipsis, then the letters used once, sorted."""
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ranks) or not all(map(_is_term, [*terms, output])):
        node.fail(f"equation '{equation}' does not name the indices of its {len(ranks)} operands and result")
    unnamed = [rank - len(t.replace("...", "")) for t, rank in zip(terms, ranks)]
    for term, rank, extra in zip(terms, ranks, unnamed):
        if extra < 0 or (extra and "..." not in term):
            node.fail(f"equation '{equation}': '{term}' does not fit an operand of rank {rank}")
    spread = [str(j) for j in range(max(unnamed))]
    labels = [_expand(t, spread[len(spread) - n :]) for t, n in zip(terms, unnamed)]
    if not arrow:
        return labels, spread + sorted(c for c in set(inputs) if c.isalpha() and inputs.count(c) == 1)
    return labels, _expand(output, spread)


def _check_einsum(node: Node, equation: str, terms: list[list[str]], out: list[str]) -> None:
    """What neither a sum nor a matmul expresses: a label repeated in one term (a diagonal
    or trace), or a result label that no operand has."""
    for term in [*terms, out]:
        repeated = sorted({label for label in term if term.count(label) > 1})
        if repeated:
            node.fail(f"equation '{equation}' repeats index '{repeated[0]}' in one term (diagonals are not supported)")
    orphans = [label for label in out if not any(label in term for term in terms)]
    if orphans:
        node.fail(f"equation '{equation}': result index '{orphans[0]}' is not an index of any operand")


def _sum_out(node: Node, value: SSAValue, term: list[str], keep) -> tuple[SSAValue, list[str]]:
    """Sum away the labels of `term` that are not in `keep` (graph.reduce_sum)."""
    axes = [i for i, label in enumerate(term) if label not in keep]
    if not axes:
        return value, term
    value = node.emit(ReduceSumOp.make([value], {"axes": i64_array(axes), "keepdims": int_attr(0)}))
    return value, [label for label in term if label in keep]


def _einsum_sizes(node: Node, labels: list[list[str]], operands: list[SSAValue], contracted) -> dict[str, int]:
    """Each label's extent. A label of both operands must agree in size, except a kept
    (batch) one may broadcast from 1, as numpy's einsum does."""
    sizes: dict[str, int] = {}
    for term, value in zip(labels, operands):
        for label, dim in zip(term, value.type.get_shape()):
            known = sizes.setdefault(label, dim)
            if known != dim and (label in contracted or 1 not in (known, dim)):
                node.fail(f"index '{label}' has sizes {known} and {dim} in the two operands")
            sizes[label] = max(known, dim)
    return sizes


@importer("Einsum")
def einsum(node: Node):
    """One or two operands. Labels only one operand has and the result lacks are summed
    out first (graph.reduce_sum); one operand is then a transpose, and two operands one
    `graph.matmul` between transposes and reshapes: lhs to (batch, free_lhs, contracted),
    rhs to (batch, contracted, free_rhs). Matmul, batched matmul, bilinear forms, outer
    and inner products all take this form; diagonals and traces do not."""
    equation = node.attr("equation", "").replace(" ", "")
    operands = node.inputs()
    if len(operands) not in (1, 2):
        node.fail(f"supports equations of one or two operands only; '{equation}' has {len(operands)}")
    terms, out = _einsum_labels(node, equation, [v.type.get_num_dims() for v in operands])
    _check_einsum(node, equation, terms, out)
    for i, (value, term) in enumerate(zip(operands, terms)):
        keep = set(out).union(*[t for j, t in enumerate(terms) if j != i])
        operands[i], terms[i] = _sum_out(node, value, term, keep)
    if len(operands) == 1:
        return _transpose_if(node, operands[0], [terms[0].index(label) for label in out])
    lhs, rhs = terms
    batch = [label for label in out if label in lhs and label in rhs]
    free_lhs = [label for label in out if label in lhs and label not in rhs]
    free_rhs = [label for label in out if label in rhs and label not in lhs]
    contracted = [label for label in lhs if label in rhs and label not in out]
    sizes = _einsum_sizes(node, terms, operands, contracted)
    a = _arrange(node, operands[0], lhs, batch, free_lhs, contracted)
    b = _arrange(node, operands[1], rhs, batch, contracted, free_rhs)
    product = node.emit(MatMulOp.make([a, b]))
    result = batch + free_lhs + free_rhs
    product = _reshape_if(node, product, [sizes[label] for label in result])
    return _transpose_if(node, product, [result.index(label) for label in out])


def _arrange(node: Node, value: SSAValue, term: list[str], batch, rows, cols) -> SSAValue:
    """`value` transposed to (batch, rows, cols) and reshaped to (batch, R, C), keeping
    its own batch extents (size-1 ones broadcast in the matmul)."""
    value = _transpose_if(node, value, [term.index(label) for label in batch + rows + cols])
    shape, n = list(value.type.get_shape()), len(batch)
    matrix = [math.prod(shape[n : n + len(rows)]), math.prod(shape[n + len(rows) :])]
    return _reshape_if(node, value, shape[:n] + matrix)


def _transpose_if(node: Node, value: SSAValue, perm: list[int]) -> SSAValue:
    if perm == sorted(perm):
        return value
    return node.emit(TransposeOp.make([value], {"perm": i64_array(perm)}))


def _reshape_if(node: Node, value: SSAValue, shape: list[int]) -> SSAValue:
    return value if list(value.type.get_shape()) == list(shape) else _reshape(node, value, shape)
