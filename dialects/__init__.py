"""optc's dialects, one per level: `graph` (ONNX-level ops, `graph/`), `fused` (one op per
future kernel, `fused.py`), `quant` (quantize, dequantize, requantize and integer
contractions with explicit scales and zero points, `quant.py`) and `kernel` (`kernel.func`,
`kernel.launch` and the `#kernel.launch` configuration, `kernel.py`). Beside them: element
types (`dtypes.py`), the weight store (`weights.py`), `OptcError` (`errors.py`) and the
table of dialects `optc` parses (`registry.py`).

Dialects know nothing of passes or of the runtime; they hold ops, types, verifiers and the
side store that keeps weights out of the IR text.
"""
