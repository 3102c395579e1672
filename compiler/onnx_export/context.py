"""Export state: the SSA value → ONNX name map, the nodes and initializers written so far.

Names are deterministic: function arguments and results keep their ONNX names (the
`onnx.name` argument attributes the importer writes), weights keep theirs, and every other
value is named after the op that defines it and a counter (`conv_0`, `relu_3`), so the same
IR always exports to the same file.
"""

from __future__ import annotations

from collections.abc import Sequence

import ml_dtypes
import numpy as np
from onnx import NodeProto, TensorProto, ValueInfoProto, helper, numpy_helper
from xdsl.dialects.builtin import BFloat16Type, i64
from xdsl.ir import Attribute, Operation, SSAValue

from dialects.dtypes import mlir_to_onnx_elem, numpy_dtype
from dialects.errors import OptcError
from dialects.graph import ConstantOp, WeightOp


def onnx_elem(element_type: Attribute, where: str) -> int:
    """The ONNX element type of an MLIR one, or an error naming `where` it was met."""
    try:
        return mlir_to_onnx_elem(element_type)
    except KeyError:
        raise OptcError(f"{where}: element type {element_type} has no ONNX equivalent") from None


def tensor_proto(array: np.ndarray, element_type: Attribute, name: str) -> TensorProto:
    """An initializer holding `array` as `element_type` (bf16 arrays are float32 in optc)."""
    shape = np.shape(array)  # ascontiguousarray makes a 0-d array 1-d
    array = np.ascontiguousarray(array, dtype=numpy_dtype(element_type)).reshape(shape)
    if isinstance(element_type, BFloat16Type):
        array = array.astype(ml_dtypes.bfloat16)
    return numpy_helper.from_array(array, name)


class ExportContext:
    """What the writers of one function share. `opset` is the default-domain opset the
    model is being written for: writers whose ONNX form changed between opsets read it."""

    def __init__(self, store, opset: int, reserved: dict[SSAValue, str], taken: set[str], weights: set[str]):
        self.store = store
        self.opset = opset
        self.names: dict[SSAValue, str] = {}
        self.elem: dict[str, int] = {}
        """The ONNX element type of every name, for the opset each node needs."""
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.value_info: list[ValueInfoProto] = []
        self.temps: set[str] = set()
        self.channels_first: dict[SSAValue, str] = {}
        """The channels-first form of channels-last values, where it has a name (`layout.py`)."""
        self.required: dict[int, str] = {}
        """Opsets writers asked for beyond what the schemas show, and why."""
        self.reserved = reserved
        """Returned values, by the output name they are written under."""
        self._weight_names = {sym: sym for sym in weights if sym not in taken}
        """Weights keep their names, claimed before any value is named (`conv_0` may be one)."""
        self._taken = set(taken) | set(self._weight_names)
        self._counters: dict[str, int] = {}
        self._weights: dict[str, str] = {}

    # --- names ---------------------------------------------------------------

    def fresh(self, hint: str) -> str:
        """A new name `hint_N`, N counting per hint, never one already taken."""
        while True:
            n = self._counters.get(hint, 0)
            self._counters[hint] = n + 1
            name = f"{hint}_{n}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def bind(self, value: SSAValue, name: str) -> None:
        self.names[value] = name
        self.elem[name] = onnx_elem(value.type.element_type, f"value '{name}'")

    def input(self, value: SSAValue | None) -> str:
        """The name of an operand (already written: the IR is in order); "" when absent."""
        if value is None:
            return ""
        if value not in self.names:
            raise OptcError(f"a value of type {value.type} is used before it is defined; export writes IR in order")
        return self.names[value]

    def result(self, op: Operation, index: int = 0) -> str:
        """The name of `op`'s result `index`: its function result's name when returned,
        else a fresh one after the op's name. Records its type for value_info."""
        value = op.results[index]
        if value in self.names:
            return self.names[value]
        name = self.reserved.get(value)
        if name is None:
            name = self.fresh(op.name.split(".", 1)[1])
            self.value_info.append(helper.make_tensor_value_info(name, onnx_elem(value.type.element_type, op.name), value.type.get_shape()))
        self.bind(value, name)
        return name

    def known(self, value: SSAValue) -> np.ndarray | None:
        """The value's array when it is a constant or a weight, else None."""
        owner = value.owner
        if isinstance(owner, ConstantOp):
            return owner.to_array()
        if isinstance(owner, WeightOp):
            return self.store[owner.sym.data]
        return None

    def temp(self, hint: str, element_type: Attribute) -> str:
        """A name for a value only the ONNX form has (a transpose around a channels-last op)."""
        name = self.fresh(hint)
        self.elem[name] = onnx_elem(element_type, hint)
        self.temps.add(name)
        return name

    def rename(self, temp: str, name: str) -> None:
        """Give a temporary the name of the value it turned out to be (a function result)."""
        for node in self.nodes:
            for names in (node.input, node.output):
                names[:] = [name if n == temp else n for n in names]
            if node.name == temp:
                node.name = name
        self.names = {v: name if n == temp else n for v, n in self.names.items()}
        self.channels_first = {v: name if n == temp else n for v, n in self.channels_first.items()}
        self.elem[name] = self.elem[temp]
        self.temps.discard(temp)

    # --- initializers --------------------------------------------------------

    def initializer(self, array: np.ndarray, element_type: Attribute, hint: str) -> str:
        """Write `array` as a new initializer named after `hint`."""
        return self._add(array, element_type, self.fresh(hint))

    def weight(self, sym: str, element_type: Attribute) -> str:
        """The initializer of weight `sym`, under its own name, written once however many
        ops name it."""
        if sym not in self._weights:
            name = self._weight_names.get(sym) or self.fresh(sym)
            self._weights[sym] = self._add(self.store[sym], element_type, name)
        return self._weights[sym]

    def ints(self, values: Sequence[int], hint: str, scalar: bool = False) -> str:
        """An int64 initializer: shapes, axes, pads (a 0-d one when `scalar`)."""
        array = np.asarray(values[0] if scalar else list(values), dtype=np.int64)
        return self.initializer(array, i64, hint)

    def scalar(self, value, element_type: Attribute, hint: str) -> str:
        """A 0-d initializer of `element_type` (a clip bound, a zero point)."""
        return self.initializer(np.asarray(value, dtype=numpy_dtype(element_type)), element_type, hint)

    def _add(self, array: np.ndarray, element_type: Attribute, name: str) -> str:
        self.initializers.append(tensor_proto(array, element_type, name))
        self.elem[name] = onnx_elem(element_type, f"initializer '{name}'")
        return name

    # --- nodes ---------------------------------------------------------------

    def node(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attributes) -> list[str]:
        """Add a node (named after its first output); attributes given as None are left out."""
        attributes = {k: v for k, v in attributes.items() if v is not None}
        inputs = list(inputs)
        while inputs and inputs[-1] == "":
            inputs.pop()
        self.nodes.append(helper.make_node(op_type, inputs, list(outputs), name=outputs[0], **attributes))
        return list(outputs)

    def unary(self, op_type: str, source: str, element_type: Attribute, hint: str, **attributes) -> str:
        """One node from `source` to a new temporary of `element_type`; returns its name."""
        (out,) = self.node(op_type, [source], [self.temp(hint, element_type)], **attributes)
        return out

    def require(self, opset: int, why: str) -> None:
        """Ask for at least `opset` for a reason the schemas cannot show (an attribute value)."""
        self.required.setdefault(opset, why)


def fail(op: Operation, message: str):
    raise OptcError(f"cannot export '{op.name}' to ONNX: {message}")
