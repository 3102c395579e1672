"""Convolutions: `conv.py` is the generator; `geometry.py` the problem, `gemm.py` the implicit
GEMM, `mma.py` its tensor-core form, `direct.py` depthwise and transposed kernels."""
