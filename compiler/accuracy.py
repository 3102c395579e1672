"""How close two runs' outputs are: numpy's `allclose` rule and its default tolerances.

One comparison serves `optc-run --compare` (optc against the reference or onnxruntime)
and `optc --check-each-pass` (the IR after a pass against the IR before it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOLERANCES = {"fp32": (1e-3, 1e-4), "fp16": (2e-2, 2e-2), "bf16": (6e-2, 6e-2), "int8": (1e-1, 1e-1)}
"""Default (rtol, atol) by precision: fp16 keeps ~11 significant bits and bf16 ~8, and
errors grow over a network's depth; these pass the zoo models. int8 steps by amax/127 per
quantized value: an element may move by a few percent of its tensor's range."""


@dataclass
class Diff:
    """How one output compares with a reference run of it."""

    name: str
    max_abs: float
    max_rel: float
    mismatched: int
    size: int
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem and self.mismatched == 0


def compare(ours: np.ndarray, theirs: np.ndarray, name: str, rtol: float, atol: float) -> Diff:
    """numpy's `isclose` rule (NaN equals NaN); relative error over nonzero references."""
    if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
        problem = f"optc gives {ours.dtype}{list(ours.shape)}, the reference {theirs.dtype}{list(theirs.shape)}"
        return Diff(name, float("nan"), float("nan"), theirs.size, theirs.size, problem)
    a, b = ours.astype(np.float64), theirs.astype(np.float64)
    close = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
    with np.errstate(invalid="ignore"):  # inf - inf, inf / inf
        err = np.where(close & ~np.isfinite(b), 0.0, np.abs(a - b))
        err = np.where(np.isnan(err), np.inf, err)  # NaN against a number
        nonzero = b != 0
        rel = np.where(err[nonzero] == 0, 0.0, err[nonzero] / np.abs(b[nonzero]))  # NaN against NaN is no error
    rel = np.where(np.isnan(rel), np.inf, rel)  # a number against NaN, inf against -inf
    max_rel = float(np.max(rel, initial=0.0))
    return Diff(name, float(err.max(initial=0.0)), max_rel, int((~close).sum()), b.size)
