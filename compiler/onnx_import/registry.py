"""The table from ONNX op type to the function that imports one node of it.

An importer is `fn(node: Node) -> SSAValue | Sequence[SSAValue]`: it reads the node's
attributes and inputs through `Node`, emits graph ops through `node.emit(...)` and returns
one value per ONNX output. Register one with `@importer("Relu", ...)` beside the other
ops of its family. `SUPPORTED_OPS_DOC` is where users are sent for the list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

IMPORTERS: dict[str, Callable[..., Any]] = {}

SUPPORTED_OPS_DOC = "docs/supported-ops.md (or `optc --list-onnx-ops`)"


def importer(*op_types: str):
    def register(fn):
        for op_type in op_types:
            if op_type in IMPORTERS:
                raise ValueError(f"ONNX op {op_type} already has an importer")
            IMPORTERS[op_type] = fn
        return fn

    return register
