"""Codegen: `kernel.func` → CUDA C source. One generator per family of kernels (elementwise,
reduction, pool, movement, matmul, conv, attention; `cuda_<family>*.py`), each a
`configure`/`emit` pair (`generator.py`) found by the op a kernel computes (`registry.py`);
`cuda.py` prints a module's kernels as one `.cu` file (`optc -t cuda`). Generated code
compiles with NVRTC without warnings: tests/test_codegen_ci.py fails on any."""
