"""What calibration observes: per value to quantize, its absolute maximum and a histogram of
its absolute values, over every sample run through the reference interpreter.

The histogram grows as TensorRT's and pytorch-quantization's calibrators grow theirs: the
first values that are not all zero set the bin width (their max / `BINS`), later larger
values add bins of the same width, so one pass over the samples suffices and no sample's
counts are re-binned approximately. Should the range grow past `MAX_BINS`, adjacent bins
merge in pairs (exact: the coarser bins' counts are sums) until it fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation, SSAValue

from compiler.calibration.data import Sample
from compiler.progress import Progress
from dialects.errors import OptcError
from runtime.reference import run

BINS = 2048
"""Bins of the first range (TensorRT's entropy calibrator uses 2048)."""
MAX_BINS = 2048 * 16
"""A wider range merges bins pairwise (bounded memory and method time)."""


@dataclass
class Histogram:
    """Counts of |x| in bins [i·width, (i+1)·width); `amax` the exact max of |x|."""

    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    width: float = 0.0
    amax: float = 0.0
    zeros: int = 0
    """Values seen (all zero) before the first nonzero set a width."""

    def add(self, values: np.ndarray) -> None:
        magnitude = np.abs(np.asarray(values, np.float32)).ravel()  # no copy for f32 values
        top = float(magnitude.max()) if magnitude.size else 0.0
        if not np.isfinite(top):  # NaN or inf: reported once the sample has run
            self.amax = top
            return
        self.amax = max(self.amax, top)
        if self.width == 0.0:
            if top == 0.0:
                self.zeros += magnitude.size
                return
            self.width = top / BINS
            self.counts = np.zeros(BINS, np.int64)
            self.counts[0] = self.zeros
        self._cover(top)
        index = np.multiply(magnitude, np.float32(1.0 / self.width)).astype(np.int32)
        np.minimum(index, len(self.counts) - 1, out=index)
        self.counts += np.bincount(index, minlength=len(self.counts))

    def _cover(self, top: float) -> None:
        needed = int(np.floor(top / self.width)) + 1
        while needed > MAX_BINS:
            self._merge_pairs()
            needed = int(np.floor(top / self.width)) + 1
        if needed > len(self.counts):
            self.counts = np.concatenate([self.counts, np.zeros(needed - len(self.counts), np.int64)])

    def _merge_pairs(self) -> None:
        counts = self.counts if len(self.counts) % 2 == 0 else np.append(self.counts, 0)
        self.counts = counts.reshape(-1, 2).sum(axis=1)
        self.width *= 2

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + (self.zeros if self.width == 0.0 else 0)

    def coarsened(self, bins: int) -> Histogram:
        """The same counts in at most `bins` bins (adjacent bins summed, the width grown)."""
        factor = -(-len(self.counts) // bins) if len(self.counts) > bins else 1
        if factor == 1:
            return self
        padded = np.append(self.counts, np.zeros(-len(self.counts) % factor, np.int64))
        return Histogram(padded.reshape(-1, factor).sum(axis=1), self.width * factor, self.amax)


class _Observer(Interpreter.Listener):
    """Adds every watched op result to its histogram as the interpreter produces it."""

    def __init__(self, watched: Mapping[SSAValue, Histogram]):
        self.watched = watched
        self.owners = {value.owner for value in watched}

    def did_interpret_op(self, op: Operation, results) -> None:
        if op in self.owners:
            for value, array in zip(op.results, results):
                if value in self.watched:
                    self.watched[value].add(array)


def observe(module: ModuleOp, values: Sequence[tuple[str, SSAValue]], samples: Sequence[Sample]) -> dict[str, Histogram]:
    """Run `module` on every sample and return each value's histogram by key; `values` are
    (key, value) pairs of `module`'s @main (function arguments included)."""
    histograms = {key: Histogram() for key, _ in values}
    watched = {value: histograms[key] for key, value in values}
    arguments = _argument_values(module, watched)
    observer = _Observer(watched)
    with Progress("calibrating", total=len(samples)) as progress:
        for sample in samples:
            for name, histogram in arguments.items():
                histogram.add(sample.arrays[name])
            run(module, sample.arrays, listeners=(observer,))
            _expect_finite(histograms, sample)
            progress.advance()
    return histograms


def _argument_values(module: ModuleOp, watched: Mapping[SSAValue, Histogram]) -> dict[str, Histogram]:
    """The watched function arguments by input name (the interpreter reports op results only)."""
    from runtime.reference.interpreter import entry, io_names

    fn = entry(module)
    return {name: watched[arg] for name, arg in zip(io_names(fn), fn.body.block.args) if arg in watched}


def _expect_finite(histograms: Mapping[str, Histogram], sample: Sample) -> None:
    for key, histogram in histograms.items():
        if not np.isfinite(histogram.amax):
            raise OptcError(f"calibration: value '{key}' is not finite ({histogram.amax}) on {sample.where}: the model overflows on it")
