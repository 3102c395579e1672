"""Every pass optc runs, by name: one line per pass, imported only when used.

To add a pass, write `passes/<level>/<pass_name>.py` with a `ModulePass` subclass and add
one line here (see docs/adding-a-pass.md).
"""

import os
from collections.abc import Callable
from importlib import import_module

from xdsl.passes import ModulePass


def _lazy(module: str, cls: str) -> Callable[[], type[ModulePass]]:
    return lambda: getattr(import_module(module), cls)


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "fuse-attention": _lazy("passes.fusion.fuse_attention", "FuseAttention"),
    "fuse-epilogue": _lazy("passes.fusion.fuse_epilogue", "FuseEpilogue"),
    "fuse-conv-input-transpose": _lazy("passes.fusion.fuse_conv_input_transpose", "FuseConvInputTranspose"),
    "fuse-matmul-transpose": _lazy("passes.fusion.fuse_matmul_transpose", "FuseMatmulTranspose"),
    "fuse-horizontal-matmul": _lazy("passes.fusion.fuse_horizontal_matmul", "FuseHorizontalMatmul"),
    "fuse-elementwise": _lazy("passes.fusion.fuse_elementwise", "FuseElementwise"),
    "fuse-reductions": _lazy("passes.fusion.fuse_reductions", "FuseReductions"),
    "graph-dce": _lazy("passes.graph.dce", "GraphDeadCodeElimination"),
    "outline-kernels": _lazy("passes.lowering.outline_kernels", "OutlineKernels"),
    "configure-kernels": _lazy("passes.lowering.configure_kernels", "ConfigureKernels"),
    "plan-memory": _lazy("passes.memory.plan_memory", "PlanMemory"),
    "quant-cancel-qdq": _lazy("passes.quant.cancel_qdq", "QuantCancelQdq"),
    "quant-fold-qdq": _lazy("passes.quant.fold_qdq", "QuantFoldQdq"),
    "quant-propagate-scales": _lazy("passes.quant.propagate_scales", "QuantPropagateScales"),
    "quant-insert-qdq": _lazy("passes.quant.insert_qdq", "QuantInsertQdq"),
    "graph-fold-batch-norm": _lazy("passes.graph.fold_batch_norm", "GraphFoldBatchNorm"),
    "graph-fold-conv-affine": _lazy("passes.graph.fold_conv_affine", "GraphFoldConvAffine"),
    "graph-matmul-bias": _lazy("passes.graph.matmul_bias", "GraphMatMulBias"),
    "graph-recognize-gelu": _lazy("passes.graph.recognize_gelu", "GraphRecognizeGelu"),
    "graph-canonicalize": _lazy("passes.graph.canonicalize", "GraphCanonicalize"),
    "graph-recognize-layer-norm": _lazy("passes.graph.recognize_layer_norm", "GraphRecognizeLayerNorm"),
    "graph-fold-constants": _lazy("passes.graph.fold_constants", "GraphFoldConstants"),
    "graph-cse": _lazy("passes.graph.cse", "GraphCommonSubexpressionElimination"),
    "graph-to-nhwc": _lazy("passes.graph.to_nhwc", "GraphToNHWC"),
    "graph-convert-precision": _lazy("passes.graph.convert_precision", "GraphConvertPrecision"),
    "graph-recognize-activations": _lazy("passes.graph.recognize_activations", "GraphRecognizeActivations"),
}

TEST_PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "test-perturb-constants": _lazy("passes.testing.perturb_constants", "PerturbConstants"),
}
"""Deliberately wrong passes for tests of `optc --check-each-pass`, registered only when the
environment sets OPTC_TEST_PASSES=1 (lit RUN lines: `env OPTC_TEST_PASSES=1 optc ...`)."""

if os.environ.get("OPTC_TEST_PASSES") == "1":
    PASSES.update(TEST_PASSES)
