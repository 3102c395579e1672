"""The `graph` dialect: one op per ONNX-level operator, on statically shaped tensors.

Ops live in family modules (`activation`, `core`, `elementwise`, `generate`, `indexing`, `linalg`, `nn`,
`reduction`, `resize`, `tensor`); this module gathers them into the `Graph` dialect. A new op needs only its
class in the right family. `base` holds what the families share, `layout` the channels-last helpers.
"""

from __future__ import annotations

import inspect

from xdsl.ir import Dialect
from xdsl.irdl import IRDLOperation

from dialects.graph import activation, core, elementwise, generate, indexing, linalg, nn, reduction, resize, tensor
from dialects.graph.activation import *  # noqa: F403
from dialects.graph.core import *  # noqa: F403
from dialects.graph.elementwise import *  # noqa: F403
from dialects.graph.generate import *  # noqa: F403
from dialects.graph.indexing import *  # noqa: F403
from dialects.graph.linalg import *  # noqa: F403
from dialects.graph.nn import *  # noqa: F403
from dialects.graph.reduction import *  # noqa: F403
from dialects.graph.resize import *  # noqa: F403
from dialects.graph.tensor import *  # noqa: F403

FAMILIES = (activation, core, elementwise, generate, indexing, linalg, nn, reduction, resize, tensor)


def _ops_of(module) -> list[type[IRDLOperation]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, IRDLOperation) and cls.__module__ == module.__name__ and getattr(cls, "name", "").startswith("graph.")
    ]


OPS: list[type[IRDLOperation]] = sorted((op for family in FAMILIES for op in _ops_of(family)), key=lambda op: op.name)

Graph = Dialect("graph", OPS, [])
