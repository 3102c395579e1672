"""Codegen: `kernel.func` → CUDA C source. One module per kind of kernel (pointwise first)."""
