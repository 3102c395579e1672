"""The table from IR op class to the function that writes it as ONNX nodes.

A writer is `fn(op, ctx: ExportContext) -> None`: it names the op's operands with
`ctx.input(value)`, its results with `ctx.result(op, i)`, and adds nodes with
`ctx.node(...)`. Register one with `@writer(ReluOp, ...)` beside the other ops of its
family, mirroring `compiler/onnx_import/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

WRITERS: dict[type, Callable[..., Any]] = {}


def writer(*op_types: type):
    def register(fn):
        for op_type in op_types:
            if op_type in WRITERS:
                raise ValueError(f"{op_type.name} already has an ONNX writer")
            WRITERS[op_type] = fn
        return fn

    return register
