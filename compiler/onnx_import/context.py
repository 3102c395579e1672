"""Import state: the ONNX-name → SSA value map, constant tracking and folding.

Every value whose content is known at compile time (initializers, Constant nodes, and
anything computed only from them or only from static shapes) is *known*: its array sits
in `ImportContext.known`. `emit` folds an op whose inputs are all known (or whose result
depends only on types, like `graph.shape`) by running its reference implementation, so
shape-computing subgraphs disappear and every later shape is static.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import AttributeProto, NodeProto, numpy_helper
from xdsl.dialects import func
from xdsl.ir import Attribute, Block, Operation, SSAValue

from dialects.errors import OptcError
from dialects.graph import ConstantOp, WeightOp
from dialects.graph.base import ShapeOnly, expect_computable
from dialects.graph.core import fits_inline
from dialects.dtypes import numpy_dtype, tensor_type, tensor_type_of
from dialects.weights import WeightStore
from runtime.reference.registry import REFERENCE, as_result


class ConstantInputRequired(OptcError):
    """An input that decides a shape (or other configuration) is only known at run time.
    `value_name` is the ONNX value, so callers that can supply it (the ONNX backend binds
    graph inputs as constants, as TensorRT does with shape tensors) know which one."""

    def __init__(self, message: str, value_name: str):
        super().__init__(message)
        self.value_name = value_name


class ImportContext:
    def __init__(self, block: Block, store: WeightStore):
        self.block = block
        self.store = store
        self.values: dict[str, SSAValue] = {}
        self.known: dict[SSAValue, np.ndarray] = {}

    # --- values ------------------------------------------------------------

    def bind(self, name: str, value: SSAValue) -> None:
        self.values[name] = value

    def lookup(self, name: str, user: str) -> SSAValue:
        if name not in self.values:
            raise OptcError(f"{user}: input '{name}' is not produced by any node, initializer or graph input")
        return self.values[name]

    def constant(
        self, array: np.ndarray, name_hint: str, weight_name: str | None = None, element_type: Attribute | None = None
    ) -> SSAValue:
        """A known value: inline when small, otherwise a weight in the store. `element_type`
        names types numpy lacks (bf16 arrays are float32); default: the array's."""
        array = np.asarray(array)
        if fits_inline(array):
            op = ConstantOp.from_array(array, element_type)
        else:
            name = weight_name if weight_name is not None else self.store.add(array, name_hint)
            if weight_name is not None:
                self.store.arrays[name] = array
            op = WeightOp.of(name, tensor_type_of(array) if element_type is None else tensor_type(array.shape, element_type))
        self.block.add_op(op)
        self.known[op.result] = array
        return op.result

    def value_of(self, value: SSAValue) -> np.ndarray | None:
        """The value's array when known at compile time: a constant, or any empty tensor
        (its only possible value follows from its type)."""
        if value in self.known:
            return self.known[value]
        shape = value.type.get_shape()
        if 0 in shape:
            return np.empty(shape, dtype=numpy_dtype(value.type.element_type))
        return None

    # --- ops -----------------------------------------------------------------

    def emit(self, op: Operation, name_hint: str) -> list[SSAValue]:
        """Insert `op`, or fold it to constants when its value is known at compile time."""
        expect_computable(op, [v.type for v in (*op.operands, *op.results)])  # also for ops folding erases
        op.verify()  # before folding runs it: a node's bad input is its error, not a numpy traceback
        foldable = op.has_trait(ShapeOnly) or (
            all(self.value_of(o) is not None for o in op.operands) and type(op) in REFERENCE
        )
        if not foldable:
            self.block.add_op(op)
            return list(op.results)
        results = self._evaluate(op)
        op.erase(safe_erase=False)
        return [self.constant(r, name_hint, element_type=res.type.element_type) for r, res in zip(results, op.results)]

    def _evaluate(self, op: Operation) -> list[np.ndarray]:
        args = [self.value_of(o) for o in op.operands]
        if op.has_trait(ShapeOnly):
            args = [np.empty(o.type.get_shape(), dtype=np.float32) if a is None else a for o, a in zip(op.operands, args)]
        out = REFERENCE[type(op)](op, *args)
        if len(op.results) == 1:
            return [as_result(op, out)]
        return [as_result(op, r, i) for i, r in enumerate(out)]

    def finish(self, outputs: Sequence[SSAValue]) -> None:
        """Return the outputs and drop constants that folding left unused."""
        self.block.add_op(func.ReturnOp(*outputs))
        for op in list(self.block.ops):
            if isinstance(op, ConstantOp | WeightOp) and not op.result.uses:
                self.block.erase_op(op)
        used = {op.sym.data for op in self.block.ops if isinstance(op, WeightOp)}
        for name in [n for n in self.store.unsaved if n not in used]:
            del self.store.arrays[name]
            self.store.unsaved.discard(name)


def node_name(proto: NodeProto) -> str:
    """A node's name for messages: its own, else its first output's."""
    return proto.name or (proto.output[0] if proto.output else "?")


def describe(proto: NodeProto) -> str:
    return f"{proto.op_type} node '{node_name(proto)}'"


@functools.cache
def _default_domain_schemas() -> dict[str, list[onnx.defs.OpSchema]]:
    """Every version of every default-domain op's schema, oldest first."""
    schemas: dict[str, list[onnx.defs.OpSchema]] = {}
    for schema in sorted(onnx.defs.get_all_schemas_with_history(), key=lambda s: s.since_version):
        if schema.domain in ("", "ai.onnx"):
            schemas.setdefault(schema.name, []).append(schema)
    return schemas


def _selected_schemas(op_type: str, opset: int) -> list[onnx.defs.OpSchema]:
    """The version of the op that `opset` selects (none when the op is newer)."""
    return [s for s in _default_domain_schemas().get(op_type, []) if s.since_version <= opset][-1:]


@functools.cache
def attribute_types(op_type: str, opset: int) -> dict[str, int] | None:
    """The AttributeProto type of each attribute ONNX defines for `op_type`, as the version
    that `opset` selects defines it; attributes only other versions have keep their type
    there (importers read an attribute older opsets had, and models carry them). None when
    ONNX has no such op."""
    versions = _default_domain_schemas().get(op_type)
    if not versions:
        return None
    return {name: int(a.type) for s in (*versions, *_selected_schemas(op_type, opset)) for name, a in s.attributes.items()}


class Node:
    """One ONNX node as importers see it: attributes with defaults, inputs as SSA values
    or known arrays, and errors that name the node."""

    def __init__(self, proto: NodeProto, ctx: ImportContext, opset: int):
        self.proto, self.ctx, self.opset = proto, ctx, opset
        self.op_type = proto.op_type
        self.name = node_name(proto)
        self._attrs = {a.name: a for a in proto.attribute}

    def where(self) -> str:
        return describe(self.proto)

    def fail(self, message: str):
        raise OptcError(f"{self.where()}: {message}")

    # --- attributes ----------------------------------------------------------

    def check_attributes(self) -> None:
        """Every attribute is one ONNX defines for this op, of the type it defines (as
        onnxruntime checks): a `perm` given as the string "3210" is an error, not [3, 2, 1, 0]."""
        expected = attribute_types(self.op_type, self.opset)
        if expected is None:
            return
        type_name = AttributeProto.AttributeType.Name
        for a in self.proto.attribute:
            if a.name not in expected:
                current = sorted(n for s in _selected_schemas(self.op_type, self.opset) for n in s.attributes)
                self.fail(
                    f"ONNX defines no attribute '{a.name}' for {self.op_type} "
                    f"(at opset {self.opset} it has: {', '.join(current) or 'none'})"
                )
            if a.type != expected[a.name]:
                self.fail(f"attribute '{a.name}' must be of type {type_name(expected[a.name])}, got {type_name(a.type)}")

    def has_attr(self, name: str) -> bool:
        return name in self._attrs

    def attr(self, name: str, default: Any = None) -> Any:
        """The attribute's Python value (int, float, str, list, numpy array), or default."""
        if name not in self._attrs:
            return default
        a = self._attrs[name]
        match a.type:
            case AttributeProto.INT:
                return int(a.i)
            case AttributeProto.FLOAT:
                return float(a.f)
            case AttributeProto.STRING:
                return a.s.decode()
            case AttributeProto.INTS:
                return [int(v) for v in a.ints]
            case AttributeProto.FLOATS:
                return [float(v) for v in a.floats]
            case AttributeProto.STRINGS:
                return [s.decode() for s in a.strings]
            case AttributeProto.TENSOR:
                return numpy_helper.to_array(a.t)
        self.fail(f"attribute '{name}' has a type optc does not read ({AttributeProto.AttributeType.Name(a.type)})")

    # --- inputs --------------------------------------------------------------

    @property
    def num_inputs(self) -> int:
        return len(self.proto.input)

    def has_input(self, i: int) -> bool:
        return i < len(self.proto.input) and self.proto.input[i] != ""

    def input(self, i: int) -> SSAValue:
        if not self.has_input(i):
            self.fail(f"expects input {i}")
        return self.ctx.lookup(self.proto.input[i], self.where())

    def optional_input(self, i: int) -> SSAValue | None:
        return self.input(i) if self.has_input(i) else None

    def inputs(self) -> list[SSAValue]:
        return [self.input(i) for i in range(self.num_inputs) if self.has_input(i)]

    def known(self, i: int) -> np.ndarray | None:
        """The input's value when known at compile time, else None (also when absent)."""
        if not self.has_input(i):
            return None
        return self.ctx.value_of(self.input(i))

    def const_input(self, i: int, what: str) -> np.ndarray:
        """An input that must be known at compile time (a shape, axes, pads, ...)."""
        value = self.known(i)
        if value is None:
            raise ConstantInputRequired(
                f"{self.where()}: input {i} ('{what}') must be a compile-time constant; it is computed at "
                "run time (fix the model's input shapes with --shape so shape computations fold)",
                self.proto.input[i],
            )
        return value

    def ints_from(self, attr: str, input_index: int, default: Sequence[int] | None = None) -> list[int] | None:
        """Values given as an attribute in older opsets and as an input in newer ones."""
        if self.has_attr(attr):
            return list(self.attr(attr))
        if self.has_input(input_index):
            return [int(v) for v in self.const_input(input_index, attr).reshape(-1)]
        return None if default is None else list(default)

    # --- output --------------------------------------------------------------

    def emit(self, op: Operation) -> SSAValue | list[SSAValue]:
        """Insert (or fold) an op built for this node; returns its single result or all results."""
        results = self.ctx.emit(op, self.proto.output[0] if self.proto.output else self.name)
        return results[0] if len(results) == 1 else results
