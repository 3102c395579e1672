"""graph-recognize-activations: SiLU, HardSwish and HardSigmoid from the ops exporters write.

- SiLU (Swish): `x * sigmoid(x)`, either operand order → `graph.silu`. (Swish with another
  beta, `x * sigmoid(b * x)`, is a different function and stays.)
- HardSwish: `x * HardSigmoid(x, 1/6, 0.5)` (PyTorch before opset 14) and
  `x * relu6(x + 3) / 6` with relu6 a Clip(0, 6) (Keras' MobileNetV3, tf2onnx), the
  division anywhere in the product → `graph.hard_swish`.
- HardSigmoid: `relu6(x + 3) / 6` (PyTorch's hardsigmoid written out) and
  `clip(a * x + b, 0, 1)` → `graph.hard_sigmoid {alpha, beta}`.

Both hard functions are read as one shape, a ramp `c · clip(a·x + b, lo, hi)`: the affine
argument as a polynomial of degree one (`matching.polynomial`), the outer scale from the
product around it (`matching.product`), and a positive scale moved inside the clip. A ramp
from 0 to 1 is a hard sigmoid; x times the one with slope 1/6 and intercept 1/2 is a hard
swish. Values read by something else keep their ops (recognising around them would
compute them twice), as does a formula that broadcasts x to a larger shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
)

from dialects.graph import (
    AddOp,
    ClipOp,
    DivOp,
    HardSigmoidOp,
    HardSwishOp,
    MulOp,
    NegOp,
    SigmoidOp,
    SiluOp,
    SubOp,
)
from dialects.graph.base import float_attr, float_of
from dialects.weights import WeightStore
from passes.graph.constants import module_store
from passes.graph.matching import (
    Chain,
    close,
    is_float_tensor,
    orders,
    polynomial,
    product,
    scalar,
    single_use,
    tolerance,
)

HARD_SWISH_SLOPE = 1 / 6
HARD_SWISH_INTERCEPT = 0.5


@dataclass
class Ramp:
    """`clip(slope · x + intercept, lo, hi)`."""

    slope: float
    intercept: float
    lo: float
    hi: float

    def scaled(self, c: float) -> Ramp:
        """`c · ramp` as a ramp, for c > 0 (which keeps lo below hi)."""
        return Ramp(c * self.slope, c * self.intercept, c * self.lo, c * self.hi)

    def is_unit(self, rtol: float) -> bool:
        """From exactly 0 to 1: the shape of a hard sigmoid."""
        return self.lo == 0 and close(self.hi, 1.0, rtol)


def _bounds(op: Operation) -> tuple[float, float, float, float] | None:
    """A HardSigmoid or a Clip with compile-time bounds as (scale, shift, lo, hi) of what
    it does to its input: `clip(scale · v + shift, lo, hi)`."""
    if isinstance(op, HardSigmoidOp):
        return float_of(op.alpha), float_of(op.beta), 0.0, 1.0
    if isinstance(op, ClipOp) and op.min_value is None and op.max_value is None:
        return 1.0, 0.0, float(op.min.value.data), float(op.max.value.data)
    return None


def ramp_of(value: SSAValue, x: SSAValue, store: WeightStore, chain: Chain) -> Ramp | None:
    """`value` as a ramp in x: a HardSigmoid or Clip of an affine function of x."""
    op = value.owner
    bounds = _bounds(op) if isinstance(op, Operation) else None
    if bounds is None:
        return None
    p = polynomial(op.operands[0], x, store, chain)
    if p is None or not p.keys() <= {0, 1}:
        return None
    scale, shift, lo, hi = bounds
    chain.add(op)
    return Ramp(scale * p.get(1, 0.0), scale * p.get(0, 0.0) + shift, lo, hi)


_AFFINE = (AddOp, SubOp, MulOp, DivOp)


def variable_of(value: SSAValue, store: WeightStore) -> SSAValue:
    """The value an affine chain (`± c`, `· c`, `/ c`, neg; single-use links) starts from."""
    while isinstance(op := value.owner, Operation) and single_use(value):
        if isinstance(op, NegOp):
            value = op.input
            continue
        if not isinstance(op, _AFFINE):
            break
        constant = [scalar(o, store) is not None for o in op.operands]
        if constant == [False, True]:
            value = op.operands[0]
        elif constant == [True, False] and not isinstance(op, DivOp):
            value = op.operands[1]
        else:
            break
    return value


def _is_hard_swish_gate(ramp: Ramp, rtol: float) -> bool:
    """`clip(x / 6 + 1/2, 0, 1)`, what HardSwish multiplies x by."""
    slope, intercept = close(ramp.slope, HARD_SWISH_SLOPE, rtol), close(ramp.intercept, HARD_SWISH_INTERCEPT, rtol)
    return ramp.is_unit(rtol) and slope and intercept


# --- patterns -----------------------------------------------------------------


@dataclass
class RecognizeSilu(RewritePattern):
    """`x * sigmoid(x)` → `graph.silu x`."""

    store: WeightStore

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, MulOp):
            return
        chain = Chain()
        p = product(op.result, self.store, chain)
        if p.scale != 1.0:
            return
        for x, s in orders(p, 2):
            sigmoid = s.owner
            if isinstance(sigmoid, SigmoidOp) and sigmoid.input is x and single_use(s):
                chain.add(sigmoid)
                if chain.of_type(x.type):
                    chain.replace(rewriter, op, [SiluOp.make([x])])
                return


@dataclass
class RecognizeHardSwish(RewritePattern):
    """`x · c · ramp(x)` with `c · ramp` the hard sigmoid of slope 1/6, intercept 1/2 →
    `graph.hard_swish x`."""

    store: WeightStore

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, MulOp | DivOp):
            return
        rtol = tolerance(op.results[0])
        outer = Chain()
        p = product(op.results[0], self.store, outer)
        if p.scale <= 0:
            return
        for x, h in orders(p, 2):
            chain = Chain(list(outer.ops))
            ramp = ramp_of(h, x, self.store, chain) if single_use(h) and is_float_tensor(x) else None
            if ramp is not None and chain.of_type(x.type) and _is_hard_swish_gate(ramp.scaled(p.scale), rtol):
                chain.replace(rewriter, op, [HardSwishOp.make([x])])
                return


@dataclass
class RecognizeHardSigmoid(RewritePattern):
    """`c · clip(a·x + b, lo, hi)` rising from 0 to 1 → `graph.hard_sigmoid x {alpha, beta}`.
    A lone Clip(x, 0, 1) or HardSigmoid is left as it is: there is nothing to collapse."""

    store: WeightStore

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, MulOp | DivOp | ClipOp):
            return
        chain = Chain()
        p = product(op.results[0], self.store, chain)
        if len(p.factors) != 1 or p.scale <= 0:
            return
        (h,) = p.factors
        if h is not op.results[0] and not single_use(h):
            return
        x = variable_of(_ramp_input(h), self.store)
        ramp = ramp_of(h, x, self.store, chain) if is_float_tensor(x) and scalar(x, self.store) is None else None
        if ramp is None or len(chain.ops) < 2 or not chain.of_type(x.type):
            return
        ramp = ramp.scaled(p.scale)
        if ramp.is_unit(tolerance(x)) and ramp.slope != 0:
            props = {"alpha": float_attr(ramp.slope), "beta": float_attr(ramp.intercept)}
            chain.replace(rewriter, op, [HardSigmoidOp.make([x], props)])


def _ramp_input(value: SSAValue) -> SSAValue:
    """What a HardSigmoid or Clip reads (the value itself for anything else)."""
    op = value.owner
    return op.operands[0] if isinstance(op, HardSigmoidOp | ClipOp) else value


@dataclass(frozen=True)
class GraphRecognizeActivations(ModulePass):
    """Collapse decomposed SiLU, HardSwish and HardSigmoid into graph.silu, graph.hard_swish, graph.hard_sigmoid."""

    name = "graph-recognize-activations"

    silu: bool = True
    """Recognise `x * sigmoid(x)`."""

    hard_swish: bool = True
    """Recognise `x * hard_sigmoid(x)` and `x * relu6(x + 3) / 6`."""

    hard_sigmoid: bool = True
    """Recognise `relu6(x + 3) / 6` and `clip(a * x + b, 0, 1)`."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        store = module_store(op)
        chosen = {
            RecognizeSilu: self.silu,
            RecognizeHardSwish: self.hard_swish,
            RecognizeHardSigmoid: self.hard_sigmoid,
        }
        patterns = [pattern(store) for pattern, on in chosen.items() if on]
        if patterns:
            PatternRewriteWalker(GreedyRewritePatternApplier(patterns)).rewrite_module(op)
