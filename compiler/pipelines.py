"""Named pipelines (`optc -p default`) and the levels `--compile-to` can stop at.

A pipeline is a plain pass list in xDSL's pipeline syntax, and may name other pipelines.
`--compile-to LEVEL` runs the pipeline named after the level (`graph`, `fused`, `quant`,
`kernel`). The `quant` level is the fused level's pipeline with the quant passes around
fusion: data movement first runs on the quantized integers (`quant-propagate-scales`),
then after fusion quantize/dequantize pairs that undo each other cancel and the rest fold
into integer contractions and fused kernels (`quant-fold-qdq`), so that no quant op is
left for the kernel level. A model with no quant op goes through those passes unchanged
(docs/quantization.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from xdsl.passes import ModulePass
from xdsl.utils.arg_spec import ArgSpec, parse_pipeline
from xdsl.utils.exceptions import ArgSpecParseError

from dialects.errors import OptcError
from passes.registry import PASSES

if TYPE_CHECKING:
    from passes.codegen.target import Target

PIPELINES: dict[str, str] = {
    # the whole compilation as far as optc goes today
    "default": "fused",
    # fold what is known, remove no-ops, merge duplicates, erase what is left unused: each
    # pass leaves work for the next (a folded Cast of 1 makes x * 1 removable)
    "graph-simplify": "graph-fold-constants,graph-canonicalize,graph-cse,graph-dce",
    # fold normalisations and biases into the weights, name what exporters spelled out
    # (GELU, LayerNorm, SiLU, HardSwish), move convolutions to channels-last (what tensor
    # core kernels read), then simplify what that left behind
    "graph-optimize": (
        "graph-simplify,graph-fold-batch-norm,graph-fold-conv-affine,graph-matmul-bias,"
        "graph-recognize-gelu,graph-recognize-layer-norm,graph-recognize-activations,graph-to-nhwc,graph-simplify"
    ),
    # one fused op per future kernel: attention first (it consumes matmuls and a softmax),
    # then shared-input matmuls merge, contractions take their epilogues (matmuls the
    # transposes of their operands' last two axes, a stem conv its input's transpose),
    # reductions their neighbours, and what elementwise work is left forms groups
    # (attention keeps causal masks as masks by default: exact, see fuse_attention.py)
    "fuse": (
        "fuse-attention,fuse-horizontal-matmul,fuse-epilogue,fuse-matmul-transpose,fuse-conv-input-transpose,"
        "fuse-reductions,fuse-elementwise,graph-dce"
    ),
    "graph": "graph-optimize",
    "fused": "graph-optimize,fuse",
    # QDQ models: movement on int8 before fusion; after it, cancel Q/DQ pairs, then fold
    # the rest into integer contractions and kernels (float models pass unchanged)
    "quant": "graph-optimize,quant-propagate-scales,fuse,quant-cancel-qdq,quant-fold-qdq",
    # every kernel its own kernel.func with its launch configuration, the launch sequence
    # in @main, and every intermediate at its offset in the arena: what an engine runs
    "lower-to-kernels": "outline-kernels,configure-kernels,plan-memory",
    "kernel": "quant,lower-to-kernels",
}

LEVELS: dict[str, str] = {
    # level -> the pipeline that takes freshly imported IR to it
    "graph": "graph",
    "fused": "fused",
    "quant": "quant",
    "kernel": "kernel",
}
PLANNED_LEVELS: tuple[str, ...] = ()
LEVEL_ORDER = ("graph", "fused", "quant", "kernel")
"""Every level, in the order a model goes through them."""


def expand(spec: str) -> Iterator[ArgSpec]:
    """Parse a pipeline string into pass specs, replacing named pipelines by their passes."""
    try:
        items = list(parse_pipeline(spec)) if spec else []
    except ArgSpecParseError as e:  # a BaseException in xDSL, with a caret diagram we shorten
        where = re.search(r"pass-pipeline:\d+:(\d+)", str(e))
        column = f" at column {where.group(1)}" if where else ""
        raise OptcError(f"cannot parse pipeline '{spec}'{column}: {str(e).strip().splitlines()[-1].strip()}") from None
    for item in items:
        if item.name in PIPELINES and not item.parameters:
            yield from expand(PIPELINES[item.name])
        else:
            yield item


PRECISIONS = ("fp32", "fp16", "bf16", "int8")
"""What `--precision` takes: `graph-convert-precision`'s values, and int8 (calibrated Q/DQ
around the contractions, the rest in fp16: `compiler/calibration`)."""

INT8_FLOAT = "fp16"
"""The precision of what int8 leaves float (TensorRT builds int8 engines with fp16 enabled)."""


def with_precision(spec: str, precision: str, calibration_cache: str | None = None) -> str:
    """`spec` with `graph-convert-precision{precision=...}` right after its graph-level passes
    (those named `graph-*`, which come first in every pipeline): the graph is optimised in
    f32, then converted, then fused and lowered in the new precision; appended when every
    pass is graph-level. Named pipelines are opened only as far as the insertion point needs
    (`kernel` at fp16 is `graph-optimize,graph-convert-precision{precision=fp16},fuse,
    lower-to-kernels`). fp32 leaves `spec` as it is. int8 puts
    `quant-insert-qdq{cache=FILE}` (the calibration cache; none for a QDQ model) before the
    conversion to fp16."""
    if precision not in PRECISIONS:
        raise OptcError(f"unknown precision '{precision}' (choose from {', '.join(PRECISIONS)})")
    if precision == "fp32":
        return spec
    if any(item.name in ("graph-convert-precision", "quant-insert-qdq") for item in expand(spec)):
        raise OptcError("give either --precision or graph-convert-precision / quant-insert-qdq in the pipeline, not both")
    graph_level, rest = _graph_prefix(_items(spec))
    steps = [f"graph-convert-precision{{precision={INT8_FLOAT if precision == 'int8' else precision}}}"]
    if precision == "int8":
        steps.insert(0, str(ArgSpec("quant-insert-qdq", {"cache": [calibration_cache]} if calibration_cache else {})))
    return ",".join([*graph_level, *steps, *rest])


def _items(spec: str) -> list[ArgSpec]:
    return list(parse_pipeline(spec)) if spec else []


def _graph_prefix(items: list[ArgSpec]) -> tuple[list[str], list[str]]:
    """The leading graph-level items of a pipeline and the rest, as pipeline text, opening a
    named pipeline only where the boundary falls inside it (or to look past it)."""
    prefix: list[str] = []
    for at, item in enumerate(items):
        rest = list(map(str, items[at + 1 :]))
        if item.name.startswith("graph-"):
            prefix.append(str(item))
            continue
        if item.name not in PIPELINES or item.parameters:
            return prefix, [str(item), *rest]
        inner_graph, inner_rest = _graph_prefix(_items(PIPELINES[item.name]))
        if inner_rest and not inner_graph:
            return prefix, [str(item), *rest]
        prefix += inner_graph
        if inner_rest:
            return prefix, [*inner_rest, *rest]
    return prefix, []


def build(spec: str, target: Target | None = None) -> tuple[ModulePass, ...]:
    """The passes of a pipeline string, with their options; errors name the pass at fault.
    With a `target` (the GPU an engine is built for), `configure-kernels` configures for it:
    a pipeline that names another arch is an error."""
    passes = []
    for item in expand(spec):
        if item.name not in PASSES:
            known = ", ".join(sorted([*PASSES, *PIPELINES]))
            raise OptcError(f"unknown pass or pipeline '{item.name}' (known: {known})")
        try:
            compiler_pass = PASSES[item.name]().from_spec(item)
        except (ValueError, TypeError, OptcError) as e:  # unknown option, or a value of the wrong type or range
            raise OptcError(f"pass '{item.name}': {e}") from None
        passes.append(_for_target(compiler_pass, "arch" in item.parameters, target))
    return tuple(passes)


def _for_target(compiler_pass: ModulePass, arch_named: bool, target: Target | None) -> ModulePass:
    """`compiler_pass`, configuring for `target` if it is `configure-kernels` (imported only
    then: a run imports the passes it runs)."""
    if target is None or compiler_pass.name != "configure-kernels":
        return compiler_pass
    from passes.lowering.configure_kernels import ConfigureKernels

    if arch_named and compiler_pass.arch != target.arch:
        raise OptcError(f"the pipeline configures kernels for {compiler_pass.arch}, but they are built for {target.arch}")
    return ConfigureKernels.for_target(target, compiler_pass.reconfigure)
