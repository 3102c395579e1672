"""The `--calibration-*` flags, shared by `optc` and `optc-run` (argparse)."""

from __future__ import annotations

import argparse

from dialects.errors import OptcError

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
        help=f"how a value's amax is chosen from its histogram (default {DEFAULT_METHOD})",
    )
    add(
        "--calibration-percentile",
        type=float,
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
        help="auto: measure each layer's int8 error on the calibration data (its output against fp32) and keep "
        f"those over {FALLBACK_BUDGET:g} relative error float, each named on stderr (default none)",
    )


def calibration_options(args: argparse.Namespace, precision: str) -> CalibrationOptions:
    """The flags as options, checked against `precision`: each one given without
    --precision int8 is an error (it would change nothing)."""
    flags = {
        "--calibration-method": args.calibration_method,
        "--calibration-percentile": args.calibration_percentile,
        "--int8-fallback": args.int8_fallback,
    }
    given = [flag for flag, value in flags.items() if value is not None]
    if given and precision != "int8":
        raise OptcError(f"{given[0]} goes with --precision int8 (got --precision {precision})")
    options = CalibrationOptions(
        args.calibration_data,
        args.calibration_method or DEFAULT_METHOD,
        DEFAULT_PERCENTILE if args.calibration_percentile is None else args.calibration_percentile,
        args.calibration_cache,
        args.int8_fallback or "none",
    )
    options.check(precision)
    return options
