"""Channels first and channels last: the two layouts of the spatial `nn` ops.

Convolution, pooling and batch/instance norm also have a channels-last form, written
`layout = "NHWC"` (absent, or "NCHW", is channels first): (N, *spatial, C), what
tensor-core convolution kernels read, for any spatial rank (NWC, NHWC, NDHWC). An NHWC
`graph.conv` takes its weight as (M, *kernel, C/group), the OHWI layout cuDNN and
CUTLASS use for NHWC. `graph-to-nhwc` introduces these forms; the importer never does.
An NHWC op means exactly its NCHW form with the channel axis moved last (in the input,
the weight and the result), which is how its types are checked (`layout_aware`) and how
the reference runs it.

`fused.conv` may also read its input in the other layout (`input_layout`, absent: the
op's `layout`): a channels-last conv on a channels-first input is the NHWC conv of the
transposed input, with the transpose done by the kernel's loads (`fuse-conv-input-transpose`).
"""

from __future__ import annotations

import functools

from xdsl.dialects.builtin import TensorType
from xdsl.utils.exceptions import VerifyException

from dialects.graph.base import fail, str_of

LAYOUTS = ("NCHW", "NHWC")
"""Channels first (ONNX's, the default) and channels last."""


def channels_first_perm(rank: int) -> tuple[int, ...]:
    """The `graph.transpose` perm from channels last to channels first: (0, rank-1, 1, ...)."""
    return (0, rank - 1, *range(1, rank - 1))


def channels_last_perm(rank: int) -> tuple[int, ...]:
    """The `graph.transpose` perm from channels first to channels last: (0, 2, ..., 1)."""
    return (0, *range(2, rank), 1)


def is_channels_last(op) -> bool:
    """Whether `op` (a graph or fused op with a `layout` property) is in the NHWC form."""
    return str_of(op.properties.get("layout"), "NCHW") == "NHWC"


def input_is_channels_last(op) -> bool:
    """Whether `op`'s input is channels last: its `input_layout`, else its `layout`."""
    layout = op.properties.get("input_layout")
    return is_channels_last(op) if layout is None else str_of(layout, "NCHW") == "NHWC"


def channel_axis(op) -> int:
    """The channel axis of `op`'s result: 1, or the last axis in the NHWC form."""
    return op.results[0].type.get_num_dims() - 1 if is_channels_last(op) else 1


def spatial_shape(t: TensorType, op) -> tuple[int, ...]:
    """The spatial dimensions of `t`, an input or result of `op`, in `op`'s layout."""
    shape = tuple(t.get_shape())
    return shape[1:-1] if is_channels_last(op) else shape[2:]


def _permuted(t: TensorType, perm: tuple[int, ...]) -> TensorType:
    return TensorType(t.element_type, [t.get_shape()[p] for p in perm])


def relayout(t: TensorType, source: str, target: str) -> TensorType:
    """The type of `t`, a tensor in layout `source`, transposed to layout `target`."""
    if source == target:
        return t
    rank = t.get_num_dims()
    return _permuted(t, channels_last_perm(rank) if target == "NHWC" else channels_first_perm(rank))


def layout_aware(*operands: int):
    """Wrap an op's NCHW `infer` so that it also checks and infers the NHWC form: the
    listed operands (the input, a conv's weight) are viewed channels first, the NCHW rules
    run, and the result is moved back to channels last. Messages about an NHWC op say that
    they show its shapes channels first."""

    def wrap(infer):
        @functools.wraps(infer)
        def run(cls, types, props):
            layout = str_of(props.get("layout"), "NCHW")
            if layout not in LAYOUTS:
                fail(cls, f"expects layout to be one of {', '.join(LAYOUTS)}, got '{layout}'")
            if layout == "NCHW":
                return infer(cls, types, props)
            if types[0].get_num_dims() < 3:
                fail(cls, f"expects an NHWC input of rank at least 3 (N, spatial..., C), got {types[0]}")
            first = [_permuted(t, channels_first_perm(t.get_num_dims())) if i in operands else t for i, t in enumerate(types)]
            try:
                results = infer(cls, first, props)
            except VerifyException as e:
                raise VerifyException(f"{e} (layout NHWC, shapes shown channels first)") from None
            return [_permuted(r, channels_last_perm(r.get_num_dims())) for r in results]

        return run

    return wrap
