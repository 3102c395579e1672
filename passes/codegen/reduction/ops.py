"""What each reduction anchor computes, as `Stat`s (reductions over the row) and the lines
that make its results: the reference's formulas (`runtime/reference/tensor.py`, `nn.py`)
in C, with the accumulation types the reference uses.

- reduce_* on floats accumulate in float (f16/bf16/f32) or double (f64); on integers, sums
  and products wrap in the element type (accumulated unsigned, which wraps the same low
  bits), max/min compare in the type, mean and l2 go through double and truncate toward
  zero, as onnxruntime's integer kernels do.
- max/min/softmax propagate NaN (numpy's max does); arg_max/arg_min rank NaN above every
  number (numpy's argmax/argmin pick the first NaN) and break ties by index.
- softmax: max, then the sum of exp(x - max); log_softmax: (x - max) - log(sum).
- layer/instance norm: mean, then the mean of (x - mean)² (two passes, as the reference),
  y = (x - mean) * (1 / sqrt(var + eps)) * scale + bias.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.ir import Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.graph.base import float_of, int_of, ints
from dialects.graph.layout import channel_axis, is_channels_last
from dialects.graph.reduction import ArgMaxOp, ArgReduceOp, ReduceOp
from passes.codegen.common.types import CType, literal, math_fn
from passes.codegen.reduction.skeleton import Stat

# --- combines ------------------------------------------------------------------------------


def _sum(a, b) -> str:
    return f"{a[0]} += {b[0]};"


def _prod(a, b) -> str:
    return f"{a[0]} *= {b[0]};"


def _max(a, b) -> str:
    """NaN wins (x != x only for NaN; always false for integers)."""
    return f"{a[0]} = ({a[0]} > {b[0]} || {a[0]} != {a[0]}) ? {a[0]} : {b[0]};"


def _min(a, b) -> str:
    return f"{a[0]} = ({a[0]} < {b[0]} || {a[0]} != {a[0]}) ? {a[0]} : {b[0]};"


def _arg(largest: bool, last: bool):
    """(value, index) pairs; index -1 is the empty partial. NaN ranks above all numbers, ties
    go to the lower index (the higher with select_last_index): a total order, so the fold is
    associative and commutative and any thread split gives numpy's answer."""
    cmp, tie = (">" if largest else "<"), (">" if last else "<")

    def combine(a, b) -> str:
        va, ia, vb, ib = a[0], a[1], b[0], b[1]
        better = f"(({vb} != {vb}) && !({va} != {va})) || {vb} {cmp} {va}"
        equal = f"({vb} == {va}) || (({vb} != {vb}) && ({va} != {va}))"
        return f"if ({ib} >= 0 && ({ia} < 0 || {better} || (({equal}) && {ib} {tie} {ia}))) {{ {va} = {vb}; {ia} = {ib}; }}"

    return combine


# --- types ---------------------------------------------------------------------------------


def _int_limits(ctype: CType) -> tuple[int, int]:
    bits = ctype.itemsize * 8
    if ctype.storage.startswith("unsigned") or ctype.storage == "bool":
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def _promoted(ctype: CType) -> str:
    """An integer type shuffles and accumulates as at least 32 bits."""
    if ctype.itemsize >= 4:
        return ctype.compute
    return "unsigned int" if ctype.storage.startswith("unsigned") else "int"


def _wrapping(ctype: CType) -> str:
    return "unsigned long long" if ctype.itemsize == 8 else "unsigned int"


@dataclass
class Recipe:
    """An anchor in C: its reduced axes, the `Stat`s in order, and how its results are made.

    `write(names)` gives the element lines of a normalization's write pass (names of the
    anchor's operands at the element → lines defining `y`); None for a reduction, whose
    result is the row scalar `row_result`. `row_outputs` names row scalars for other
    results (layer norm's mean and inv_std_dev)."""

    axes: tuple[int, ...]
    xtype: str
    stats: list[Stat]
    write: Callable[[dict[SSAValue, str]], list[str]] | None = None
    row_result: str | None = None
    row_outputs: dict[SSAValue, str] = field(default_factory=dict)
    channel_operands: tuple[int, ...] = ()
    """Operands read per channel (instance norm's scale and bias), not by broadcasting."""
    channel_axis: int = -1


def recipe(op: Operation, x: CType, cached: bool, where: str) -> Recipe:
    """The recipe of anchor `op` whose data input has C type `x`."""
    rank = op.operands[0].type.get_num_dims()
    if isinstance(op, ReduceOp):
        return _reduce(op, type(op), ints(op.axes), x, where)
    if isinstance(op, ArgReduceOp):
        return _arg_reduce(op, x, where)
    if not x.is_float:
        raise OptcError(f"{where}: '{op.name}' on {x.storage} (a float op)")
    if isinstance(op, graph.SoftmaxOp | graph.LogSoftmaxOp):
        return _softmax(op, (int_of(op.axis) % rank,), x, cached)
    if isinstance(op, graph.LayerNormOp):
        axis = int_of(op.axis) % rank
        return _norm(op, tuple(range(axis, rank)), x, cached)
    if isinstance(op, graph.InstanceNormOp):
        spatial = tuple(range(1, rank - 1)) if is_channels_last(op) else tuple(range(2, rank))
        r = _norm(op, spatial, x, cached)
        r.channel_operands, r.channel_axis = (1, 2), channel_axis(op)
        return r
    if isinstance(op, graph.BatchNormOp):
        return _batch_norm(op, x)
    if isinstance(op, graph.GlobalAveragePoolOp | graph.GlobalMaxPoolOp):
        spatial = tuple(range(1, rank - 1)) if is_channels_last(op) else tuple(range(2, rank))
        kind = graph.ReduceMeanOp if isinstance(op, graph.GlobalAveragePoolOp) else graph.ReduceMaxOp
        return _reduce(op, kind, spatial, x, where)
    raise OptcError(
        f"{where}: '{op.name}' has no CUDA reduction recipe (softmax, log_softmax, layer_norm, "
        "instance_norm, batch_norm, reduce_*, arg_max/arg_min and global pools do)"
    )


def _reduced_size(op: Operation, axes) -> int:
    shape = op.operands[0].type.get_shape()
    size = 1
    for k in axes:
        size *= shape[k]
    return size


BOOL_REDUCTIONS = {
    graph.ReduceMaxOp: ("any", _max, 0),
    graph.ReduceSumOp: ("any", _max, 0),
    graph.ReduceMinOp: ("all", _min, 1),
    graph.ReduceProdOp: ("all", _min, 1),
}
"""Reductions of i1 (numpy's with dtype bool): max and sum are any, min and prod all; the
identity (False, True) is also the reference's answer for an empty row."""


def _reduce_bool(op: Operation, kind: type, axes, where: str) -> Recipe:
    if kind not in BOOL_REDUCTIONS:
        raise OptcError(f"{where}: '{op.name}' on i1 has no CUDA lowering (max, min, sum and prod do)")
    _, combine, init = BOOL_REDUCTIONS[kind]
    stat = Stat("acc", ("int",), (str(init),), ("(int)x",), combine, ("const bool res = acc0 != 0;",))
    return Recipe(tuple(axes), "bool", [stat], row_result="res")


def _reduce(op: Operation, kind: type, axes, x: CType, where: str) -> Recipe:
    if x.compute == "bool":
        return _reduce_bool(op, kind, axes, where)
    count = _reduced_size(op, axes)
    if x.is_float:
        acc = x.compute
        sqrt = math_fn("sqrt", x)
        lift, square = f"({acc}){'x'}", f"(({acc})x * ({acc})x)"
        table = {
            graph.ReduceSumOp: (_sum, 0, lift, "{a}"),
            graph.ReduceMeanOp: (_sum, 0, lift, f"{{a}} / {literal(count, acc)}"),
            graph.ReduceMaxOp: (_max, float("-inf"), lift, "{a}"),
            graph.ReduceMinOp: (_min, float("inf"), lift, "{a}"),
            graph.ReduceProdOp: (_prod, 1, lift, "{a}"),
            graph.ReduceL2Op: (_sum, 0, square, f"{sqrt}({{a}})"),
            graph.ReduceSumSquareOp: (_sum, 0, square, "{a}"),
        }
        combine, init, lift, final = table[kind]
        init = literal(init, acc)
    else:
        low, high = _int_limits(x)
        wrap, wide = _wrapping(x), _promoted(x)
        table = {
            graph.ReduceSumOp: (_sum, wrap, 0, f"({wrap})x", "{a}"),
            graph.ReduceMeanOp: (_sum, "double", 0, "(double)x", f"trunc({{a}} / {float(count)!r})"),
            graph.ReduceMaxOp: (_max, wide, low, f"({wide})x", "{a}"),
            graph.ReduceMinOp: (_min, wide, high, f"({wide})x", "{a}"),
            graph.ReduceProdOp: (_prod, wrap, 1, f"({wrap})x", "{a}"),
            graph.ReduceL2Op: (_sum, "double", 0, "((double)x * (double)x)", "trunc(sqrt({a}))"),
            graph.ReduceSumSquareOp: (_sum, wrap, 0, f"(({wrap})x * ({wrap})x)", "{a}"),
        }
        combine, acc, init, lift, final = table[kind]
        init = literal(init, acc)
    stat = Stat("acc", (acc,), (init,), (lift,), combine, (f"const {x.compute} res = ({x.compute})({final.format(a='acc0')});",))
    return Recipe(tuple(axes), x.compute, [stat], row_result="res")


def _arg_reduce(op: ArgReduceOp, x: CType, where: str) -> Recipe:
    if x.compute == "bool":
        raise OptcError(f"{where}: '{op.name}' on i1 has no CUDA lowering (integers and floats do)")
    axis = int_of(op.axis) % op.input.type.get_num_dims()
    value = x.compute if x.is_float else _promoted(x)
    combine = _arg(isinstance(op, ArgMaxOp), bool(int_of(op.select_last_index)))
    zero = literal(0, value)
    stat = Stat("arg", (value, "long long"), (zero, "-1LL"), (f"({value})x", "r"), combine, ("const long long res = arg1;",))
    return Recipe((axis,), x.compute, [stat], row_result="res")


def _softmax(op: Operation, axes, x: CType, cached: bool) -> Recipe:
    t = x.compute
    exp, log = math_fn("exp", x), math_fn("log", x)
    row_max = Stat("mx", (t,), (literal(float("-inf"), t),), ("x",), _max, (f"const {t} m = mx0;",))
    if isinstance(op, graph.SoftmaxOp):
        total = Stat(
            "sm", (t,), (literal(0, t),), ("e",), _sum, (f"const {t} inv = {literal(1, t)} / sm0;",),
            pre=(f"const {t} e = {exp}(x - m);",), cache_store="e" if cached else None,
        )
        y = "x * inv" if cached else f"{exp}(x - m) * inv"
    else:
        total = Stat("sm", (t,), (literal(0, t),), (f"{exp}(x - m)",), _sum, (f"const {t} lse = {log}(sm0);",))
        y = "(x - m) - lse"
    return Recipe(axes, t, [row_max, total], write=lambda names: [f"const {t} y = {y};"])


def _norm(op: Operation, axes, x: CType, cached: bool) -> Recipe:
    t = x.compute
    count = literal(_reduced_size(op, axes), t)
    eps = literal(float_of(op.epsilon), t)
    sqrt = math_fn("sqrt", x)
    mean = Stat("mu", (t,), (literal(0, t),), ("x",), _sum, (f"const {t} mean = mu0 / {count};",))
    var = Stat(
        "va", (t,), (literal(0, t),), ("(x - mean) * (x - mean)",), _sum,
        (f"const {t} rstd = {literal(1, t)} / {sqrt}(va0 / {count} + {eps});",),
    )
    has_bias = len(op.operands) > 2

    def write(names: dict[SSAValue, str]) -> list[str]:
        scale = names[op.operands[1]]
        shift = f" + {names[op.operands[2]]}" if has_bias else ""
        return [f"const {t} y = (x - mean) * rstd * {scale}{shift};"]

    r = Recipe(axes, t, [mean, var], write=write)
    if isinstance(op, graph.LayerNormOp) and op.mean is not None:
        r.row_outputs = {op.mean: "(float)mean", op.inv_std_dev: "(float)rstd"}
    return r


BATCH_NORM_ROW = 1024
"""Most elements of the pseudo-row a batch norm's element loop walks (see `_batch_norm`)."""


def batch_norm_axes(shape) -> tuple[int, ...]:
    """Trailing axes whose product stays within BATCH_NORM_ROW: batch norm reduces nothing,
    so its 'rows' only shape the element loop (contiguous runs for vector accesses, the
    other axes spread over blocks)."""
    axes, size = [len(shape) - 1], shape[-1]
    for k in range(len(shape) - 2, -1, -1):
        if size * shape[k] > BATCH_NORM_ROW:
            break
        axes.insert(0, k)
        size *= shape[k]
    return tuple(axes)


def _batch_norm(op: Operation, x: CType) -> Recipe:
    """Inference batch norm, element by element with its channel's parameters, in the
    reference's order: f = scale / sqrt(var + eps), y = x * f + (bias - mean * f)."""
    t = x.compute
    eps, sqrt = literal(float_of(op.epsilon), t), math_fn("sqrt", x)

    def write(names: dict[SSAValue, str]) -> list[str]:
        scale, bias, mean, var = (names[op.operands[k]] for k in range(1, 5))
        return [
            f"const {t} bn_f = {scale} / {sqrt}({var} + {eps});",
            f"const {t} y = x * bn_f + ({bias} - {mean} * bn_f);",
        ]

    axes = batch_norm_axes(op.operands[0].type.get_shape())
    return Recipe(axes, t, [], write=write, channel_operands=(1, 2, 3, 4), channel_axis=channel_axis(op))
