"""graph.resize on the GPU, as the reference (`runtime/reference/tensor.py`) computes it.

The reference resamples one axis after another (the axes whose size, scale or crop
change, in increasing order); a thread here computes one output element with the same
structure: per resized axis, its taps and weights (computed once), then nested loops
whose innermost level blends along the first resized axis, so every intermediate value
is the reference's intermediate value up to float rounding order.

- nearest: no arithmetic on the data, so any element type, moved as raw words (and as
  vectors when the innermost axis is not resized). The output -> input coordinate is
  computed in float32 with round-to-nearest intrinsics (`__fadd_rn`, ...), which NVCC
  never contracts into FMAs, so the picked index is the reference's exactly.
- linear and cubic (with antialias, exclude_outside, tf_crop_and_resize): f32, f16,
  bf16 and f64, computed in float32 as the reference does; integers are refused (the
  reference rounds and saturates an exactly computed value, which float blending order
  would not reproduce at the half-way points).
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects.builtin import IntegerType

from dialects.graph import ResizeOp
from dialects.graph.base import float_of, int_of, str_of
from dialects.kernel import FuncOp
from passes.codegen.movement.skeleton import (
    Context,
    Plan,
    Spec,
    element_bits,
    itemsize,
    refuse,
    shape_of,
    strides,
    vector_shape,
    word_literal,
)
from passes.codegen.common.types import ctype_of, literal

f32 = np.float32


def _f(value) -> str:
    return literal(float(f32(value)), "float")


def resized_axes(op: ResizeOp) -> list[int]:
    """The axes the reference resamples (it skips those with scale 1, the same size and
    no crop)."""
    src, dst, rank = shape_of(op.input), shape_of(op.result), len(shape_of(op.input))
    roi = list(op.roi.get_values()) if op.roi is not None else None
    axes = []
    for axis, (scale, n_in, n_out) in enumerate(zip(op.scales.get_values(), src, dst)):
        crop = (roi[axis], roi[rank + axis]) if roi is not None else None
        if not (scale == 1 and n_in == n_out and crop in (None, (0, 1))):
            axes.append(axis)
    return axes


def coordinate(op: ResizeOp, axis: int, x: str) -> str:
    """The C float32 expression of the input coordinate of output position `x` (a float)
    along `axis`, operation by operation as numpy evaluates the reference's formula."""
    n_in, n_out = shape_of(op.input)[axis], shape_of(op.result)[axis]
    scale = f32(op.scales.get_values()[axis])
    mode = str_of(op.coordinate_transformation_mode)
    s = _f(scale)
    half_pixel = f"__fsub_rn(__fdiv_rn(__fadd_rn({x}, 0.5f), {s}), 0.5f)"
    if mode == "tf_crop_and_resize":
        rank = len(shape_of(op.input))
        roi = op.roi.get_values()
        start, end = f32(roi[axis]), f32(roi[rank + axis])
        if n_out > 1:
            g, h = start * f32(n_in - 1), end - start
            return f"__fadd_rn({_f(g)}, __fdiv_rn(__fmul_rn(__fmul_rn({x}, {_f(h)}), {_f(n_in - 1)}), {_f(n_out - 1)}))"
        return _f(f32(0.5) * (start + end) * f32(n_in - 1))
    if mode == "half_pixel":
        return half_pixel
    if mode == "half_pixel_symmetric":
        e = (f32(n_in) / f32(2)) * (f32(1) - f32(n_out) / (scale * f32(n_in)))
        return f"__fsub_rn(__fadd_rn({_f(e)}, __fdiv_rn(__fadd_rn({x}, 0.5f), {s})), 0.5f)"
    if mode == "pytorch_half_pixel":
        return half_pixel if n_out > 1 else "0.0f"
    if mode == "align_corners":
        return f"__fdiv_rn(__fmul_rn({x}, {_f(n_in - 1)}), {_f(n_out - 1)})" if n_out > 1 else "0.0f"
    if mode == "asymmetric":
        return f"__fdiv_rn({x}, {s})"
    assert mode == "tf_half_pixel_for_nn"
    return f"__fdiv_rn(__fadd_rn({x}, 0.5f), {s})"


_NEAREST = {
    "round_prefer_floor": "ceilf(__fsub_rn({c}, 0.5f))",
    "round_prefer_ceil": "floorf(__fadd_rn({c}, 0.5f))",
    "floor": "floorf({c})",
    "ceil": "ceilf({c})",
}


def _check(kernel: FuncOp) -> None:
    op = kernel.computation
    if str_of(op.mode) != "nearest" and isinstance(op.input.type.element_type, IntegerType):
        raise refuse(
            kernel,
            f"in {str_of(op.mode)} mode on {op.input.type.element_type} has no CUDA generator "
            "(integer tensors resize in nearest mode only)",
        )


def _vector_ok(kernel: FuncOp, vector: int) -> bool:
    op = kernel.computation
    src = shape_of(op.input)
    if vector == 1:
        return True
    return str_of(op.mode) == "nearest" and bool(src) and len(src) - 1 not in resized_axes(op) and src[-1] % vector == 0


def _outside(op: ResizeOp, axis: int, c: str) -> str:
    return f"({c} < 0.0f || {c} > {_f(shape_of(op.input)[axis] - 1)})"


def _nearest_plan(ctx: Context) -> Plan:
    op = ctx.op
    src, dst = vector_shape(shape_of(op.input), ctx.vector), vector_shape(shape_of(op.result), ctx.vector)
    lines, names = ctx.coords("i", dst, "c")
    crop = op.roi is not None
    picked, outside = list(names), []
    for axis in resized_axes(op):
        if names[axis] == "0":
            x = "0.0f"
        else:
            x = f"(float){names[axis]}"
        lines.append(f"const float x{axis} = {coordinate(op, axis, x)};")
        rounded = _NEAREST[str_of(op.nearest_mode)].format(c=f"x{axis}")
        top = _f(src[axis] - 1)
        lines.append(f"const {ctx.index} s{axis} = ({ctx.index})fminf(fmaxf({rounded}, 0.0f), {top});")
        picked[axis] = f"s{axis}"
        if crop:
            outside.append(_outside(op, axis, f"x{axis}"))
    read = f"in0[{ctx.dot(picked, strides(src))}]"
    if outside:
        t = op.input.type.element_type
        fill = word_literal(element_bits(float_of(op.extrapolation_value), t), itemsize(t, ctx.kernel), ctx.vector)
        read = f"({' || '.join(outside)}) ? {fill} : {read}"
    return Plan(math.prod(dst), [*lines, f"out0[i] = {read};"])


def _taps(op: ResizeOp, axis: int, c: str) -> tuple[int, list[str]]:
    """(taps T, statements filling `int t{axis}[T]` and `float w{axis}[T]` for coordinate `c`)."""
    n_in = shape_of(op.input)[axis]
    scale = float(op.scales.get_values()[axis])
    mode = str_of(op.mode)
    antialias, exclude = bool(int_of(op.antialias)), bool(int_of(op.exclude_outside))
    ta, wa = f"t{axis}", f"w{axis}"
    if mode == "linear" and not (antialias or exclude):
        return 2, [
            f"const float k{axis} = fminf(fmaxf({c}, 0.0f), {_f(n_in - 1)});",
            f"const float f{axis} = floorf(k{axis});",
            f"int {ta}[2] = {{(int)f{axis}, min((int)f{axis} + 1, {n_in - 1})}};",
            f"float {wa}[2] = {{1.0f - (k{axis} - f{axis}), k{axis} - f{axis}}};",
        ]
    half_width = 1 if mode == "linear" else 2
    stretch = f32(min(scale, 1.0) if antialias else 1.0)
    first = math.floor(-half_width / stretch) + 1
    taps = 2 - 2 * first
    a = float_of(op.cubic_coeff_a)
    d = "d"
    if mode == "linear":
        weight = f"fmaxf(0.0f, 1.0f - {d})"
    else:
        near = f"(({_f(a + 2)} * {d} - {_f(a + 3)}) * {d} * {d} + 1.0f)"
        far = f"((({_f(a)} * {d} - {_f(5 * a)}) * {d} + {_f(8 * a)}) * {d} - {_f(4 * a)})"
        weight = f"({d} <= 1.0f ? {near} : ({d} < 2.0f ? {far} : 0.0f))"
    lines = [
        f"const float l{axis} = ceilf({c}) - 1.0f;",
        f"int {ta}[{taps}]; float {wa}[{taps}]; float total{axis} = 0.0f;",
        "#pragma unroll",
        f"for (int k = 0; k < {taps}; ++k) {{",
        f"    const float d = fabsf(((float)(k + {first}) - ({c} - l{axis})) * {_f(stretch)});",
        f"    const int tap = (int)l{axis} + k + {first};",
        f"    float w = {weight};",
    ]
    if exclude:
        lines.append(f"    if (tap < 0 || tap >= {n_in}) w = 0.0f;")
    lines += [
        f"    {wa}[k] = w; total{axis} += w;",
        f"    {ta}[k] = tap < 0 ? 0 : (tap > {n_in - 1} ? {n_in - 1} : tap);",
        "}",
    ]
    if antialias or exclude:
        lines += [
            f"if (total{axis} == 0.0f) total{axis} = 1.0f;",
            "#pragma unroll",
            f"for (int k = 0; k < {taps}; ++k) {wa}[k] /= total{axis};",
        ]
    else:
        lines.append(f"(void)total{axis};")
    return taps, lines


def _filter_plan(ctx: Context) -> Plan:
    """Linear and cubic: per resized axis its taps and weights, then the nested blend."""
    op = ctx.op
    src, dst = shape_of(op.input), shape_of(op.result)
    kernel_name = f"@{ctx.kernel.sym_name.data}"
    ctype = ctype_of(op.input.type.element_type, kernel_name)
    lines, names = ctx.coords("i", dst, "c")
    axes = resized_axes(op)
    in_strides = strides(src)
    kept = [k for k in range(len(src)) if k not in axes]
    base = ctx.dot([names[k] for k in kept], [in_strides[k] for k in kept])
    crop = op.roi is not None
    taps = {}
    for axis in axes:
        x = "0.0f" if names[axis] == "0" else f"(float){names[axis]}"
        lines.append(f"const float x{axis} = {coordinate(op, axis, x)};")
        taps[axis], tap_lines = _taps(op, axis, f"x{axis}")
        lines += tap_lines
    extrap = _f(float_of(op.extrapolation_value))
    load = ctype.load(f"in0[at]")
    if ctype.compute == "double":
        load = f"(float){load}"
    index = " + ".join([base, *(f"({ctx.index})t{a}[k{a}] * {ctx.lit(in_strides[a])}" for a in axes)])
    inner = [f"const {ctx.index} at = {index};", f"v{axes[0]} += w{axes[0]}[k{axes[0]}] * {load};"] if axes else []
    # nest from the last resized axis (outermost loop) to the first (innermost blend)
    for level, axis in enumerate(axes):
        body = [f"float v{axis} = 0.0f;", f"for (int k{axis} = 0; k{axis} < {taps[axis]}; ++k{axis}) {{"]
        body += [f"    {line}" for line in inner]
        body.append("}")
        if crop:
            body.append(f"if {_outside(op, axis, f'x{axis}')} v{axis} = {extrap};")
        if level + 1 < len(axes):
            outer = axes[level + 1]
            body.append(f"v{outer} += w{outer}[k{outer}] * v{axis};")
        inner = body
    if not axes:
        return Plan(math.prod(dst), [*lines, f"out0[i] = in0[{base}];"])
    result = f"v{axes[-1]}"
    store = ctype.store(result) if ctype.compute == "float" else f"({ctype.compute}){result}"
    return Plan(math.prod(dst), [*lines, *inner, f"out0[i] = {store};"])


def _plan(ctx: Context) -> Plan:
    return _nearest_plan(ctx) if str_of(ctx.op.mode) == "nearest" else _filter_plan(ctx)


def _typed(kernel: FuncOp) -> set[str]:
    return set() if str_of(kernel.computation.mode) == "nearest" else {"in0", "out0"}


RESIZE = Spec(_plan, _vector_ok, typed=_typed, check=_check)

SPECS = {ResizeOp: RESIZE}
