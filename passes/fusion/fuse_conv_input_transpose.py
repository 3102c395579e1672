"""`fuse-conv-input-transpose`: a convolution with few input channels reads a channels-first
input itself, so the transpose that `graph-to-nhwc` put before it is no kernel of its own.

`graph-to-nhwc` runs every convolution channels last and transposes each value entering a
channels-last region; in a CNN that is the model's NCHW input, so the first launch moves
the whole input to NHWC just for the stem conv (ResNet-50: 1 kernel of 57). The stem has
three input channels, too few for the tensor-core kernel (its 16-byte channel loads need
NHWC and C_in % 8 == 0), so it runs on the SIMT implicit-GEMM kernel, which reads an NCHW
input as well as an NHWC one (`conv/gemm.py`: the input tile is loaded pixel-fast from
NCHW, so the loads stay coalesced) and writes its NHWC result either way.

The rewrite: a `graph.transpose` to channels last (perm (0, 2, ..., 1), rank 3 to 5) whose
readers are all NHWC `fused.conv`s that read it as their input, each with group 1 and at
most `max-channels` input channels, is erased; each such conv reads the transpose's input
and says so with `input_layout = "NCHW"` (its weight and result stay NHWC). A transpose with
any other reader stays as it is (it would still be a kernel), and so do its convs. Convs
with more channels keep their NHWC input: from 8 channels on, f16/bf16 convs take the
tensor-core kernel, which reads NHWC only. Depthwise and grouped convs keep theirs too (the
depthwise kernel reads its input in its own layout).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from dialects.fused import ConvOp
from dialects.graph import TransposeOp
from dialects.graph.base import int_of, ints
from dialects.graph.layout import channels_last_perm, is_channels_last
from passes.graph.nhwc_rules import SPATIAL_RANKS


def _to_channels_last(op: Operation) -> bool:
    """Whether `op` is a `graph.transpose` from channels first to channels last."""
    if not isinstance(op, TransposeOp):
        return False
    rank = op.input.type.get_num_dims()
    return rank in SPATIAL_RANKS and ints(op.perm) == channels_last_perm(rank)


def _reads_as_input(conv: Operation, index: int, max_channels: int) -> bool:
    """Whether operand `index` of `conv` is the input of an NHWC, group-1 `fused.conv` with at
    most `max_channels` input channels, which can read that input channels first."""
    return (
        isinstance(conv, ConvOp)
        and index == 0
        and is_channels_last(conv)
        and conv.input_layout is None
        and int_of(conv.group) == 1
        and conv.input.type.get_shape()[-1] <= max_channels
    )


def fold(transpose: TransposeOp, max_channels: int) -> None:
    """Fold `transpose` into the convs that read it, if they all can."""
    uses = list(transpose.result.uses)
    if not uses or not all(_reads_as_input(use.operation, use.index, max_channels) for use in uses):
        return
    for use in uses:
        conv = use.operation
        conv.operands[0] = transpose.input
        conv.properties["input_layout"] = StringAttr("NCHW")
    transpose.detach()
    transpose.erase()


@dataclass(frozen=True)
class FuseConvInputTranspose(ModulePass):
    """Let convs with few input channels read a channels-first input in place of its transpose."""

    name = "fuse-conv-input-transpose"

    max_channels: int = 7
    """The most input channels a conv may have to read its input channels first."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if self.max_channels < 1:
            raise PassFailedException(f"fuse-conv-input-transpose: max-channels must be at least 1, got {self.max_channels}")
        for transpose in [o for o in op.walk() if _to_channels_last(o)]:
            fold(transpose, self.max_channels)
