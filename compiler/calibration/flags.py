"""The `--calibration-*` flags, shared by `optc` and `optc-run` (argparse)."""

from __future__ import annotations

import argparse

from compiler.calibration import DEFAULT_METHOD, FALLBACK_BUDGET, FALLBACK_MODES, CalibrationOptions
from compiler.calibration.methods import DEFAULT_PERCENTILE, METHODS


def add_calibration_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--calibration-data",
        metavar="DATA",
        help="with --precision int8: samples to calibrate on, an .npz with one array per model input whose first "
        "axis is the sample, or a folder of .npz files (one sample each)",
    )
    add(
        "--calibration-method",
        choices=tuple(METHODS),
        default=DEFAULT_METHOD,
        help=f"how a value's amax is chosen from its histogram (default {DEFAULT_METHOD})",
    )
    add(
        "--calibration-percentile",
        type=float,
        default=DEFAULT_PERCENTILE,
        metavar="P",
        help=f"the percentile of --calibration-method percentile (default {DEFAULT_PERCENTILE})",
    )
    add(
        "--calibration-cache",
        metavar="FILE",
        help="the scales as JSON: written when --calibration-data is given, else read (no data needed)",
    )
    add(
        "--int8-fallback",
        choices=FALLBACK_MODES,
        default="none",
        help="auto: measure each layer's int8 error on the calibration data (its output against fp32) and keep "
        f"those over {FALLBACK_BUDGET:g} relative error float, each named on stderr (default none)",
    )


def calibration_options(args: argparse.Namespace, precision: str) -> CalibrationOptions:
    """The flags as options, checked against `precision`."""
    options = CalibrationOptions(
        args.calibration_data, args.calibration_method, args.calibration_percentile, args.calibration_cache, args.int8_fallback
    )
    options.check(precision)
    return options
