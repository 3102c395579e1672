"""Test helpers for the CUDA side: compile every kernel of a module with NVRTC (no GPU
needed), and run IR on the GPU against the reference interpreter (marker `gpu`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from dialects.weights import clone_with_weights
from passes.codegen.cuda import kernel_source, kernels_of
from runtime.cuda import compile_program
from tests.support import apply_pipeline, parse

ARCHS = ("sm_80", "sm_90")


def lower(ir: str | ModuleOp, pipeline: str = "lower-to-kernels") -> ModuleOp:
    """`ir` (text or module, at any level) through `pipeline`, on a copy."""
    module = parse(ir) if isinstance(ir, str) else clone_with_weights(ir)
    return apply_pipeline(module, pipeline)


_KERNEL = re.compile(r"__global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(")


def _kernels_at(source: str, log: str, name: str) -> list[str]:
    """The kernels holding the lines that NVRTC's `log` points at (`name(LINE): warning ...`)."""
    starts = [(source.count("\n", 0, m.start()) + 1, m.group(1)) for m in _KERNEL.finditer(source)]
    lines = {int(n) for n in re.findall(rf"^{re.escape(name)}\((\d+)\)", log, re.M)}
    return sorted({max((s for s in starts if s[0] <= line), default=(0, "the prelude"))[1] for line in lines})


def compile_clean(source: str, name: str, arch: str) -> bytes:
    """The cubin of `source` (NVRTC, no cache, so a result cannot hide behind an old entry);
    fails on any NVRTC warning, naming the program, the kernels and NVRTC's log: generated
    code compiles without warnings."""
    result = compile_program(source, name, arch=arch, cache=False)
    assert not result.log, f"NVRTC warns about {name} ({arch}), in {', '.join(_kernels_at(source, result.log, name)) or '?'}:\n{result.log}"
    return result.binary


def compile_kernels(ir: str | ModuleOp, pipeline: str = "lower-to-kernels", archs: Sequence[str] = ARCHS) -> dict[str, str]:
    """Lower `ir`, compile every kernel for every arch with NVRTC, without errors or
    warnings (`compile_clean`); returns each kernel's source by name."""
    module = lower(ir, pipeline)
    sources = {}
    for kernel in kernels_of(module):
        name = kernel.sym_name.data
        source = kernel_source(kernel)
        for arch in archs:
            compile_clean(source, f"{name}.cu", arch)
        sources[name] = source
    return sources


def assert_gpu_matches_reference(
    ir: str | ModuleOp,
    pipeline: str = "lower-to-kernels",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    seed: int = 0,
    inputs: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Run `ir` through `pipeline` and an engine on the GPU; compare every output with the
    reference interpreter on `ir` itself, on the same (seeded random, or given) inputs.
    Returns the GPU's outputs."""
    from compiler.engine_build import build_module
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run

    module = parse(ir) if isinstance(ir, str) else ir
    feeds = dict(inputs) if inputs is not None else random_inputs(module, seed=seed)
    expected = run(module, feeds)
    engine = build_module(clone_with_weights(module), pipeline=pipeline, tune="none")  # the heuristic's tactics
    got = engine.run(feeds)
    for name, want in expected.items():
        np.testing.assert_allclose(
            np.asarray(got[name], dtype=np.float64) if got[name].dtype.kind == "f" else got[name],
            np.asarray(want, dtype=np.float64) if np.asarray(want).dtype.kind == "f" else want,
            rtol=rtol,
            atol=atol,
            err_msg=f"output '{name}'",
        )
    return got
