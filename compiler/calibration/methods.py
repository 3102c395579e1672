"""Calibration methods: a value's histogram -> the amax its int8 scale represents
(scale = amax / 127). Each is deterministic: the same histogram gives the same amax.

- `minmax`: the largest |x| seen; nothing clips, outliers cost resolution.
- `percentile`: the bin edge below which `percentile`% of the |x| fall (default 99.99).
- `entropy`: TensorRT's: over `ENTROPY_BINS` bins, for each candidate i from
  `LEVELS` bins up, the reference P is the first i bins with every count above added to the
  last, the candidate Q the same i bins merged into `LEVELS` levels and spread back evenly
  over the bins that held counts; the amax is the edge of the i with the least KL(P || Q)
  (the last one on a tie). As pytorch-quantization does, bin 0 counts as bin 1 first: the
  zeros a ReLU makes would otherwise decide the answer.
- `mse`: the amax (at a bin edge, from `LEVELS` bins up) whose symmetric int8
  quantization of the histogram's bin centres has the least mean squared error.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from compiler.calibration.statistics import Histogram

ENTROPY_BINS = 2048
LEVELS = 128
"""Quantized magnitudes of int8 (0..127 and the sign): the fewest bins a candidate has."""
QMAX = 127
EMPTY = 1e-12
"""Q's probability where P has mass and Q none (the clipped outliers land in a bin Q leaves
empty): without it every candidate that clips a lone outlier would diverge infinitely and
only the full range could win."""
DEFAULT_PERCENTILE = 99.99


def minmax(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    return histogram.amax


def percentile(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    if histogram.width == 0.0:
        return 0.0
    cdf = np.cumsum(histogram.counts) / histogram.counts.sum()
    index = int(np.searchsorted(cdf, percentile / 100.0))
    return min((index + 1) * histogram.width, histogram.amax)


def _divergence(bins: np.ndarray, i: int) -> float:
    """KL(P || Q) for the candidate that keeps the first `i` bins (module docstring)."""
    kept = bins[:i]
    p = kept.copy()
    p[-1] += bins[i:].sum()
    level = np.minimum((np.arange(i) * LEVELS) // i, LEVELS - 1)
    nonzero = kept != 0
    level_sum = np.bincount(level, weights=kept, minlength=LEVELS)
    level_bins = np.bincount(level, weights=nonzero, minlength=LEVELS)
    q = np.where(nonzero, level_sum[level] / np.maximum(level_bins[level], 1), 0.0)
    if q.sum() == 0:
        return np.inf
    held = p > 0
    p, q = p[held] / p.sum(), q[held] / q.sum()
    q = np.where(q == 0, EMPTY, q)  # the outliers' bin, empty in Q: costly, not infinite
    return float(np.sum(p * np.log(p / q)))


def entropy(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    coarse = histogram.coarsened(ENTROPY_BINS)
    if coarse.width == 0.0 or len(coarse.counts) <= LEVELS:
        return histogram.amax  # too few bins to clip anything: keep the range
    bins = coarse.counts.astype(np.float64)
    bins[0] = bins[1]
    candidates = range(LEVELS, len(bins) + 1)
    divergences = np.array([_divergence(bins, i) for i in candidates])
    best = len(divergences) - 1 - int(np.argmin(divergences[::-1]))
    return min(candidates[best] * coarse.width, histogram.amax)


def mse(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    coarse = histogram.coarsened(ENTROPY_BINS)
    if coarse.width == 0.0 or len(coarse.counts) <= LEVELS:
        return histogram.amax
    counts = coarse.counts.astype(np.float64)
    centres = (np.arange(len(counts)) + 0.5) * coarse.width
    amaxes = np.arange(LEVELS, len(counts) + 1) * coarse.width
    errors = np.empty(len(amaxes))
    for at, amax in enumerate(amaxes):
        step = amax / QMAX
        quantized = np.clip(np.rint(centres / step), -QMAX, QMAX) * step
        errors[at] = np.dot(counts, (quantized - centres) ** 2)
    return min(float(amaxes[int(np.argmin(errors))]), histogram.amax)


METHODS: dict[str, Callable[[Histogram, float], float]] = {
    "minmax": minmax,
    "percentile": percentile,
    "entropy": entropy,
    "mse": mse,
}
"""`--calibration-method` -> the function from a histogram (and the percentile) to amax."""
