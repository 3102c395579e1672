"""The memory planner (`passes/memory/planner.py`) on its own: small plans with exact
offsets, its invariants on random interval sets (hypothesis), and the issue's target,
arena ≤ 1.1× the lower bound, on ResNet-50 and BERT-base: launch orders written out
from the architectures here (always), and the fused zoo models (where the zoo is built).
"""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from passes.memory.planner import STRATEGIES, Buffer, MemoryPlan, format_plan, plan_memory

KIB = 1024
TARGET_RATIO = 1.1


# --- small plans, exact offsets -------------------------------------------------------


def test_a_chain_reuses_the_bytes_of_buffers_that_died():
    a, b, c = Buffer("a", 100, 0, 1), Buffer("b", 300, 1, 2), Buffer("c", 100, 2, 3)
    plan = plan_memory([a, b, c])
    # b (largest) first at 0; a and c are never live together, so both go above b.
    assert plan.offsets == {"a": 512, "b": 0, "c": 512}
    assert (plan.arena_bytes, plan.lower_bound_bytes, plan.naive_bytes) == (768, 768, 1024)
    assert plan.ratio == 1.0


def test_alignment_pads_every_buffer():
    buffers = [Buffer("a", 10, 0, 1), Buffer("b", 10, 0, 1), Buffer("c", 10, 1, 1)]
    assert plan_memory(buffers, alignment=1).offsets == {"a": 0, "b": 10, "c": 20}
    plan = plan_memory(buffers, alignment=64)
    assert plan.offsets == {"a": 0, "b": 64, "c": 128}
    assert (plan.arena_bytes, plan.lower_bound_bytes, plan.naive_bytes) == (192, 192, 192)


def test_the_best_of_several_placements_wins():
    # Greedy by size puts the 1 KiB `late` buffer at 0 and then cannot fit `early` under
    # `long`; greedy by breadth packs step 2 (three 768-byte buffers) first and reaches
    # the lower bound.
    buffers = [
        Buffer("long", 768, 2, 5),
        Buffer("brief", 768, 2, 2),
        Buffer("early", 768, 0, 2),
        Buffer("late", 1024, 3, 4),
    ]
    assert plan_memory(buffers, strategies=["size, first fit"]).arena_bytes == 2560
    plan = plan_memory(buffers)
    assert plan.strategy == "breadth, first fit"
    assert plan.offsets == {"long": 0, "brief": 768, "early": 1536, "late": 768}
    assert plan.arena_bytes == plan.lower_bound_bytes == 2304


def test_a_view_shares_its_base_and_keeps_it_alive():
    # `flat` is a reshape of `a` read at step 3: a's bytes stay taken until then, so `b`
    # (live at 2..3) may not reuse them although `a` itself is last read at step 1.
    buffers = [Buffer("a", 512, 0, 1), Buffer("flat", 512, 0, 3), Buffer("b", 512, 2, 3)]
    plan = plan_memory(buffers, aliases=[("flat", "a")])
    assert plan.offsets == {"a": 0, "flat": 0, "b": 512}
    assert plan.naive_bytes == 1024  # a view costs nothing even without reuse


def test_an_elementwise_chain_runs_in_one_buffer():
    buffers = [Buffer("x", 1000, 0, 1), Buffer("relu", 1000, 1, 2), Buffer("scale", 1000, 2, 3)]
    plan = plan_memory(buffers, in_place=[("relu", "x"), ("scale", "relu")])
    assert plan.in_place == (("relu", "x"), ("scale", "relu"))
    assert set(plan.offsets.values()) == {0}
    assert (plan.arena_bytes, plan.lower_bound_bytes, plan.naive_bytes) == (1024, 1024, 3072)


def test_in_place_is_refused_where_it_would_be_wrong():
    buffers = [
        Buffer("x", 256, 0, 1),
        Buffer("out1", 256, 1, 2),  # takes x
        Buffer("out2", 256, 1, 2),  # same op: x is already taken by out1
        Buffer("still_read", 256, 0, 3),
        Buffer("y", 256, 1, 2),  # still_read is read after step 1
        Buffer("small", 256, 0, 1),
        Buffer("big", 512, 1, 2),  # does not fit in `small`
    ]
    candidates = [("out1", "x"), ("out2", "x"), ("y", "still_read"), ("big", "small")]
    plan = plan_memory(buffers, in_place=candidates)
    assert plan.in_place == (("out1", "x"),)
    assert plan.offsets["out1"] == plan.offsets["x"] != plan.offsets["out2"]


def test_an_output_written_and_never_read_cannot_share_with_a_sibling():
    # dead1 lives only at step 1, so x's block still ends at step 1 after dead1 took it;
    # out2 must not take it too.
    buffers = [Buffer("x", 256, 0, 1), Buffer("dead1", 256, 1, 1), Buffer("out2", 256, 1, 2)]
    plan = plan_memory(buffers, in_place=[("dead1", "x"), ("out2", "x")])
    assert plan.in_place == (("dead1", "x"),)
    assert plan.offsets["out2"] != plan.offsets["x"]


def test_nothing_to_plan():
    plan = plan_memory([])
    assert (plan.arena_bytes, plan.lower_bound_bytes, plan.naive_bytes, plan.ratio) == (0, 0, 0, 1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Buffer("a", -1, 0, 0), "negative size"),
        (lambda: Buffer("a", 1, 3, 2), "last used at step 2, before it is written at step 3"),
        (lambda: plan_memory([Buffer("a", 1, 0, 0)] * 2), "given twice"),
        (lambda: plan_memory([Buffer("a", 1, 0, 0)], aliases=[("v", "a")]), "names 'v', which is not a buffer"),
        (lambda: plan_memory([], alignment=0), "alignment must be a positive"),
        (lambda: plan_memory([], strategies=["random"]), "unknown strategy 'random'"),
    ],
)
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_the_report_reads_in_mib_with_ratios():
    buffers = [Buffer("a", 3 << 20, 0, 1), Buffer("b", 1 << 20, 1, 2), Buffer("c", 3 << 20, 2, 3)]
    text = format_plan(plan_memory(buffers))
    assert text.splitlines() == [
        "memory plan: 3 buffers (0 written in place), placement 'size, first fit', 256-byte alignment",
        "  arena             4.00 MiB  1.000x the lower bound",
        "  lower bound       4.00 MiB  the most bytes live at one step",
        "  naive             7.00 MiB  1.75x the arena: every buffer its own bytes",
    ]


# --- invariants on random interval sets -----------------------------------------------


@st.composite
def problems(draw):
    """Buffers with random sizes and intervals, views among them, and in-place candidates
    that are often legal (an input whose last step is the output's first) and often not."""
    n = draw(st.integers(0, 14))
    buffers = []
    for i in range(n):
        first = draw(st.integers(0, 12))
        size = draw(st.one_of(st.integers(0, 3 * KIB), st.sampled_from([256, 512, 1024])))
        buffers.append(Buffer(f"b{i}", size, first, first + draw(st.integers(0, 5))))
    pairs = list(itertools.permutations(range(n), 2))
    aliases = draw(st.lists(st.sampled_from(pairs), max_size=3)) if pairs else []
    chained = [(o, i) for o, i in pairs if buffers[i].last == buffers[o].first]
    candidates = draw(st.lists(st.sampled_from(chained or pairs), max_size=6)) if pairs else []
    candidates += draw(st.lists(st.sampled_from(pairs), max_size=2)) if pairs else []
    ids = [(buffers[a].id, buffers[b].id) for a, b in aliases], [(buffers[a].id, buffers[b].id) for a, b in candidates]
    alignment = draw(st.sampled_from([1, 16, 256]))
    strategies = draw(st.sampled_from([tuple(STRATEGIES)] + [(name,) for name in STRATEGIES]))
    return buffers, ids[0], ids[1], alignment, strategies


class _Classes:
    """Equivalence classes of buffer ids (union-find), written again here so that the
    checks do not trust the planner's own bookkeeping."""

    def __init__(self, ids):
        self.parent = {i: i for i in ids}

    def find(self, i):
        while self.parent[i] != i:
            i = self.parent[i]
        return i

    def join(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def _live_together(a: Buffer, b: Buffer) -> bool:
    return a.first <= b.last and b.first <= a.last


def _pad(size: int, alignment: int) -> int:
    return math.ceil(size / alignment) * alignment


def _check_plan(buffers, aliases, candidates, alignment, plan: MemoryPlan) -> None:
    by_id = {b.id: b for b in buffers}
    views, storage = _Classes(by_id), _Classes(by_id)
    for view, base in aliases:
        views.join(view, base)
        storage.join(view, base)
    assert set(plan.in_place) <= set(candidates)
    for out, inp in plan.in_place:
        storage.join(out, inp)

    assert list(plan.offsets) == [b.id for b in buffers]
    for b in buffers:
        assert plan.offsets[b.id] % alignment == 0, f"{b.id} at {plan.offsets[b.id]} is not aligned"
        assert plan.offsets[b.id] + b.size <= plan.arena_bytes
    for a, b in itertools.combinations(buffers, 2):
        oa, ob = plan.offsets[a.id], plan.offsets[b.id]
        if storage.find(a.id) == storage.find(b.id):
            assert oa == ob, f"{a.id} and {b.id} share storage at different offsets"
        elif _live_together(a, b):
            assert oa + a.size <= ob or ob + b.size <= oa, f"{a.id} and {b.id} are live together and overlap"
    _check_in_place_steps(buffers, views, storage, plan)
    _check_statistics(buffers, views, storage, alignment, plan)


def _check_in_place_steps(buffers, views, storage, plan) -> None:
    """Within one storage block, buffers that are not views of each other are live
    together only at the step where a taken candidate writes over its input."""
    steps = {(views.find(o), views.find(i)): next(b.first for b in buffers if b.id == o) for o, i in plan.in_place}
    hull = {}
    for b in buffers:
        lo, hi = hull.get(views.find(b.id), (b.first, b.last))
        hull[views.find(b.id)] = (min(lo, b.first), max(hi, b.last))
    for v, w in itertools.combinations(hull, 2):
        if storage.find(v) != storage.find(w):
            continue
        (v0, v1), (w0, w1) = hull[v], hull[w]
        if v0 <= w1 and w0 <= v1:
            shared = max(v0, w0)
            assert min(v1, w1) == shared, f"blocks {v} and {w} share storage over several steps"
            assert shared in (steps.get((v, w)), steps.get((w, v))), f"{v} and {w} overlap with no in-place write"


def _check_statistics(buffers, views, storage, alignment, plan) -> None:
    view_size, block_size, block_span = {}, {}, {}
    for b in buffers:
        v, s = views.find(b.id), storage.find(b.id)
        view_size[v] = max(view_size.get(v, 0), _pad(b.size, alignment))
        block_size[s] = max(block_size.get(s, 0), _pad(b.size, alignment))
        lo, hi = block_span.get(s, (b.first, b.last))
        block_span[s] = (min(lo, b.first), max(hi, b.last))
    steps = range(min((b.first for b in buffers), default=0), max((b.last for b in buffers), default=-1) + 1)
    peak = max((sum(block_size[s] for s, (lo, hi) in block_span.items() if lo <= t <= hi) for t in steps), default=0)
    assert plan.naive_bytes == sum(view_size.values())
    assert plan.lower_bound_bytes == peak
    assert plan.lower_bound_bytes <= plan.arena_bytes <= plan.naive_bytes
    assert plan.arena_bytes % alignment == 0


@settings(max_examples=300, deadline=None)
@given(problems())
def test_random_plans_keep_every_invariant(problem):
    buffers, aliases, candidates, alignment, strategies = problem
    plan = plan_memory(buffers, aliases, candidates, alignment, strategies)
    _check_plan(buffers, aliases, candidates, alignment, plan)
    assert plan_memory(buffers, aliases, candidates, alignment, strategies) == plan  # deterministic


@settings(max_examples=100, deadline=None)
@given(problems())
def test_trying_every_strategy_is_never_worse_than_one(problem):
    buffers, aliases, candidates, alignment, _ = problem
    best = plan_memory(buffers, aliases, candidates, alignment).arena_bytes
    for name in STRATEGIES:
        assert best <= plan_memory(buffers, aliases, candidates, alignment, [name]).arena_bytes


# --- ResNet-50 and BERT-base launch orders, written out --------------------------------


class _LaunchOrder:
    """A launch order as the kernel plan will have it: each launch writes one buffer and
    reads others; a buffer lives from its launch to its last reader (the graph's outputs
    to the end). `elementwise` launches propose to write over their inputs."""

    def __init__(self):
        self.launches: list[tuple[str, int, tuple[str, ...]]] = []
        self.candidates: list[tuple[str, str]] = []

    def launch(self, name: str, nbytes: int, *inputs: str, elementwise: bool = False) -> str:
        self.launches.append((name, nbytes, inputs))
        if elementwise:
            self.candidates += [(name, i) for i in inputs]
        return name

    def buffers(self, outputs: tuple[str, ...]) -> list[Buffer]:
        span = {}
        for step, (name, nbytes, inputs) in enumerate(self.launches):
            span[name] = [nbytes, step, step]
            for i in inputs:
                if i in span:  # the image, token ids and weights are not arena buffers
                    span[i][2] = step
        for o in outputs:
            span[o][2] = len(self.launches)
        return [Buffer(name, size, first, last) for name, (size, first, last) in span.items()]


def resnet50(batch: int = 1) -> tuple[list[Buffer], list[tuple[str, str]]]:
    """torchvision ResNet-50 at 224×224, fp32, batch norm folded into the convolutions,
    residual add and relu as their own elementwise launches (before epilogue fusion)."""
    order, f = _LaunchOrder(), 4 * batch

    def conv(name, channels, hw, x):
        return order.launch(name, f * channels * hw * hw, x)

    x, hw = conv("pool", 64, 56, conv("stem", 64, 112, "image")), 56
    for stage, (blocks, width) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)]):
        for block in range(blocks):
            p = f"s{stage}b{block}."
            a = conv(p + "conv1", width, hw, x)
            hw //= 2 if block == 0 and stage > 0 else 1
            b = conv(p + "conv2", width, hw, a)
            shortcut = conv(p + "down", 4 * width, hw, x) if block == 0 else x
            y = conv(p + "conv3", 4 * width, hw, b)
            s = order.launch(p + "add", f * 4 * width * hw * hw, y, shortcut, elementwise=True)
            x = order.launch(p + "relu", f * 4 * width * hw * hw, s, elementwise=True)
    logits = order.launch("fc", f * 1000, order.launch("avgpool", f * 2048, x))
    return order.buffers((logits,)), order.candidates


def bert_base(seq: int = 128, batch: int = 1) -> tuple[list[Buffer], list[tuple[str, str]]]:
    """BERT-base encoder (12 layers, hidden 768, 12 heads, FFN 3072), fp32, attention
    unfused: scores and probabilities (heads × seq × seq) are buffers of their own."""
    order, f = _LaunchOrder(), 4 * batch
    hidden, heads, ffn = 768, 12, 3072
    act = f * seq * hidden
    x = order.launch("embed_ln", act, order.launch("embed", act, "ids"))
    mask = order.launch("mask", f * seq, "attention_mask")
    for layer in range(12):
        p = f"l{layer}."
        q, k, v = (order.launch(p + n, act, x) for n in "qkv")
        scores = order.launch(p + "scores", f * heads * seq * seq, q, order.launch(p + "kT", act, k), mask)
        probs = order.launch(p + "softmax", f * heads * seq * seq, scores, elementwise=True)
        attn = order.launch(p + "proj", act, order.launch(p + "context", act, probs, v))
        x1 = order.launch(p + "ln1", act, order.launch(p + "add1", act, attn, x, elementwise=True))
        gelu = order.launch(p + "gelu", f * seq * ffn, order.launch(p + "ffn1", f * seq * ffn, x1), elementwise=True)
        out = order.launch(p + "ffn2", act, gelu)
        x = order.launch(p + "ln2", act, order.launch(p + "add2", act, out, x1, elementwise=True))
    return order.buffers((x,)), order.candidates


MODELS = {
    "resnet50": resnet50,
    "resnet50-batch8": lambda: resnet50(batch=8),
    "bert-base-seq128": bert_base,
    "bert-base-seq512": lambda: bert_base(seq=512),
}


@pytest.mark.parametrize("in_place", [False, True], ids=["no-in-place", "in-place"])
@pytest.mark.parametrize("model", MODELS)
def test_architectures_plan_within_the_target(model, in_place):
    buffers, candidates = MODELS[model]()
    plan = plan_memory(buffers, in_place=candidates if in_place else ())
    print(f"{model}:\n{format_plan(plan)}")
    _check_plan(buffers, [], candidates if in_place else [], 256, plan)
    assert plan.ratio <= TARGET_RATIO
    if in_place:
        assert plan.in_place, "the elementwise launches should write in place"
        assert plan.arena_bytes <= plan_memory(buffers).arena_bytes


# --- the fused zoo models -----------------------------------------------------------------


def zoo_buffers(module: ModuleOp) -> tuple[list[Buffer], list[tuple[str, str]]]:
    """The buffers a plan of fused `module` would have: every result of a kernel (in the
    sense of the fusion report) is one, live from its launch to its last reader; a free
    view is an alias of its operand; the function's results live to the end."""
    from compiler.report import kernel_ops
    from dialects.dtypes import numpy_dtype
    from passes.fusion.grouping import is_view

    main = next(op for op in module.ops if isinstance(op, func.FuncOp) and op.sym_name.data == "main")
    step = {op: i for i, op in enumerate(kernel_ops(module))}
    span, names, aliases = {}, {}, []

    def name(value):
        return names.setdefault(value, f"%{len(names)}")

    for op in main.body.block.ops:
        if op in step:
            starts = [(r, step[op]) for r in op.results]
        elif is_view(op) and op.operands[0] in span:
            starts = [(op.results[0], span[op.operands[0]][1])]
            aliases.append((name(op.results[0]), name(op.operands[0])))
        else:
            starts = []
        for value, first in starts:
            nbytes = math.prod(value.type.get_shape()) * numpy_dtype(value.type.element_type).itemsize
            span[value] = [nbytes, first, first]
        for value in op.operands:
            if value in span:
                read = len(step) if isinstance(op, func.ReturnOp) else step.get(op, span[value][1])
                span[value][2] = max(span[value][2], read)
    return [Buffer(name(v), size, first, last) for v, (size, first, last) in span.items()], aliases


@pytest.mark.zoo
@pytest.mark.slow
@pytest.mark.parametrize("model", ["resnet50", "bert"])
def test_fused_zoo_models_plan_within_the_target(model):
    from compiler.onnx_import import import_onnx
    from tests.support import apply_pipeline
    from tests.test_zoo import MANIFEST, ZOO  # skips this test where the zoo is absent

    entry = next(e for e in json.loads(MANIFEST.read_text())["entries"] if e["model"] == model)
    module = import_onnx(str(ZOO / entry["file"]), {i["name"]: i["shape"] for i in entry["inputs"]})
    buffers, aliases = zoo_buffers(apply_pipeline(module, "fused"))
    plan = plan_memory(buffers, aliases)
    print(f"{model} ({entry['file']}, fused):\n{format_plan(plan)}")
    _check_plan(buffers, aliases, [], 256, plan)
    assert plan.ratio <= TARGET_RATIO
