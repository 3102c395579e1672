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
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # optc's flags import this module: keep the interpreter out of its start
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


def divergences(bins: np.ndarray) -> np.ndarray:
    """KL(P || Q) for every candidate i in [LEVELS, len(bins)] at once (module docstring).

    With C, Z the cumulative counts and nonzero bins, F the cumulative k·log k, T the total,
    S = C[i] and level j of candidate i holding bins [ceil(j·i/128), ceil((j+1)·i/128)):
    KL = (Σ p log p - Σ p log q) / T + log S - log T, where Σ p log p is F[i-1] plus the
    last bin's (its count and the outliers), and Σ p log q sums each level's count times the
    log of its average over its nonzero bins, plus the outliers times the log of the last
    bin's q (EMPTY·S when Q leaves that bin empty)."""
    n = len(bins)
    candidates = np.arange(LEVELS, n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(bins > 0, bins * np.log(bins), 0.0)
    C, Z, F = (np.concatenate([[0.0], np.cumsum(v)]) for v in (bins, bins > 0, plogp))
    total = C[-1]
    edges = -(-np.outer(candidates, np.arange(LEVELS + 1)) // LEVELS)  # ceil(j·i/128)
    level_sum = np.diff(C[edges], axis=1)
    level_bins = np.diff(Z[edges], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        level_log = np.where(level_sum > 0, np.log(level_sum / np.maximum(level_bins, 1)), 0.0)
        kept = C[candidates]
        outliers = total - kept
        last = bins[candidates - 1]
        p_last = last + outliers
        sum_plogp = F[candidates - 1] + np.where(p_last > 0, p_last * np.log(np.where(p_last > 0, p_last, 1)), 0.0)
        q_last_log = np.where(last > 0, level_log[:, -1], np.log(EMPTY * np.maximum(kept, 1)))
        sum_plogq = np.sum(level_sum * level_log, axis=1) + np.where(outliers > 0, outliers * q_last_log, 0.0)
        kl = (sum_plogp - sum_plogq) / total + np.log(kept) - np.log(total)
    return np.where(kept > 0, kl, np.inf)


def entropy(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    coarse = histogram.coarsened(ENTROPY_BINS)
    if coarse.width == 0.0 or len(coarse.counts) <= LEVELS:
        return histogram.amax  # too few bins to clip anything: keep the range
    bins = coarse.counts.astype(np.float64)
    bins[0] = bins[1]
    kl = divergences(bins)
    best = len(kl) - 1 - int(np.argmin(kl[::-1]))
    return min((LEVELS + best) * coarse.width, histogram.amax)


def mse(histogram: Histogram, percentile: float = DEFAULT_PERCENTILE) -> float:
    coarse = histogram.coarsened(ENTROPY_BINS)
    if coarse.width == 0.0 or len(coarse.counts) <= LEVELS:
        return histogram.amax
    counts = coarse.counts.astype(np.float64)
    centres = (np.arange(len(counts)) + 0.5) * coarse.width
    amaxes = np.arange(LEVELS, len(counts) + 1) * coarse.width
    errors = np.concatenate([_squared_errors(counts, centres, amaxes[at : at + MSE_CHUNK]) for at in range(0, len(amaxes), MSE_CHUNK)])
    return min(float(amaxes[int(np.argmin(errors))]), histogram.amax)


MSE_CHUNK = 256
"""Candidates evaluated together (a chunk x bins matrix of float64: 4 MiB)."""


def _squared_errors(counts: np.ndarray, centres: np.ndarray, amaxes: np.ndarray) -> np.ndarray:
    """Σ counts · (quantized centre - centre)² for each amax: symmetric int8, step amax/127."""
    steps = (amaxes / QMAX)[:, None]
    quantized = np.clip(np.rint(centres[None, :] / steps), -QMAX, QMAX) * steps
    return ((quantized - centres[None, :]) ** 2) @ counts


METHODS: dict[str, Callable[[Histogram, float], float]] = {
    "minmax": minmax,
    "percentile": percentile,
    "entropy": entropy,
    "mse": mse,
}
"""`--calibration-method` -> the function from a histogram (and the percentile) to amax."""
