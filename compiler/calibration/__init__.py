"""Post-training INT8 calibration (`--precision int8`): docs/calibration.md.

    data.py        --calibration-data: the samples, checked
    statistics.py  run the graph-level IR on them (reference interpreter), histogram each value
    methods.py     histogram -> amax: minmax, percentile, entropy, mse
    fallback.py    --int8-fallback auto: each layer's int8 error; those over budget stay float
    cache.py       --calibration-cache: the amax per value (and the fallbacks), JSON

`int8_pipeline` is what the drivers (`optc`, `optc-run`, `compiler.build`) call: it
calibrates when data is given (writing the cache) and returns the pipeline at int8,
`graph-optimize, quant-insert-qdq{cache=FILE}, graph-convert-precision{precision=fp16}, ...`.
Statistics are taken on the IR exactly as `quant-insert-qdq` will see it: a copy of the
module run through the pipeline's passes before that pass.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp

from compiler.calibration.methods import DEFAULT_PERCENTILE, METHODS
from dialects.errors import OptcError

DEFAULT_METHOD = "entropy"
"""TensorRT's default calibrator (IInt8EntropyCalibrator2)."""
FALLBACK_MODES = ("none", "auto")
"""`--int8-fallback`: none, or auto (`fallback.py`)."""
FALLBACK_BUDGET = 0.05
"""The largest relative L2 error of a layer's output that int8 may cost (5%); a layer
quantized well loses ~0.5-2%."""


@dataclass(frozen=True)
class CalibrationOptions:
    """The `--calibration-*` flags."""

    data: str | None = None
    method: str = DEFAULT_METHOD
    percentile: float = DEFAULT_PERCENTILE
    cache: str | None = None
    fallback: str = "none"
    """`--int8-fallback`: none, or auto (layers over the error budget stay float)."""

    def check(self, precision: str) -> None:
        """Flags that cannot work, said before anything is imported or run."""
        auto = self.fallback == "auto"
        given = [f for f, v in (("--calibration-data", self.data), ("--calibration-cache", self.cache), ("--int8-fallback auto", auto)) if v]
        if given and precision != "int8":
            raise OptcError(f"{given[0]} goes with --precision int8 (got --precision {precision})")
        if self.fallback not in FALLBACK_MODES:
            raise OptcError(f"unknown --int8-fallback '{self.fallback}' (choose from {', '.join(FALLBACK_MODES)})")
        if auto and not self.data:
            raise OptcError("--int8-fallback auto measures each layer's error on --calibration-data: give it "
                            "(a cache keeps the fallbacks it was made with)")
        if self.method not in METHODS:
            raise OptcError(f"unknown calibration method '{self.method}' (choose from {', '.join(METHODS)})")
        if not 0 < self.percentile <= 100:
            raise OptcError(f"--calibration-percentile must be in (0, 100], got {self.percentile:g}")


def int8_pipeline(module: ModuleOp, spec: str, options: CalibrationOptions) -> str:
    """`spec` at int8 for `module`, after calibrating it on `options.data` if given (the
    cache written to `options.cache`, or to a temporary file that lives as long as the
    process). A QDQ model keeps its own scales: it takes neither data nor cache."""
    from compiler.pipelines import with_precision
    from passes.quant.insert_qdq import holds_quant_ops

    if holds_quant_ops(module):
        if options.data or options.cache:
            raise OptcError(
                "the model holds quantize/dequantize ops already (a QDQ model): --precision int8 compiles it with "
                "its own scales; drop --calibration-data and --calibration-cache"
            )
        return with_precision(spec, "int8")
    if not options.data and not (options.cache and os.path.isfile(options.cache)):
        cache = f": '{options.cache}' does not exist" if options.cache else ""
        raise OptcError(f"--precision int8 needs --calibration-data DATA or an existing --calibration-cache FILE{cache}")
    cache = options.cache or _temporary_cache()
    pipeline = with_precision(spec, "int8", cache)
    if options.data:
        calibrate(module, split_at_insertion(pipeline)[0], options, cache)
    return pipeline


INSERTION = "quant-insert-qdq"


def split_at_insertion(pipeline: str) -> tuple[str, str, str]:
    """An int8 pipeline as (the passes before `quant-insert-qdq`, that pass, the passes
    after it): calibration runs the first to see the IR the insertion sees; `optc-quantize`
    stops after the second."""
    from compiler.pipelines import expand

    items = [str(item) for item in expand(pipeline)]
    at = next((i for i, item in enumerate(items) if item.startswith(INSERTION)), None)
    if at is None:
        raise OptcError(f"the int8 pipeline '{pipeline}' inserts no quantize/dequantize ({INSERTION})")
    return ",".join(items[:at]), items[at], ",".join(items[at + 1 :])


def _temporary_cache() -> str:
    folder = tempfile.mkdtemp(prefix="optc-calibration-")
    atexit.register(shutil.rmtree, folder, True)
    return os.path.join(folder, "calibration.json")


def calibrate(module: ModuleOp, prefix: str, options: CalibrationOptions, cache_path: str) -> dict[str, float]:
    """Run `prefix` (graph-level passes) on a copy of `module`, observe the values
    `quant-insert-qdq` quantizes on every sample, and write their amax to `cache_path`."""
    from compiler.calibration.cache import write_cache
    from compiler.calibration.data import load_samples
    from compiler.calibration.statistics import observe
    from compiler.pipelines import build
    from dialects.registry import context
    from dialects.weights import clone_with_weights, store_of
    from passes.quant.insert_qdq import describe, fingerprint, main_function, placement, quantized_values, value_keys
    from runtime.reference.inputs import input_types

    samples = load_samples(options.data, input_types(module))
    optimized = clone_with_weights(module)
    ctx = context()
    for compiler_pass in build(prefix):
        compiler_pass.apply(ctx, optimized)
    fn, store = main_function(optimized), store_of(optimized)
    histograms = observe(optimized, list(quantized_values(fn, store)), samples)
    method = METHODS[options.method]
    amax = {key: float(method(histogram, options.percentile)) for key, histogram in histograms.items()}
    fallback = {}
    if options.fallback == "auto":
        from compiler.calibration.fallback import layer_errors, over_budget

        fallback = over_budget(layer_errors(optimized, placement(fn, store), value_keys(fn), amax, samples))
    write_cache(
        cache_path, method=options.method, percentile=options.percentile, samples=len(samples),
        model=describe(fn), fingerprint=fingerprint(fn), amax=amax, fallback=fallback,
    )
    return amax
