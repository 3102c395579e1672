"""`optc --check-each-pass`: run the IR in the reference interpreter before the pipeline and
after every pass, on the same seeded random inputs, and stop at the first pass that changes
the answer.

Each pass is judged against the IR just before it, so a failure names the pass that made
the change; it is also judged against the IR the pipeline started from, so changes that
each stay within the tolerance but add up beyond it are caught at the pass where they
cross it. Integer and bool outputs must match exactly. Float outputs follow numpy's
`allclose` rule, |after - before| <= atol + rtol * |before|, NaN matching NaN
(compiler/accuracy.py, shared with `optc-run --compare`), with optc-run's default
tolerances for the precision the IR computes in: the loosest float type of any value
before or after the pass (f16 → fp16, bf16 → bf16, else fp32). So the passes before a
`graph-convert-precision` are held to fp32's tolerance, and the conversion, which changes
the answer by design, and every pass after it to the new precision's; `quant-insert-qdq`
(calibrated int8, `PASS_PRECISION`) and the passes after it alike, to int8's. `--check-tolerance R`
sets rtol = atol = R for every pass instead.

The report, on stderr, is one line per pass, `check: PASS: max abs err E, max rel err R
(ok)` (its change against the IR before it), then one line with the errors against the
input IR; or `optc: error: pass 'PASS' changed output 'NAME' by ...` and exit 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type, ModuleOp
from xdsl.passes import ModulePass

from compiler.accuracy import TOLERANCES, Diff, compare
from dialects.dtypes import is_float, is_storage_float
from dialects.errors import OptcError
from runtime.reference import run
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import entry, io_names

_PRECISION_OF_TYPE = {Float16Type: "fp16", BFloat16Type: "bf16"}
"""Float element types narrower than f32, by the precision whose tolerance they need."""
PASS_PRECISION = {"quant-insert-qdq": "int8"}
"""Passes that round the answer by design to a precision no type names (int8's steps
between f32 quantize/dequantize), and that precision."""


def precision_of(module: ModuleOp) -> str:
    """The loosest precision any value of `module` is computed in (fp32 when none is narrower)."""
    types = (getattr(value.type, "element_type", None) for op in module.walk() for value in op.results)
    return _loosest("fp32", *(_PRECISION_OF_TYPE.get(type(t), "fp32") for t in types))


def _loosest(*precisions: str) -> str:
    return max(precisions, key=lambda p: TOLERANCES[p])


class Tolerance(NamedTuple):
    rtol: float
    atol: float
    text: str


EXACT = Tolerance(0.0, 0.0, "exact")


@dataclass
class PassChecker:
    """Runs the IR after each pass and compares; `start` before the first pass."""

    seed: int = 0
    tolerance: float | None = None  # None: by precision
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    exact: set[str] = field(default_factory=set)  # integer and bool outputs
    started: dict[str, np.ndarray] = field(default_factory=dict)
    previous: dict[str, np.ndarray] = field(default_factory=dict)
    precision: str = "fp32"
    worst: tuple[float, float] = (0.0, 0.0)  # since the start: max abs, max rel

    def start(self, module: ModuleOp) -> None:
        try:
            fn = entry(module)
        except OptcError as e:
            raise OptcError(f"--check-each-pass runs @main: {e}") from None
        for name, t in zip(io_names(fn), fn.function_type.inputs.data):
            if any(d < 0 for d in t.get_shape()):
                raise OptcError(
                    f"--check-each-pass needs static input shapes; '{name}' is {t} (--shape fixes an ONNX input's)"
                )
        self.inputs = random_inputs(module, self.seed)
        results = zip(io_names(fn, results=True), fn.function_type.outputs.data)
        self.exact = {name for name, t in results if not (is_float(t.element_type) or is_storage_float(t.element_type))}
        self.started = self.previous = self._run(module, "the input IR")
        self.precision = precision_of(module)

    def after(self, compiler_pass: ModulePass, module: ModuleOp) -> str:
        """Judge the pass that just ran; returns its report line or raises OptcError."""
        name = compiler_pass.name
        outputs = self._run(module, f"the IR after pass '{name}'")
        precision = _loosest(self.precision, precision_of(module), PASS_PRECISION.get(name, "fp32"))
        step = self._diffs(outputs, self.previous, precision)
        self._fail_on(step, f"pass '{name}' changed output '{{}}' by")
        since_start = self._diffs(outputs, self.started, precision)
        self._fail_on(
            since_start,
            f"after pass '{name}', output '{{}}' differs from the input IR's by",
            ": no pass alone changed it beyond the tolerance, the changes add up",
        )
        self.previous, self.precision = outputs, precision
        self.worst = _worst([self.worst, *((d.max_abs, d.max_rel) for d, _ in since_start)])
        return f"check: {name}: {_errors(_worst((d.max_abs, d.max_rel) for d, _ in step))} (ok)"

    def summary(self, passes: int) -> str:
        return f"check: all {passes} passes: {_errors(self.worst)} against the input IR (ok)"

    def _run(self, module: ModuleOp, what: str) -> dict[str, np.ndarray]:
        try:
            return run(module, self.inputs)
        except OptcError as e:
            raise OptcError(f"--check-each-pass cannot run {what} in the reference interpreter: {e}") from None

    def _diffs(self, outputs: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray], precision: str):
        judged = []
        for name, expected in reference.items():
            tolerance = self._tolerance(name, precision)
            judged.append((compare(outputs[name], expected, name, tolerance.rtol, tolerance.atol), tolerance))
        return judged

    def _tolerance(self, output: str, precision: str) -> Tolerance:
        if output in self.exact:
            return EXACT
        if self.tolerance is not None:
            return Tolerance(self.tolerance, self.tolerance, f"rtol = atol = {self.tolerance:g}")
        rtol, atol = TOLERANCES[precision]
        return Tolerance(rtol, atol, f"rtol {rtol:g}, atol {atol:g} at {precision}")

    def _fail_on(self, judged: list[tuple[Diff, Tolerance]], lead: str, tail: str = "") -> None:
        """Raise for the first output out of tolerance: `lead` (with the output's name for {}),
        the errors, where, the tolerance, then `tail`."""
        for diff, tolerance in judged:
            if not diff.ok:
                where = f", {diff.problem}" if diff.problem else f" in {diff.mismatched} of {diff.size} elements"
                raise OptcError(
                    f"{lead.format(diff.name)} {_errors((diff.max_abs, diff.max_rel))}{where} "
                    f"(tolerance {tolerance.text}; seed {self.seed}){tail}"
                )


def _worst(errors: Iterable[tuple[float, float]]) -> tuple[float, float]:
    """The largest (max abs, max rel) errors of several outputs."""
    errors = list(errors)
    return max((e[0] for e in errors), default=0.0), max((e[1] for e in errors), default=0.0)


def _errors(errors: tuple[float, float]) -> str:
    return f"max abs err {errors[0]:.3g}, max rel err {errors[1]:.3g}"
