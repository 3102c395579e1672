"""`--int8-fallback auto`: contractions whose int8 error is too large stay float.

A layer's error is measured on the calibration samples, at its output, against fp32, and
in isolation: in a second run over the samples, each contraction `quant-insert-qdq` would
quantize is evaluated again (its reference implementation) on its fp32 inputs passed
through the Q/DQ it would get (activations per tensor with the calibrated scale, constant
weights per output channel), and compared with its fp32 output:
relative error = ||y_int8 - y||₂ / ||y||₂ over all samples. Isolated, the error is the
layer's own, not what earlier layers passed on, so one bad layer does not drag every
later one to float. Layers above `BUDGET` go to the cache's `fallback` table with the
reason; the pass leaves them float (and residual adds after them unquantized).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.interpreter import Interpreter
from xdsl.ir import Operation

from compiler.calibration import FALLBACK_BUDGET
from compiler.calibration.data import Sample
from compiler.progress import Progress
from passes.quant.insert_qdq import LEVELS, Placement, activation_scale, quantize_weight
from runtime.reference import run
from runtime.reference.registry import REFERENCE

logger = logging.getLogger("compiler.calibration")

BUDGET = FALLBACK_BUDGET


def fake_quantize(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """`x` through quantize -> dequantize: symmetric i8, as `quant.quantize` rounds."""
    q = np.clip(np.rint(x.astype(np.float32) / scale), -LEVELS - 1, LEVELS)
    return (q * scale).astype(np.float32)


@dataclass
class _Layer:
    """One contraction: how each quantized operand is fake-quantized, and its error sums."""

    key: str
    activations: dict[int, np.float32]
    weights: dict[int, int]
    error: float = 0.0
    norm: float = 0.0
    constant: dict[int, np.ndarray] | None = None
    """The fake-quantized weights, made once (weights are constants)."""

    def quantized_inputs(self, args: Sequence[np.ndarray]) -> list[np.ndarray]:
        inputs = dict(enumerate(args))
        for operand, scale in self.activations.items():
            inputs[operand] = fake_quantize(inputs[operand], scale)
        if self.constant is None:
            self.constant = {operand: _fake_weight(inputs[operand], axis) for operand, axis in self.weights.items()}
        inputs.update(self.constant)
        return inputs


def _fake_weight(weight: np.ndarray, axis: int) -> np.ndarray:
    q, scales = quantize_weight(np.asarray(weight, np.float32), axis)
    shape = [1] * q.ndim
    shape[axis] = -1
    return q.astype(np.float32) * scales.reshape(shape)


def _layers(placement: Placement, keys: dict, amax: dict[str, float]) -> dict[Operation, _Layer]:
    layers: dict[Operation, _Layer] = {}

    def layer(op: Operation) -> _Layer:
        return layers.setdefault(op, _Layer(keys[op.results[0]], {}, {}))

    for value, readers in placement.activations.items():
        for op, operand in readers:
            if op.name != "graph.add":  # residual adds carry no error of their own
                layer(op).activations[operand] = activation_scale(amax[keys[value]])
    for use in placement.weights:
        layer(use.op).weights[use.operand] = use.axis
    return layers


class _ErrorObserver(Interpreter.Listener):
    def __init__(self, layers: dict[Operation, _Layer]):
        self.layers, self.args = layers, {}

    def will_interpret_op(self, op: Operation, args) -> None:
        if op in self.layers:
            self.args[op] = args

    def did_interpret_op(self, op: Operation, results) -> None:
        layer = self.layers.get(op)
        if layer is None:
            return
        exact = np.asarray(results[0], np.float64)
        inputs = layer.quantized_inputs(self.args.pop(op))
        approximate = REFERENCE[type(op)](op, *(inputs[i] for i in range(len(inputs))))
        layer.error += float(np.sum((np.asarray(approximate, np.float64) - exact) ** 2))
        layer.norm += float(np.sum(exact**2))


def layer_errors(
    module: ModuleOp, placement: Placement, keys: dict, amax: dict[str, float], samples: Sequence[Sample]
) -> dict[str, float]:
    """Each quantized contraction's relative int8 error (by its result's key) over `samples`."""
    layers = _layers(placement, keys, amax)
    observer = _ErrorObserver(layers)
    with Progress("measuring int8 error", total=len(samples)) as progress:
        for sample in samples:
            run(module, sample.arrays, listeners=(observer,))
            progress.advance()
    return {layer.key: (np.sqrt(layer.error / layer.norm) if layer.norm else 0.0) for layer in layers.values()}


def over_budget(errors: dict[str, float], budget: float = BUDGET) -> dict[str, str]:
    """The layers that fall back, with the reason, worst first; each also logged."""
    fallback = {}
    for key, error in sorted(errors.items(), key=lambda item: -item[1]):
        if error > budget:
            fallback[key] = f"relative error {error:.3g} > budget {budget:g}"
            logger.warning("int8 fallback: %s stays float (%s)", key, fallback[key])
    return fallback
