"""Which default-domain opset a written node needs, read from ONNX's own schemas.

A model declares one opset; each node's op is then the newest version of its schema at or
below it. The exporter writes at opset 17 (`MIN_OPSET`: LayerNormalization arrived in 17,
and 17 is what onnxruntime, TensorRT and the other runtimes all read), and goes higher
only where a node needs it: an op that arrived later (Gelu, 20), an attribute that did
(AveragePool's dilations, 19; QuantizeLinear's block_size, 21) or an element type that
did (float8, 19; int4, 21). `lowest_opset` finds that version from the schema history
instead of a hand-kept table, so it follows the installed onnx package.
"""

from __future__ import annotations

import functools

import onnx
from onnx import NodeProto, TensorProto

from dialects.errors import OptcError

MIN_OPSET = 17
DOMAINS = ("", "ai.onnx")


@functools.cache
def _history(op_type: str) -> tuple[onnx.defs.OpSchema, ...]:
    """Every version of a default-domain op's schema, oldest first."""
    schemas = [s for s in onnx.defs.get_all_schemas_with_history() if s.name == op_type and s.domain in DOMAINS]
    return tuple(sorted(schemas, key=lambda s: s.since_version))


def _type_string(elem: int) -> str:
    return f"tensor({TensorProto.DataType.Name(elem).lower()})"


def _allowed(schema: onnx.defs.OpSchema, formal: onnx.defs.OpSchema.FormalParameter) -> set[str]:
    for constraint in schema.type_constraints:
        if constraint.type_param_str == formal.type_str:
            return set(constraint.allowed_type_strs)
    return {formal.type_str}


def _admits_values(schema, formals, names: list[str], elem: dict[str, int]) -> bool:
    variadic = bool(formals) and formals[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    if len(names) > len(formals) and not variadic:
        return False
    for i, name in enumerate(names):
        if name and _type_string(elem[name]) not in _allowed(schema, formals[min(i, len(formals) - 1)]):
            return False
    return True


def admits(schema: onnx.defs.OpSchema, node: NodeProto, elem: dict[str, int]) -> bool:
    """Whether `schema` (one version of the node's op) has the node's attributes, inputs
    and outputs, and allows their element types."""
    return (
        all(a.name in schema.attributes for a in node.attribute)
        and _admits_values(schema, schema.inputs, list(node.input), elem)
        and _admits_values(schema, schema.outputs, list(node.output), elem)
    )


def lowest_opset(node: NodeProto, elem: dict[str, int]) -> int:
    """The lowest opset whose version of the node's op admits it (see `admits`)."""
    for schema in _history(node.op_type):
        if admits(schema, node, elem):
            return schema.since_version
    raise OptcError(
        f"no version of ONNX's {node.op_type} (onnx {onnx.__version__}) takes node '{node.name}' as written "
        "(an exporter bug: its attributes or element types)"
    )


def selected(op_type: str, opset: int) -> onnx.defs.OpSchema:
    """The version of `op_type` a model of `opset` uses."""
    return [s for s in _history(op_type) if s.since_version <= opset][-1]
