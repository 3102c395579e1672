"""Attention: `attention.py` is the generator (flash attention, fp32 online softmax);
`problem.py` what both kernels share, `mma.py` the f16/bf16 tensor-core kernel."""
