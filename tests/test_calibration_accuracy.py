"""The int8 accuracy target (issue 12): a small CNN trained on scikit-learn's digits
(tests/digits_cnn.py), calibrated on training images, keeps its held-out top-1 within 0.5
points of fp32 through the QDQ graph optc prints at `--compile-to graph --precision int8`
(run by the reference interpreter)."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from compiler.calibration import CalibrationOptions  # noqa: E402
from dialects.quant import DequantizeOp, QuantizeOp  # noqa: E402
from tests.digits_cnn import calibration_file, compiled, digits, export, top1, train  # noqa: E402


@pytest.fixture(scope="module")
def trained():
    split = digits()
    model = export(train(split))
    return split, model, top1(compiled(model, "fp32"), split.test_x, split.test_y)


def test_the_fp32_model_learned_the_digits(trained):
    assert trained[2] > 95.0


@pytest.mark.parametrize("method", ["minmax", "entropy", "percentile", "mse"])
def test_int8_top1_is_within_half_a_point_of_fp32(trained, method, tmp_path):
    split, model, fp32 = trained
    module = compiled(model, "int8", CalibrationOptions(data=calibration_file(split, str(tmp_path)), method=method))
    per_channel = [op for op in module.walk() if isinstance(op, DequantizeOp) and op.axis is not None]
    assert len(per_channel) == 2  # conv 16->32 and gemm 512->64; conv 1->16 and gemm 64->10 stay float
    assert sum(isinstance(op, QuantizeOp) for op in module.walk()) == 2
    int8 = top1(module, split.test_x, split.test_y)
    assert abs(int8 - fp32) <= 0.5, f"{method}: int8 {int8:.2f} vs fp32 {fp32:.2f}"
