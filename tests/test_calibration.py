"""Calibration (compiler/calibration): the methods on distributions with known answers, the
growing histogram, the samples' checks, the interpreter's listeners, and the cache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from xdsl.dialects.builtin import Float32Type, TensorType

from compiler.calibration import CalibrationOptions, int8_pipeline
from tests.calibration_models import cnn_data, cnn_module, qdq_module  # noqa: F401  (fixtures)
from compiler.calibration.data import load_samples
from compiler.calibration.methods import METHODS, entropy, minmax, mse, percentile
from compiler.calibration.statistics import BINS, MAX_BINS, Histogram
from dialects.errors import OptcError

OUTLIER = 300.0


def _histogram(*arrays: np.ndarray) -> Histogram:
    h = Histogram()
    for a in arrays:
        h.add(a)
    return h


def _gaussian_with_outlier() -> Histogram:
    values = np.random.default_rng(0).standard_normal(1_000_000)
    return _histogram(values[:500_000], np.append(values[500_000:], OUTLIER))


@pytest.fixture(scope="module")
def gaussian_with_outlier() -> Histogram:
    return _gaussian_with_outlier()


# --- methods ------------------------------------------------------------------------------


def test_minmax_keeps_the_outlier(gaussian_with_outlier):
    assert minmax(gaussian_with_outlier) == OUTLIER


def test_percentile_clips_the_outlier(gaussian_with_outlier):
    # 99.99% of |N(0, 1)| lies below 3.89
    assert percentile(gaussian_with_outlier, 99.99) == pytest.approx(3.89, abs=0.1)


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_entropy_and_mse_clip_the_outlier(gaussian_with_outlier, method):
    # over at most 2048 bins of >= 300/2048 the Gaussian fills the first ~30; the least a
    # candidate keeps is 128 bins (>= 18.75), the most the whole range (300). For mse the
    # outlier's clipping error (~280^2 / 1e6 ~ 0.08) is worth less than the bulk's rounding
    # error at the full range (steps of 300/127: ~0.46)
    amax = METHODS[method](gaussian_with_outlier, 99.99)
    assert 128 * OUTLIER / 2048 <= amax < OUTLIER / 4, amax


@pytest.mark.parametrize("method", ["entropy", "mse"])
def test_entropy_and_mse_clip_a_gaussians_tail(method):
    h = _histogram(np.random.default_rng(2).standard_normal(1_000_000))
    amax = METHODS[method](h, 99.99)
    assert 2.5 < amax < h.amax, (amax, h.amax)


def test_percentile_of_a_uniform_distribution_is_its_quantile():
    values = np.linspace(0, 1, 1_000_001)
    h = _histogram(values)
    for p in (50.0, 90.0, 99.0):
        assert percentile(h, p) == pytest.approx(p / 100, abs=2 * h.width)


def test_percentile_is_monotonic(gaussian_with_outlier):
    amaxes = [percentile(gaussian_with_outlier, p) for p in (90, 99, 99.9, 99.99, 99.999, 100)]
    assert amaxes == sorted(amaxes)
    assert amaxes[-1] == OUTLIER


def test_entropy_of_a_uniform_distribution_keeps_its_range():
    # nothing to clip: every bin is as full as the others
    h = _histogram(np.random.default_rng(1).uniform(-3, 3, 100_000))
    assert entropy(h) == pytest.approx(h.amax, rel=0.02)


def test_mse_of_a_uniform_distribution_keeps_its_range():
    h = _histogram(np.random.default_rng(1).uniform(-3, 3, 100_000))
    assert mse(h) == pytest.approx(h.amax, rel=0.02)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_methods_are_deterministic_and_within_the_range(gaussian_with_outlier, method):
    first = METHODS[method](gaussian_with_outlier, 99.99)
    assert METHODS[method](gaussian_with_outlier, 99.99) == first
    assert METHODS[method](_gaussian_with_outlier(), 99.99) == first  # the same values again
    assert 0 < first <= gaussian_with_outlier.amax


@pytest.mark.parametrize("method", sorted(METHODS))
def test_an_all_zero_value_has_amax_zero(method):
    assert METHODS[method](_histogram(np.zeros(10), np.zeros(5)), 99.99) == 0.0


# --- the histogram ------------------------------------------------------------------------


def test_the_histogram_grows_with_the_same_bin_width():
    h = _histogram(np.array([0.0, 0.0]), np.array([1.0, -0.5]))
    assert h.width == 1.0 / BINS and len(h.counts) == BINS + 1
    h.add(np.array([3.0]))
    assert h.width == 1.0 / BINS and len(h.counts) == 3 * BINS + 1
    assert h.counts.sum() == 5 and h.counts[0] == 2  # the zeros seen first are kept
    assert h.amax == 3.0


def test_a_range_past_max_bins_merges_bins_exactly():
    h = _histogram(np.array([1.0]), np.array([100.0 * MAX_BINS / BINS]))
    assert len(h.counts) <= MAX_BINS and h.counts.sum() == 2
    assert h.width > 1.0 / BINS


# --- samples ------------------------------------------------------------------------------

INPUTS = {"x": TensorType(Float32Type(), [1, 4]), "y": TensorType(Float32Type(), [2])}


def _npz(tmp_path, name="data.npz", **arrays) -> str:
    path = os.path.join(tmp_path, name)
    np.savez(path, **arrays)
    return path


def _f32(*shape):
    return np.ones(shape, np.float32)


def test_an_npz_splits_on_its_first_axis(tmp_path):
    samples = load_samples(_npz(tmp_path, x=_f32(3, 1, 4), y=_f32(3, 2)), INPUTS)
    assert len(samples) == 3 and samples[0].arrays["x"].shape == (1, 4)


def test_an_npz_may_stack_samples_on_the_batch_axis(tmp_path):
    samples = load_samples(_npz(tmp_path, x=_f32(5, 4), y=_f32(5, 2)), {"x": INPUTS["x"], "y": TensorType(Float32Type(), [1, 2])})
    assert len(samples) == 5 and samples[4].arrays["y"].shape == (1, 2)


def test_a_folder_holds_one_sample_per_file(tmp_path):
    _npz(tmp_path, "b.npz", x=_f32(1, 1, 4), y=_f32(2))
    _npz(tmp_path, "a.npz", x=_f32(1, 4), y=_f32(1, 2))
    samples = load_samples(str(tmp_path), INPUTS)
    assert [os.path.basename(s.where.strip("'")) for s in samples] == ["a.npz", "b.npz"]


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": _f32(3, 1, 4)}, "lacks input(s) y"),
        ({"x": _f32(3, 1, 4), "y": _f32(3, 2), "z": _f32(3)}, "unknown input(s) z"),
        ({"x": _f32(3, 1, 5), "y": _f32(3, 2)}, "input 'x' has shape [3, 1, 5], expected [S, 1, 4]"),
        ({"x": np.ones((3, 1, 4)), "y": _f32(3, 2)}, "input 'x' has dtype float64, the model expects float32"),
        ({"x": _f32(0, 1, 4), "y": _f32(0, 2)}, "holds no samples"),
        ({"x": _f32(3, 1, 4), "y": _f32(2, 2)}, "different numbers of samples"),
    ],
)
def test_bad_data_is_an_error_naming_the_file_and_the_problem(tmp_path, arrays, message):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(OptcError, match="calibration data") as e:
        load_samples(path, INPUTS)
    assert message in str(e.value) and path in str(e.value)


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_data_names_the_input_and_the_sample(tmp_path, bad, word):
    x = _f32(3, 1, 4)
    x[2, 0, 1] = bad
    with pytest.raises(OptcError, match=f"sample 2 of .*input 'x' holds {word}"):
        load_samples(_npz(tmp_path, x=x, y=_f32(3, 2)), INPUTS)


def test_unreadable_or_missing_data_is_an_error(tmp_path):
    text = os.path.join(tmp_path, "data.npz")
    with open(text, "w") as f:
        f.write("not an archive")
    with pytest.raises(OptcError, match="cannot be read as an .npz archive"):
        load_samples(text, INPUTS)
    with pytest.raises(OptcError, match="does not exist"):
        load_samples(os.path.join(tmp_path, "nothing.npz"), INPUTS)
    empty = os.path.join(tmp_path, "empty")
    os.mkdir(empty)
    with pytest.raises(OptcError, match="holds no .npz files"):
        load_samples(empty, INPUTS)


def test_a_folder_sample_of_the_wrong_shape_names_its_file(tmp_path):
    _npz(tmp_path, "a.npz", x=_f32(2, 4), y=_f32(2))
    with pytest.raises(OptcError, match=r"a.npz'.*input 'x' has shape \[2, 4\], expected \[1, 4\]"):
        load_samples(str(tmp_path), INPUTS)


# --- options ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, precision, message",
    [
        (CalibrationOptions(data="d.npz"), "fp16", "--calibration-data goes with --precision int8"),
        (CalibrationOptions(cache="c.json"), "fp32", "--calibration-cache goes with --precision int8"),
        (CalibrationOptions(method="max"), "int8", "unknown calibration method 'max'"),
        (CalibrationOptions(percentile=0), "int8", r"--calibration-percentile must be in \(0, 100\]"),
    ],
)
def test_options_that_cannot_work_are_errors(options, precision, message):
    with pytest.raises(OptcError, match=message):
        options.check(precision)


def test_int8_without_data_or_cache_is_an_error(cnn_module, tmp_path):
    with pytest.raises(OptcError, match="--precision int8 needs --calibration-data DATA or an existing --calibration-cache"):
        int8_pipeline(cnn_module, "graph", CalibrationOptions())
    missing = os.path.join(tmp_path, "none.json")
    with pytest.raises(OptcError, match="none.json' does not exist"):
        int8_pipeline(cnn_module, "graph", CalibrationOptions(cache=missing))


def test_calibration_writes_a_versioned_cache(cnn_module, cnn_data, tmp_path):
    cache = os.path.join(tmp_path, "c.json")
    spec = int8_pipeline(cnn_module, "graph", CalibrationOptions(data=cnn_data, method="minmax", cache=cache))
    assert spec == f'graph-optimize,quant-insert-qdq{{cache="{cache}"}},graph-convert-precision{{precision=fp16}}'
    written = json.load(open(cache))
    assert written["version"] == 1 and written["method"] == "minmax" and written["samples"] == 6
    assert len(written["fingerprint"]) == 16 and "inputs x tensor<1x3x8x8xf32>" in written["model"]
    assert all(isinstance(v, float) and v > 0 for v in written["amax"].values())
    again = os.path.join(tmp_path, "again.json")
    int8_pipeline(cnn_module, "graph", CalibrationOptions(data=cnn_data, method="minmax", cache=again))
    assert json.load(open(again)) == written  # deterministic


def test_a_qdq_model_refuses_calibration_data(qdq_module, cnn_data):
    with pytest.raises(OptcError, match="holds quantize/dequantize ops already .* drop --calibration-data"):
        int8_pipeline(qdq_module, "graph", CalibrationOptions(data=cnn_data))
    assert int8_pipeline(qdq_module, "graph", CalibrationOptions()).startswith("graph-optimize,quant-insert-qdq,")


# --- the interpreter's listeners -------------------------------------------------------------


def test_listeners_see_every_op_and_its_results(cnn_module):
    from xdsl.interpreter import Interpreter

    from runtime.reference import run
    from runtime.reference.inputs import random_inputs

    seen = []

    class Recorder(Interpreter.Listener):
        def did_interpret_op(self, op, results):
            seen.append((op.name, [np.asarray(r).shape for r in results]))

    outputs = run(cnn_module, random_inputs(cnn_module), listeners=(Recorder(),))
    names = [name for name, _ in seen]
    assert names.count("graph.conv") == 3 and names[-1] == "func.return"
    assert ("graph.conv", [(1, 16, 8, 8)]) in seen
    assert set(outputs) == {"y", "z"}


def _divergence_one_by_one(bins: np.ndarray, i: int) -> float:
    """KL(P || Q) of candidate i written out bin by bin, as TensorRT's slides describe it."""
    from compiler.calibration.methods import EMPTY, LEVELS

    kept = bins[:i]
    p = kept.copy()
    p[-1] += bins[i:].sum()
    q = np.zeros(i)
    for j in range(LEVELS):
        members = [b for b in range(i) if (b * LEVELS) // i == j]
        held = [b for b in members if kept[b] != 0]
        for b in held:
            q[b] = kept[members].sum() / len(held)
    if q.sum() == 0:
        return np.inf
    p, q = p / p.sum(), q / q.sum()
    return float(sum(p[b] * np.log(p[b] / (q[b] if q[b] else EMPTY)) for b in range(i) if p[b] > 0))


def test_the_divergences_are_the_one_by_one_formula():
    from compiler.calibration.methods import LEVELS, divergences

    rng = np.random.default_rng(4)
    bins = np.floor(rng.exponential(50, 300) * (rng.random(300) < 0.7))  # zeros among the counts
    bins[-1] = 3  # outliers past most candidates
    kl = divergences(bins)
    for i in (LEVELS, 129, 200, 255, 256, 299, 300):
        assert kl[i - LEVELS] == pytest.approx(_divergence_one_by_one(bins, i), rel=1e-9, abs=1e-12), i
