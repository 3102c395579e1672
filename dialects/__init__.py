"""optc's dialects: `graph` (ONNX-level ops) and, in later levels, `fused`, `quant`, `kernel`.

Dialects know nothing of passes or of the runtime; they hold ops, types, verifiers and the
side store that keeps weights out of the IR text.
"""
