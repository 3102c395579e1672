"""Calibration samples: `--calibration-data DATA`, read and checked before anything runs.

DATA is either
- an `.npz` with one array per model input whose first axis is the sample: a model input
  of shape (N, ...) takes an array (S, N, ...), S samples; or, stacked along the batch
  axis, (S·N, ...), S samples of N rows each (for a batch-1 model, (S, ...));
- a folder of `.npz` files, one sample each, read in name order: arrays of the input's
  shape, or with a leading 1 (`(1, N, ...)`).
Every sample must name exactly the model's inputs, with their shape and dtype, and hold
finite values only; each problem is an `OptcError` naming the file, and the input and
sample where it is one of theirs.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import TensorType

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError


@dataclass(frozen=True)
class Sample:
    """One model run's inputs; `where` names it in errors (`sample 3 of 'data.npz'`)."""

    where: str
    arrays: dict[str, np.ndarray]


def _read_npz(path: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise OptcError(f"calibration data '{path}' cannot be read as an .npz archive: {e}") from None


def _expect_names(arrays: Mapping[str, np.ndarray], inputs: Mapping[str, TensorType], where: str) -> None:
    missing = [n for n in inputs if n not in arrays]
    unknown = sorted(set(arrays) - set(inputs))
    model = f"(the model takes {', '.join(inputs)})"
    if missing:
        raise OptcError(f"calibration data {where} lacks input(s) {', '.join(missing)} {model}")
    if unknown:
        raise OptcError(f"calibration data {where} has unknown input(s) {', '.join(unknown)} {model}")


def _expect_dtype(name: str, array: np.ndarray, t: TensorType, where: str) -> None:
    want = numpy_dtype(t.element_type)
    if array.dtype != want:
        raise OptcError(
            f"calibration data {where}: input '{name}' has dtype {array.dtype}, the model expects {want} "
            f"(convert it with .astype(numpy.{want}))"
        )


def _expect_finite(sample: Sample) -> None:
    for name, array in sample.arrays.items():
        if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
            bad = "NaN" if np.any(np.isnan(array)) else "inf"
            raise OptcError(f"calibration data {sample.where}: input '{name}' holds {bad}")


def _split(name: str, array: np.ndarray, shape: tuple[int, ...], path: str) -> list[np.ndarray]:
    """An `.npz` array as its samples: (S, *shape), or (S·N, ...) stacked on the batch axis."""
    if array.shape[1:] == shape:
        return list(array)
    if array.ndim == len(shape) and shape and array.shape[1:] == shape[1:] and array.shape[0] % shape[0] == 0:
        return list(array.reshape(-1, *shape))
    raise OptcError(
        f"calibration data '{path}': input '{name}' has shape {list(array.shape)}, expected "
        f"[S, {', '.join(map(str, shape))}] (S samples of the model's {list(shape)})"
    )


def _samples_of_file(path: str, inputs: Mapping[str, TensorType]) -> list[Sample]:
    arrays = _read_npz(path)
    _expect_names(arrays, inputs, f"'{path}'")
    split = {}
    for name, t in inputs.items():
        _expect_dtype(name, arrays[name], t, f"'{path}'")
        split[name] = _split(name, arrays[name], tuple(t.get_shape()), path)
    counts = {name: len(samples) for name, samples in split.items()}
    if len(set(counts.values())) > 1:
        raise OptcError(f"calibration data '{path}': the inputs hold different numbers of samples ({counts})")
    count = next(iter(counts.values()), 0)
    return [Sample(f"sample {i} of '{path}'", {n: split[n][i] for n in inputs}) for i in range(count)]


def _sample_of_file(path: str, inputs: Mapping[str, TensorType]) -> Sample:
    """One file of a folder: arrays of the input's shape, or with a leading 1."""
    arrays = _read_npz(path)
    where = f"'{path}'"
    _expect_names(arrays, inputs, where)
    sample = {}
    for name, t in inputs.items():
        array, shape = arrays[name], tuple(t.get_shape())
        _expect_dtype(name, array, t, where)
        if array.shape == (1, *shape):
            array = array[0]
        if array.shape != shape:
            raise OptcError(f"calibration data {where}: input '{name}' has shape {list(array.shape)}, expected {list(shape)}")
        sample[name] = array
    return Sample(where, sample)


def load_samples(path: str, inputs: Mapping[str, TensorType]) -> list[Sample]:
    """The samples of DATA (a file or a folder) for a model whose inputs are `inputs`
    (name -> type), every one checked."""
    if not os.path.exists(path):
        raise OptcError(f"calibration data '{path}' does not exist")
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.endswith(".npz"))
        samples = [_sample_of_file(os.path.join(path, f), inputs) for f in files]
    else:
        samples = _samples_of_file(path, inputs)
    if not samples:
        what = "holds no .npz files" if os.path.isdir(path) else "holds no samples (its arrays' first axis is 0)"
        raise OptcError(f"calibration data '{path}' {what}")
    for sample in samples:
        _expect_finite(sample)
    return samples
