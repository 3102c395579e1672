"""fuse-attention: the differential tests, on the lit cases (lit_tests/fusion/fuse-attention.mlir),
on ONNX models in each exporter's form (BERT's additive mask at opsets 11, 13 and 17, GPT-2's
causal Where and SDPA mask, ViT without a mask, dynamo's scaled q and k; self-attention whose
q, k and v are one tensor, at ranks 2 to 4, fp32 and fp16), and on the model zoo
where it is built (every layer of BERT, GPT-2 and ViT fuses; outputs match the imported IR)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from compiler.pipelines import PIPELINES
from dialects.errors import OptcError
from dialects.fused import AttentionOp
from dialects.graph import SoftmaxOp, TransposeOp, WhereOp
from dialects.graph.base import float_of, int_of, ints
from dialects.weights import attach, store_of
from runtime.reference import run
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model

LIT = "fusion/fuse-attention.mlir"

B, S, H, D = 2, 5, 2, 4
"""Batch, sequence, heads and head size of the ONNX cases."""

LOWEST = float(np.finfo(np.float32).min)

FULLY_MASKED_ROWS = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
"""A -inf mask with random padding masks whole rows: NaN before and after, which agree."""


def attentions(module) -> list[AttentionOp]:
    return [op for op in module.walk() if isinstance(op, AttentionOp)]


def count(module, kind: type) -> int:
    return sum(isinstance(op, kind) for op in module.walk())


def assert_preserves_on(module, pipeline: str, inputs: dict[str, np.ndarray], rtol=1e-5, atol=1e-6):
    """The differential test on given inputs: masks from random inputs can mask out a whole
    row, where causal detection is allowed to differ (see the pass's docstring)."""
    store = store_of(module)
    after = module.clone()
    attach(after, store)
    apply_pipeline(after, pipeline)
    expected, actual = run(module, inputs, store), run(after, inputs, store)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=rtol, atol=atol, err_msg=f"output {name}")
    return after


def right_padded(dtype=np.int64) -> np.ndarray:
    """An attention mask whose second sequence ends in padding."""
    mask = np.ones((B, S), dtype=dtype)
    mask[1, S - 2 :] = 0
    return mask


# --- the lit cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case, causal, mask_shape",
    [
        ("bert", 0, [1, 1, 1, 4]),
        ("gpt2_eager", 1, [1, 1, 1, 4]),
        ("sdpa_causal_and_padding", 1, [1, 1, 1, 4]),
        ("sdpa_padding_only", 0, [1, 1, 1, 4]),
        ("scaled_q_and_k", 0, None),
        ("self_attention_rank3", 0, [2, 1, 1, 8]),
        ("self_attention_rank4", 0, [1, 1, 4, 4]),
        ("self_attention_rank2_kt_given", 0, None),
    ],
)
@FULLY_MASKED_ROWS
def test_lit_cases_fuse(case, causal, mask_shape):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-attention{causal=true}")
    (op,) = attentions(after)
    assert int_of(op.causal) == causal
    assert (None if op.mask is None else list(op.mask.type.get_shape())) == mask_shape
    assert count(after, SoftmaxOp) == 0


@pytest.mark.parametrize(
    "case",
    [
        "probs_read_elsewhere",
        "mask_before_scale",
        "not_causal",
        "softmax_over_queries",
        "self_attention_softmax_over_queries",
        "self_attention_mask_multiplies",
        "self_attention_keys_broadcast",
    ],
)
def test_near_misses_stay(case):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-attention{causal=true}")
    assert not attentions(after) and count(after, SoftmaxOp) == 1


@FULLY_MASKED_ROWS
def test_causal_off_keeps_masks_additive_and_the_where_unfused():
    after = assert_pass_preserves(lit_function(LIT, "sdpa_causal_and_padding"), "fuse-attention{causal=false}")
    (op,) = attentions(after)
    assert int_of(op.causal) == 0 and list(op.mask.type.get_shape()) == [1, 1, 4, 4]
    after = assert_pass_preserves(lit_function(LIT, "gpt2_eager"), "fuse-attention{causal=false}")
    assert not attentions(after)


def test_masks_off_fuses_only_unmasked_attention():
    assert not attentions(assert_pass_preserves(lit_function(LIT, "bert"), "fuse-attention{causal=true masks=false}"))
    after = assert_pass_preserves(lit_function(LIT, "scaled_q_and_k"), "fuse-attention{causal=true masks=false}")
    assert len(attentions(after)) == 1


def merged(op: AttentionOp) -> bool:
    """The op writes [b, s, h, d] and no transpose of its result is left."""
    return op.layout() == "bshd" and not any(isinstance(u.operation, TransposeOp) for u in op.output.uses)


def test_head_merge_is_absorbed():
    after = assert_pass_preserves(lit_function(LIT, "heads_merged"), "fuse-attention{causal=true}")
    (op,) = attentions(after)
    assert merged(op) and list(op.output.type.get_shape()) == [1, 4, 2, 8]
    assert count(after, TransposeOp) == 0


def test_merge_heads_off_keeps_the_transpose():
    after = assert_pass_preserves(lit_function(LIT, "heads_merged"), "fuse-attention{causal=true merge-heads=false}")
    (op,) = attentions(after)
    assert op.output_layout is None and count(after, TransposeOp) == 1


@pytest.mark.parametrize("case", ["head_merge_not_alone", "other_transpose"])
def test_head_merge_stays_unless_it_alone_reads_the_result(case):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-attention{causal=true}")
    (op,) = attentions(after)
    assert op.layout() == "bhsd" and count(after, TransposeOp) == 1


# --- ONNX models in the exporters' forms ----------------------------------------------------


class Graph:
    """An ONNX graph under construction: nodes, initializers, fresh names."""

    def __init__(self, seed: int = 0):
        self.nodes, self.initializers, self.rng, self.count = [], {}, np.random.default_rng(seed), 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, array, stem: str = "c") -> str:
        name = self.name(stem)
        self.initializers[name] = np.asarray(array)
        return name

    def op(self, op_type: str, *inputs: str, **attrs) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def heads(self, x: str, perm: list[int]) -> str:
        """A linear projection of x [B, S, H·D], split into heads and transposed by `perm`."""
        w = self.const(self.rng.standard_normal((H * D, H * D)).astype(np.float32) * 0.5, "w")
        b = self.const(self.rng.standard_normal(H * D).astype(np.float32) * 0.1, "b")
        y = self.op("Add", b, self.op("MatMul", x, w))
        y = self.op("Reshape", y, self.const(np.array([B, S, H, D], np.int64), "shape"))
        return self.op("Transpose", y, perm=perm)

    def inverted(self, mask: str) -> str:
        """1 - mask, in float: what HF multiplies by the masking value."""
        return self.op("Sub", self.const(np.float32(1)), self.op("Cast", mask, to=TensorProto.FLOAT))

    def merge_heads(self, o: str) -> str:
        o = self.op("Transpose", o, perm=[0, 2, 1, 3])
        return self.op("Reshape", o, self.const(np.array([B, S, H * D], np.int64), "shape"))

    def model(self, out: str, inputs: dict, opset: int = 17):
        self.nodes.append(helper.make_node("Identity", [out], ["y"]))
        return make_model(self.nodes, inputs, ["y"], self.initializers, opset)


def bert(opset: int, dropout: bool = False):
    """transformers' BERT self-attention through TorchScript: k transposed [0, 2, 3, 1] from
    the head split, scores / sqrt(d), + (1 - mask) * -10000 as [B, 1, 1, S]."""
    g = Graph()
    q, k, v = g.heads("x", [0, 2, 1, 3]), g.heads("x", [0, 2, 3, 1]), g.heads("x", [0, 2, 1, 3])
    s = g.op("Div", g.op("MatMul", q, k), g.const(np.float32(np.sqrt(D))))
    m = g.op("Mul", g.inverted("mask"), g.const(np.float32(-10000)))
    s = g.op("Add", s, g.op("Reshape", m, g.const(np.array([B, 1, 1, S], np.int64))))
    p = g.op("Softmax", s, axis=-1 if opset >= 13 else 3)
    if dropout:
        p = g.op("Identity", p)
    inputs = {"x": ([B, S, H * D], TensorProto.FLOAT), "mask": ([B, S], TensorProto.BOOL)}
    return g.model(g.merge_heads(g.op("MatMul", p, v)), inputs, opset)


def gpt2_eager(buffer: np.ndarray | None = None):
    """transformers' GPT-2 eager attention: kᵀ by a transpose of the last two axes, / sqrt(d),
    Where(a slice of the constant causal buffer, scores, lowest), + (1 - mask) * lowest."""
    g = Graph()
    q, k, v = (g.heads("x", [0, 2, 1, 3]) for _ in range(3))
    s = g.op("Div", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), g.const(np.float32(np.sqrt(D))))
    buffer = np.tril(np.ones((1, 1, 8, 8), bool)) if buffer is None else buffer
    ends = g.const(np.array([S, S], np.int64))
    starts, axes = g.const(np.array([0, 0], np.int64)), g.const(np.array([2, 3], np.int64))
    causal = g.op("Slice", g.const(buffer, "bias"), starts, ends, axes)
    s = g.op("Where", causal, s, g.const(np.float32(LOWEST)))
    pad = g.op("Mul", g.inverted("mask"), g.const(np.float32(LOWEST)))
    s = g.op("Add", s, g.op("Reshape", pad, g.const(np.array([B, 1, 1, S], np.int64))))
    p = g.op("Softmax", s, axis=-1)
    inputs = {"x": ([B, S, H * D], TensorProto.FLOAT), "mask": ([B, S], TensorProto.INT64)}
    return g.model(g.merge_heads(g.op("MatMul", p, v)), inputs, 13)


def gpt2_sdpa(layers: int = 2):
    """transformers' GPT-2 through SDPA: one mask Where(tril and padding, 0, lowest) that
    every layer adds to q·kᵀ · 1/sqrt(d), k transposed [0, 2, 3, 1]."""
    g = Graph()
    keep = g.op("Reshape", g.op("Cast", "mask", to=TensorProto.BOOL), g.const(np.array([B, 1, 1, S], np.int64)))
    keep = g.op("And", g.const(np.tril(np.ones((1, 1, S, S), bool)), "tril"), keep)
    mask = g.op("Where", keep, g.const(np.float32(0)), g.const(np.float32(LOWEST)))
    x = "x"
    for _ in range(layers):
        q, k, v = g.heads(x, [0, 2, 1, 3]), g.heads(x, [0, 2, 3, 1]), g.heads(x, [0, 2, 1, 3])
        s = g.op("Add", g.op("Mul", g.op("MatMul", q, k), g.const(np.float32(1 / np.sqrt(D)))), mask)
        x = g.merge_heads(g.op("MatMul", g.op("Softmax", s, axis=-1), v))
    return g.model(x, {"x": ([B, S, H * D], TensorProto.FLOAT), "mask": ([B, S], TensorProto.INT64)})


def vit(dynamo: bool = False, element_type=TensorProto.FLOAT):
    """ViT's attention, no mask. Through dynamo: q and kᵀ each scaled by d^-0.25 (SDPA's
    decomposition) and an all-zero mask added."""
    g = Graph()
    q, k, v = g.heads("x", [0, 2, 1, 3]), g.heads("x", [0, 2, 1, 3]), g.heads("x", [0, 2, 1, 3])
    if element_type == TensorProto.FLOAT16:
        g.initializers = {n: a.astype(np.float16) if a.dtype == np.float32 else a for n, a in g.initializers.items()}
    dtype = np.float16 if element_type == TensorProto.FLOAT16 else np.float32
    if dynamo:
        quarter = g.const(dtype(D**-0.25))
        s = g.op("MatMul", g.op("Mul", q, quarter), g.op("Mul", g.op("Transpose", k, perm=[0, 1, 3, 2]), quarter))
        s = g.op("Add", s, g.const(np.zeros((1, 1, S, S), dtype)))
    else:
        s = g.op("Mul", g.op("MatMul", q, g.op("Transpose", k, perm=[0, 1, 3, 2])), g.const(dtype(D**-0.5)))
    p = g.op("Softmax", s, axis=-1)
    return g.model(g.merge_heads(g.op("MatMul", p, v)), {"x": ([B, S, H * D], element_type)}, 18)


def self_attention(rank: int, scale: str | None, element_type=TensorProto.FLOAT):
    """Self-attention whose q, k and v are the input x itself ([S, D], [B, S, D] one head,
    or [B, H, S, D]) with an additive mask input, softmax(x·xᵀ + mask)·x, in the forms
    PyTorch exports: `scale` None (none at all), "scores" (Mul of x·xᵀ by 1/sqrt(d)), "q"
    (Mul of q) or "q_and_k" (q and xᵀ each by d^-0.25, SDPA's decomposition)."""
    g, dtype = Graph(), np.float16 if element_type == TensorProto.FLOAT16 else np.float32
    shape = {2: [S, D], 3: [B, S, D], 4: [B, H, S, D]}[rank]
    mask_shape = {2: [S, S], 3: [B, 1, S], 4: [B, 1, 1, S]}[rank]
    perm = [*range(rank - 2), rank - 1, rank - 2]
    q, kt = "x", g.op("Transpose", "x", perm=perm)
    if scale == "q":
        q = g.op("Mul", q, g.const(dtype(D**-0.5)))
    elif scale == "q_and_k":
        quarter = g.const(dtype(D**-0.25))
        q, kt = g.op("Mul", q, quarter), g.op("Mul", kt, quarter)
    s = g.op("MatMul", q, kt)
    if scale == "scores":
        s = g.op("Mul", s, g.const(dtype(D**-0.5)))
    p = g.op("Softmax", g.op("Add", s, "mask"), axis=-1)
    inputs = {"x": (shape, element_type), "mask": (mask_shape, element_type)}
    return g.model(g.op("MatMul", p, "x"), inputs)


SCALES = {None: 1.0, "scores": D**-0.5, "q": D**-0.5, "q_and_k": D**-0.5}


@pytest.mark.parametrize("scale", list(SCALES))
@pytest.mark.parametrize("rank", [2, 3, 4])
@pytest.mark.parametrize("element_type", [TensorProto.FLOAT, TensorProto.FLOAT16], ids=["f32", "f16"])
def test_self_attention_of_one_tensor(rank, scale, element_type):
    """q = k = v: one fused.attention on the input (lifted to [b, h, s, d] by one reshape
    below rank 4), scale 1 when the export has none, the mask lifted alongside."""
    tol = 2e-2 if element_type == TensorProto.FLOAT16 else 1e-5
    after = assert_pass_preserves(import_onnx(self_attention(rank, scale, element_type)), "fuse-attention", rtol=tol, atol=tol)
    (op,) = attentions(after)
    assert float_of(op.scale) == pytest.approx(SCALES[scale], rel=1e-3)
    assert op.q is op.k is op.v and list(op.q.type.get_shape()) == {2: [1, 1, S, D], 3: [B, 1, S, D], 4: [B, H, S, D]}[rank]
    assert list(op.mask.type.get_shape()) == {2: [1, 1, S, S], 3: [B, 1, 1, S], 4: [B, 1, 1, S]}[rank]
    assert count(after, SoftmaxOp) == 0 and count(after, TransposeOp) == 0


@pytest.mark.parametrize("rank", [3, 4])
def test_self_attention_is_one_kernel_in_the_default_pipeline(rank):
    """Through graph-optimize and fuse, the block is one fused.attention and free reshapes."""
    module = apply_pipeline(import_onnx(self_attention(rank, None)), "fused")
    kernels = [op for op in module.body.block.first_op.body.block.ops if op.name not in ("graph.reshape", "func.return")]
    assert [op.name for op in kernels] == ["fused.attention"]


@pytest.mark.parametrize("opset", [11, 13, 17])
def test_bert_additive_mask(opset):
    after = assert_pass_preserves(import_onnx(bert(opset)), "fuse-attention{causal=true}")
    (op,) = attentions(after)
    assert list(op.mask.type.get_shape()) == [B, 1, 1, S] and int_of(op.causal) == 0
    assert float_of(op.scale) == pytest.approx(D**-0.5)
    assert count(after, SoftmaxOp) == 0
    # k's [0, 2, 3, 1] became [0, 2, 1, 3]: q, k and v leave their projections in one layout,
    # and the head merge after the attention is gone
    assert sorted(ints(t.perm) for t in after.walk() if isinstance(t, TransposeOp)) == [(0, 2, 1, 3)] * 3
    assert merged(op)


def test_dropout_left_as_identity_is_looked_through():
    assert len(attentions(assert_pass_preserves(import_onnx(bert(13, dropout=True)), "fuse-attention{causal=true}"))) == 1


def test_gpt2_eager_causal_where():
    inputs = {"x": np.random.default_rng(0).standard_normal((B, S, H * D)).astype(np.float32), "mask": right_padded()}
    after = assert_preserves_on(import_onnx(gpt2_eager()), "fuse-attention{causal=true}", inputs)
    (op,) = attentions(after)
    assert int_of(op.causal) == 1 and list(op.mask.type.get_shape()) == [B, 1, 1, S]
    assert count(after, WhereOp) == 0


def test_gpt2_eager_buffer_that_is_not_lower_triangular_stays():
    shifted = np.tril(np.ones((1, 1, 8, 8), bool), k=1)
    assert not attentions(apply_pipeline(import_onnx(gpt2_eager(shifted)), "fuse-attention{causal=true}"))


@pytest.mark.parametrize("causal", [True, False])
def test_gpt2_sdpa_mask_is_rebuilt_once_for_all_layers(causal):
    inputs = {"x": np.random.default_rng(1).standard_normal((B, S, H * D)).astype(np.float32), "mask": right_padded()}
    after = assert_preserves_on(import_onnx(gpt2_sdpa()), f"fuse-attention{{causal={str(causal).lower()}}}", inputs)
    ops = attentions(after)
    assert len(ops) == 2 and ops[0].mask is ops[1].mask
    assert [int_of(op.causal) for op in ops] == [int(causal)] * 2
    assert list(ops[0].mask.type.get_shape()) == ([B, 1, 1, S] if causal else [B, 1, S, S])
    assert count(after, WhereOp) == 1
    assert all(merged(op) for op in ops)


@pytest.mark.parametrize("dynamo", [False, True])
def test_vit_without_mask(dynamo):
    after = assert_pass_preserves(import_onnx(vit(dynamo)), "fuse-attention{causal=true}")
    (op,) = attentions(after)
    assert op.mask is None and float_of(op.scale) == pytest.approx(D**-0.5, rel=1e-6)
    assert merged(op)


def test_f16_attention_stays_f16():
    model = vit(element_type=TensorProto.FLOAT16)
    after = assert_pass_preserves(import_onnx(model), "fuse-attention{causal=true}", rtol=2e-2, atol=2e-2)
    (op,) = attentions(after)
    assert op.output.type.element_type == op.q.type.element_type and "f16" in str(op.output.type)


# --- the model zoo --------------------------------------------------------------------------

ZOO = Path(os.environ.get("OPTC_ZOO", Path(__file__).resolve().parents[1] / "benchmarks" / "zoo"))
LAYERS = {"bert": 12, "gpt2": 12, "vit": 12}
"""Transformer layers of the zoo's BERT-base, GPT-2 small and ViT-B/16."""


def _zoo_params() -> list:
    manifest = ZOO / "manifest.json"
    if not manifest.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no model zoo at {ZOO}"))]
    entries = json.loads(manifest.read_text())["entries"]
    return [pytest.param(e, id=f"{e['model']}-{e['exporter']}") for e in entries if e["model"] in LAYERS]


@pytest.mark.zoo
@pytest.mark.slow
@pytest.mark.parametrize("simplified", [True, False], ids=["simplified", "imported"])
@pytest.mark.parametrize("entry", _zoo_params())
def test_zoo_every_layer_fuses(entry, simplified):
    """After graph-simplify (as the pipeline runs it) and alone on the imported IR."""
    from tests.test_zoo import zoo_inputs  # the zoo exists here, so its module imports

    try:
        module = import_onnx(str(ZOO / entry["file"]), {i["name"]: i["shape"] for i in entry["inputs"]})
    except OptcError as e:
        pytest.skip(f"{entry['file']} does not import: {e}")
    inputs = zoo_inputs(entry["inputs"])
    expected = run(module, inputs)
    apply_pipeline(module, f"{PIPELINES['graph-simplify']},fuse-attention" if simplified else "fuse-attention{causal=true}")
    assert len(attentions(module)) == LAYERS[entry["model"]]
    assert all(merged(op) for op in attentions(module))
    assert count(module, SoftmaxOp) == 0
    actual = run(module, inputs)
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-4, atol=1e-4, err_msg=f"output {name}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 1e30² overflows f32 in the graph, as written
@pytest.mark.parametrize("factor", [1e30, 1e-30], ids=["overflows", "underflows"])
def test_a_scale_f32_cannot_hold_stays_unfused(factor):
    """q and k each scaled by `factor`: the folded scale (1e60, 1e-60) is no f32 number, so
    the chain stays as written (the graph scales factor by factor), instead of an attention
    whose scale attribute cannot be built or rounds to 0."""
    g = Graph()
    c = g.const(np.float32(factor))
    q, kt = g.op("Mul", "x", c), g.op("Mul", g.op("Transpose", "x", perm=[0, 1, 3, 2]), c)
    p = g.op("Softmax", g.op("MatMul", q, kt), axis=-1)
    model = g.model(g.op("MatMul", p, "x"), {"x": ([B, H, S, D], TensorProto.FLOAT)})
    after = assert_pass_preserves(import_onnx(model), "fuse-attention")
    assert attentions(after) == [] and count(after, SoftmaxOp) == 1
