"""Resampling: ONNX Resize, nearest, linear or cubic, for images and feature maps.

Upsampling in decoders and FPNs and the resizing in detection and segmentation heads reach
ONNX as Resize (or the older Upsample, which optc does not import). The importer turns
its `scales` or `sizes` input into the `scales` property and the result type, and fills
every attribute's default, so the op states its whole configuration.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, DenseArrayBase, Float32Type, FloatAttr, IntegerAttr, StringAttr, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.graph.base import GraphOp, fail, int_of, str_of
from dialects.graph.tensor import _UNARY_FORMAT, _expect_same_type_but_shape


@irdl_op_definition
class ResizeOp(GraphOp):
    """ONNX Resize, separable over every dimension: `nearest`, `linear` or `cubic` (Keys'
    kernel with `cubic_coeff_a`) sampling. `scales` map output to input coordinates; the
    output sizes are the result type's. `exclude_outside` drops (and renormalises away)
    the taps that fall outside the input instead of repeating its edge; `antialias`
    stretches the linear or cubic filter by 1 / scale when downsampling.
    With `coordinate_transformation_mode = "tf_crop_and_resize"` the output covers the
    region `roi` (all starts, then all ends, as fractions of each axis), and samples
    outside the input are `extrapolation_value`; `roi` is given exactly in that mode."""

    name = "graph.resize"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    scales = prop_def(DenseArrayBase[Float32Type])
    mode = prop_def(StringAttr)
    coordinate_transformation_mode = prop_def(StringAttr)
    nearest_mode = prop_def(StringAttr)
    cubic_coeff_a = prop_def(FloatAttr)
    exclude_outside = prop_def(IntegerAttr[I64])
    antialias = prop_def(IntegerAttr[I64])
    extrapolation_value = prop_def(FloatAttr)
    roi = opt_prop_def(DenseArrayBase[Float32Type])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    MODES: ClassVar = ("nearest", "linear", "cubic")
    COORDINATE_MODES: ClassVar = (
        "half_pixel",
        "half_pixel_symmetric",
        "pytorch_half_pixel",
        "align_corners",
        "asymmetric",
        "tf_half_pixel_for_nn",
        "tf_crop_and_resize",
    )
    NEAREST_MODES: ClassVar = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        _expect_same_type_but_shape(self, src, dst)
        for prop, allowed in (
            ("mode", self.MODES),
            ("coordinate_transformation_mode", self.COORDINATE_MODES),
            ("nearest_mode", self.NEAREST_MODES),
        ):
            if str_of(self.properties[prop]) not in allowed:
                fail(self, f"expects {prop} to be one of {', '.join(allowed)}, got '{str_of(self.properties[prop])}'")
        scales = self.scales.get_values()
        if len(scales) != src.get_num_dims() or min(scales, default=1.0) <= 0:
            fail(self, f"expects {src.get_num_dims()} positive scales for {src}, got {list(scales)}")
        self._verify_filter()
        self._verify_roi()

    def _verify_filter(self) -> None:
        for flag in ("exclude_outside", "antialias"):
            if int_of(self.properties[flag]) not in (0, 1):
                fail(self, f"expects {flag} to be 0 or 1, got {int_of(self.properties[flag])}")
            if int_of(self.properties[flag]) and str_of(self.mode) == "nearest":
                fail(self, f"expects {flag} only with mode linear or cubic")

    def _verify_roi(self) -> None:
        rank = self.input.type.get_num_dims()
        if (self.roi is not None) != (str_of(self.coordinate_transformation_mode) == "tf_crop_and_resize"):
            fail(self, "expects roi exactly when coordinate_transformation_mode is tf_crop_and_resize")
        if self.roi is not None and len(self.roi.get_values()) != 2 * rank:
            fail(self, f"expects roi of {2 * rank} values (starts, then ends) for rank {rank}, got {len(self.roi.get_values())}")


__all__ = [
    "ResizeOp",
]
