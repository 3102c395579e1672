"""Passes, one folder per level, one file per pass, all registered in `passes.registry`:

    graph/      graph -> graph: folding, canonicalization, CSE, DCE, recognising GELU,
                LayerNorm and activations, channels-last layout, precision conversion
    fusion/     graph -> fused: attention, horizontal matmuls, epilogues, reductions,
                elementwise groups
    lowering/   fused -> kernel: outline-kernels, configure-kernels
    memory/     plan-memory and the arena planner it uses
    codegen/    not passes: the CUDA generators (`kernel.func` -> CUDA C), one family
                per module, found through `codegen/registry.py`

`quant/` is planned.
"""
