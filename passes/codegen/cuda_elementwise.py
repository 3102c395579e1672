"""CUDA C for pointwise kernels: a `kernel.func` computing a `fused.elementwise` (or one
elementwise graph op) becomes one `extern "C" __global__` function.

One thread per output element, in a grid-stride loop over the flat index `i`. The
output's multi-index is computed from `i` with strides baked in (shapes are static);
each argument is read with ONNX broadcasting at that multi-index, and the region's ops
are printed, in order, as scalar C expressions through `TEMPLATES` (op class → C).
Parameters: one pointer per argument, one per result, then `long long n` (elements):

    extern "C" __global__ void k0_fused_elementwise(const float* __restrict__ in0,
        const float* __restrict__ in1, float* __restrict__ out0, long long n)

Data types: f32, i32, i64 and i1 (`bool`). f16/bf16 need cuda_fp16.h, which NVRTC
wheels lack; they are refused by name until the headers are wired. An op with no
template is an error naming the op and the kernel: there is no fallback.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import Float32Type, IntegerType, ModuleOp
from xdsl.ir import Attribute, Operation, SSAValue

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import ElementwiseOp, YieldOp
from dialects.graph.base import float_of, str_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.cuda_types import ctype_of, kernel_signature, literal, pointer_params
from passes.codegen.generator import Generator, grid_stride_blocks

BLOCK_SIZE = 256
"""Threads per block the launcher should use; any grid works (grid-stride loop)."""


def c_type(element_type: Attribute, kernel: str) -> str:
    """The C type arithmetic on `element_type` happens in."""
    return ctype_of(element_type, f"@{kernel}").compute


# --- the table: op class → C ------------------------------------------------------------

Emit = Callable[[Operation, Sequence[str], Sequence[str]], str]
"""(op, operand names, operand C types) → a C expression of the op's (first) result."""


def _expr(template: str) -> Emit:
    """`{0}`, `{1}`... are the operands' names; `{t}` is the first operand's C type."""
    return lambda op, a, t: template.format(*a, t=t[0])


def _float_only(template: str) -> Emit:
    def emit(op, a, t):
        if t[0] != "float":
            raise OptcError(f"'{op.name}' on {t[0]} has no CUDA template (float only)")
        return template.format(*a)

    return emit


def _by_kind(float_template: str, int_template: str) -> Emit:
    return lambda op, a, t: (float_template if t[0] == "float" else int_template).format(*a, t=t[0])


def _leaky_relu(op, a, t):
    return f"({a[0]} >= 0.0f ? {a[0]} : {literal(float_of(op.alpha), 'float')} * {a[0]})"


def _hard_sigmoid(op, a, t):
    alpha, beta = literal(float_of(op.alpha), "float"), literal(float_of(op.beta), "float")
    return f"fmaxf(0.0f, fminf(1.0f, {alpha} * {a[0]} + {beta}))"


def _gelu(op, a, t):
    x = a[0]
    if str_of(op.approximate) == "tanh":
        return f"(0.5f * {x} * (1.0f + tanhf(0.7978845608028654f * ({x} + 0.044715f * {x} * {x} * {x}))))"
    return f"(0.5f * {x} * (1.0f + erff({x} * 0.7071067811865476f)))"


def _clip(op, a, t):
    """min(max(x, lo), hi), NaN kept (as numpy's minimum/maximum)."""
    if op.min_value is not None or op.max_value is not None:
        raise OptcError("'graph.clip' with run-time bounds has no CUDA template (property bounds only)")
    lo, hi = literal(op.min.value.data, t[0]), literal(op.max.value.data, t[0])
    low = f"({a[0]} < {lo} ? {lo} : {a[0]})"
    return f"({low} > {hi} ? {hi} : {low})"


def _pow(op, a, t):
    """In float, as the reference's float64 pow then cast (exact enough for f32)."""
    if t[0] != "float":
        raise OptcError(f"'graph.pow' on {t[0]} has no CUDA template (float only)")
    return f"powf({a[0]}, (float){a[1]})"


def _cast(op, a, t):
    return f"(({c_type(op.result.type.element_type, '?')}){a[0]})"


_SIGMOID = "({0} >= 0.0f ? 1.0f / (1.0f + expf(-{0})) : expf({0}) / (1.0f + expf({0})))"

TEMPLATES: dict[type[Operation], Emit] = {
    graph.IdentityOp: _expr("{0}"),
    graph.AddOp: _expr("({0} + {1})"),
    graph.SubOp: _expr("({0} - {1})"),
    graph.MulOp: _expr("({0} * {1})"),
    graph.DivOp: _expr("({0} / {1})"),
    graph.NegOp: _expr("(-{0})"),
    graph.AbsOp: _by_kind("fabsf({0})", "({0} < 0 ? -{0} : {0})"),
    graph.ReluOp: _by_kind("({0} > 0.0f ? {0} : 0.0f)", "({0} > 0 ? {0} : ({t})0)"),
    graph.SigmoidOp: _float_only(_SIGMOID),
    graph.TanhOp: _float_only("tanhf({0})"),
    graph.ExpOp: _float_only("expf({0})"),
    graph.LogOp: _float_only("logf({0})"),
    graph.SqrtOp: _float_only("sqrtf({0})"),
    graph.ReciprocalOp: _float_only("(1.0f / {0})"),
    graph.ErfOp: _float_only("erff({0})"),
    graph.GeluOp: _gelu,
    graph.SiluOp: _float_only("({0} * " + _SIGMOID + ")"),
    graph.HardSigmoidOp: _hard_sigmoid,
    graph.HardSwishOp: _float_only("({0} * fmaxf(0.0f, fminf(1.0f, {0} / 6.0f + 0.5f)))"),
    graph.LeakyReluOp: _leaky_relu,
    graph.ClipOp: _clip,
    graph.MinOp: _by_kind("(({0} < {1} || {0} != {0}) ? {0} : {1})", "({0} < {1} ? {0} : {1})"),
    graph.MaxOp: _by_kind("(({0} > {1} || {0} != {0}) ? {0} : {1})", "({0} > {1} ? {0} : {1})"),
    graph.PowOp: _pow,
    graph.WhereOp: _expr("({0} ? {1} : {2})"),
    graph.EqualOp: _expr("({0} == {1})"),
    graph.LessOp: _expr("({0} < {1})"),
    graph.LessOrEqualOp: _expr("({0} <= {1})"),
    graph.GreaterOp: _expr("({0} > {1})"),
    graph.GreaterOrEqualOp: _expr("({0} >= {1})"),
    graph.AndOp: _expr("({0} && {1})"),
    graph.OrOp: _expr("({0} || {1})"),
    graph.XorOp: _expr("({0} != {1})"),
    graph.NotOp: _expr("(!{0})"),
    graph.CastOp: _cast,
}


# --- indexing ----------------------------------------------------------------------------


def _strides(shape: Sequence[int]) -> list[int]:
    return [math.prod(shape[k + 1 :]) for k in range(len(shape))]


def _index_vars(shape: Sequence[int]) -> list[str]:
    """`long long iK = (i / strideK) % dimK;` for each output dimension of size > 1."""
    lines = []
    for k, (dim, stride) in enumerate(zip(shape, _strides(shape))):
        if dim == 1:
            continue
        q = "i" if stride == 1 else f"(i / {stride}LL)"
        lines.append(f"long long i{k} = {q} % {dim}LL;" if k > 0 else f"long long i{k} = {q};")
    return lines


def _used_index_vars(shape: Sequence[int], code: Sequence[str]) -> list[str]:
    """Only the index variables the loads read (an unused one is a warning from NVRTC and a
    division the compiler must prove dead)."""
    used = set(re.findall(r"\bi(\d+)\b", "\n".join(code)))
    return [line for line in _index_vars(shape) if re.match(r"long long i(\d+)", line).group(1) in used]


def broadcast_index(shape: Sequence[int], out_shape: Sequence[int]) -> str:
    """The flat index into a tensor of `shape` that broadcasts to `out_shape` at `i`'s multi-index."""
    if list(shape) == list(out_shape):
        return "i"
    offset = len(out_shape) - len(shape)
    terms = [
        f"i{k + offset}" if stride == 1 else f"i{k + offset} * {stride}LL"
        for k, (dim, stride) in enumerate(zip(shape, _strides(shape)))
        if dim != 1
    ]
    return " + ".join(terms) if terms else "0"


# --- the kernel --------------------------------------------------------------------------


def _body(kernel: FuncOp) -> tuple[list[Operation], dict[SSAValue, SSAValue], list[SSAValue]]:
    """The ops to print, the map from their block arguments to the kernel's, and the results."""
    op = kernel.computation
    if isinstance(op, ElementwiseOp):
        block = op.body.block
        args = dict(zip(block.args, op.inputs))
        ops = [inner for inner in block.ops if not isinstance(inner, YieldOp)]
        return ops, args, list(block.last_op.values)
    if type(op) in TEMPLATES:
        return [op], {}, list(op.results)
    raise OptcError(
        f"cuda codegen of @{kernel.sym_name.data}: '{op.name}' is not a pointwise kernel "
        "(only fused.elementwise and elementwise graph ops have a CUDA generator yet)"
    )


def configure(kernel: FuncOp) -> LaunchAttr:
    """One thread per element in a grid-stride loop."""
    elements = math.prod(kernel.function_type.outputs.data[0].get_shape())
    return LaunchAttr([grid_stride_blocks(elements, BLOCK_SIZE)], [BLOCK_SIZE])


def emit_kernel(kernel: FuncOp, launch: LaunchAttr | None = None) -> str:
    """The CUDA C source of one pointwise kernel.func."""
    name = kernel.sym_name.data
    ops, region_args, results = _body(kernel)
    out_shape = list(results[0].type.get_shape())
    for r in results:
        if list(r.type.get_shape()) != out_shape:
            raise OptcError(f"cuda codegen of @{name}: results of different shapes ({r.type} vs {results[0].type})")
    names: dict[SSAValue, str] = {}
    loads = []
    for j, arg in enumerate(kernel.body.block.args):
        ctype = ctype_of(arg.type.element_type, f"@{name}")
        index = broadcast_index(arg.type.get_shape(), out_shape)
        loads.append(f"{ctype.compute} a{j} = {ctype.load(f'in{j}[{index}]')};")
        names[arg] = f"a{j}"
    for inner, outer in region_args.items():
        names[inner] = names[outer]
    try:
        lines = scalar_code(ops, names, lambda shape: broadcast_index(shape, out_shape))
    except OptcError as exc:
        raise OptcError(f"cuda codegen of @{name}: {exc}") from None
    stores = [
        f"out{r}[i] = {ctype_of(v.type.element_type, f'@{name}').store(names[v])};" for r, v in enumerate(results)
    ]
    computed = [*loads, *lines, *stores]
    body = "\n".join(f"        {line}" for line in [*_used_index_vars(out_shape, computed), *computed])
    n = math.prod(out_shape)
    return (
        f"{kernel_signature(name, pointer_params(kernel), BLOCK_SIZE)}\n{{\n"
        f"    const long long n = {n}LL;\n"
        "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n;\n"
        "         i += (long long)gridDim.x * blockDim.x) {\n"
        f"{body}\n    }}\n}}\n"
    )


def scalar_code(
    ops: Sequence[Operation],
    names: dict[SSAValue, str],
    index_of: Callable[[Sequence[int]], str],
    prefix: str = "v",
) -> list[str]:
    """C statements computing `ops` (elementwise graph ops and constants, in order) on scalars.

    `names` maps each value the ops read to a C expression of its element, in its compute
    type; each result is added to it (`v0`, `v1`, ... with the given `prefix`). A non-splat
    constant is read at `index_of(its shape)`, the flat index of the element at hand. This is
    what other generators call to print an epilogue region. Raises OptcError for an op with
    no template."""
    lines: list[str] = []
    for counter, op in enumerate(ops):
        ctype = c_type(op.results[0].type.element_type, "?")
        if isinstance(op, graph.ConstantOp):
            expr = _constant(op, ctype, index_of, lines, f"{prefix}c{counter}")
        else:
            emit = TEMPLATES.get(type(op))
            if emit is None:
                raise OptcError(f"'{op.name}' has no CUDA template")
            operand_types = [c_type(v.type.element_type, "?") for v in op.operands]
            expr = emit(op, [names[v] for v in op.operands], operand_types)
        lines.append(f"{ctype} {prefix}{counter} = {expr};")
        names[op.results[0]] = f"{prefix}{counter}"
    return lines


def _constant(op: graph.ConstantOp, ctype: str, index_of, lines: list[str], array_name: str) -> str:
    """A splat becomes a literal; a small constant a local array read with broadcasting."""
    array = op.to_array()
    flat = array.reshape(-1)
    if flat.size == 0 or graph.is_splat(flat):
        return literal(flat[0].item(), ctype)
    if not graph.fits_inline(array):
        raise OptcError(f"a {array.size}-element constant is too large to inline in a CUDA kernel")
    values = ", ".join(literal(x.item(), ctype) for x in flat)
    lines.append(f"const {ctype} {array_name}[{flat.size}] = {{{values}}};")
    return f"{array_name}[{index_of(array.shape)}]"


GENERATORS: dict[type[Operation], Generator] = {
    op_class: Generator(configure, emit_kernel) for op_class in [ElementwiseOp, *TEMPLATES]
}
