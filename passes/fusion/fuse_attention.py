"""`fuse-attention`: scaled-dot-product attention as the PyTorch exporters write it becomes
one `fused.attention`.

BERT, GPT-2 and ViT, exported by TorchScript or dynamo, write each head-batched attention as

    scores = MatMul(q, kᵀ)               kᵀ: Transpose(k, swap the last two axes), or
                                          Transpose(k_bshd, [0, 2, 3, 1]) straight from the head split
    scores = scores * c  or  scores / c  (any number; or q and k each scaled, e.g. by d^-0.25)
    scores = Where(causal, scores, -big)  GPT-2 eager: a slice of a constant lower-triangular buffer
    scores = scores + mask                BERT's extended mask, GPT-2's padding mask, SDPA's mask
    probs  = Softmax(scores, last axis)   (opset < 13 writes axis = 3 on 4-D: the same op)
    out    = MatMul(probs, v)             (no Dropout in eval exports; Identity, same-type Cast looked through)

and this pass replaces the chain from the first MatMul to the last by
`fused.attention(q, k, v, mask) {scale, causal}` on [batch, heads, seq, dim] tensors. The
head splits producing q, k and v stay outside; k's transpose is absorbed (the op reads k as
[b, h, s_k, d]): one that only swaps the last two axes disappears, and `[0, 2, 3, 1]` from
[b, s, h, d] becomes `[0, 2, 1, 3]`, so q, k and v leave their projections in one layout.

Self-attention without projections is the same chain on one tensor: `softmax(x·xᵀ + mask)·x`
(q, k and v one value, no scaling: scale 1). It may come without heads, as [b, s, d] (or
[s, d]): q, k, v, the mask and the result then reach the op's [b, h, s, d] through free
reshapes ([b, 1, s, d]; the mask broadcast against the scores first, as `as_rank4` says),
one per value, so q = k = v stays one operand.

Merging the heads (option `merge-heads`): where the result's only reader is the head merge
`Transpose(out, [0, 2, 1, 3])` ([b, h, s, d] to [b, s, h, d], before the free reshape to
[b, s, h·d] that the output projection reads), the op writes its result in that layout
(`output_layout = "bshd"`) and the transpose disappears: one kernel fewer per layer.

Every value between the two products must have no other reader (scores, scaled scores, probs),
and the masking ops must come after the scaling (scaling a masked-out -big could make it
small again). The scale is the product of every constant factor, folded in float64; where f32,
the type of the op's `scale`, cannot hold it (the product overflows, or rounds a nonzero scale
to 0, or a factor is inf or NaN), the chain stays unfused and runs factor by factor as written.

Masks (option `masks`): the additive operand of the Add becomes the op's mask, reshaped to
rank 4 where it has fewer axes. What exporters build it from is read back, so a kernel reads
the least: an all-zero constant mask (ViT through dynamo) is dropped; a mask
`Where(a and b and ..., 0, -big)` (transformers' SDPA mask) loses its all-true constant terms
(BERT's, so [1, 1, s, s] becomes [1, 1, 1, s]), exactly. Causal detection (option `causal`):
a `Where` on the scores whose condition is a constant lower-triangular matrix (checked
element by element, aligned to the bottom-right corner as `fused.attention` is) sets
`causal = 1`, and so does such a constant term of an SDPA mask (GPT-2's causal-and-padding
mask keeps only its padding part) or a constant additive mask with 0 on and below the
diagonal and -big above it. -big is any constant at or below `NEGLIGIBLE`.

Causal detection is exact except in a row whose every key is masked out (a padding query
under left padding) by a finite -big: the exported graph spreads such a row over keys the
causal mask removed as well, the fused op only over the causal ones (GPT-2 with 40 left-pad
tokens: outputs differ by 4.4). So it is opt-in (`causal=true`); by default these masks
stay additive masks, which is exact everywhere, and an eager-form Where stays unfused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import Float32Type, FloatAttr, StringAttr, TensorType
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern
from xdsl.rewriter import InsertPoint
from xdsl.traits import is_side_effect_free

import runtime.reference  # noqa: F401  (fills the REFERENCE table)
from dialects.fused import AttentionOp
from dialects.graph import (
    AddOp,
    AndOp,
    CastOp,
    DivOp,
    ExpandOp,
    IdentityOp,
    MatMulOp,
    MulOp,
    ReshapeOp,
    SoftmaxOp,
    TransposeOp,
    WhereOp,
)
from dialects.graph.base import i64_array, int_attr, int_of, ints
from dialects.weights import WeightStore
from passes.graph.constants import known_value, module_store
from passes.graph.matching import is_float_tensor, scalar, single_use
from runtime.reference.registry import REFERENCE, as_result

NEGLIGIBLE = -1e4
"""A masked-out score at or below this contributes exactly nothing to a softmax whose row has
an ordinary score: exp(-1e4) is 0 in every float type (BERT writes -10000, newer exporters
the type's lowest finite value, SDPA -inf)."""

MAX_EVALUATED = 1 << 22
"""Elements an op may produce for `evaluate` to compute it (the causal buffer's slice is s²)."""

RANKS = (2, 3, 4)
"""Ranks of q, k, v and the scores: [s, d], [b, s, d] (one head) and [b, h, s, d]."""

HEAD_MERGE = (0, 2, 1, 3)
"""[b, h, s, d] to [b, s, h, d]: the transpose that merges the heads back."""


def evaluate(value: SSAValue, store: WeightStore, depth: int = 6) -> np.ndarray | None:
    """The array behind `value` when it is a constant, or a few small ops on constants (the
    slice of GPT-2's causal buffer before `graph-fold-constants` ran); None otherwise. The IR
    is not changed."""
    array = known_value(value, store)
    op = value.owner
    if array is not None or depth == 0 or not isinstance(op, Operation) or len(op.results) != 1:
        return array
    if op.regions or type(op) not in REFERENCE or math.prod(value.type.get_shape()) > MAX_EVALUATED:
        return None
    args = []
    for operand in op.operands:
        if (arg := evaluate(operand, store, depth - 1)) is None:
            return None
        args.append(arg)
    with np.errstate(all="ignore"):
        return as_result(op, REFERENCE[type(op)](op, *args))


def negligible(value: SSAValue, store: WeightStore) -> bool:
    """A scalar constant low enough to mask a score out (see `NEGLIGIBLE`)."""
    c = scalar(value, store)
    return c is not None and c <= NEGLIGIBLE


def is_causal(keep: np.ndarray | None, s_q: int, s_k: int) -> bool:
    """`keep` is the bottom-right-aligned lower triangle of [s_q, s_k], the same for every
    batch and head: what `fused.attention`'s `causal` keeps."""
    if keep is None or keep.ndim < 2 or keep.shape[-2:] != (s_q, s_k):
        return False
    tril = np.tril(np.ones((s_q, s_k), dtype=bool), k=s_k - s_q)
    return bool(np.all(keep.reshape(-1, s_q, s_k).astype(bool) == tril))


def is_causal_additive(mask: np.ndarray, s_q: int, s_k: int) -> bool:
    """A constant additive mask that is 0 on and below the diagonal and negligible above."""
    if mask.ndim < 2 or mask.shape[-2:] != (s_q, s_k):
        return False
    zero = mask.reshape(-1, s_q, s_k) == 0
    return is_causal(zero, s_q, s_k) and bool(np.all(mask.reshape(-1, s_q, s_k)[:, ~zero[0]] <= NEGLIGIBLE))


def is_noop(op: Operation) -> bool:
    """An Identity, or a Cast to the same type: what raw imports leave where Dropout or
    a `.to(dtype)` stood."""
    return isinstance(op, IdentityOp) or (isinstance(op, CastOp) and op.input.type == op.result.type)


F32_MAX = float(np.finfo(np.float32).max)


def scale_factor(op: Operation, store: WeightStore) -> tuple[SSAValue, float] | None:
    """For `x * c`, `c * x` or `x / c` with c a scalar constant that does not widen x, and
    for a no-op: (x, the factor)."""
    if is_noop(op):
        return op.operands[0], 1.0
    if isinstance(op, MulOp):
        for x, c in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            factor = scalar(c, store)
            if factor is not None and x.type == op.result.type and scalar(x, store) is None:
                return x, factor
    if isinstance(op, DivOp) and op.lhs.type == op.result.type:
        divisor = scalar(op.rhs, store)
        if divisor:
            return op.lhs, 1.0 / divisor
    return None


def fits_f32(scale: float) -> bool:
    """`scale` is a finite f32 number, nonzero if it was: the attention op's `scale` can hold it."""
    return math.isfinite(scale) and abs(scale) <= F32_MAX and (scale == 0 or np.float32(scale) != 0)


def peel_scales(value: SSAValue, store: WeightStore, ops: list[Operation]) -> tuple[SSAValue, float]:
    """Look through constant scalings of `value` that nothing else reads; the ops looked
    through join `ops`. Returns the unscaled value and the product of the factors."""
    scale = 1.0
    while single_use(value) and isinstance(value.owner, Operation):
        found = scale_factor(value.owner, store)
        if found is None:
            break
        ops.append(value.owner)
        value, factor = found
        scale *= factor
    return value, scale


def probs_reader(value: SSAValue, ops: list[Operation]) -> tuple[Operation, SSAValue] | None:
    """The one op reading `value`, through no-ops (which join `ops`), and the value it
    reads."""
    while single_use(value):
        user = next(iter(value.uses)).operation
        if not is_noop(user):
            return user, value
        ops.append(user)
        value = user.results[0]
    return None


@dataclass(frozen=True)
class Logits:
    """What lies between the two products: the ops, the scale, the additive mask and the
    causal conditions (value, True when the condition keeps the scores where it holds)."""

    ops: tuple[Operation, ...] = ()
    scale: float = 1.0
    mask: SSAValue | None = None
    conditions: tuple[tuple[SSAValue, bool], ...] = ()
    scores: MatMulOp | None = None

    def through(self, op: Operation, **changes) -> Logits:
        return replace(self, ops=(*self.ops, op), **changes)


def read_logits(value: SSAValue, store: WeightStore, found: Logits = Logits()) -> Logits | None:
    """Read the softmax's input back to `MatMul(q, kᵀ)`: first the masking (Add of a mask,
    Where by a condition, any order), then constant scalings, then the product. Every value
    on the way must have no other reader."""
    if not single_use(value) or not isinstance(op := value.owner, Operation):
        return None
    if isinstance(op, AddOp) and found.mask is None:
        for x, mask in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
            if x.type == op.result.type and (inner := read_logits(x, store, found.through(op, mask=mask))):
                return inner
        return None
    if isinstance(op, WhereOp):
        for x, fill, keeps in ((op.on_true, op.on_false, True), (op.on_false, op.on_true, False)):
            if x.type == op.result.type and negligible(fill, store):
                conditions = (*found.conditions, (op.condition, keeps))
                return read_logits(x, store, found.through(op, conditions=conditions))
        return None
    if is_noop(op):
        return read_logits(op.operands[0], store, found.through(op))
    ops: list[Operation] = []
    x, scale = peel_scales(value, store, ops)
    product = x.owner
    if not (isinstance(product, MatMulOp) and product.bias is None and single_use(x)):
        return None
    return replace(found, ops=(*found.ops, *ops, product), scale=scale, scores=product)


@dataclass(frozen=True)
class Key:
    """kᵀ as `transpose(source, perm) * scale`; the ops looked through."""

    source: SSAValue
    perm: tuple[int, ...]
    scale: float
    ops: tuple[Operation, ...]

    def k_perm(self) -> tuple[int, ...]:
        """The permutation of `source` that gives k as [..., s_k, d]."""
        return (*self.perm[:-2], self.perm[-1], self.perm[-2])


def read_key(value: SSAValue, store: WeightStore) -> Key:
    """Look through kᵀ's scalings and its transpose (kept if others read it, then its
    input is read directly); a kᵀ from anything else is transposed back by a new op."""
    ops: list[Operation] = []
    value, scale = peel_scales(value, store, ops)
    perm = tuple(range(value.type.get_num_dims()))
    if isinstance(t := value.owner, TransposeOp):
        ops.append(t)
        perm = ints(t.perm)
        value, inner = peel_scales(t.input, store, ops)
        scale *= inner
    return Key(value, perm, scale, tuple(ops))


def and_terms(value: SSAValue) -> list[SSAValue]:
    """The conjuncts of a boolean condition: `a and b and ...`, through broadcasts (which a
    Where condition does anyway)."""
    op = value.owner
    if isinstance(op, AndOp):
        return and_terms(op.lhs) + and_terms(op.rhs)
    if isinstance(op, ExpandOp):
        return and_terms(op.input)
    return [value]


@dataclass(frozen=True)
class MaskPlan:
    """What becomes of an additive mask: `keep` it as it is, or rebuild it as
    `Where(and(terms), zero, fill)` (no mask at all when `terms` is empty); and whether it
    held a causal mask."""

    keep: SSAValue | None = None
    terms: tuple[SSAValue, ...] = ()
    zero: SSAValue | None = None
    fill: SSAValue | None = None
    causal: bool = False

    @property
    def has_mask(self) -> bool:
        return self.keep is not None or bool(self.terms)


def plan_mask(mask: SSAValue, s_q: int, s_k: int, store: WeightStore, causal: bool) -> MaskPlan:
    """Read an additive mask back to what it is made of (see the module docstring)."""
    array = evaluate(mask, store)
    if array is not None:
        if not np.any(array):
            return MaskPlan()
        if causal and is_causal_additive(array, s_q, s_k):
            return MaskPlan(causal=True)
        return MaskPlan(keep=mask)
    where = mask.owner
    if not (isinstance(where, WhereOp) and scalar(where.on_true, store) == 0 and negligible(where.on_false, store)):
        return MaskPlan(keep=mask)
    kept, found_causal = [], False
    for term in and_terms(where.condition):
        known = evaluate(term, store)
        if known is not None and known.all():
            continue
        if causal and is_causal(known, s_q, s_k):
            found_causal = True
            continue
        kept.append(term)
    if len(kept) == len(and_terms(where.condition)):
        return MaskPlan(keep=mask)
    return MaskPlan(terms=tuple(kept), zero=where.on_true, fill=where.on_false, causal=found_causal)


@dataclass
class Match:
    """One attention: the fused op's operands and properties, the product it replaces
    (`root`) and the ops that then have no reader."""

    q: SSAValue
    key: Key
    v: SSAValue
    mask: SSAValue | None
    plan: MaskPlan
    scale: float
    causal: bool
    root: MatMulOp
    ops: list[Operation]


def fits_attention(q: SSAValue, k_shape: tuple[int, ...], v: SSAValue) -> bool:
    """q [*batch, s_q, d], k [*batch, s_k, d], v [*batch, s_k, d_v] of one rank in `RANKS`:
    what `fused.attention` takes once lifted to rank 4 (no broadcasting between them)."""
    q_shape, v_shape = tuple(q.type.get_shape()), tuple(v.type.get_shape())
    if not len(q_shape) == len(k_shape) == len(v_shape) in RANKS:
        return False
    return k_shape[:-2] == q_shape[:-2] and k_shape[-1] == q_shape[-1] and v_shape[:-1] == k_shape[:-1]


def key_shape(key: Key) -> tuple[int, ...]:
    """k's shape once transposed to [..., s_k, d]."""
    shape = key.source.type.get_shape()
    return tuple(shape[p] for p in key.k_perm())


def as_rank4(shape: tuple[int, ...], rank: int) -> list[int]:
    """`shape`, which broadcasts against scores of rank `rank`, as `fused.attention` sees it
    on [b, h, s_q, s_k]: padded with leading 1s to the scores' rank, then a rank-3 [b, ·, ·]
    is one head per batch ([b, 1, ·, ·]) and a rank-2 [·, ·] one of each: free reshapes."""
    shape = [1] * (max(rank, 3) - len(shape)) + list(shape)
    return shape if rank == 4 else [shape[0], 1, *shape[1:]]


def lift(value: SSAValue, rank: int, rewriter: PatternRewriter, before: Operation, made: dict[SSAValue, SSAValue]) -> SSAValue:
    """`value` reshaped by `as_rank4` (itself at rank 4); one reshape per value, kept in
    `made`, so q, k and v that are one tensor stay one operand."""
    shape = as_rank4(value.type.get_shape(), rank)
    if list(value.type.get_shape()) == shape:
        return value
    if value not in made:
        reshape = ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, shape)])
        rewriter.insert(reshape, InsertPoint.before(before))
        made[value] = reshape.result
    return made[value]


def head_merge(value: SSAValue) -> TransposeOp | None:
    """The transpose to [b, s, h, d] that alone reads the attention's result: the op can
    write its result that way instead."""
    if not single_use(value):
        return None
    user = next(iter(value.uses)).operation
    return user if isinstance(user, TransposeOp) and ints(user.perm) == HEAD_MERGE else None


@dataclass
class AttentionAroundSoftmax(RewritePattern):
    """A last-axis softmax between `MatMul(q, kᵀ)` and `MatMul(·, v)`: the whole attention
    becomes one `fused.attention`."""

    store: WeightStore
    causal: bool
    masks: bool
    merge_heads: bool
    built_masks: dict[tuple[SSAValue, int, int], SSAValue | None] = field(default_factory=dict)
    """Rebuilt masks by the mask they replace (and the scores' s_q, s_k): every layer of a
    model reads the same one."""

    def match(self, softmax: SoftmaxOp) -> Match | None:
        x = softmax.input
        rank = x.type.get_num_dims() if is_float_tensor(x) else 0
        if rank not in RANKS or int_of(softmax.axis) % rank != rank - 1:
            return None
        ops: list[Operation] = [softmax]
        reader = probs_reader(softmax.result, ops)
        if reader is None:
            return None
        root, probs = reader
        if not (isinstance(root, MatMulOp) and root.bias is None and root.lhs is probs and root.rhs is not probs):
            return None
        logits = read_logits(x, self.store)
        if logits is None:
            return None
        s_q, s_k = x.type.get_shape()[-2:]
        causal = False
        for condition, keeps in logits.conditions:
            known = evaluate(condition, self.store)
            if not self.causal or known is None or not is_causal(known if keeps else ~known.astype(bool), s_q, s_k):
                return None
            causal = True
        plan = MaskPlan() if logits.mask is None else plan_mask(logits.mask, s_q, s_k, self.store, self.causal)
        if plan.has_mask and not self.masks:
            return None
        q_ops: list[Operation] = []
        q, q_scale = peel_scales(logits.scores.lhs, self.store, q_ops)
        key = read_key(logits.scores.rhs, self.store)
        v = root.rhs
        scale = logits.scale * q_scale * key.scale
        if not fits_f32(scale):
            return None
        if not fits_attention(q, key_shape(key), v) or len({t.type.element_type for t in (q, key.source, v)}) != 1:
            return None
        return Match(
            q,
            key,
            v,
            logits.mask,
            plan,
            scale,
            causal or plan.causal,
            root,
            [*ops, *logits.ops, *q_ops, *key.ops],
        )

    def build_mask(self, found: Match, rewriter: PatternRewriter) -> SSAValue | None:
        """The mask operand: the plan's mask at rank 4 (`as_rank4`), built once per original
        mask, right after it, where every attention reading that mask can read this one."""
        plan = found.plan
        if not plan.has_mask:
            return None
        scores = found.root.lhs.type.get_shape()
        cache_key = (found.mask, len(scores), *scores[-2:])
        if cache_key in self.built_masks:
            return self.built_masks[cache_key]
        new_ops: list[Operation] = []
        value = plan.keep
        if value is None:
            condition = plan.terms[0]
            for term in plan.terms[1:]:
                new_ops.append(AndOp.make([condition, term]))
                condition = new_ops[-1].results[0]
            new_ops.append(WhereOp.make([condition, plan.zero, plan.fill]))
            value = new_ops[-1].results[0]
        shape = as_rank4(value.type.get_shape(), len(scores))
        if list(value.type.get_shape()) != shape:
            rank4 = TensorType(value.type.element_type, shape)
            new_ops.append(ReshapeOp(operands=[value], result_types=[rank4]))
            value = new_ops[-1].results[0]
        if new_ops:
            owner = found.mask.owner
            where = InsertPoint.at_start(owner) if isinstance(owner, Block) else InsertPoint.after(owner)
            rewriter.insert(new_ops, where)
        self.built_masks[cache_key] = value
        return value

    def build_key(self, key: Key, rewriter: PatternRewriter, before: Operation) -> SSAValue:
        """k as [..., s_k, d]: the source itself, or one transpose of it."""
        perm = key.k_perm()
        if perm == tuple(range(len(perm))):
            return key.source
        transpose = TransposeOp.make([key.source], {"perm": i64_array(perm)})
        rewriter.insert(transpose, InsertPoint.before(before))
        return transpose.results[0]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SoftmaxOp, rewriter: PatternRewriter) -> None:
        found = self.match(op)
        if found is None:
            return
        root, rank = found.root, found.q.type.get_num_dims()
        mask = self.build_mask(found, rewriter)
        k = self.build_key(found.key, rewriter, root)
        made: dict[SSAValue, SSAValue] = {}
        q, k, v = (lift(x, rank, rewriter, root, made) for x in (found.q, k, found.v))
        merge = head_merge(root.result) if self.merge_heads and rank == 4 else None
        properties = {"scale": FloatAttr(found.scale, Float32Type()), "causal": int_attr(int(found.causal))}
        if merge is not None:
            properties["output_layout"] = StringAttr("bshd")
        replaced = root if merge is None else merge
        result = replaced.results[0].type
        fused = AttentionOp.build(
            operands=[q, k, v, [mask] if mask is not None else []],
            result_types=[TensorType(result.element_type, as_rank4(result.get_shape(), rank))],
            properties=properties,
        )
        new_ops: list[Operation] = [fused]
        if fused.output.type != result:
            new_ops.append(ReshapeOp(operands=[fused.output], result_types=[result]))
        rewriter.insert(new_ops, InsertPoint.before(root))
        rewriter.replace(replaced, [], [new_ops[-1].results[0]])
        erase_dead(rewriter, [root, *found.ops])


def erase_dead(rewriter: PatternRewriter, ops: list[Operation]) -> None:
    """Erase `ops`, then whatever only they read (scale constants, k's old transpose, an
    old mask once the last attention reading it is fused), as far as nothing reads it."""
    pending = list(ops)
    while pending:
        op = pending.pop(0)
        if op.parent is None or any(r.uses for r in op.results) or not is_side_effect_free(op):
            continue
        pending.extend(o.owner for o in op.operands if isinstance(o.owner, Operation))
        rewriter.erase(op)


@dataclass(frozen=True)
class FuseAttention(ModulePass):
    """Replace scaled-dot-product attention (MatMul, scale, masks, Softmax, MatMul) by
    fused.attention."""

    name = "fuse-attention"

    causal: bool = False
    """Recognise causal masks (a Where by a constant lower triangle, or one inside a mask)
    as `causal = 1`. Off by default: on query rows whose every key is masked (left padding)
    the flag's -inf differs from the export's finite fill, so it is an opt-in for models
    known not to meet such rows. Off, such masks stay additive masks (exact) and a causal
    Where stays unfused."""

    masks: bool = True
    """Fuse attention with an additive mask (it becomes the op's mask operand); off, only
    attention without one (or whose mask is only causal) is fused."""

    merge_heads: bool = True
    """Absorb the head merge (a transpose [0, 2, 1, 3] alone reading the result): the op
    writes [b, s, h, d] (`output_layout = "bshd"`); off, the result stays [b, h, s, d]."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        pattern = AttentionAroundSoftmax(module_store(op), self.causal, self.masks, self.merge_heads)
        PatternRewriteWalker(pattern).rewrite_module(op)
