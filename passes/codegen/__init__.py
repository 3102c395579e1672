"""Codegen, the CUDA backend: `kernel.func` → CUDA C source. One sub-package per family of
kernels (elementwise/, reduction/, pool/, movement/, matmul/, conv/, attention/), each with a
`<family>.py` generator of tactics (`generator.py`: configure, candidates, check, emit, each
handed a `target.Target`) found by the op a kernel computes (`registry.py`). `common/` holds
what families share (C types and the prelude, low precision, the op → C table, the epilogue
printer, the mma/PTX helpers); `target.py` the facts about the GPU. `cuda.py` prints a
module's kernels as one `.cu` file (`optc -t cuda`). Generated code compiles with NVRTC
without warnings: tests/test_codegen_ci.py fails on any."""
