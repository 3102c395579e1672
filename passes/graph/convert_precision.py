"""`graph-convert-precision`: run a model's float32 computation in float16 or bfloat16.

The result is *strongly typed* (TensorRT's term): every conversion is a `graph.cast` in
the IR, and every op computes in the element type its operands have, so the kernels that
later passes generate never guess a precision. What the pass does, with `precision=fp16`
(`bf16` alike; `fp32` leaves the module as it is):

- f32 weights and constants become f16 copies: new `graph.weight` entries in the store
  (`fc.weight` → `fc.weight.f16.<digest>`; the f32 arrays stay, other modules may share
  them) and new inline `graph.constant`s. Finite values beyond the type's range saturate
  to its largest finite value (±65504 for f16), as ONNX's float16 converters do: a mask
  of `-3.4e38` stays a very negative number instead of becoming `-inf`, which would turn
  a fully masked softmax row into NaN. Infinities and NaN stay what they are.
- The interface keeps its types: an f32 input gets a `graph.cast` to f16 at the entry,
  an f32 output a `graph.cast` back to f32 before `func.return`.
- Every other op is rebuilt on its new operands; its result types come from the op's own
  `infer` (so a `graph.layer_norm`'s statistics stay f32 and comparisons stay i1), and
  where an op cannot infer (views, `graph.cast`, `graph.constant_of_shape`, ...) an f32
  result becomes f16. Properties typed by the element type (`graph.clip`'s bounds,
  `graph.constant_of_shape`'s value) are converted with it. A `graph.cast` to f32 becomes
  a cast to f16, and a cast that then converts nothing disappears.
- Integer and boolean tensors, and f64 and f16 ones the model already had, are untouched.
- Quant ops (a QDQ model, or what `quant-insert-qdq` inserted) convert on their float
  side only: a `quant.quantize` reads its input in the low type, a `quant.dequantize` (and
  a `quant.requantize` to f32) produces it. Scales stay f32 constants: the verifiers and the
  reference take a scale of any float type beside an f16 input or result (the quotient and
  the product are formed in f32, then rounded once), and an f32 scale keeps the integer
  epilogue's combined scale `s_x * s_w` exact, which f16 would round (ONNX ties the scale's
  type to the float type; an exporter writing the IR back out casts it there).

Normalisations, softmax, reductions and the matrix ops take f16 operands and produce f16
results: their kernels (and the reference interpreter) accumulate in f32 and round once,
which is what issue 4 asks of them, so keeping them in f32 would only cost bandwidth.
A few ops stay in f32 on purpose (`KEEP_F32`): they produce positions and indices, whose
integer values f16 cannot hold exactly beyond 2048. Their f16 operands are cast up and
their results cast down where f16 ops read them. An op whose verifier rejects the new
types (none in optc today) stays in f32 the same way rather than failing the pass.

Runs on the graph level (after `graph-optimize`, before `fuse`); on fused or kernel IR it
fails with a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin, func
from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type, FloatAttr, TensorType
from xdsl.ir import Attribute, Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException, VerifyException

from dialects.dtypes import round_to_bf16
from dialects.graph import CastOp, ClipOp, ConstantOfShapeOp, ConstantOp, CumSumOp, RangeOp, WeightOp
from dialects.graph.base import GraphOp
from dialects.quant import DequantizeOp, QuantizeOp, RequantizeOp
from dialects.weights import WeightStore, store_of

PRECISIONS: dict[str, Attribute | None] = {"fp32": None, "fp16": Float16Type(), "bf16": BFloat16Type()}
"""Option value → the element type f32 computation moves to (None: leave it in f32)."""

KEEP_F32: tuple[type[Operation], ...] = (RangeOp, CumSumOp)
"""Ops that compute in f32 whatever the precision: `graph.range` and `graph.cum_sum` make
positions and running counts (position ids, token indices), and f16 holds integers exactly
only up to 2048 (bf16: 256)."""

TYPED_PROPERTIES: dict[type[Operation], tuple[str, ...]] = {
    ClipOp: ("min", "max"),
    ConstantOfShapeOp: ("value",),
}
"""Properties whose type must be the op's element type (their verifiers say so)."""

_LARGEST: dict[type[Attribute], float] = {
    Float16Type: float(np.finfo(np.float16).max),
    BFloat16Type: 3.3895313892515355e38,  # (2 - 2^-7) * 2^127
}


# --- values -----------------------------------------------------------------------------


def _is_f32(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and isinstance(value.type.element_type, Float32Type)


def _with_element(t: Attribute, element_type: Attribute) -> Attribute:
    """`t` with its element type replaced when it is an f32 tensor; else `t`."""
    if isinstance(t, TensorType) and isinstance(t.element_type, Float32Type):
        return TensorType(element_type, t.get_shape())
    return t


def narrow(array: np.ndarray, element_type: Attribute) -> np.ndarray:
    """f32 values in `element_type`'s numpy form (bf16: float32 rounded to bf16), finite
    values saturated to its range, infinities and NaN kept."""
    largest = _LARGEST[type(element_type)]
    array = np.asarray(array, dtype=np.float32)
    saturated = np.where(np.isfinite(array), np.clip(array, -largest, largest), array)
    if isinstance(element_type, BFloat16Type):
        return round_to_bf16(saturated.astype(np.float32))
    return saturated.astype(np.float16)


def _narrow_attr(attr: Attribute, element_type: Attribute) -> Attribute:
    if isinstance(attr, FloatAttr) and isinstance(attr.type, Float32Type):
        return FloatAttr(float(narrow(np.array([attr.value.data]), element_type)[0]), element_type)
    return attr


# --- the conversion ---------------------------------------------------------------------


@dataclass
class _Conversion:
    """One sweep over a function's block, in order, with the two maps of a type conversion:
    each f32 value's low-precision twin (made on first use) and each converted value's f32
    twin (made where something must still read f32)."""

    low: Attribute
    suffix: str
    store: WeightStore
    block: Block
    rewriter: Rewriter = field(default_factory=Rewriter)
    lowered: dict[SSAValue, SSAValue] = field(default_factory=dict)
    raised: dict[SSAValue, SSAValue] = field(default_factory=dict)
    converted: set[SSAValue] = field(default_factory=set)
    """New low-precision values that stand for f32 values of the original IR."""
    made: list[Operation] = field(default_factory=list)
    """Ops the sweep inserted (twins); `clean_up` erases those left unread."""
    rebuilt_casts: list[CastOp] = field(default_factory=list)
    _entry: InsertPoint | None = None

    def run(self) -> None:
        self._entry = InsertPoint.at_start(self.block)
        for arg in self.block.args:  # entry casts first, in argument order
            if _is_f32(arg) and arg.uses:
                self.to_low(arg)
        made_before = set(self.made)
        for op in list(self.block.ops):
            if isinstance(op, ConstantOp | WeightOp) or op in made_before:
                continue  # converted when a low-precision op reads them
            if isinstance(op, func.ReturnOp) or isinstance(op, KEEP_F32):
                self.keep(op)
            else:
                self.convert(op)
        self.clean_up()

    # the two twins

    def to_low(self, value: SSAValue) -> SSAValue:
        """`value` (f32) as the low type: a converted constant or weight, else a cast
        right after its definition."""
        if value in self.lowered:
            return self.lowered[value]
        owner = value.owner
        if isinstance(owner, ConstantOp):
            new = ConstantOp.from_array(narrow(owner.to_array(), self.low), self.low)
        elif isinstance(owner, WeightOp):
            name = self.store.add(narrow(self.store[owner.sym.data], self.low), f"{owner.sym.data}.{self.suffix}")
            new = WeightOp.of(name, _with_element(value.type, self.low))
        else:
            new = CastOp.to(value, self.low)
        if isinstance(owner, Operation):
            self._insert(new, InsertPoint.after(owner), value)
        else:  # a function argument: at the entry, after the casts of earlier arguments
            self._insert(new, self._entry, value)
            self._entry = InsertPoint.after(new)
        self.lowered[value] = new.results[0]
        return new.results[0]

    def to_f32(self, value: SSAValue) -> SSAValue:
        """A converted value as f32 again (a cast after its definition); others unchanged."""
        if value not in self.converted:
            return value
        if value not in self.raised:
            cast = CastOp.to(value, Float32Type())
            self._insert(cast, InsertPoint.after(value.owner), value)
            self.raised[value] = cast.result
        return self.raised[value]

    def _insert(self, op: Operation, where: InsertPoint, like: SSAValue) -> None:
        op.results[0].name_hint = like.name_hint
        self.rewriter.insert_op(op, where)
        self.made.append(op)

    # the ops

    def keep(self, op: Operation) -> None:
        """`op` stays as it is, reading f32 where it read f32."""
        for i, operand in enumerate(op.operands):
            op.operands[i] = self.to_f32(operand)

    def convert(self, op: Operation) -> None:
        """Rebuild `op` on low-precision operands, or keep it if it does not accept them."""
        if op.dialect_name() == "quant":
            self.convert_quant(op)
            return
        if not isinstance(op, GraphOp):
            raise PassFailedException(
                f"graph-convert-precision runs on graph-level IR (before fusion), but the function holds '{op.name}'"
            )
        if not any(_is_f32(v) for v in (*op.operands, *op.results)):
            return  # integer, boolean, f64 or f16 work: nothing to convert
        operands = [self.to_low(v) if _is_f32(v) else v for v in op.operands]
        props = dict(op.properties)
        for name in TYPED_PROPERTIES.get(type(op), ()):
            if name in props:
                props[name] = _narrow_attr(props[name], self.low)
        try:
            new = type(op).create(
                operands=operands,
                result_types=self._result_types(op, operands, props),
                properties=props,
                attributes=dict(op.attributes),
            )
            new.verify()
        except VerifyException:
            self.keep(op)
            return
        for old, result in zip(op.results, new.results):
            result.name_hint = old.name_hint
            if _is_f32(old) and not _is_f32(result):
                self.converted.add(result)
        if isinstance(new, CastOp):
            self.rebuilt_casts.append(new)
        self.rewriter.replace_op(op, new)

    def convert_quant(self, op: Operation) -> None:
        """A quantize's input and a dequantize's (or float requantize's) result move to the
        low type; scales, zero points and integer contractions stay as they are."""
        operands, result_types = list(op.operands), [r.type for r in op.results]
        if isinstance(op, QuantizeOp) and _is_f32(op.input):
            operands[0] = self.to_low(op.input)
        if isinstance(op, DequantizeOp | RequantizeOp):
            result_types = [_with_element(op.result.type, self.low)]
        if operands == list(op.operands) and result_types == [r.type for r in op.results]:
            return
        new = type(op).create(
            operands=operands, result_types=result_types, properties=dict(op.properties), attributes=dict(op.attributes)
        )
        for old, result in zip(op.results, new.results):
            result.name_hint = old.name_hint
            if _is_f32(old) and not _is_f32(result):
                self.converted.add(result)
        self.rewriter.replace_op(op, new)

    def _result_types(self, op: Operation, operands: list[SSAValue], props) -> list[Attribute]:
        """What the op infers from its new operands; where it cannot, its f32 results in the
        low type (views, casts and generators, whose result type is given, not inferred)."""
        inferred = type(op).infer([v.type for v in operands], {k: v for k, v in props.items() if "Segment" not in k})
        if inferred is not None and len(inferred) >= len(op.results):
            return list(inferred[: len(op.results)])  # a layer norm without its statistics
        return [_with_element(r.type, self.low) for r in op.results]

    def clean_up(self) -> None:
        """Erase casts that no longer convert anything, and what the sweep left unused:
        the f32 constants and weights every reader now reads converted, twins nobody read."""
        for cast in self.rebuilt_casts:  # a cast to f32 of what is now already f16
            if cast.input.type == cast.result.type:
                cast.result.replace_all_uses_with(cast.input)
                self.rewriter.erase_op(cast)
        replaced = [v.owner for v in self.lowered if isinstance(v.owner, ConstantOp | WeightOp)]
        candidates = {*replaced, *self.made}
        for op in reversed(list(self.block.ops)):  # readers before what they read
            if op in candidates and not op.results[0].uses:
                self.rewriter.erase_op(op)


# --- the pass ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphConvertPrecision(ModulePass):
    """Run the f32 computation in f16 or bf16, with explicit casts at the function's interface."""

    name = "graph-convert-precision"

    precision: str = "fp16"
    """`fp16` or `bf16`: the type f32 tensors, weights and constants become; `fp32`: no change."""

    def __post_init__(self) -> None:
        # checked when the pipeline is built, before any pass runs (optc: "pass '...': ...")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        low = PRECISIONS[self.precision]
        if low is None:
            return
        store = store_of(op)
        for function in op.ops:  # a model has one, @main; each keeps its own interface
            if isinstance(function, func.FuncOp) and function.body.blocks:
                _Conversion(low, str(low), store, function.body.block).run()
